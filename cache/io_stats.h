#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace lazyroot::cache {

// Counters every queue thread updates without locks, read by the status writer.
struct IoStats {
    std::atomic<uint64_t> reads{0};  // block reads served
    std::atomic<uint64_t> bytes_served{0};
    std::atomic<uint64_t> cache_hit_reads{0};  // served without waiting for the network
    std::atomic<uint64_t> fetches{0};          // reads sent to the network source
    std::atomic<uint64_t> bytes_fetched{0};
    std::atomic<uint64_t> fetch_errors{0};
    std::atomic<uint64_t> hydrated_bytes{0};            // fetched by the background fill
    std::atomic<uint64_t> cache_read_errors{0};         // local reads of present chunks that failed
    std::atomic<uint64_t> cache_bad_chunks{0};          // present chunks that failed verification
    std::atomic<uint64_t> misses_served_from_fetch{0};  // device reads answered before their chunks were written

    // Fetch latency in power-of-two microsecond buckets: 1 µs .. ~9 min.
    static constexpr size_t kBuckets = 30;
    std::array<std::atomic<uint64_t>, kBuckets> latency_us{};

    void record_fetch(uint64_t bytes, std::chrono::steady_clock::duration took, bool ok);
    // The upper bound of the bucket holding the q-quantile, in microseconds; 0 if empty.
    uint64_t latency_quantile_us(double q) const;
};

}  // namespace lazyroot::cache
