#include "io/slice_pool.h"

#include <algorithm>

#include "io/event_loop.h"

namespace lazyroot::io {

SlicePool::SlicePool(uint64_t image_bytes, uint32_t slice_bytes, std::shared_ptr<MemoryBudget> budget)
    : image_bytes_(image_bytes), slice_bytes_(slice_bytes), budget_(std::move(budget)) {}

SlicePool::~SlicePool() {
    // Every fetch has settled or been abandoned with its queue: the buffers
    // go back, whoever still holds a slice.
    budget_->give(buffers_ * uint64_t{slice_bytes_});
}

std::vector<std::shared_ptr<SlicePool::Slice>> SlicePool::find(uint64_t offset, uint64_t len, bool* all_ready) {
    *all_ready = false;
    std::vector<std::shared_ptr<Slice>> out;
    const uint64_t first = offset / slice_bytes_, last = (offset + len - 1) / slice_bytes_;
    std::lock_guard lock(mu_);
    for (uint64_t i = first; i <= last; ++i) {
        auto it = slices_.find(i);
        if (it == slices_.end()) return {};
        out.push_back(it->second);
    }
    ++tick_;
    *all_ready = true;
    for (auto& s : out) {
        s->last_use = tick_;
        if (s->state != 0) *all_ready = false;
    }
    return out;
}

int SlicePool::wait(Slice& s, EventLoop& loop, std::function<void(int)> fn) {
    std::lock_guard lock(mu_);
    if (s.state != kFetching) return s.state;
    s.waiters.push_back({&loop, std::move(fn)});
    return kFetching;
}

std::shared_ptr<SlicePool::Slice> SlicePool::start(uint64_t index, bool* no_room) {
    *no_room = false;
    const uint64_t offset = index * slice_bytes_;
    if (offset >= image_bytes_) return nullptr;
    std::lock_guard lock(mu_);
    if (slices_.count(index)) return nullptr;
    std::unique_ptr<std::byte[]> buf;
    if (!spare_.empty()) {
        buf = std::move(spare_.back());
        spare_.pop_back();
    } else if (budget_->try_take(slice_bytes_) || (evict_one() && !spare_.empty())) {
        if (!spare_.empty()) {
            buf = std::move(spare_.back());
            spare_.pop_back();
        } else {
            ++buffers_;
            buf = std::make_unique_for_overwrite<std::byte[]>(slice_bytes_);
        }
    } else {
        *no_room = true;
        return nullptr;
    }
    auto s = std::make_shared<Slice>();
    s->index = index;
    s->offset = offset;
    s->len = static_cast<size_t>(std::min<uint64_t>(slice_bytes_, image_bytes_ - offset));
    s->data = std::move(buf);
    s->last_use = ++tick_;
    slices_.emplace(index, s);
    return s;
}

// Frees one settled slice that no read holds, into spare_: one read through
// first, else the least recently used one that no read has touched while
// the pool turned over; false if there is none (all are in flight, in use,
// or ahead of a live stream).
bool SlicePool::evict_one() {
    const uint64_t stale = std::max<uint64_t>(8, budget_->limit() / slice_bytes_);
    auto victim = slices_.end();
    for (auto it = slices_.begin(); it != slices_.end(); ++it) {
        const Slice& c = *it->second;
        if (c.state == kFetching || it->second.use_count() > 1) continue;
        if (!c.consumed && tick_ - c.last_use < stale) continue;
        if (victim == slices_.end() || (c.consumed && !victim->second->consumed) ||
            (c.consumed == victim->second->consumed && c.last_use < victim->second->last_use))
            victim = it;
    }
    if (victim == slices_.end()) return false;
    if (victim->second->data) spare_.push_back(std::move(victim->second->data));
    slices_.erase(victim);
    return true;
}

void SlicePool::settle(Slice& s, int result) {
    std::vector<Slice::Waiter> waiters;
    {
        std::lock_guard lock(mu_);
        s.state = result < 0 ? result : 0;
        waiters.swap(s.waiters);
        if (result < 0) {
            // A failed prefetch is forgotten: its readers read for themselves.
            if (auto it = slices_.find(s.index); it != slices_.end() && it->second.get() == &s) slices_.erase(it);
            if (s.data) spare_.push_back(std::move(s.data));
        }
    }
    for (auto& w : waiters) w.loop->post([fn = std::move(w.fn), st = s.state] { fn(st); });
}

void SlicePool::consumed(Slice& s) {
    std::lock_guard lock(mu_);
    s.consumed = true;
}

void SlicePool::drop_settled() {
    std::lock_guard lock(mu_);
    for (auto it = slices_.begin(); it != slices_.end();) {
        if (it->second->state == kFetching) {
            ++it;
            continue;
        }
        // One a read is copying from stays: its bytes were good, and its buffer is the budget's.
        if (it->second.use_count() > 1) {
            ++it;
            continue;
        }
        if (it->second->data) spare_.push_back(std::move(it->second->data));
        it = slices_.erase(it);
    }
}

uint64_t SlicePool::held_bytes() const {
    std::lock_guard lock(mu_);
    return buffers_ * uint64_t{slice_bytes_};
}

}  // namespace lazyroot::io
