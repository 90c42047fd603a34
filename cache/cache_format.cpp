#include "cache/cache_format.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "io/crc32c.h"
#include "io/le_bytes.h"

namespace lazyroot::cache {
namespace {

using io::get_le;
using io::put_le;

uint32_t header_crc(std::span<const uint8_t> header) {
    // The CRC field itself counts as zero.
    uint8_t copy[kHeaderBytes];
    std::memcpy(copy, header.data(), kHeaderBytes);
    std::memset(copy + header_offset::crc, 0, 4);
    return io::crc32c({copy, kHeaderBytes});
}

bool consistent(const CacheHeader& h) {
    return h.version == kCacheFormatVersion && valid_chunk_size(h.chunk_size) && h.image_size > 0 &&
           h.chunk_count == chunk_count_for(h.image_size, h.chunk_size) && h.bitmap_offset == kHeaderBytes &&
           h.bitmap_bytes == bitmap_bytes_for(h.chunk_count) && h.identity.size() <= kMaxIdentityBytes;
}

}  // namespace

bool valid_chunk_size(uint32_t chunk_size) {
    return chunk_size >= kMinChunkSize && chunk_size <= kMaxChunkSize && (chunk_size & (chunk_size - 1)) == 0;
}

uint64_t chunk_count_for(uint64_t image_size, uint32_t chunk_size) {
    // Written without image_size + chunk_size - 1, which can overflow.
    return image_size / chunk_size + (image_size % chunk_size != 0);
}

uint64_t bitmap_bytes_for(uint64_t chunk_count) { return chunk_count / 8 + (chunk_count % 8 != 0); }

size_t metadata_bytes(uint64_t chunk_count) {
    const uint64_t pages = (bitmap_bytes_for(chunk_count) + kBitmapPageBytes - 1) / kBitmapPageBytes;
    return kHeaderBytes + pages * kBitmapPageBytes;
}

CacheHeader make_header(uint32_t chunk_size, uint64_t image_size, std::string identity) {
    CacheHeader h;
    h.chunk_size = chunk_size;
    h.image_size = image_size;
    h.chunk_count = chunk_size ? chunk_count_for(image_size, chunk_size) : 0;
    h.identity = std::move(identity);
    h.bitmap_bytes = bitmap_bytes_for(h.chunk_count);
    return h;
}

std::vector<uint8_t> encode_header(const CacheHeader& h) {
    if (!consistent(h)) throw std::invalid_argument("inconsistent cache header");
    std::vector<uint8_t> out(kHeaderBytes, 0);
    std::span<uint8_t> o(out);
    std::memcpy(out.data() + header_offset::magic, kCacheMagic, sizeof kCacheMagic);
    put_le<uint32_t>(o, header_offset::version, h.version);
    put_le<uint32_t>(o, header_offset::chunk_size, h.chunk_size);
    put_le<uint64_t>(o, header_offset::image_size, h.image_size);
    put_le<uint64_t>(o, header_offset::chunk_count, h.chunk_count);
    put_le<uint64_t>(o, header_offset::bitmap_offset, h.bitmap_offset);
    put_le<uint64_t>(o, header_offset::bitmap_bytes, h.bitmap_bytes);
    put_le<uint32_t>(o, header_offset::identity_len, static_cast<uint32_t>(h.identity.size()));
    std::memcpy(out.data() + header_offset::identity, h.identity.data(), h.identity.size());
    put_le<uint32_t>(o, header_offset::crc, header_crc(out));
    return out;
}

std::optional<CacheHeader> decode_header(std::span<const uint8_t> bytes) {
    if (bytes.size() < kHeaderBytes) return std::nullopt;
    bytes = bytes.first(kHeaderBytes);
    if (std::memcmp(bytes.data() + header_offset::magic, kCacheMagic, sizeof kCacheMagic) != 0) return std::nullopt;
    if (get_le<uint32_t>(bytes, header_offset::crc) != header_crc(bytes)) return std::nullopt;

    CacheHeader h;
    h.version = get_le<uint32_t>(bytes, header_offset::version);
    h.chunk_size = get_le<uint32_t>(bytes, header_offset::chunk_size);
    h.image_size = get_le<uint64_t>(bytes, header_offset::image_size);
    h.chunk_count = get_le<uint64_t>(bytes, header_offset::chunk_count);
    h.bitmap_offset = get_le<uint64_t>(bytes, header_offset::bitmap_offset);
    h.bitmap_bytes = get_le<uint64_t>(bytes, header_offset::bitmap_bytes);
    const uint32_t id_len = get_le<uint32_t>(bytes, header_offset::identity_len);
    if (id_len > kMaxIdentityBytes) return std::nullopt;
    const auto* id = reinterpret_cast<const char*>(bytes.data() + header_offset::identity);
    h.identity.assign(id, id_len);
    if (!consistent(h)) return std::nullopt;
    // One encoding per header: padding must be zero, so encode(decode(x)) == x.
    auto tail = bytes.subspan(header_offset::identity + id_len);
    if (!std::all_of(tail.begin(), tail.end(), [](uint8_t b) { return b == 0; })) return std::nullopt;
    return h;
}

}  // namespace lazyroot::cache
