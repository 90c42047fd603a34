#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace lazyroot::io {

struct StreamOptions {
    uint64_t chunk_bytes = 64u << 10;
    uint64_t slice_bytes = 1u << 20;        // the first window, and one prefetch fetch
    uint64_t max_window_bytes = 16u << 20;  // --readahead
    // Reads in a row, and bytes they span, before prefetching: a boot's
    // files of a MiB or two (libraries, binaries, the hwdb), read in 128 KiB
    // requests, never trigger it; a slice ahead of one of them would mostly
    // be past its end. A long read loses 2 MiB of lead, once.
    unsigned trigger = 8;
    uint64_t trigger_bytes = 2u << 20;
    uint64_t image_bytes = 0;
};

// Sequential streams in the device's read stream, whatever queue each read
// arrives on: the kernel spreads one reader's requests over the queues of
// the CPUs it runs on, and a per-queue view would see broken streams (and
// prefetch the same window once per queue).
//
// The window adapts to the link's rate and latency, measured on the
// fetches (on_fetched): it starts at one slice and doubles when the reader
// reaches a prefetched chunk that has not come in yet (the window did not
// cover the fetch's latency at the reader's rate), once per slice, but no
// further than one slice plus what the link delivers in one fetch's
// latency. A reader that waits because the link is full gains nothing from
// more bytes in flight, and every byte ahead of a stream that stops is
// waste. While prefetched chunks are there in time the window stays. Reads
// before the first prefetched chunk (the stream's start, read on demand)
// don't count. Thread-safe: every queue thread calls on_read and on_fetched.
class StreamDetector {
public:
    explicit StreamDetector(StreamOptions o) : o_(o) {}

    struct Prefetch {
        uint64_t first = 0;  // chunk index
        uint64_t count = 0;  // 0: nothing to prefetch
    };
    // A device read of [offset, offset+len): `waited` when some of its chunks
    // were not in the cache. Returns the chunks to prefetch now, if any:
    // ahead of the reader, never any a previous answer gave. A stream opens
    // its window at a read that waited, so one over present data fetches nothing.
    Prefetch on_read(uint64_t offset, uint64_t len, bool waited);

    // A fetch from the source has landed: `bytes` after `latency_ns`, at
    // `now_ns` (any monotonic clock, the same for every call).
    void on_fetched(uint64_t bytes, uint64_t latency_ns, uint64_t now_ns);
    // Where a stalled stream's window stops growing: a slice plus the link's
    // rate × its shortest fetch latency; UINT64_MAX until a fetch has landed.
    uint64_t target_window() const;
    static uint64_t clock_ns() {
        return static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
                .count());
    }

    uint64_t prefetched_bytes() const;
    const StreamOptions& options() const { return o_; }

private:
    struct Stream {
        uint64_t start = 0;                 // where its first read began
        uint64_t next = UINT64_MAX;         // where the stream's reads have reached
        uint64_t ahead = 0;                 // chunks below this are prefetched (or asked)
        uint64_t window = 0;                // bytes; 0 until triggered
        uint64_t first_asked = UINT64_MAX;  // the first chunk its prefetch asked for
        uint64_t grown_at = 0;              // the chunk where the window last doubled
        unsigned streak = 0;
        uint64_t last_use = 0;
    };
    Stream& stream_for(uint64_t offset, uint64_t len);
    uint64_t target_window_locked() const;

    const StreamOptions o_;
    mutable std::mutex mu_;
    std::array<Stream, 8> streams_{};
    uint64_t tick_ = 0;
    uint64_t prefetched_ = 0;
    // The link, as the fetches show it.
    uint64_t min_latency_ns_ = UINT64_MAX;
    double fetch_rate_ = 0;    // bytes/s of the fastest single fetch: a floor for the link's rate
    double sampled_rate_ = 0;  // bytes/s landed over the last sampling interval
    uint64_t interval_start_ns_ = 0;
    uint64_t interval_bytes_ = 0;
};

}  // namespace lazyroot::io
