#include "cache/chunk_bitmap.h"

#include <bit>

namespace lazyroot::cache {
namespace {

constexpr uint64_t bit(uint64_t i) { return uint64_t{1} << (i % 64); }

}  // namespace

ChunkBitmap::ChunkBitmap(uint64_t chunks)
    : chunks_(chunks),
      words_count_(chunks / 64 + (chunks % 64 != 0)),
      words_(std::make_unique<std::atomic<uint64_t>[]>(words_count_)) {}  // value-initialised: 0

bool ChunkBitmap::present(uint64_t i) const {
    return i < chunks_ && (words_[i / 64].load(std::memory_order_acquire) & bit(i));
}

bool ChunkBitmap::set_present(uint64_t i) {
    if (i >= chunks_) return false;
    // Skip the read-modify-write when the bit is already there (hot for hydration).
    if (words_[i / 64].load(std::memory_order_relaxed) & bit(i)) return false;
    const uint64_t old = words_[i / 64].fetch_or(bit(i), std::memory_order_acq_rel);
    if (old & bit(i)) return false;
    count_.fetch_add(1, std::memory_order_relaxed);
    return true;
}

bool ChunkBitmap::clear_present(uint64_t i) {
    if (i >= chunks_) return false;
    const uint64_t old = words_[i / 64].fetch_and(~bit(i), std::memory_order_acq_rel);
    if (!(old & bit(i))) return false;
    count_.fetch_sub(1, std::memory_order_relaxed);
    return true;
}

std::optional<uint64_t> ChunkBitmap::next_missing(uint64_t from) const {
    if (from >= chunks_) return std::nullopt;
    uint64_t w = from / 64;
    uint64_t missing = ~words_[w].load(std::memory_order_acquire) & (~uint64_t{0} << (from % 64));
    while (missing == 0) {
        if (++w == words_count_) return std::nullopt;
        missing = ~words_[w].load(std::memory_order_acquire);
    }
    const uint64_t i = w * 64 + static_cast<uint64_t>(std::countr_zero(missing));
    if (i >= chunks_) return std::nullopt;
    return i;
}

void ChunkBitmap::load(std::span<const uint8_t> bitmap_bytes) {
    uint64_t count = 0;
    for (uint64_t w = 0; w < words_count_; ++w) {
        uint64_t v = 0;
        for (uint64_t b = 0; b < 8; ++b) {
            const uint64_t byte = w * 8 + b;
            if (byte < bitmap_bytes.size()) v |= uint64_t{bitmap_bytes[byte]} << (8 * b);
        }
        // Stray bits past the last chunk would make count and next_missing lie.
        if (w == words_count_ - 1 && chunks_ % 64) v &= bit(chunks_) - 1;
        words_[w].store(v, std::memory_order_release);
        count += static_cast<uint64_t>(std::popcount(v));
    }
    count_.store(count, std::memory_order_relaxed);
}

void ChunkBitmap::clear() {
    for (uint64_t w = 0; w < words_count_; ++w) words_[w].store(0, std::memory_order_release);
    count_.store(0, std::memory_order_relaxed);
}

void ChunkBitmap::copy_bytes(uint64_t first_byte, std::span<uint8_t> out) const {
    uint64_t cached_word = UINT64_MAX;
    uint64_t v = 0;
    for (size_t k = 0; k < out.size(); ++k) {
        const uint64_t byte = first_byte + k;
        const uint64_t w = byte / 8;
        if (w >= words_count_) {
            out[k] = 0;
            continue;
        }
        if (w != cached_word) {
            v = words_[w].load(std::memory_order_acquire);
            cached_word = w;
        }
        out[k] = static_cast<uint8_t>(v >> (8 * (byte % 8)));
    }
}

}  // namespace lazyroot::cache
