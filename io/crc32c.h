#pragma once
#include <cstdint>
#include <span>

namespace lazyroot::io {

// CRC-32C (Castagnoli), as in iSCSI and ext4: crc32c("123456789") == 0xE3069283.
// One seam so the library behind it can change without touching the format.
// `prev` continues a running CRC: crc32c(a ++ b) == crc32c(b, crc32c(a)).
uint32_t crc32c(std::span<const uint8_t> data, uint32_t prev = 0);

}  // namespace lazyroot::io
