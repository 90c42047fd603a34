#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "io/memory_budget.h"

namespace lazyroot::io {

class EventLoop;

// Prefetched slices of one source, in RAM, shared by every queue: a stream's
// reads spread over the queues of the CPUs its reader runs on, and whichever
// queue fetched a slice, a read on any queue is served from it (before, each
// queue kept its own and a read on another queue fetched the bytes again).
// Bounded by a MemoryBudget: when it is spent, slices already read through
// go first, then slices no read has touched for a while; if none can go, no
// new slice starts. Thread-safe.
class SlicePool {
public:
    struct Slice {
        uint64_t index = 0;
        uint64_t offset = 0;
        size_t len = 0;
        std::unique_ptr<std::byte[]> data;  // written by the fetch; read only once `state` is 0
    private:
        friend class SlicePool;
        int state = kFetching;  // 0: ready; < 0: failed (-errno)
        bool consumed = false;  // its last byte was served: the stream moved past it
        uint64_t last_use = 0;
        struct Waiter {
            EventLoop* loop;
            std::function<void(int)> fn;
        };
        std::vector<Waiter> waiters;
    };
    static constexpr int kFetching = 1;

    SlicePool(uint64_t image_bytes, uint32_t slice_bytes, std::shared_ptr<MemoryBudget> budget);
    ~SlicePool();
    SlicePool(const SlicePool&) = delete;
    SlicePool& operator=(const SlicePool&) = delete;

    // The slices covering [offset, offset+len), held for the caller, if every
    // one is in the pool (ready or being fetched); else none.
    // `all_ready`: every one of them has landed.
    std::vector<std::shared_ptr<Slice>> find(uint64_t offset, uint64_t len, bool* all_ready);
    // Runs fn(result) on `loop` once the slice has settled; returns its state
    // instead (and keeps nothing) if it has settled already.
    int wait(Slice& s, EventLoop& loop, std::function<void(int)> fn);
    // A new slice, being fetched by the caller, who calls settle() when it
    // lands; null if the pool has it already or the budget has no room.
    std::shared_ptr<Slice> start(uint64_t index, bool* no_room);
    void settle(Slice& s, int result);
    // The slice's last byte was served.
    void consumed(Slice& s);
    // Forgets every settled slice (they came from a source being abandoned).
    void drop_settled();

    uint64_t held_bytes() const;
    uint32_t slice_bytes() const { return slice_bytes_; }

private:
    bool evict_one();

    const uint64_t image_bytes_;
    const uint32_t slice_bytes_;
    std::shared_ptr<MemoryBudget> budget_;
    mutable std::mutex mu_;
    std::map<uint64_t, std::shared_ptr<Slice>> slices_;
    std::vector<std::unique_ptr<std::byte[]>> spare_;  // buffers kept for the next slices
    uint64_t buffers_ = 0;                             // taken from the budget
    uint64_t tick_ = 0;
};

}  // namespace lazyroot::io
