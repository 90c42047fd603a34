#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "cache/cached_source.h"

namespace lazyroot::cache {

struct FillOptions {
    unsigned parallel = 4;          // runs in flight
    uint64_t run_bytes = 1u << 20;  // one fetch
    uint64_t rate_bytes_per_s = 0;  // 0: unlimited
    bool yield_to_demand = true;    // one run at a time while the device is reading
    bool give_up_on_error = false;  // full mode: fail; hydrate: retry later
    // Chunks fetched before any other, in this order (a prefetch profile's,
    // in first-read order); those present already are skipped.
    std::vector<uint64_t> first;
    // Only `first`: the fill is complete once they are settled (a lazy
    // attach with a profile). A run that fails is left to demand reads.
    bool only_first = false;
};

// Fetches every missing chunk into the cache on a thread and loop of its own:
// the whole of `full` mode before the device starts, or `hydrate` mode's
// background fill. Demand reads from the device go first. It fails (and
// stops) as soon as the cache is degraded: what it fetched could not be kept.
class Filler {
public:
    Filler(CachedSource& src, FillOptions opts);
    ~Filler();  // stop()
    Filler(const Filler&) = delete;
    Filler& operator=(const Filler&) = delete;

    void start();
    void stop();
    // Blocks until the fill ends (complete, stopped or failed).
    void wait();

    bool complete() const { return complete_; }
    bool failed() const { return failed_; }
    uint64_t filled_bytes() const { return filled_bytes_; }

private:
    void run();

    CachedSource& src_;
    FillOptions opts_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> complete_{false};
    std::atomic<bool> failed_{false};
    std::atomic<uint64_t> filled_bytes_{0};
    std::atomic<io::EventLoop*> loop_{nullptr};
};

}  // namespace lazyroot::cache
