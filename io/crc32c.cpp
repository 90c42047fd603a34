#include "io/crc32c.h"

#include <isa-l/crc.h>

#include <limits>

namespace lazyroot::io {

// Debian 12 has no libcrc32c; ISA-L's crc32_iscsi is the same polynomial with
// the pre- and post-inversion left to the caller.
uint32_t crc32c(std::span<const uint8_t> data, uint32_t prev) {
    uint32_t crc = ~prev;
    auto* p = const_cast<unsigned char*>(data.data());  // ISA-L only reads it
    size_t left = data.size();
    constexpr size_t kMaxPiece = std::numeric_limits<int>::max() & ~size_t{4095};
    while (left > 0) {
        const size_t n = left < kMaxPiece ? left : kMaxPiece;
        crc = crc32_iscsi(p, static_cast<int>(n), crc);
        p += n;
        left -= n;
    }
    return ~crc;
}

}  // namespace lazyroot::io
