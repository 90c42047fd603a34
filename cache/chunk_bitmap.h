#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

namespace lazyroot::cache {

// One bit per chunk, shared by every queue thread without a lock. Its byte
// form (copy_bytes/load) is the on-disk one: chunk i is bit (i % 8) of byte
// (i / 8), least significant bit first.
class ChunkBitmap {
public:
    explicit ChunkBitmap(uint64_t chunks);
    ChunkBitmap(const ChunkBitmap&) = delete;
    ChunkBitmap& operator=(const ChunkBitmap&) = delete;

    uint64_t chunks() const { return chunks_; }
    uint64_t bytes() const { return chunks_ / 8 + (chunks_ % 8 != 0); }

    // Acquire: once true, whatever the setter did before set_present is visible.
    bool present(uint64_t i) const;
    // Release; out-of-range i is ignored. Returns true when the bit was 0.
    bool set_present(uint64_t i);
    // For taking back a chunk whose local copy turned out bad (unreadable, or
    // failing verification); never done on disk. Returns true when the bit was 1.
    bool clear_present(uint64_t i);
    uint64_t count_present() const { return count_.load(std::memory_order_relaxed); }

    // The first chunk >= from that is not present, for hydration.
    std::optional<uint64_t> next_missing(uint64_t from) const;

    // Replaces every bit; `bitmap_bytes` may be shorter (the rest is 0) or
    // longer (ignored), and bits past chunks() are ignored. Not atomic as a whole.
    void load(std::span<const uint8_t> bitmap_bytes);
    void clear();
    // Bytes [first_byte, first_byte + out.size()) of the byte form; past the
    // end they read as 0.
    void copy_bytes(uint64_t first_byte, std::span<uint8_t> out) const;

private:
    uint64_t chunks_;
    uint64_t words_count_;
    std::unique_ptr<std::atomic<uint64_t>[]> words_;
    std::atomic<uint64_t> count_{0};
};

}  // namespace lazyroot::cache
