#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

// The persistent cache's metadata, as bytes. Pure: no IO.
//
// Metadata = a 4096-byte header, then the chunk bitmap, padded with zeros to a
// multiple of 4096 (so every bitmap page is written whole and aligned):
//
//   [0, 4096)                         header
//   [4096, 4096 + round_up(B, 4096))  bitmap, B = bitmap_bytes = ceil(chunk_count / 8)
//
// Bitmap: chunk i is bit (i % 8) of byte (i / 8), least significant bit first;
// 1 = the chunk's data is durably in the data area. Bits past chunk_count are 0.
//
// Header, all integers little-endian, every byte covered by the CRC:
//
//   off   size  field
//   0     8     magic          "LZRCACHE"
//   8     4     version        1
//   12    4     chunk_size     power of two, 4 KiB .. 16 MiB
//   16    8     image_size     bytes, > 0
//   24    8     chunk_count    ceil(image_size / chunk_size)
//   32    8     bitmap_offset  4096, from the start of the metadata
//   40    8     bitmap_bytes   ceil(chunk_count / 8), padding excluded
//   48    4     identity_len   <= 2048
//   52    4     crc32c         CRC-32C of bytes [0, 4096) with this field zeroed
//   56    2048  identity       identity_len bytes, then zeros
//   2104  1992  reserved       zeros
namespace lazyroot::cache {

inline constexpr char kCacheMagic[8] = {'L', 'Z', 'R', 'C', 'A', 'C', 'H', 'E'};
inline constexpr uint32_t kCacheFormatVersion = 1;
inline constexpr size_t kHeaderBytes = 4096;
inline constexpr size_t kBitmapPageBytes = 4096;
inline constexpr size_t kMaxIdentityBytes = 2048;
inline constexpr uint32_t kMinChunkSize = 4096;
inline constexpr uint32_t kMaxChunkSize = 16u << 20;

namespace header_offset {
inline constexpr size_t magic = 0;
inline constexpr size_t version = 8;
inline constexpr size_t chunk_size = 12;
inline constexpr size_t image_size = 16;
inline constexpr size_t chunk_count = 24;
inline constexpr size_t bitmap_offset = 32;
inline constexpr size_t bitmap_bytes = 40;
inline constexpr size_t identity_len = 48;
inline constexpr size_t crc = 52;
inline constexpr size_t identity = 56;
inline constexpr size_t reserved = identity + kMaxIdentityBytes;
}  // namespace header_offset

struct CacheHeader {
    uint32_t version = kCacheFormatVersion;
    uint32_t chunk_size = 0;
    uint64_t image_size = 0;
    uint64_t chunk_count = 0;
    std::string identity;  // what says "the same image", e.g. etag="abc";size=123
    uint64_t bitmap_offset = kHeaderBytes;
    uint64_t bitmap_bytes = 0;

    bool operator==(const CacheHeader&) const = default;
};

bool valid_chunk_size(uint32_t chunk_size);
uint64_t chunk_count_for(uint64_t image_size, uint32_t chunk_size);
uint64_t bitmap_bytes_for(uint64_t chunk_count);
// Header plus padded bitmap: the whole metadata area.
size_t metadata_bytes(uint64_t chunk_count);

// A consistent header for these parameters (derived fields filled in).
CacheHeader make_header(uint32_t chunk_size, uint64_t image_size, std::string identity);

// kHeaderBytes bytes. Throws std::invalid_argument for a header that
// decode_header would refuse (bad chunk size, identity too long, inconsistent sizes).
std::vector<uint8_t> encode_header(const CacheHeader& h);

// nullopt when the bytes are not a header this version wrote whole: short
// input, wrong magic, version or CRC, inconsistent sizes, non-zero padding.
std::optional<CacheHeader> decode_header(std::span<const uint8_t> bytes);

}  // namespace lazyroot::cache
