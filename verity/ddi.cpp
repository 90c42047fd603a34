#include "verity/ddi.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "io/le_bytes.h"
#include "verity/encoding.h"

namespace lazyroot::verity {
namespace {

uint32_t crc32_of(std::span<const uint8_t> bytes) {
    uLong crc = ::crc32(0, Z_NULL, 0);
    // zlib takes uInt lengths; the spans here are at most a few MiB, but stay exact.
    while (!bytes.empty()) {
        const size_t n = std::min<size_t>(bytes.size(), 1u << 30);
        crc = ::crc32(crc, bytes.data(), static_cast<uInt>(n));
        bytes = bytes.subspan(n);
    }
    return static_cast<uint32_t>(crc);
}

bool all_zero(std::span<const uint8_t> b) {
    return std::all_of(b.begin(), b.end(), [](uint8_t c) { return c == 0; });
}

[[noreturn]] void bad_sig(const std::string& field, const std::string& why) {
    throw DdiError("verity-sig: " + field + ": " + why);
}

}  // namespace

std::string format_guid(const Guid& g) {
    // Data1..3 are little-endian, Data4 is bytes in order.
    const uint8_t be[16] = {g[3], g[2], g[1],  g[0],  g[5],  g[4],  g[7],  g[6],
                            g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]};
    std::string hex = to_hex(be);
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
           hex.substr(20);
}

std::optional<Guid> parse_guid(std::string_view text) {
    if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
        return std::nullopt;
    std::string hex;
    for (size_t i = 0; i < text.size(); ++i)
        if (i != 8 && i != 13 && i != 18 && i != 23) hex += text[i];
    auto be = from_hex(hex);
    if (!be || be->size() != 16) return std::nullopt;
    const auto& b = *be;
    return Guid{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]};
}

bool has_gpt_signature(std::span<const uint8_t> sector) {
    return sector.size() >= 8 && std::memcmp(sector.data(), "EFI PART", 8) == 0;
}

GptHeader parse_gpt_header(std::span<const uint8_t> sector, uint32_t sector_size) {
    if (sector.size() < sector_size || sector_size < 512) throw DdiError("GPT: short read of the header sector");
    if (!has_gpt_signature(sector)) throw DdiError("GPT: no \"EFI PART\" signature at LBA 1 (not a GPT disk)");
    if (io::get_le<uint32_t>(sector, 8) != 0x00010000) throw DdiError("GPT: unsupported header revision");
    const uint32_t header_size = io::get_le<uint32_t>(sector, 12);
    if (header_size < kGptHeaderMin || header_size > sector_size)
        throw DdiError("GPT: header size " + std::to_string(header_size) + " out of range");
    std::vector<uint8_t> copy(sector.begin(), sector.begin() + header_size);
    io::put_le<uint32_t>(copy, 16, 0);
    if (crc32_of(copy) != io::get_le<uint32_t>(sector, 16)) throw DdiError("GPT: header CRC32 mismatch (corrupt)");
    if (io::get_le<uint64_t>(sector, 24) != 1) throw DdiError("GPT: the header at LBA 1 is not the primary one");

    GptHeader h;
    h.sector_size = sector_size;
    h.first_usable_lba = io::get_le<uint64_t>(sector, 40);
    h.last_usable_lba = io::get_le<uint64_t>(sector, 48);
    h.entries_lba = io::get_le<uint64_t>(sector, 72);
    h.entry_count = io::get_le<uint32_t>(sector, 80);
    h.entry_size = io::get_le<uint32_t>(sector, 84);
    h.entries_crc = io::get_le<uint32_t>(sector, 88);
    if (h.entry_size < 128 || (h.entry_size & (h.entry_size - 1)) != 0)
        throw DdiError("GPT: partition entry size " + std::to_string(h.entry_size) + " is not 128 x 2^n");
    if (h.entry_count == 0 || h.entries_bytes() > kGptMaxEntryBytes)
        throw DdiError("GPT: " + std::to_string(h.entry_count) + " partition entries is out of range");
    if (h.entries_lba < 2 || h.entries_lba > UINT64_MAX / sector_size - 1)
        throw DdiError("GPT: partition entries at LBA " + std::to_string(h.entries_lba) + " is out of range");
    if (h.first_usable_lba > h.last_usable_lba) throw DdiError("GPT: no usable LBAs");
    // Partitions lie within the usable LBAs: bounding the last one keeps every
    // partition's byte offset and size (LBA x sector size) from wrapping.
    if (h.last_usable_lba >= (uint64_t{INT64_MAX} / sector_size))
        throw DdiError("GPT: last usable LBA " + std::to_string(h.last_usable_lba) + " is past 2^63 bytes");
    return h;
}

