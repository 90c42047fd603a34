#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// Discoverable Disk Images (the UAPI Discoverable Partitions Specification):
// a GPT disk with a root partition, its dm-verity hash partition and a
// verity-sig partition holding the signed root hash, found by type UUID.
// Pure: the caller reads the bytes. GPT as in UEFI 2.10 §5.3: the header at
// LBA 1, little-endian, CRC32 (zlib's) over the header and over the entries.
namespace lazyroot::verity {

using Guid = std::array<uint8_t, 16>;  // as stored: the first three fields little-endian

// "4f68bce3-e8cd-4db1-96e7-fbcaf984b709" <-> GPT bytes.
std::string format_guid(const Guid& g);
std::optional<Guid> parse_guid(std::string_view text);

// x86-64 root, root-verity and root-verity-sig partition types.
inline constexpr std::string_view kRootX86_64 = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";
inline constexpr std::string_view kRootVerityX86_64 = "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5";
inline constexpr std::string_view kRootVeritySigX86_64 = "41092b05-9fc8-4523-994f-2def0408b176";

// A disk that is not a usable DDI; what() is one line.
struct DdiError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline constexpr size_t kGptHeaderMin = 92;
inline constexpr uint64_t kGptMaxEntryBytes = 1 << 20;  // 128 x 128 B is usual; refuse silly sizes

struct GptHeader {
    uint32_t sector_size = 512;
    uint64_t first_usable_lba = 0;
    uint64_t last_usable_lba = 0;
    uint64_t entries_lba = 0;
    uint32_t entry_count = 0;
    uint32_t entry_size = 0;
    uint32_t entries_crc = 0;

    uint64_t entries_offset() const { return entries_lba * sector_size; }
    uint64_t entries_bytes() const { return uint64_t{entry_count} * entry_size; }
};

// `sector` is LBA 1 (sector_size bytes). Checks the signature, revision 1.0,
// header size, the header CRC, that it is the primary header (MyLBA 1), and
// sane entry geometry. Throws DdiError.
GptHeader parse_gpt_header(std::span<const uint8_t> sector, uint32_t sector_size);

// Whether `sector` starts with the GPT signature "EFI PART" (to find the
// sector size: a 512 B disk has it at 512, a 4 KiB one at 4096).
bool has_gpt_signature(std::span<const uint8_t> sector);

struct GptPartition {
    Guid type{};
    Guid uuid{};
    uint64_t first_lba = 0;
    uint64_t last_lba = 0;  // inclusive
    std::string name;       // UTF-16LE label, ASCII only (others become '?')

    uint64_t offset(uint32_t sector_size) const { return first_lba * sector_size; }
    uint64_t size(uint32_t sector_size) const { return (last_lba - first_lba + 1) * sector_size; }
};

// The used entries (type not all zeros), in table order. Checks the entries'
// CRC and that each partition lies within the usable LBAs. Throws DdiError.
std::vector<GptPartition> parse_gpt_entries(std::span<const uint8_t> entries, const GptHeader& h);

struct DdiRoot {
    GptPartition root, verity, signature;
};

// Exactly one partition of each x86-64 root type, or DdiError naming what is
// missing or ambiguous.
DdiRoot find_ddi_root(const std::vector<GptPartition>& parts);

// The verity-sig partition's content: JSON, NUL-padded to the partition size.
struct VeritySig {
    std::string root_hash;                               // lowercase hex
    std::optional<std::string> certificate_fingerprint;  // lowercase hex, when present
    std::vector<uint8_t> signature;                      // DER PKCS#7 over root_hash
};

// Throws DdiError ("verity-sig: <field>: <why>").
VeritySig parse_verity_sig(std::span<const uint8_t> partition);

}  // namespace lazyroot::verity
