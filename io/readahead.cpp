#include "io/readahead.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace lazyroot::io {

// One slice being fetched by this queue for the pool.
struct ReadaheadReader::Fetch final : io::ReadCallback {
    ReadaheadReader* owner = nullptr;
    std::shared_ptr<SlicePool::Slice> slice;
    uint64_t started_ns = 0;
    void on_read_done(int result) override { owner->fetch_done(*this, result); }
};

// A read served from pool slices, waiting for those still in flight.
struct ReadaheadReader::Waiter {
    uint64_t offset = 0;
    std::span<std::byte> dst;
    io::ReadCallback* cb = nullptr;
    unsigned pending = 0;
    bool failed = false;
    std::vector<std::shared_ptr<SlicePool::Slice>> slices;  // in offset order, held until copied
};

ReadaheadSource::ReadaheadSource(std::unique_ptr<io::Source> inner, ReadaheadOptions opts)
    : inner_(std::move(inner)), opts_(opts) {
    if (!opts_.budget) opts_.budget = std::make_shared<MemoryBudget>(uint64_t{opts_.max_window_bytes} * 2);
    StreamOptions so;
    so.chunk_bytes = opts_.slice_bytes;
    so.slice_bytes = opts_.slice_bytes;
    so.max_window_bytes = opts_.max_window_bytes;
    so.trigger = opts_.trigger;
    so.trigger_bytes = opts_.trigger_bytes;
    so.image_bytes = inner_->size();
    streams_ = std::make_unique<StreamDetector>(so);
    pool_ = std::make_unique<SlicePool>(inner_->size(), opts_.slice_bytes, opts_.budget);
}

ReadaheadSource::~ReadaheadSource() = default;

std::unique_ptr<io::QueueReader> ReadaheadSource::open_queue(io::EventLoop& loop, unsigned depth) {
    unsigned slices = opts_.max_window_bytes / opts_.slice_bytes + 1;
    return std::make_unique<ReadaheadReader>(inner_->open_queue(loop, depth + slices), loop, *streams_, *pool_);
}

ReadaheadReader::ReadaheadReader(std::unique_ptr<io::QueueReader> inner, io::EventLoop& loop, StreamDetector& streams,
                                 SlicePool& pool)
    : inner_(std::move(inner)), loop_(loop), streams_(streams), pool_(pool), deferred_timer_(loop, [this] {
          flush_deferred();
      }) {}

ReadaheadReader::~ReadaheadReader() {
    *alive_ = false;
    // In-flight fetches belong to the inner reader, which never calls back
    // once destroyed: their slices fail, so that a read on another queue
    // waiting for one reads for itself.
    inner_.reset();
    for (Fetch& f : fetch_pool_)
        if (f.slice) pool_.settle(*std::exchange(f.slice, nullptr), -ECANCELED);
}

void ReadaheadReader::read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) {
    if (dst.empty()) return inner_->read(offset, dst, cb);
    bool all_ready = false;
    auto slices = pool_.find(offset, dst.size(), &all_ready);
    const auto ahead = streams_.on_read(offset, dst.size(), !all_ready);
    if (!slices.empty())
        serve_from_slices(offset, dst, cb, std::move(slices));
    else
        inner_->read(offset, dst, cb);
    prefetch(ahead);  // after the read's own request, which goes first on the wire
}

bool ReadaheadReader::read_fixed(uint64_t offset, uint32_t len, io::FixedBuffer buf, io::ReadCallback& cb) {
    if (len == 0) return false;
    bool all_ready = false;
    if (!pool_.find(offset, len, &all_ready).empty()) return false;  // read() copies from the slices
    if (!inner_->read_fixed(offset, len, buf, cb)) return false;
    prefetch(streams_.on_read(offset, len, true));
    return true;
}

void ReadaheadReader::prefetch(StreamDetector::Prefetch ahead) {
    for (uint64_t i = ahead.first; i < ahead.first + ahead.count; ++i) {
        bool no_room = false;
        auto slice = pool_.start(i, &no_room);
        if (no_room) break;    // the budget is spent: the window waits for consumed slices
        if (!slice) continue;  // in the pool already
        if (free_fetches_.empty()) free_fetches_.push_back(&fetch_pool_.emplace_back());
        Fetch& f = *free_fetches_.back();
        free_fetches_.pop_back();
        f.owner = this;
        f.slice = std::move(slice);
        prefetched_bytes_ += f.slice->len;
        f.started_ns = StreamDetector::clock_ns();
        inner_->read(f.slice->offset, {f.slice->data.get(), f.slice->len}, f);
    }
}

void ReadaheadReader::fetch_done(Fetch& f, int result) {
    auto slice = std::move(f.slice);
    free_fetches_.push_back(&f);
    if (result >= 0) {
        const uint64_t now = StreamDetector::clock_ns();
        streams_.on_fetched(slice->len, now - f.started_ns, now);
    }
    pool_.settle(*slice, result);
}

void ReadaheadReader::serve_from_slices(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb,
                                        std::vector<std::shared_ptr<SlicePool::Slice>> slices) {
    if (free_waiters_.empty()) free_waiters_.push_back(&waiter_pool_.emplace_back());
    Waiter& w = *free_waiters_.back();
    free_waiters_.pop_back();
    w.offset = offset;
    w.dst = dst;
    w.cb = &cb;
    w.pending = 1;  // the registering pass itself
    w.failed = false;
    w.slices = std::move(slices);
    std::weak_ptr<bool> alive = alive_;
    for (auto& s : w.slices) {
        const int state = pool_.wait(*s, loop_, [this, alive, &w](int result) {
            if (auto a = alive.lock(); a && *a) waiter_progress(w, result);
        });
        if (state == SlicePool::kFetching)
            ++w.pending;
        else if (state < 0)
            w.failed = true;
    }
    if (w.pending == 1) {
        // Everything is here already; complete from the loop, not inside read().
        deferred_.push_back(&w);
        deferred_timer_.arm_in({});
        return;
    }
    waiter_progress(w, 0);
}

void ReadaheadReader::flush_deferred() {
    std::vector<Waiter*> ready;
    ready.swap(deferred_);
    for (Waiter* w : ready) waiter_progress(*w, 0);
}

// One of the slices a read needs has settled (or the registering pass is over).
void ReadaheadReader::waiter_progress(Waiter& w, int slice_result) {
    if (slice_result < 0) w.failed = true;
    if (--w.pending > 0) return;
    io::ReadCallback* cb = w.cb;
    const uint64_t off = w.offset;
    const auto dst = w.dst;
    if (w.failed) {
        // Let the inner source try this range itself, with its own retries.
        w.slices.clear();
        free_waiters_.push_back(&w);
        return inner_->read(off, dst, *cb);
    }
    // Copy from every slice the range spans; all of them have landed.
    const uint64_t end = off + dst.size();
    for (auto& s : w.slices) {
        const uint64_t from = std::max(off, s->offset);
        const uint64_t to = std::min(end, s->offset + s->len);
        std::memcpy(dst.data() + (from - off), s->data.get() + (from - s->offset), to - from);
        if (to == s->offset + s->len) pool_.consumed(*s);
    }
    w.slices.clear();
    free_waiters_.push_back(&w);
    cb->on_read_done(0);
}

}  // namespace lazyroot::io
