#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "verity/encoding.h"  // to_hex, for printing root hashes

// The dm-verity hash tree, hash_type 1 (veritysetup's default), SHA-256, laid
// out exactly as `veritysetup format` writes it (cryptsetup lib/verity/verity_hash.c):
//
//   hash area = [superblock, padded to a hash block][top level]...[level 1][level 0]
//
// Level 0 holds one hash per data block; level i+1 one hash per block of level i;
// the top level is a single block and the root hash is the hash of that block.
// Every hash is sha256(salt || block). A hash block holds hash_block_size / 32
// hashes (128 for 4 KiB) in 32-byte slots, in block order, and the rest of the
// block is zeros. An image of one data block has no tree at all: its root hash
// is the hash of that block.
namespace lazyroot::verity {

inline constexpr size_t kDigestBytes = 32;  // SHA-256

struct VerityParams {
    uint32_t data_block_size = 4096;
    uint32_t hash_block_size = 4096;
    std::vector<uint8_t> salt;  // at most 256 bytes; may be empty
    uint64_t data_blocks = 0;
};

struct TreeLevel {
    uint64_t offset = 0;  // bytes from the start of the hash area (the superblock)
    uint64_t blocks = 0;  // hash blocks in this level
};

struct TreeLayout {
    uint32_t hashes_per_block = 0;
    uint64_t tree_offset = 0;       // the first tree block: 512 B of superblock rounded up to a hash block
    std::vector<TreeLevel> levels;  // levels[0] hashes the data; levels.back() is the one-block top
    uint64_t tree_blocks = 0;       // all levels
    uint64_t hash_area_bytes = 0;   // tree_offset + tree_blocks * hash_block_size: what veritysetup writes
};

// Throws std::invalid_argument for parameters veritysetup would refuse (block
// sizes not a power of two in [512, 512 KiB], salt over 256 bytes, no data blocks)
// and for data or a hash area of 2^63 bytes or more: no size in the layout wraps.
TreeLayout tree_layout(const VerityParams& p);

// sha256(salt || block).
std::array<uint8_t, kDigestBytes> hash_block(std::span<const uint8_t> salt, std::span<const uint8_t> block);

// Hashes the first data_bytes of image_path (data_bytes must equal
// p.data_blocks * p.data_block_size) and writes the tree to out_fd as if the
// hash area started at out_offset (veritysetup's --hash-offset): levels land at
// out_offset + layout.levels[i].offset. The superblock's block is left to the
// caller. out_fd must be open read-write: upper levels are read back from it.
// Data blocks are hashed on `threads` threads (0: one per CPU), reading 4 MiB
// sequential chunks. Returns the root hash. Throws std::runtime_error.
std::vector<uint8_t> build_hash_tree(const std::string& image_path, uint64_t data_bytes, const VerityParams& p,
                                     int out_fd, uint64_t out_offset, unsigned threads = 0);

// Checks one data block against the bottom level of a tree, for verifying
// blocks as they are fetched. leaf_hashes is level 0 as laid out on disk:
// hash_area.subspan(layout.levels[0].offset, layout.levels[0].blocks * hash_block_size).
// Block i's hash is in hash block i / hashes_per_block, slot i % hashes_per_block.
// For a one-block image (no tree) pass the root hash. The leaf hashes are only
// as trustworthy as the check that tied them to the root: run verify_tree first.
bool verify_block(uint64_t block_index, std::span<const uint8_t> block, std::span<const uint8_t> leaf_hashes,
                  const VerityParams& p);

// Checks a whole hash area (superblock block included, as the image carries it
// from hashOffset) against a trusted root hash: the top block hashes to the
// root and every block hashes to its slot in the level above. Data blocks are
// not read; verify_block covers them. True for a one-block image (no tree).
// False, never a read past hash_area, for parameters tree_layout refuses.
bool verify_tree(std::span<const uint8_t> hash_area, const VerityParams& p, std::span<const uint8_t> root_hash);

}  // namespace lazyroot::verity
