#pragma once
// Builds small GPT disk images in memory for the DDI tests, with zlib's CRC32,
// so each test can break exactly one thing.
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "io/le_bytes.h"
#include "verity/ddi.h"

namespace lazyroot::testing {

struct GptPart {
    std::string type;  // GUID text
    uint64_t first_lba, last_lba;
    std::string name;
};

inline uint32_t zcrc(const uint8_t* p, size_t n) {
    return static_cast<uint32_t>(::crc32(::crc32(0, Z_NULL, 0), p, static_cast<uInt>(n)));
}

struct GptImage {
    uint32_t ss = 512;
    std::vector<uint8_t> bytes;

    std::span<uint8_t> header() { return {bytes.data() + ss, ss}; }
    std::span<uint8_t> entries() { return {bytes.data() + 2 * ss, 128 * 128}; }
    // Recomputes both CRCs after a deliberate edit.
    void fix_crcs() {
        io::put_le<uint32_t>(header(), 88, zcrc(entries().data(), entries().size()));
        io::put_le<uint32_t>(header(), 16, 0);
        io::put_le<uint32_t>(header(), 16, zcrc(header().data(), 92));
    }
    std::vector<uint8_t> read(uint64_t off, uint64_t len) const {
        return {bytes.begin() + static_cast<long>(off), bytes.begin() + static_cast<long>(off + len)};
    }
};

// total_lbas sectors; 128 entries of 128 bytes at LBA 2.
inline GptImage make_gpt(const std::vector<GptPart>& parts, uint64_t total_lbas, uint32_t ss = 512) {
    GptImage img;
    img.ss = ss;
    img.bytes.assign(total_lbas * ss, 0);
    auto h = img.header();
    std::memcpy(h.data(), "EFI PART", 8);
    io::put_le<uint32_t>(h, 8, 0x00010000);
    io::put_le<uint32_t>(h, 12, 92);
    io::put_le<uint64_t>(h, 24, 1);
    io::put_le<uint64_t>(h, 32, total_lbas - 1);
    const uint64_t entry_lbas = (128 * 128 + ss - 1) / ss;
    io::put_le<uint64_t>(h, 40, 2 + entry_lbas);
    io::put_le<uint64_t>(h, 48, total_lbas - 2 - entry_lbas);
    io::put_le<uint64_t>(h, 72, 2);
    io::put_le<uint32_t>(h, 80, 128);
    io::put_le<uint32_t>(h, 84, 128);
    auto e = img.entries();
    for (size_t i = 0; i < parts.size(); ++i) {
        auto slot = e.subspan(i * 128, 128);
        const auto type = *verity::parse_guid(parts[i].type);
        std::copy(type.begin(), type.end(), slot.begin());
        slot[16] = static_cast<uint8_t>(i + 1);  // some unique GUID
        io::put_le<uint64_t>(slot, 32, parts[i].first_lba);
        io::put_le<uint64_t>(slot, 40, parts[i].last_lba);
        for (size_t c = 0; c < parts[i].name.size() && c < 36; ++c)
            io::put_le<uint16_t>(slot, 56 + 2 * c, static_cast<uint16_t>(parts[i].name[c]));
    }
    img.fix_crcs();
    return img;
}

}  // namespace lazyroot::testing
