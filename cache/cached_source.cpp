#include "cache/cached_source.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cache/cached_reader_state.h"
#include "io/event_loop.h"
#include "io/file_source.h"
#include "io/log.h"

namespace lazyroot::cache {

// ---- CachedSource ------------------------------------------------------------

CachedSource::CachedSource(std::unique_ptr<io::Source> inner, std::unique_ptr<CacheStore> store, IoStats& stats)
    : inner_(std::move(inner)),
      store_(std::move(store)),
      stats_(stats),
      inflight_(store_->map()),
      verified_(store_->chunk_count()) {
    // A second descriptor of the same data file, for the queues' io_uring
    // reads; O_DIRECT where it can: the page cache keeps the device's data
    // above us already, and a second cached copy costs a copy per read.
    const std::string path = "/proc/self/fd/" + std::to_string(store_->data_fd());
    auto local = io::FileSource::open(path, true);
    // Writes too: buffered writes to a block device are handed to io_uring's
    // workers one by one (8 s of a cold boot's CPU under TCG), and would fill
    // the page cache with a second copy of what the device's cache holds.
    if (local->direct_align()) {
        direct_write_ = io::UniqueFd(::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
        if (direct_write_) direct_align_ = local->direct_align();
    }
    local_ = std::move(local);
}

int CachedSource::write_fd(const std::byte* buf, size_t len, uint64_t off, bool buffered) const {
    if (buffered || !direct_align_ || (reinterpret_cast<uintptr_t>(buf) | len | off) % direct_align_ != 0)
        return store_->data_fd();
    return direct_write_.get();
}

CachedSource::~CachedSource() = default;

void CachedSource::set_readahead(const io::StreamOptions& o) {
    streams_ = std::make_unique<io::StreamDetector>(o);
    readahead_depth_ = static_cast<unsigned>(o.max_window_bytes / std::max<uint64_t>(1, o.slice_bytes)) + 1;
}

std::unique_ptr<io::QueueReader> CachedSource::open_queue(io::EventLoop& loop, unsigned depth) {
    return std::make_unique<CachedReader>(*this, loop, depth, local_->open_queue(loop, depth));
}

// ---- CachedReader ------------------------------------------------------------

CachedReader::CachedReader(CachedSource& src, io::EventLoop& loop, unsigned depth,
                           std::unique_ptr<io::QueueReader> local)
    : src_(src),
      loop_(loop),
      fetch_buffers_(src.store().chunk_size(), kKeepFetchBytes),
      whole_buffers_(src.store().chunk_size(), kKeepWholeBytes),
      local_(std::move(local)),
      inner_(src.complete() ? nullptr : open_inner(depth)) {}

std::unique_ptr<io::QueueReader> CachedReader::open_inner(unsigned depth) {
    return local_ ? src_.inner().open_queue(loop_, depth + src_.readahead_depth())
                  : src_.inner().open_fill_queue(loop_, depth);
}

CachedReader::~CachedReader() {
    *alive_ = false;
    // A cache write in flight still owns its chunks' claim and reads from its
    // buffer: it finishes on its own and frees itself, so that the chunks
    // become present (or are released to whoever waits) and no buffer is
    // freed under the kernel.
    for (Fetch* f : writing_) {
        f->owner = nullptr;
        f->request = nullptr;
        f->orphan_of = &src_;
        f->orphan_loop = &loop_;
        loop_.free_at_close(f);
        (void)fetches_.detach(*f).release();
    }
}

void CachedReader::Fetch::orphan_written(int res) {
    CachedSource& src = *orphan_of;
    if (retry_buffered(res, *orphan_loop, src)) return;
    if (res > 0 && (written += static_cast<size_t>(res)) < len) return write_rest(*orphan_loop, src);
    if (res <= 0) src.store().degrade(std::string("a chunk write failed: ") + std::strerror(res < 0 ? -res : EIO));
    for (uint64_t c = first; c < first + count; ++c) {
        if (res > 0) {
            src.verified().set_present(c);
            src.store().chunk_written(c);
        }
        src.inflight().finish(c, res > 0 ? 0 : kNotCached);
    }
    orphan_loop->forget(this);
    delete this;
}

// The loop closed first: the kernel may still write from the buffer, so it is
// left to the process (correct bytes, whenever they land); the chunks stay
// missing and their waiters fetch them themselves.
void CachedReader::Fetch::abandon() {
    (void)data.data.release();
    for (uint64_t c = first; c < first + count; ++c) orphan_of->inflight().finish(c, kNotCached);
    delete this;
}

void CachedReader::read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) {
    release_network_if_done();
    Request* r = &requests_.take();
    r->gen = ++gen_;
    r->owner = this;
    r->offset = offset;
    r->dst = dst;
    r->cb = &cb;
    if (dst.empty()) return read_local(*r);
    const uint64_t cs = src_.store().chunk_size();
    const uint64_t first = offset / cs, last = (offset + dst.size() - 1) / cs;
    // The common case once warm: every chunk present, read straight from the cache.
    bool all = true;
    for (uint64_t c = first; c <= last && all; ++c) all = src_.store().map().present(c);
    const io::StreamDetector::Prefetch ahead =
        src_.streams() ? src_.streams()->on_read(offset, dst.size(), !all) : io::StreamDetector::Prefetch{};
    if (all) {
        read_local(*r);
    } else {
        r->hit = false;
        // Caching is off: what is missing comes from the source and is not written.
        if (src_.store().degraded()) return read_direct(*r);
        claim_range(first, last, *r);
    }
    // After the read's own fetch, which goes first on the wire.
    if (ahead.count && !src_.store().degraded()) read_ahead(ahead);
}

// Only a plain hit: every chunk present and, with verity, checked in this
// attach. Anything else needs this layer's own buffers.
bool CachedReader::read_fixed(uint64_t offset, uint32_t len, io::FixedBuffer buf, io::ReadCallback& cb) {
    if (len == 0 || !local_ || offset + len > src_.size()) return false;
    const uint64_t cs = src_.store().chunk_size();
    const uint64_t first = offset / cs, last = (offset + len - 1) / cs;
    for (uint64_t c = first; c <= last; ++c)
        if (!src_.store().map().present(c) || (src_.chunk_check() && !src_.verified().present(c))) return false;
    release_network_if_done();
    Request* r = &requests_.take();
    r->gen = ++gen_;
    r->owner = this;
    r->offset = offset;
    r->fixed_len = len;
    r->cb = &cb;
    r->stage = Request::Stage::Local;
    if (!local_->read_fixed(offset, len, buf, *r)) {
        requests_.release(*r);
        return false;
    }
    const io::StreamDetector::Prefetch ahead =
        src_.streams() ? src_.streams()->on_read(offset, len, false) : io::StreamDetector::Prefetch{};
    if (ahead.count && !src_.store().degraded()) read_ahead(ahead);
    return true;
}

void CachedReader::read_ahead(const io::StreamDetector::Prefetch& p) {
    const uint64_t per = std::max<uint64_t>(1, src_.streams()->options().slice_bytes / src_.store().chunk_size());
    for (uint64_t c = p.first; c < p.first + p.count; c += per)
        prefetch(c, std::min(per, p.first + p.count - c), [](int) {});
}

void CachedReader::prefetch(uint64_t first, uint64_t count, std::function<void(int)> done) {
    Request* r = &requests_.take();
    r->gen = ++gen_;
    r->owner = this;
    r->done = std::move(done);
    claim_range(first, first + count - 1, *r);
}

void CachedReader::claim_range(uint64_t first, uint64_t last, Request& r) {
    uint64_t run_start = 0, run_len = 0;
    std::weak_ptr<bool> alive = alive_;
    for (uint64_t c = first; c <= last; ++c) {
        // A read served from another fetch's bytes has moved on (see
        // serve_waiters): its remaining claims' calls find another gen.
        auto claim = src_.inflight().claim(c, loop_, [this, alive, &r, gen = r.gen](int result) {
            if (alive.lock() && *alive.lock() && r.gen == gen) request_progress(r, result);
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
            if (r.cb && !r.dst.empty() && (waiters_.empty() || waiters_.back() != &r)) waiters_.push_back(&r);
        }
    }
    if (run_len) start_fetch(run_start, run_len, r);
    request_progress(r, 0);  // the claiming pass is over
}

io::QueueReader& CachedReader::inner() {
    if (!inner_) inner_ = open_inner(4);
    return *inner_;
}

void CachedReader::start_fetch(uint64_t first, uint64_t count, Request& r) {
    ++r.pending;
    r.hit = false;
    const uint64_t cs = src_.store().chunk_size();
    Fetch* f = &fetches_.take();
    f->owner = this;
    f->first = first;
    f->count = count;
    f->offset = first * cs;
    f->len = static_cast<size_t>(std::min<uint64_t>(count * cs, src_.size() - f->offset));
    f->data = fetch_buffers_.take(f->len);
    f->request = &r;
    f->demand = r.cb != nullptr;  // a device read's, not a prefetch's
    ++fetches_in_flight_;
    if (f->demand) src_.demand_fetches.fetch_add(1, std::memory_order_relaxed);
    if (src_.streams()) f->started_ns = io::StreamDetector::clock_ns();
    inner().read(f->offset, {f->data.get(), f->len}, *f);
}

void CachedReader::fetch_fetched(Fetch& f, int result) {
    if (result < 0) return settle(f, result);
    if (src_.streams()) {
        const uint64_t now = io::StreamDetector::clock_ns();
        src_.streams()->on_fetched(f.len, now - f.started_ns, now);
    }
    serve_from_fetch(f);
    serve_waiters(f);
    if (src_.store().degraded()) return not_cached(f);
    f.written = 0;
    f.buffered = false;
    writing_.push_back(&f);
    f.write_rest(loop_, src_);
}

void CachedReader::fetch_written(Fetch& f, int res) {
    if (f.retry_buffered(res, loop_, src_)) return;
    if (res <= 0 || f.written + static_cast<size_t>(res) >= f.len) std::erase(writing_, &f);
    if (res <= 0) {
        // ENOSPC, EIO, EFBIG...: the bytes are good, the cache can't take them.
        src_.store().degrade(std::string("a chunk write failed: ") + std::strerror(res < 0 ? -res : EIO));
        return not_cached(f);
    }
    f.written += static_cast<size_t>(res);
    if (f.written < f.len) return f.write_rest(loop_, src_);
    settle(f, 0);
}

// A device read that this fetch alone covers (the usual miss) is served from
// the fetched bytes now: the cache write goes on behind it, so a slow or
// failing cache disk never delays a read, and nothing is read back.
void CachedReader::serve_from_fetch(Fetch& f) {
    Request* r = f.request;
    if (!r || !r->cb || r->dst.empty() || r->pending != 1 || r->error) return;
    if (r->offset < f.offset || r->offset + r->dst.size() > f.offset + f.len) return;
    std::memcpy(r->dst.data(), f.data.get() + (r->offset - f.offset), r->dst.size());
    f.request = nullptr;
    src_.stats().misses_served_from_fetch.fetch_add(1, std::memory_order_relaxed);
    finish(*r, 0);
}

// This queue's reads waiting for chunks of this fetch alone (a sequential
// reader behind the readahead's fetches) are served from the fetched bytes
// too, not after the write and a read back; their claims' calls, when the
// write lands, are then ignored (Request::gen).
void CachedReader::serve_waiters(Fetch& f) {
    for (size_t i = 0; i < waiters_.size();) {
        Request* w = waiters_[i];
        const bool covered = w->offset >= f.offset && w->offset + w->dst.size() <= f.offset + f.len;
        if (!covered || w->error || w->stage != Request::Stage::Claim || w->pending == 0) {
            ++i;
            continue;
        }
        std::memcpy(w->dst.data(), f.data.get() + (w->offset - f.offset), w->dst.size());
        src_.stats().misses_served_from_fetch.fetch_add(1, std::memory_order_relaxed);
        finish(*w, 0);  // takes it out of waiters_
    }
}

// The fetched bytes serve the read that asked for them when they cover it
// (the usual case); anyone else reads the range from the source.
void CachedReader::not_cached(Fetch& f) {
    if (Request* r = f.request; r && r->cb && f.offset <= r->offset && r->offset + r->dst.size() <= f.offset + f.len) {
        std::memcpy(r->dst.data(), f.data.get() + (r->offset - f.offset), r->dst.size());
        r->filled = true;
    }
    settle(f, kNotCached);
}

void CachedReader::settle(Fetch& f, int result) {
    for (uint64_t c = f.first; c < f.first + f.count; ++c) {
        if (result == 0) {
            // Verified on the way in (if at all): no need to check it when read back.
            src_.verified().set_present(c);
            src_.store().chunk_written(c);  // present now, durable at the next commit
        }
        src_.inflight().finish(c, result);
    }
    --fetches_in_flight_;
    if (f.demand) src_.demand_fetches.fetch_sub(1, std::memory_order_relaxed);
    Request* r = f.request;
    fetch_buffers_.give(std::move(f.data));
    fetches_.release(f);
    if (r) request_progress(*r, result);
    release_network_if_done();
}

void CachedReader::request_progress(Request& r, int result) {
    // A hard error wins over one the source may still get around.
    if (result < 0 && (r.error == 0 || retry_uncached(r.error))) r.error = result;
    if (--r.pending > 0) return;
    std::erase(waiters_, &r);
    if (r.done) {
        auto done = std::move(r.done);
        int e = r.error;
        requests_.release(r);
        return done(e);
    }
    if (retry_uncached(r.error)) {
        if (r.filled) return finish(r, 0);
        // Not cached (unverifiable, or the cache is off): these bytes from the source, uncached.
        return read_direct(r);
    }
    if (r.error) return finish(r, r.error);
    read_local(r);
}

void CachedReader::finish(Request& r, int result) {
    // The asked-for range itself failed verification: passed up as such (the
    // ublk queue makes it EIO). A fetch that could not be cached never gets here.
    if (result == kNotCached) result = -EIO;
    if (result == 0) {
        IoStats& st = src_.stats();
        st.reads.fetch_add(1, std::memory_order_relaxed);
        st.bytes_served.fetch_add(r.size(), std::memory_order_relaxed);
        if (r.hit) st.cache_hit_reads.fetch_add(1, std::memory_order_relaxed);
    }
    std::erase(waiters_, &r);
    r.gen = 0;
    io::ReadCallback* cb = r.cb;
    requests_.release(r);
    cb->on_read_done(result);
}

// Once every chunk is local, the network is not needed: close its connections.
void CachedReader::release_network_if_done() {
    if (inner_ && fetches_in_flight_ == 0 && direct_in_flight_ == 0 && src_.complete()) inner_.reset();
}

}  // namespace lazyroot::cache
