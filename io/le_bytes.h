#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace lazyroot::io {

// Little-endian integers at fixed offsets of on-disk headers (cache metadata,
// verity superblock), whatever the host's byte order.
template <typename T>
void put_le(std::span<uint8_t> out, size_t off, T v) {
    for (size_t i = 0; i < sizeof(T); ++i) out[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

template <typename T>
T get_le(std::span<const uint8_t> in, size_t off) {
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(in[off + i]) << (8 * i);
    return v;
}

}  // namespace lazyroot::io
