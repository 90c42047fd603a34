#include "io/readahead.h"

#include <algorithm>
#include <cstring>

namespace lazyroot::io {

struct ReadaheadReader::Slice final : io::ReadCallback {
    ReadaheadReader* owner = nullptr;
    uint64_t index = 0;
    uint64_t offset = 0;
    size_t len = 0;
    std::unique_ptr<std::byte[]> data;
    bool ready = false;
    bool orphaned = false;  // dropped while in flight: free it when it lands
    bool consumed = false;  // its last byte was read: the stream has moved past it
    uint64_t last_use = 0;
    std::vector<Waiter*> waiters;  // waiting for this slice to land
    unsigned pins = 0;             // waiters that will copy from it: keep it

    void on_read_done(int result) override { owner->slice_done(*this, result); }
};

struct ReadaheadReader::Waiter {
    uint64_t offset = 0;
    std::span<std::byte> dst;
    io::ReadCallback* cb = nullptr;
    unsigned pending = 0;
    bool failed = false;
    std::vector<Slice*> pinned;  // in offset order
};

std::unique_ptr<io::QueueReader> ReadaheadSource::open_queue(io::EventLoop& loop, unsigned depth) {
    unsigned slices = opts_.max_window_bytes / opts_.slice_bytes + 1;
    return std::make_unique<ReadaheadReader>(inner_->open_queue(loop, depth + slices), loop, inner_->size(), opts_,
                                             claims_);
}

ReadaheadReader::ReadaheadReader(std::unique_ptr<io::QueueReader> inner, io::EventLoop& loop, uint64_t size,
                                 ReadaheadOptions opts, std::shared_ptr<PrefetchClaims> claims)
    : inner_(std::move(inner)),
      size_(size),
      opts_(opts),
      claims_(claims ? std::move(claims) : std::make_shared<PrefetchClaims>(size / opts.slice_bytes + 1)),
      deferred_timer_(loop, [this] { flush_deferred(); }) {}

ReadaheadReader::~ReadaheadReader() {
    // In-flight slice reads belong to the inner reader, which is destroyed
    // first below and never calls back after that.
    inner_.reset();
    for (const auto& [i, c] : slices_) claims_->release(i);
}

bool ReadaheadReader::covered(uint64_t offset, size_t len) const {
    const uint64_t first = offset / opts_.slice_bytes;
    const uint64_t last = (offset + len - 1) / opts_.slice_bytes;
    for (uint64_t i = first; i <= last; ++i) {
        auto it = slices_.find(i);
        if (it == slices_.end() || it->second->orphaned) return false;
    }
    return true;
}

ReadaheadReader::Stream& ReadaheadReader::stream_for(uint64_t offset) {
    Stream* lru = &streams_[0];
    for (Stream& s : streams_) {
        if (s.next == offset) {
            ++s.streak;
            return s;
        }
        if (s.last_use < lru->last_use) lru = &s;
    }
    // A new stream replaces the least recently used one. Slices fetched for
    // the old one stay until consumed or evicted: the stream may come back.
    *lru = Stream{};
    return *lru;
}

void ReadaheadReader::read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) {
    if (dst.empty()) return inner_->read(offset, dst, cb);
    Stream& s = stream_for(offset);
    s.next = offset + dst.size();
    s.last_use = ++tick_;

    const bool hit = covered(offset, dst.size());
    if (hit)
        wait_for_slices(offset, dst, cb);
    else
        inner_->read(offset, dst, cb);

    // The window grows only as the reader consumes what was prefetched, one
    // doubling per slice it moves into: a boot's many short files each get
    // one slice ahead, not a window that doubled on every read of them.
    const uint64_t end_slice = (offset + dst.size() - 1) / opts_.slice_bytes;
    const bool moved_on = end_slice != s.slice;
    s.slice = end_slice;
    if (s.streak >= opts_.trigger) prefetch_ahead(s, hit && moved_on);
}

void ReadaheadReader::wait_for_slices(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) {
    if (free_waiters_.empty()) free_waiters_.push_back(&waiter_pool_.emplace_back());
    Waiter& w = *free_waiters_.back();
    free_waiters_.pop_back();
    w.offset = offset;
    w.dst = dst;
    w.cb = &cb;
    w.pending = 0;
    w.failed = false;
    w.pinned.clear();
    const uint64_t first = offset / opts_.slice_bytes;
    const uint64_t last = (offset + dst.size() - 1) / opts_.slice_bytes;
    for (uint64_t i = first; i <= last; ++i) {
        Slice& c = *slices_.at(i);
        ++c.pins;
        c.last_use = tick_;
        w.pinned.push_back(&c);
        if (!c.ready) {
            ++w.pending;
            c.waiters.push_back(&w);
        }
    }
    if (w.pending == 0) {
        // Everything is here already; complete from the loop, not inside read().
        deferred_.push_back(&w);
        deferred_timer_.arm_in({});
    }
}

void ReadaheadReader::flush_deferred() {
    std::vector<Waiter*> ready;
    ready.swap(deferred_);
    for (Waiter* w : ready) waiter_progress(*w, false);
}

