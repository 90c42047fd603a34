#pragma once
#include <atomic>
#include <cstdint>

namespace lazyroot::io {

// Bytes of buffers the whole daemon may hold for one purpose (readahead
// slices, ublk IO buffers), shared by every queue thread: a queue that
// reads sequentially may use what idle queues don't, and the total stays
// bounded whatever the number of queues (--memory-budget). Lock-free: the
// queues take and give from their own threads.
class MemoryBudget {
public:
    explicit MemoryBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}
    MemoryBudget(const MemoryBudget&) = delete;
    MemoryBudget& operator=(const MemoryBudget&) = delete;

    // Takes `n` bytes if they fit; false (and nothing taken) otherwise.
    bool try_take(uint64_t n) {
        uint64_t held = held_.load(std::memory_order_relaxed);
        do {
            if (held + n > limit_) {
                contended_.store(true, std::memory_order_relaxed);
                return false;
            }
        } while (!held_.compare_exchange_weak(held, held + n, std::memory_order_relaxed));
        uint64_t peak = peak_.load(std::memory_order_relaxed);
        while (held + n > peak && !peak_.compare_exchange_weak(peak, held + n, std::memory_order_relaxed)) {}
        return true;
    }
    void give(uint64_t n) {
        held_.fetch_sub(n, std::memory_order_relaxed);
        contended_.store(false, std::memory_order_relaxed);
    }
    // Someone was refused since the last give(): whoever keeps spare
    // buffers for itself should give them back instead.
    bool contended() const { return contended_.load(std::memory_order_relaxed); }

    uint64_t limit() const { return limit_; }
    uint64_t held() const { return held_.load(std::memory_order_relaxed); }
    // The most ever held at once: what tests and status check against limit().
    uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }

private:
    const uint64_t limit_;
    std::atomic<uint64_t> held_{0};
    std::atomic<uint64_t> peak_{0};
    std::atomic<bool> contended_{false};
};

}  // namespace lazyroot::io
