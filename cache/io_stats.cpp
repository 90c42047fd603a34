#include "cache/io_stats.h"

#include <bit>

namespace lazyroot::cache {

void IoStats::record_fetch(uint64_t bytes, std::chrono::steady_clock::duration took, bool ok) {
    fetches.fetch_add(1, std::memory_order_relaxed);
    if (!ok) {
        fetch_errors.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    bytes_fetched.fetch_add(bytes, std::memory_order_relaxed);
    auto us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(took).count());
    size_t b = us == 0 ? 0 : std::min<size_t>(kBuckets - 1, std::bit_width(us) - 1);
    latency_us[b].fetch_add(1, std::memory_order_relaxed);
}

uint64_t IoStats::latency_quantile_us(double q) const {
    uint64_t total = 0;
    for (const auto& b : latency_us) total += b.load(std::memory_order_relaxed);
    if (total == 0) return 0;
    const auto want = static_cast<uint64_t>(q * static_cast<double>(total));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
        seen += latency_us[i].load(std::memory_order_relaxed);
        if (seen > want) return 2ull << i;
    }
    return 2ull << (kBuckets - 1);
}

}  // namespace lazyroot::cache