std::vector<GptPartition> parse_gpt_entries(std::span<const uint8_t> entries, const GptHeader& h) {
    if (entries.size() < h.entries_bytes()) throw DdiError("GPT: short read of the partition entries");
    entries = entries.first(h.entries_bytes());
    if (crc32_of(entries) != h.entries_crc) throw DdiError("GPT: partition entries CRC32 mismatch (corrupt)");
    std::vector<GptPartition> out;
    for (uint32_t i = 0; i < h.entry_count; ++i) {
        auto e = entries.subspan(size_t{i} * h.entry_size, h.entry_size);
        if (all_zero(e.first(16))) continue;
        GptPartition p;
        std::copy_n(e.begin(), 16, p.type.begin());
        std::copy_n(e.begin() + 16, 16, p.uuid.begin());
        p.first_lba = io::get_le<uint64_t>(e, 32);
        p.last_lba = io::get_le<uint64_t>(e, 40);
        for (size_t off = 56; off + 1 < 128; off += 2) {
            const uint16_t c = io::get_le<uint16_t>(e, off);
            if (c == 0) break;
            p.name += c < 0x80 ? static_cast<char>(c) : '?';
        }
        if (p.last_lba < p.first_lba || p.first_lba < h.first_usable_lba || p.last_lba > h.last_usable_lba)
            throw DdiError("GPT: partition " + std::to_string(i + 1) + " (LBA " + std::to_string(p.first_lba) + "-" +
                           std::to_string(p.last_lba) + ") is outside the usable LBAs");
        out.push_back(std::move(p));
    }
    return out;
}

DdiRoot find_ddi_root(const std::vector<GptPartition>& parts) {
    auto one = [&](std::string_view type, const char* what) -> const GptPartition& {
        const Guid g = *parse_guid(type);
        const GptPartition* found = nullptr;
        for (const auto& p : parts) {
            if (p.type != g) continue;
            if (found)
                throw DdiError(std::string("DDI: more than one ") + what + " partition (type " + std::string(type) +
                               ")");
            found = &p;
        }
        if (!found) throw DdiError(std::string("DDI: no ") + what + " partition (type " + std::string(type) + ")");
        return *found;
    };
    return {one(kRootX86_64, "x86-64 root"), one(kRootVerityX86_64, "root-verity"),
            one(kRootVeritySigX86_64, "root-verity-sig")};
}

VeritySig parse_verity_sig(std::span<const uint8_t> partition) {
    // The JSON is followed by NUL padding up to the partition's end.
    const auto end = std::find(partition.begin(), partition.end(), uint8_t{0});
    if (std::find_if(end, partition.end(), [](uint8_t c) { return c != 0; }) != partition.end())
        throw DdiError("verity-sig: bytes after the NUL padding");
    const std::string_view text(reinterpret_cast<const char*>(partition.data()),
                                static_cast<size_t>(end - partition.begin()));
    if (text.empty()) throw DdiError("verity-sig: the partition is empty");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        std::string why = e.what();
        std::replace(why.begin(), why.end(), '\n', ' ');
        throw DdiError("verity-sig: not JSON: " + why);
    }
    if (!j.is_object()) throw DdiError("verity-sig: not a JSON object");
    auto str = [&](const char* name) -> std::string {
        auto it = j.find(name);
        if (it == j.end()) bad_sig(name, "missing");
        if (!it->is_string()) bad_sig(name, "must be a string");
        return it->get<std::string>();
    };
    auto sha256_hex = [&](const char* name) {
        auto b = from_hex(str(name));
        if (!b || b->size() != 32) bad_sig(name, "must be 64 hex characters");
        return to_hex(*b);
    };
    VeritySig s;
    s.root_hash = sha256_hex("rootHash");
    if (j.contains("certificateFingerprint")) s.certificate_fingerprint = sha256_hex("certificateFingerprint");
    auto sig = from_base64(str("signature"));
    if (!sig) bad_sig("signature", "not base64");
    if (sig->empty()) bad_sig("signature", "empty");
    s.signature = std::move(*sig);
    return s;
}

}  // namespace lazyroot::verity
