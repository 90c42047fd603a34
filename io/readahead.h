#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "io/source.h"
#include "io/timer.h"

namespace lazyroot::io {

struct ReadaheadOptions {
    uint32_t slice_bytes = 1u << 20;        // one prefetch request (a "slice"; "chunk" is the cache's unit)
    uint32_t max_window_bytes = 16u << 20;  // prefetched ahead of the reader, per queue
    // Sequential reads in a row before prefetching: a boot reads many short
    // files in a few requests each (the kernel's own readahead makes them
    // 128 KiB at most); prefetching those is waste. 8: files under 1 MiB never
    // trigger it, a long sequential read loses its first MiB of lead.
    unsigned trigger = 8;
};

// Which prefetch slices some queue holds or is fetching. A stream's requests
// spread over the queues (the reader migrates between CPUs); without this
// each queue would prefetch the same window.
class PrefetchClaims {
public:
    explicit PrefetchClaims(uint64_t slices) : n_(slices), held_(std::make_unique<std::atomic<bool>[]>(slices)) {}
    bool claim(uint64_t i) {
        bool expected = false;
        return i < n_ && held_[i].compare_exchange_strong(expected, true, std::memory_order_acq_rel);
    }
    void release(uint64_t i) {
        if (i < n_) held_[i].store(false, std::memory_order_release);
    }

private:
    uint64_t n_;
    std::unique_ptr<std::atomic<bool>[]> held_;
};

// Wraps a (network) source: when a queue reads sequentially, fetch ahead of it
// in parallel slices, with a window that doubles while the stream lasts. A
// high-latency link then runs at its bandwidth instead of one request per RTT.
// Prefetched bytes are only ever bytes the inner source returned as good.
class ReadaheadSource final : public io::Source {
public:
    ReadaheadSource(std::unique_ptr<io::Source> inner, ReadaheadOptions opts)
        : inner_(std::move(inner)),
          opts_(opts),
          claims_(std::make_shared<PrefetchClaims>(inner_->size() / opts.slice_bytes + 1)) {}

    uint64_t size() const override { return inner_->size(); }
    std::string describe() const override { return inner_->describe(); }
    std::string identity() const override { return inner_->identity(); }
    std::unique_ptr<io::QueueReader> open_queue(io::EventLoop& loop, unsigned depth) override;
    std::unique_ptr<io::QueueReader> open_fill_queue(io::EventLoop& loop, unsigned depth) override {
        return inner_->open_fill_queue(loop, depth);
    }

    io::Source& inner() { return *inner_; }

private:
    std::unique_ptr<io::Source> inner_;
    ReadaheadOptions opts_;
    std::shared_ptr<PrefetchClaims> claims_;
};

class ReadaheadReader final : public io::QueueReader {
public:
    ReadaheadReader(std::unique_ptr<io::QueueReader> inner, io::EventLoop& loop, uint64_t size, ReadaheadOptions opts,
                    std::shared_ptr<PrefetchClaims> claims = nullptr);
    ~ReadaheadReader() override;

    void read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) override;
    void prefer_another_source() override {
        drop_idle_slices();  // they came from the source being abandoned
        streams_ = {};
        inner_->prefer_another_source();
    }
    std::string current_source() const override { return inner_->current_source(); }

    // For tests and status: bytes requested from the inner source as prefetch.
    uint64_t prefetched_bytes() const { return prefetched_bytes_; }

private:
    struct Slice;
    struct Waiter;
    // One sequential reader. Several interleave on a queue during a boot
    // (a file read while services start), so each is followed on its own.
    struct Stream {
        uint64_t next = UINT64_MAX;
        unsigned streak = 0;
        uint64_t window = 0;
        uint64_t last_use = 0;
        uint64_t slice = UINT64_MAX;  // where its last read ended
    };

    bool covered(uint64_t offset, size_t len) const;
    void wait_for_slices(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb);
    Stream& stream_for(uint64_t offset);
    void prefetch_ahead(Stream& s, bool grow);
    bool evict_one_idle();
    void free_slice(std::map<uint64_t, std::unique_ptr<Slice>>::iterator it);
    void slice_done(Slice& c, int result);
    void waiter_progress(Waiter& w, bool slice_failed);
    void drop_idle_slices();
    std::unique_ptr<std::byte[]> take_buffer();
    void flush_deferred();

    std::unique_ptr<io::QueueReader> inner_;
    uint64_t size_;
    ReadaheadOptions opts_;
    std::shared_ptr<PrefetchClaims> claims_;
    std::map<uint64_t, std::unique_ptr<Slice>> slices_;  // by slice index
    std::vector<std::unique_ptr<std::byte[]>> free_buffers_;
    size_t buffers_out_ = 0;
    std::deque<Waiter> waiter_pool_;
    std::vector<Waiter*> free_waiters_;
    std::vector<Waiter*> deferred_;  // satisfied at once; completed from the loop
    io::Timer deferred_timer_;
    std::array<Stream, 4> streams_{};
    uint64_t tick_ = 0;
    uint64_t prefetched_bytes_ = 0;
};

}  // namespace lazyroot::io
