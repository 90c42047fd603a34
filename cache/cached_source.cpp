#include "cache/cached_source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/event_loop.h"
#include "io/file_source.h"
#include "io/log.h"

namespace lazyroot::cache {

// ---- InflightChunks ----------------------------------------------------------

InflightChunks::Claim InflightChunks::claim(uint64_t chunk, io::EventLoop& loop,
                                            const Waiter& waiter) {
    std::lock_guard lock(mu_);
    // Checked under the lock: finish() marks present before it lets go.
    if (map_.present(chunk)) return Claim::Present;
    auto it = waiting_.find(chunk);
    if (it == waiting_.end()) {
        waiting_.emplace(chunk, std::vector<Entry>{});
        return Claim::Mine;
    }
    it->second.push_back({&loop, waiter});
    return Claim::Waiting;
}

void InflightChunks::finish(uint64_t chunk, int result) {
    std::vector<Entry> waiters;
    {
        std::lock_guard lock(mu_);
        auto it = waiting_.find(chunk);
        if (it == waiting_.end()) return;
        waiters = std::move(it->second);
        waiting_.erase(it);
    }
    for (auto& w : waiters) w.loop->post([fn = std::move(w.fn), result] { fn(result); });
}

size_t InflightChunks::in_flight() const {
    std::lock_guard lock(mu_);
    return waiting_.size();
}

// ---- CachedSource ------------------------------------------------------------

CachedSource::CachedSource(std::unique_ptr<io::Source> inner, std::unique_ptr<CacheStore> store,
                           IoStats& stats)
    : inner_(std::move(inner)), store_(std::move(store)), stats_(stats), inflight_(store_->map()) {
    // A second descriptor of the same data file, for the queues' io_uring reads.
    local_ = io::FileSource::open("/proc/self/fd/" + std::to_string(store_->data_fd()));
}

CachedSource::~CachedSource() = default;

std::unique_ptr<io::QueueReader> CachedSource::open_queue(io::EventLoop& loop, unsigned depth) {
    return std::make_unique<CachedReader>(*this, loop, depth, local_->open_queue(loop, depth), true);
}

// ---- CachedReader ------------------------------------------------------------

// One read from the device: waits until every chunk it covers is present,
// then reads them from the cache file.
struct CachedReader::Request final : io::ReadCallback {
    CachedReader* owner = nullptr;
    uint64_t offset = 0;
    std::span<std::byte> dst;
    io::ReadCallback* cb = nullptr;          // a device read...
    std::function<void(int)> done;           // ...or a prefetch
    unsigned pending = 1;                    // 1 = the claiming pass itself
    int error = 0;
    bool hit = true;
    bool direct = false;  // read from the source, bypassing the cache

    void on_read_done(int result) override {  // the local (or direct) read
        if (result == -EBADMSG) result = -EIO;
        CachedReader* o = owner;
        IoStats& st = o->src_.stats();
        if (result == 0) {
            st.reads.fetch_add(1, std::memory_order_relaxed);
            st.bytes_served.fetch_add(dst.size(), std::memory_order_relaxed);
            if (hit) st.cache_hit_reads.fetch_add(1, std::memory_order_relaxed);
        }
        io::ReadCallback* c = cb;
        delete this;
        c->on_read_done(result);
    }
};

// One run of adjacent chunks fetched from the network into a bounce buffer,
// then written to the cache file.
struct CachedReader::Fetch final : io::ReadCallback, io::Completion {
    CachedReader* owner = nullptr;
    uint64_t first = 0;
    uint64_t count = 0;
    uint64_t offset = 0;
    std::unique_ptr<std::byte[]> data;
    size_t len = 0;
    size_t written = 0;
    Request* request = nullptr;

    void on_read_done(int result) override { owner->fetch_fetched(*this, result); }
    void complete(int res, uint32_t) override { owner->fetch_written(*this, res); }
};

CachedReader::CachedReader(CachedSource& src, io::EventLoop& loop, unsigned depth,
                           std::unique_ptr<io::QueueReader> local, bool demand)
    : src_(src),
      loop_(loop),
      local_(std::move(local)),
      inner_(src.complete() ? nullptr : src.inner().open_queue(loop, depth)),
      demand_(demand) {}

CachedReader::~CachedReader() { *alive_ = false; }

void CachedReader::read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) {
    release_network_if_done();
    const uint64_t cs = src_.store().chunk_size();
    if (!dst.empty()) {
        // The common case once warm: every chunk present. A lock-free check,
        // and the local read completes straight to the caller.
        const uint64_t first = offset / cs, last = (offset + dst.size() - 1) / cs;
        bool all = true;
        for (uint64_t c = first; c <= last && all; ++c) all = src_.store().map().present(c);
        if (all) {
            IoStats& st = src_.stats();
            st.reads.fetch_add(1, std::memory_order_relaxed);
            st.bytes_served.fetch_add(dst.size(), std::memory_order_relaxed);
            st.cache_hit_reads.fetch_add(1, std::memory_order_relaxed);
            return local_->read(offset, dst, cb);
        }
    }
    auto* r = new Request;
    r->owner = this;
    r->offset = offset;
    r->dst = dst;
    r->cb = &cb;
    if (dst.empty()) {
        r->hit = true;
        return local_->read(offset, dst, *r);
    }
    claim_range(offset / cs, (offset + dst.size() - 1) / cs, *r);
}

