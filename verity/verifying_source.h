#pragma once
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/source.h"
#include "verity/hash_tree.h"

namespace lazyroot::verity {

// Checks image bytes against the dm-verity tree as they arrive, before the
// cache stores them or the kernel sees them: a tampered or corrupted block
// is refetched from another source, and is an EIO if none has it right.
// The hash area is loaded whole at attach (1/128 of the data) and checked
// against the root hash, so every later check is local.
class VerifyingSource final : public io::Source {
public:
    // Blocking (attach time). Throws std::runtime_error with a one-line reason.
    // Without `tree`, the hash area is in `inner` at hash_offset (as `prepare`
    // appends it). With `tree` (--hash-source, a DDI's root-verity partition)
    // it is read from there at hash_offset, only during open(); this source
    // then shows inner's data followed by that verified tree, so one device
    // carries both for dm-verity (see hash_offset()).
    static std::unique_ptr<VerifyingSource> open(std::unique_ptr<io::Source> inner, uint64_t hash_offset,
                                                 const std::string& root_hash_hex, io::Source* tree = nullptr);

    uint64_t size() const override { return separate_tree_ ? hash_offset_ + hash_area_.size() : inner_->size(); }
    std::string describe() const override { return inner_->describe(); }
    std::string identity() const override {
        return separate_tree_ ? inner_->identity() + ";tree@" + std::to_string(hash_offset_) : inner_->identity();
    }
    std::unique_ptr<io::QueueReader> open_queue(io::EventLoop& loop, unsigned depth) override;
    std::unique_ptr<io::QueueReader> open_fill_queue(io::EventLoop& loop, unsigned depth) override;

    const VerityParams& params() const { return params_; }
    uint64_t data_bytes() const { return params_.data_blocks * params_.data_block_size; }
    // Where the superblock is on this source (what dm-verity's hash_offset is).
    uint64_t hash_offset() const { return hash_offset_; }
    bool separate_tree() const { return separate_tree_; }
    const std::vector<uint8_t>& hash_area() const { return hash_area_; }
    std::span<const uint8_t> leaf_hashes() const;

    // Checks bytes of this source from elsewhere (the cache, read back):
    // the data blocks wholly inside [offset, offset + bytes.size()) against
    // the tree, the tree area against the verified copy, a separate tree's
    // padding for zeros. nullopt when all is right, else the first bad block
    // (data_block_size units from the start of the source). Thread-safe.
    std::optional<uint64_t> first_bad_block(uint64_t offset, std::span<const std::byte> bytes) const;

private:
    VerifyingSource(std::unique_ptr<io::Source> inner) : inner_(std::move(inner)) {}

    std::unique_ptr<io::Source> inner_;
    VerityParams params_;
    TreeLayout layout_;
    uint64_t hash_offset_ = 0;
    bool separate_tree_ = false;
    std::vector<uint8_t> hash_area_;  // superblock + tree, verified
    std::vector<uint8_t> root_;       // the trusted root hash
};

}  // namespace lazyroot::verity
