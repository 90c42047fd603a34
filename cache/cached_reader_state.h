#pragma once
// The cache reader's per-request state, shared by its files:
// cached_source.cpp (claims, fetches, writes) and cached_local_read.cpp
// (reads from the cache file, their checks and refetches).
#include <cerrno>
#include <functional>
#include <span>

#include "cache/cached_source.h"
#include "io/buffer_pool.h"
#include "io/event_loop.h"

namespace lazyroot::cache {

// A fetch whose bytes could not be written to the cache: its chunks stay
// missing, and whoever waited for them takes their bytes from the source.
// Never leaves the cache's reader (a reader sees EIO at worst).
constexpr int kNotCached = -ENOSTR;

// Errors after which the bytes may still come from the source on their own:
// a chunk that failed verification (only some of its blocks may be bad), or
// one that could not be cached.
inline bool retry_uncached(int e) { return e == io::kFailedVerification || e == kNotCached; }

// One read from the device (or a prefetch): waits until every chunk it covers
// is present, then reads them from the cache file, checking chunks not yet
// verified in this attach.
struct CachedReader::Request final : io::ReadCallback {
    enum class Stage { Claim, Local, Direct };
    CachedReader* owner = nullptr;
    uint64_t offset = 0;
    std::span<std::byte> dst;
    io::ReadCallback* cb = nullptr;  // a device read...
    std::function<void(int)> done;   // ...or a prefetch
    unsigned pending = 1;            // 1 = the claiming pass itself
    int error = 0;
    bool hit = true;         // served without waiting for the network
    bool filled = false;     // dst holds the bytes already (a fetch that could not be cached)
    bool refetched = false;  // its chunks were dropped and fetched again once already
    Stage stage = Stage::Claim;
    io::BufferPool::Buffer whole;  // whole chunks read back, to check them before serving
    size_t whole_len = 0;
    uint64_t whole_offset = 0;
    uint32_t fixed_len = 0;  // zero copy: read into a ring buffer, dst empty
    uint64_t gen = 0;        // which use of this pooled object a claim's waiter belongs to

    size_t size() const { return fixed_len ? fixed_len : dst.size(); }
    void on_read_done(int result) override { owner->read_done(*this, result); }
};

// One run of adjacent chunks fetched from the network into a bounce buffer,
// then written to the cache file.
struct CachedReader::Fetch final : io::ReadCallback, io::Completion {
    CachedReader* owner = nullptr;
    uint64_t first = 0;
    uint64_t count = 0;
    uint64_t offset = 0;
    io::BufferPool::Buffer data;  // from the reader's fetch_buffers_, given back in settle()
    size_t len = 0;
    size_t written = 0;
    Request* request = nullptr;
    bool demand = false;      // for a device read: counted in demand_fetches
    uint64_t started_ns = 0;  // for the readahead's measure of the link

    // Set when the reader went away while this fetch's cache write was in
    // flight: the write then finishes on its own (see ~CachedReader).
    CachedSource* orphan_of = nullptr;
    io::EventLoop* orphan_loop = nullptr;

    void on_read_done(int result) override { owner->fetch_fetched(*this, result); }
    void complete(int res, uint32_t) override {
        if (owner) return owner->fetch_written(*this, res);
        orphan_written(res);
    }
    bool buffered = false;  // O_DIRECT turned this write down: through the page cache

    // Queues the write of what is not written yet.
    void write_rest(io::EventLoop& loop, const CachedSource& src) {
        const std::byte* p = data.get() + written;
        const size_t n = len - written;
        io_uring_prep_write(loop.sqe_for(this), src.write_fd(p, n, offset + written, buffered), p,
                            static_cast<unsigned>(n), offset + written);
    }
    // A write O_DIRECT refused (EINVAL: an alignment the filesystem wants
    // after all): queued again through the page cache; false when not so.
    bool retry_buffered(int res, io::EventLoop& loop, const CachedSource& src) {
        if (res != -EINVAL || buffered) return false;
        buffered = true;
        write_rest(loop, src);
        return true;
    }
    void orphan_written(int res);
    void abandon() override;
};

}  // namespace lazyroot::cache
