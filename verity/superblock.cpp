#include "verity/superblock.h"

#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

#include "verity/encoding.h"
#include "io/le_bytes.h"

namespace lazyroot::verity {
namespace {

using io::get_le;
using io::put_le;

constexpr size_t kAlgorithmField = sb_offset::data_block_size - sb_offset::algorithm;  // 32

}  // namespace

bool valid_block_size(uint32_t size) { return size >= 512 && size <= (512u << 10) && (size & (size - 1)) == 0; }

std::vector<uint8_t> encode_superblock(const Superblock& sb) {
    if (sb.version != 1 || sb.hash_type > 1)
        throw std::invalid_argument("verity superblock: unsupported version or hash type");
    if (!valid_block_size(sb.data_block_size) || !valid_block_size(sb.hash_block_size))
        throw std::invalid_argument("verity superblock: block size must be a power of two, 512 B to 512 KiB");
    // Keep one NUL in the field, so a reader can rely on termination.
    if (sb.algorithm.empty() || sb.algorithm.size() >= kAlgorithmField || sb.algorithm.find('\0') != std::string::npos)
        throw std::invalid_argument("verity superblock: bad algorithm name");
    if (sb.salt.size() > kMaxSaltBytes) throw std::invalid_argument("verity superblock: salt longer than 256 bytes");

    std::vector<uint8_t> out(kSuperblockBytes, 0);
    std::memcpy(out.data() + sb_offset::signature, kSuperblockSignature, sizeof kSuperblockSignature);
    put_le<uint32_t>(out, sb_offset::version, sb.version);
    put_le<uint32_t>(out, sb_offset::hash_type, sb.hash_type);
    std::memcpy(out.data() + sb_offset::uuid, sb.uuid.data(), sb.uuid.size());
    std::memcpy(out.data() + sb_offset::algorithm, sb.algorithm.data(), sb.algorithm.size());
    put_le<uint32_t>(out, sb_offset::data_block_size, sb.data_block_size);
    put_le<uint32_t>(out, sb_offset::hash_block_size, sb.hash_block_size);
    put_le<uint64_t>(out, sb_offset::data_blocks, sb.data_blocks);
    put_le<uint16_t>(out, sb_offset::salt_size, static_cast<uint16_t>(sb.salt.size()));
    if (!sb.salt.empty()) std::memcpy(out.data() + sb_offset::salt, sb.salt.data(), sb.salt.size());
    return out;
}

std::optional<Superblock> decode_superblock(std::span<const uint8_t> bytes) {
    if (bytes.size() < kSuperblockBytes) return std::nullopt;
    if (std::memcmp(bytes.data() + sb_offset::signature, kSuperblockSignature, sizeof kSuperblockSignature) != 0)
        return std::nullopt;
    Superblock sb;
    sb.version = get_le<uint32_t>(bytes, sb_offset::version);
    sb.hash_type = get_le<uint32_t>(bytes, sb_offset::hash_type);
    std::memcpy(sb.uuid.data(), bytes.data() + sb_offset::uuid, sb.uuid.size());
    const auto* alg = reinterpret_cast<const char*>(bytes.data() + sb_offset::algorithm);
    const size_t alg_len = strnlen(alg, kAlgorithmField);
    if (alg_len == 0 || alg_len == kAlgorithmField) return std::nullopt;
    sb.algorithm.assign(alg, alg_len);
    sb.data_block_size = get_le<uint32_t>(bytes, sb_offset::data_block_size);
    sb.hash_block_size = get_le<uint32_t>(bytes, sb_offset::hash_block_size);
    sb.data_blocks = get_le<uint64_t>(bytes, sb_offset::data_blocks);
    const uint16_t salt_size = get_le<uint16_t>(bytes, sb_offset::salt_size);
    if (sb.version != 1 || sb.hash_type > 1 || !valid_block_size(sb.data_block_size) ||
        !valid_block_size(sb.hash_block_size) || salt_size > kMaxSaltBytes)
        return std::nullopt;
    sb.salt.assign(bytes.begin() + sb_offset::salt, bytes.begin() + sb_offset::salt + salt_size);
    return sb;
}

std::string format_uuid(const std::array<uint8_t, 16>& uuid) {
    const std::string hex = to_hex(uuid);
    return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' + hex.substr(16, 4) + '-' +
           hex.substr(20);
}

std::optional<std::array<uint8_t, 16>> parse_uuid(std::string_view text) {
    if (text.size() != 36) return std::nullopt;
    std::string hex;
    for (size_t i = 0; i < text.size(); ++i) {
        const bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
        if ((text[i] == '-') != dash_here) return std::nullopt;
        if (!dash_here) hex.push_back(text[i]);
    }
    auto bytes = from_hex(hex);
    if (!bytes) return std::nullopt;
    std::array<uint8_t, 16> out{};
    std::memcpy(out.data(), bytes->data(), out.size());
    return out;
}

std::array<uint8_t, 16> random_uuid() {
    std::array<uint8_t, 16> u{};
    if (RAND_bytes(u.data(), static_cast<int>(u.size())) != 1)
        throw std::runtime_error("cannot get random bytes for a UUID");
    u[6] = static_cast<uint8_t>((u[6] & 0x0f) | 0x40);  // version 4
    u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);  // RFC 4122 variant
    return u;
}

}  // namespace lazyroot::verity
