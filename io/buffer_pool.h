#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace lazyroot::io {

// Byte buffers of one queue's reader, reused instead of allocated for each
// IO (ObjectPool is for the per-request structs; this is for their data).
// Sizes are rounded up to `granule` so runs of 1, 2, … chunks each find
// their buffer again. At most `keep_bytes` wait free: a burst's buffers go
// back to the allocator (and, being large, to the kernel), so an idle queue
// does not hold what a busy one used. One pool per queue thread: no locks.
// Buffers are page-aligned, as O_DIRECT reads and writes want them.
class BufferPool {
public:
    BufferPool(size_t granule, size_t keep_bytes) : granule_(granule ? granule : 1), keep_bytes_(keep_bytes) {}
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    static constexpr std::align_val_t kAlign{4096};
    struct AlignedDelete {
        void operator()(std::byte* p) const { ::operator delete[](p, kAlign); }
    };
    struct Buffer {
        std::unique_ptr<std::byte[], AlignedDelete> data;
        size_t capacity = 0;
        std::byte* get() const { return data.get(); }
        explicit operator bool() const { return data != nullptr; }
    };

    // A buffer of at least `len` bytes: the smallest free one that fits,
    // or a new one (counted in misses()).
    Buffer take(size_t len) {
        ++takes_;
        size_t best = free_.size();
        for (size_t i = 0; i < free_.size(); ++i)
            if (free_[i].capacity >= len && (best == free_.size() || free_[i].capacity < free_[best].capacity))
                best = i;
        if (best != free_.size()) {
            Buffer b = std::move(free_[best]);
            free_[best] = std::move(free_.back());
            free_.pop_back();
            free_bytes_ -= b.capacity;
            return b;
        }
        ++misses_;
        const size_t cap = (len + granule_ - 1) / granule_ * granule_;
        return Buffer{
            std::unique_ptr<std::byte[], AlignedDelete>(static_cast<std::byte*>(::operator new[](cap, kAlign))), cap};
    }
    void give(Buffer b) {
        if (!b || free_bytes_ + b.capacity > keep_bytes_) return;  // freed here
        free_bytes_ += b.capacity;
        free_.push_back(std::move(b));
    }

    // For tests and status: take() calls, and those that had to allocate.
    uint64_t takes() const { return takes_; }
    uint64_t misses() const { return misses_; }
    size_t free_bytes() const { return free_bytes_; }

private:
    size_t granule_;
    size_t keep_bytes_;
    std::vector<Buffer> free_;
    size_t free_bytes_ = 0;
    uint64_t takes_ = 0;
    uint64_t misses_ = 0;
};

}  // namespace lazyroot::io