void CachedReader::prefetch(uint64_t first, uint64_t count, std::function<void(int)> done) {
    auto* r = new Request;
    r->owner = this;
    r->done = std::move(done);
    claim_range(first, first + count - 1, *r);
}

void CachedReader::claim_range(uint64_t first, uint64_t last, Request& r) {
    uint64_t run_start = 0, run_len = 0;
    std::weak_ptr<bool> alive = alive_;
    for (uint64_t c = first; c <= last; ++c) {
        auto claim = src_.inflight().claim(c, loop_, [this, alive, &r](int result) {
            if (alive.lock() && *alive.lock()) request_progress(r, result);
        });
        if (claim == InflightChunks::Claim::Mine) {
            if (run_len == 0) run_start = c;
            ++run_len;
            continue;
        }
        if (run_len) {
            start_fetch(run_start, run_len, r);
            run_len = 0;
        }
        if (claim == InflightChunks::Claim::Waiting) {
            ++r.pending;
            r.hit = false;
        }
    }
    if (run_len) start_fetch(run_start, run_len, r);
    request_progress(r, 0);  // the claiming pass is over
}

void CachedReader::start_fetch(uint64_t first, uint64_t count, Request& r) {
    ++r.pending;
    r.hit = false;
    const uint64_t cs = src_.store().chunk_size();
    auto* f = new Fetch;
    f->owner = this;
    f->first = first;
    f->count = count;
    f->offset = first * cs;
    f->len = static_cast<size_t>(std::min<uint64_t>(count * cs, src_.size() - f->offset));
    f->data = std::make_unique<std::byte[]>(f->len);
    f->request = &r;
    ++fetches_in_flight_;
    if (demand_) src_.demand_fetches.fetch_add(1, std::memory_order_relaxed);
    if (!inner_) inner_ = src_.inner().open_queue(loop_, 4);
    inner_->read(f->offset, {f->data.get(), f->len}, *f);
}

void CachedReader::fetch_fetched(Fetch& f, int result) {
    if (result < 0) return settle(f, result);
    f.written = 0;
    io_uring_prep_write(loop_.sqe_for(&f), src_.store().data_fd(), f.data.get(),
                        static_cast<unsigned>(f.len), f.offset);
}

void CachedReader::fetch_written(Fetch& f, int res) {
    if (res < 0 || res == 0) {
        static std::atomic<bool> logged{false};
        if (!logged.exchange(true))
            log::error("writing the cache failed: %s; reads that need new chunks fail",
                       std::strerror(res < 0 ? -res : EIO));
        return settle(f, -EIO);
    }
    f.written += static_cast<size_t>(res);
    if (f.written < f.len) {
        io_uring_prep_write(loop_.sqe_for(&f), src_.store().data_fd(), f.data.get() + f.written,
                            static_cast<unsigned>(f.len - f.written), f.offset + f.written);
        return;
    }
    settle(f, 0);
}

void CachedReader::settle(Fetch& f, int result) {
    for (uint64_t c = f.first; c < f.first + f.count; ++c) {
        if (result == 0) src_.store().chunk_written(c);  // present now, durable at the next commit
        src_.inflight().finish(c, result);
    }
    --fetches_in_flight_;
    if (demand_) src_.demand_fetches.fetch_sub(1, std::memory_order_relaxed);
    Request* r = f.request;
    delete &f;
    request_progress(*r, result);
    release_network_if_done();
}

void CachedReader::request_progress(Request& r, int result) {
    if (result < 0) r.error = result;
    if (--r.pending > 0) return;
    if (r.done) {
        auto done = std::move(r.done);
        int e = r.error;
        delete &r;
        return done(e);
    }
    if (r.error == -EBADMSG && !r.direct && inner_) {
        // A chunk failed verification, so it is not cached; the blocks this
        // read wants may still be good: fetch just them, uncached.
        r.direct = true;
        r.error = 0;
        r.pending = 1;
        return inner_->read(r.offset, r.dst, r);
    }
    if (r.error) {
        if (r.error == -EBADMSG) r.error = -EIO;
        io::ReadCallback* cb = r.cb;
        int e = r.error;
        delete &r;
        return cb->on_read_done(e);
    }
    local_->read(r.offset, r.dst, r);
}

// Once every chunk is local, the network is not needed: close its connections.
void CachedReader::release_network_if_done() {
    if (inner_ && fetches_in_flight_ == 0 && src_.complete()) inner_.reset();
}

}  // namespace lazyroot::cache