// Called when one of the slices a waiter needs has landed (or all were ready).
void ReadaheadReader::waiter_progress(Waiter& w, bool slice_failed) {
    if (slice_failed) w.failed = true;
    if (w.pending > 0 && --w.pending > 0) return;
    io::ReadCallback* cb = w.cb;
    if (w.failed) {
        for (Slice* c : w.pinned) --c->pins;
        // Let the inner source try this range itself, with its own retries.
        uint64_t off = w.offset;
        auto dst = w.dst;
        free_waiters_.push_back(&w);
        return inner_->read(off, dst, *cb);
    }
    // Copy from every slice the range spans; all of them are ready now.
    const uint64_t end = w.offset + w.dst.size();
    for (Slice* c : w.pinned) {
        const uint64_t from = std::max(w.offset, c->offset);
        const uint64_t to = std::min(end, c->offset + c->len);
        std::memcpy(w.dst.data() + (from - w.offset), c->data.get() + (from - c->offset), to - from);
        --c->pins;
        if (to == c->offset + c->len) c->consumed = true;
    }
    for (Slice* c : w.pinned) {
        if (!c->consumed || c->pins > 0) continue;
        if (auto it = slices_.find(c->index); it != slices_.end() && it->second.get() == c) free_slice(it);
    }
    free_waiters_.push_back(&w);
    cb->on_read_done(0);
}

void ReadaheadReader::prefetch_ahead(Stream& s, bool grow) {
    if (s.window == 0)
        s.window = opts_.slice_bytes;
    else if (grow)
        s.window = std::min<uint64_t>(opts_.max_window_bytes, s.window * 2);
    const uint64_t from = s.next / opts_.slice_bytes;
    const uint64_t until = std::min(size_, s.next + s.window);
    const size_t max_buffers = opts_.max_window_bytes / opts_.slice_bytes;
    for (uint64_t i = from; i * opts_.slice_bytes < until; ++i) {
        if (slices_.count(i)) continue;
        if (buffers_out_ >= max_buffers && !evict_one_idle()) break;
        if (!claims_->claim(i)) continue;  // another queue has it
        auto c = std::make_unique<Slice>();
        c->owner = this;
        c->index = i;
        c->offset = i * opts_.slice_bytes;
        c->len = static_cast<size_t>(std::min<uint64_t>(opts_.slice_bytes, size_ - c->offset));
        c->data = take_buffer();
        c->last_use = tick_;
        Slice& ref = *c;
        slices_.emplace(i, std::move(c));
        prefetched_bytes_ += ref.len;
        inner_->read(ref.offset, {ref.data.get(), ref.len}, ref);
    }
}

// Frees the least recently used landed, unpinned slice that no stream is
// about to read; false when there is none (the budget is in flight or ahead
// of live streams: evicting those would only fetch them again).
bool ReadaheadReader::evict_one_idle() {
    auto ahead_of_a_stream = [&](const Slice& c) {
        for (const Stream& s : streams_)
            if (s.next != UINT64_MAX && c.offset + c.len > s.next && c.offset < s.next + s.window) return true;
        return false;
    };
    auto victim = slices_.end();
    for (auto it = slices_.begin(); it != slices_.end(); ++it) {
        const Slice& c = *it->second;
        if (!c.ready || c.pins > 0 || ahead_of_a_stream(c)) continue;
        if (victim == slices_.end() || c.last_use < victim->second->last_use) victim = it;
    }
    if (victim == slices_.end()) return false;
    free_slice(victim);
    return true;
}

void ReadaheadReader::free_slice(std::map<uint64_t, std::unique_ptr<Slice>>::iterator it) {
    free_buffers_.push_back(std::move(it->second->data));
    --buffers_out_;
    claims_->release(it->first);
    slices_.erase(it);
}

std::unique_ptr<std::byte[]> ReadaheadReader::take_buffer() {
    ++buffers_out_;
    if (free_buffers_.empty()) return std::make_unique<std::byte[]>(opts_.slice_bytes);
    auto b = std::move(free_buffers_.back());
    free_buffers_.pop_back();
    return b;
}

void ReadaheadReader::slice_done(Slice& c, int result) {
    auto it = slices_.find(c.index);
    std::vector<Waiter*> waiters;
    waiters.swap(c.waiters);
    const bool ok = result == 0 && !c.orphaned;
    if (ok) {
        c.ready = true;
    } else {
        // A failed prefetch is simply forgotten: its waiters read for themselves.
        for (Waiter* w : waiters) std::erase(w->pinned, &c);
        free_buffers_.push_back(std::move(c.data));
        --buffers_out_;
        claims_->release(c.index);
        if (it != slices_.end() && it->second.get() == &c)
            slices_.erase(it);
        else
            delete &c;  // orphaned: no longer in the map, owned here
    }
    for (Waiter* w : waiters) waiter_progress(*w, !ok);
}

void ReadaheadReader::drop_idle_slices() {
    for (auto it = slices_.begin(); it != slices_.end();) {
        Slice& c = *it->second;
        if (c.pins > 0) {
            ++it;
        } else if (c.ready) {
            free_buffers_.push_back(std::move(c.data));
            --buffers_out_;
            claims_->release(it->first);
            it = slices_.erase(it);
        } else {
            // Still in flight: the inner reader holds a reference, so hand
            // ownership to the completion.
            c.orphaned = true;
            it->second.release();
            it = slices_.erase(it);
        }
    }
}

}  // namespace lazyroot::io
