#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "cache/cache_store.h"
#include "cache/io_stats.h"
#include "io/stream_detector.h"
#include "io/buffer_pool.h"
#include "io/object_pool.h"
#include "io/source.h"
#include "io/unique_fd.h"

namespace lazyroot::io {
class EventLoop;
}

namespace lazyroot::cache {

// Chunks being fetched right now, by any queue. A second reader of a chunk
// waits for the first fetch instead of fetching it again.
class InflightChunks {
public:
    enum class Claim { Present, Mine, Waiting };
    using Waiter = std::function<void(int result)>;

    explicit InflightChunks(ChunkBitmap& map) : map_(map) {}
    // Present: read it locally. Mine: the caller must fetch it and call
    // finish(). Waiting: `waiter` runs on `loop` once the owner finishes.
    Claim claim(uint64_t chunk, io::EventLoop& loop, const Waiter& waiter);
    void finish(uint64_t chunk, int result);
    size_t in_flight() const;

private:
    struct Entry {
        io::EventLoop* loop;
        Waiter fn;
    };
    ChunkBitmap& map_;
    mutable std::mutex mu_;
    std::unordered_map<uint64_t, std::vector<Entry>> waiting_;
};

// A source with a persistent local cache in front: chunks present are read
// from the cache file; missing ones are fetched once, written to the cache,
// and then read from it. The data is never served from anything the inner
// source did not return as good.
//
// Local faults never fail a read that the source can serve:
// - a chunk write that fails (ENOSPC, EIO) degrades the store (caching off
//   until restart); the fetched bytes are served, the chunk stays missing,
//   and later misses are read from the source without being written;
// - a local read that fails drops the chunks it covered from the in-memory
//   map and fetches them again (once; then the read goes to the source);
// - with a chunk check (dm-verity), each present chunk is checked the first
//   time it is served in this attach; one that fails is dropped, logged once
//   with its number, fetched again, and never served.
class CachedSource final : public io::Source {
public:
    // Checks image bytes read back from the cache: nullopt when right, else
    // the number of the first bad block (for the log).
    using ChunkCheck = std::function<std::optional<uint64_t>(uint64_t offset, std::span<const std::byte> bytes)>;

    CachedSource(std::unique_ptr<io::Source> inner, std::unique_ptr<CacheStore> store, IoStats& stats);
    ~CachedSource() override;
    // Before any queue opens. Only bytes the inner source returned (already
    // checked there) are trusted without it.
    void set_chunk_check(ChunkCheck check) { check_ = std::move(check); }
    const ChunkCheck& chunk_check() const { return check_; }
    // Before any queue opens: readahead above the network. A sequential
    // stream on the device (any queue) prefetches chunks into the cache, where
    // every queue finds them, and where they stay.
    void set_readahead(const io::StreamOptions& o);
    io::StreamDetector* streams() { return streams_.get(); }
    // Prefetches a queue may have in flight besides its own depth.
    unsigned readahead_depth() const { return readahead_depth_; }
    // Chunks whose cached bytes are known good in this attach: written by it,
    // or read back and checked. Only consulted with a chunk check.
    ChunkBitmap& verified() { return verified_; }
    // The first local read error of this attach is logged; the rest are counted.
    std::atomic<bool> read_error_logged{false};

    uint64_t size() const override { return inner_->size(); }
    std::string describe() const override { return inner_->describe(); }
    std::string identity() const override { return inner_->identity(); }
    std::unique_ptr<io::QueueReader> open_queue(io::EventLoop& loop, unsigned depth) override;

