#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

// The veritysetup (cryptsetup) on-disk superblock, format version 1, as bytes.
// Pure: no IO. It sits at the start of the hash area ("--hash-offset"); the
// tree starts at the next hash-block boundary after its 512 bytes.
//
// All integers little-endian; the struct is packed (cryptsetup lib/verity/verity.c):
//
//   off   size  field
//   0     8     signature        "verity\0\0"
//   8     4     version          1
//   12    4     hash_type        1 (0 is the Chrome OS variant: salt after the data)
//   16    16    uuid             binary UUID of the hash device
//   32    32    algorithm        "sha256", NUL-padded
//   64    4     data_block_size  bytes
//   68    4     hash_block_size  bytes
//   72    8     data_blocks      number of data blocks
//   80    2     salt_size        bytes, <= 256
//   82    6     padding          zeros
//   88    256   salt             salt_size bytes, then zeros
//   344   168   padding          zeros
namespace lazyroot::verity {

inline constexpr size_t kSuperblockBytes = 512;
inline constexpr size_t kMaxSaltBytes = 256;
inline constexpr char kSuperblockSignature[8] = {'v', 'e', 'r', 'i', 't', 'y', 0, 0};

namespace sb_offset {
inline constexpr size_t signature = 0;
inline constexpr size_t version = 8;
inline constexpr size_t hash_type = 12;
inline constexpr size_t uuid = 16;
inline constexpr size_t algorithm = 32;
inline constexpr size_t data_block_size = 64;
inline constexpr size_t hash_block_size = 68;
inline constexpr size_t data_blocks = 72;
inline constexpr size_t salt_size = 80;
inline constexpr size_t salt = 88;
inline constexpr size_t end_of_salt = salt + kMaxSaltBytes;  // 344; zeros from here to 512
}  // namespace sb_offset

struct Superblock {
    uint32_t version = 1;
    uint32_t hash_type = 1;
    std::array<uint8_t, 16> uuid{};
    std::string algorithm = "sha256";  // at most 31 characters
    uint32_t data_block_size = 4096;
    uint32_t hash_block_size = 4096;
    uint64_t data_blocks = 0;
    std::vector<uint8_t> salt;

    bool operator==(const Superblock&) const = default;
};

// What cryptsetup accepts as a block size: a power of two in [512, 512 KiB].
bool valid_block_size(uint32_t size);

// kSuperblockBytes bytes. Throws std::invalid_argument for a superblock that
// decode_superblock would refuse.
std::vector<uint8_t> encode_superblock(const Superblock& sb);

// nullopt unless the bytes are a version 1 superblock: signature, version,
// hash_type 0 or 1, valid block sizes, a NUL-terminated algorithm name,
// salt_size <= 256. Padding is not checked (cryptsetup doesn't either).
std::optional<Superblock> decode_superblock(std::span<const uint8_t> bytes);

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lowercase, as veritysetup prints it.
std::string format_uuid(const std::array<uint8_t, 16>& uuid);
// Either case; nullopt unless exactly that shape.
std::optional<std::array<uint8_t, 16>> parse_uuid(std::string_view text);
// A random (version 4) UUID from OpenSSL's RNG; throws std::runtime_error if it fails.
std::array<uint8_t, 16> random_uuid();

}  // namespace lazyroot::verity
