// The claims that make each missing chunk fetched once, whichever queue
// (or the filler) asks first; the others wait on their own loops.
#include "cache/cached_source.h"
#include "io/event_loop.h"

namespace lazyroot::cache {

InflightChunks::Claim InflightChunks::claim(uint64_t chunk, io::EventLoop& loop, const Waiter& waiter) {
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

}  // namespace lazyroot::cache