    CacheStore& store() { return *store_; }
    IoStats& stats() { return stats_; }
    InflightChunks& inflight() { return inflight_; }
    io::Source& inner() { return *inner_; }
    bool complete() const { return store_->map().count_present() == store_->chunk_count(); }
    // Fetches in flight for device reads; background filling yields to them.
    std::atomic<int> demand_fetches{0};
    // The cache file or device is read and written with O_DIRECT (aligned IO).
    bool direct_io() const { return direct_align_ != 0; }
    // The descriptor a cache write of `len` bytes from `buf` at `off` goes
    // through: O_DIRECT where the data file takes it (as for the reads) and
    // the write is aligned for it, else the store's own.
    int write_fd(const std::byte* buf, size_t len, uint64_t off, bool buffered) const;

private:
    std::unique_ptr<io::Source> inner_;
    std::unique_ptr<CacheStore> store_;
    IoStats& stats_;
    InflightChunks inflight_;
    std::unique_ptr<io::Source> local_;  // the cache's data file, read with io_uring
    io::UniqueFd direct_write_;          // the same file, O_DIRECT, for aligned chunk writes
    unsigned direct_align_ = 0;
    ChunkCheck check_;
    ChunkBitmap verified_;
    std::unique_ptr<io::StreamDetector> streams_;
    unsigned readahead_depth_ = 0;
};

// The per-queue reader. Its fetches made for a device read count as demand
// (CachedSource::demand_fetches); those a ChunkFetcher asks for do not.
class CachedReader final : public io::QueueReader {
public:
    // `local` reads the cache file; null for a ChunkFetcher's, which never
    // reads back and fetches through the source's fill reader.
    CachedReader(CachedSource& src, io::EventLoop& loop, unsigned depth, std::unique_ptr<io::QueueReader> local);
    ~CachedReader() override;

    void read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) override;
    bool read_fixed(uint64_t offset, uint32_t len, io::FixedBuffer buf, io::ReadCallback& cb) override;

    // Fetches not yet settled: on the wire, or fetched and being written to the cache.
    size_t fetches_in_flight() const { return fetches_in_flight_; }
    // For tests: the fetch buffers' reuse (takes, misses).
    const io::BufferPool& fetch_buffers() const { return fetch_buffers_; }

private:
    friend class ChunkFetcher;
    // Makes chunks [first, first+count) present (fetching those nobody has);
    // `done(result)` runs on this loop when all of them are settled.
    void prefetch(uint64_t first, uint64_t count, std::function<void(int)> done);
    // A stream's window ahead of the reader, in slices fetched in parallel.
    void read_ahead(const io::StreamDetector::Prefetch& p);

    struct Request;
    struct Fetch;
    void claim_range(uint64_t first, uint64_t last, Request& r);
    void start_fetch(uint64_t first, uint64_t count, Request& r);
    void fetch_fetched(Fetch& f, int result);
    void fetch_written(Fetch& f, int result);
    void serve_from_fetch(Fetch& f);
    void serve_waiters(Fetch& f);
    void not_cached(Fetch& f);
    void settle(Fetch& f, int result);
    void request_progress(Request& r, int result);
    void read_local(Request& r);
    void read_direct(Request& r);
    void read_done(Request& r, int result);
    void local_done(Request& r, int result);
    void refetch(Request& r, const std::vector<uint64_t>& drop);
    void finish(Request& r, int result);
    io::QueueReader& inner();
    std::unique_ptr<io::QueueReader> open_inner(unsigned depth);
    void release_network_if_done();

    CachedSource& src_;
    io::EventLoop& loop_;
    // Before the readers: freed after them, whatever they still complete.
    io::ObjectPool<Request> requests_;
    io::ObjectPool<Fetch> fetches_;
    // Fetch bounce buffers, reused: a warm queue fetches without allocating.
    // What a burst needs beyond kKeepFetchBytes is freed when it lands.
    static constexpr size_t kKeepFetchBytes = 8u << 20;
    static constexpr size_t kKeepWholeBytes = 1u << 20;
    io::BufferPool fetch_buffers_;
    io::BufferPool whole_buffers_;  // chunks read back to be checked
    std::unique_ptr<io::QueueReader> local_;
    std::unique_ptr<io::QueueReader> inner_;
    size_t fetches_in_flight_ = 0;
    size_t direct_in_flight_ = 0;    // reads sent to inner_ on their own, uncached
    std::vector<Fetch*> writing_;    // fetches whose cache write is in flight
    std::vector<Request*> waiters_;  // device reads waiting for other fetches' chunks
    uint64_t gen_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// What the background filler fetches with, on its own loop: it makes chunks
// present in the cache and reads nothing back. It claims chunks as every
// reader does, so no chunk is fetched twice, and its fetches are not demand.
class ChunkFetcher {
public:
    ChunkFetcher(CachedSource& src, io::EventLoop& loop, unsigned parallel) : reader_(src, loop, parallel, nullptr) {}
    // `done(result)` runs on the loop once chunks [first, first+count) are settled.
    void fetch(uint64_t first, uint64_t count, std::function<void(int)> done) {
        reader_.prefetch(first, count, std::move(done));
    }

private:
    CachedReader reader_;
};

}  // namespace lazyroot::cache
