#include "verity/manifest.h"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <variant>

#include "cache/prefetch_profile.h"
#include "verity/encoding.h"
#include "verity/hash_tree.h"
#include "verity/superblock.h"

namespace lazyroot::verity {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& field, const std::string& why) {
    throw ManifestError("manifest: " + field + ": " + why);
}

// Reads the fields of one JSON object; `prefix` names it in errors ("signature.").
class Fields {
public:
    Fields(const json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

    bool has(const char* name) const { return obj_.contains(name); }

    const json& get(const char* name) const {
        auto it = obj_.find(name);
        if (it == obj_.end()) bad(prefix_ + name, "missing");
        return *it;
    }

    uint64_t u64(const char* name) const {
        const json& v = get(name);
        if (!v.is_number_unsigned()) bad(prefix_ + name, "must be a non-negative integer");
        return v.get<uint64_t>();
    }

    std::string string(const char* name) const {
        const json& v = get(name);
        if (!v.is_string()) bad(prefix_ + name, "must be a string");
        return v.get<std::string>();
    }

    std::vector<uint8_t> hex(const char* name, size_t min_bytes, size_t max_bytes) const {
        auto bytes = from_hex(string(name));
        if (!bytes) bad(prefix_ + name, "not hex");
        if (min_bytes == max_bytes && bytes->size() != min_bytes)
            bad(prefix_ + name, "must be " + std::to_string(2 * min_bytes) + " hex characters");
        if (bytes->size() < min_bytes || bytes->size() > max_bytes)
            bad(prefix_ + name, "must be at most " + std::to_string(2 * max_bytes) + " hex characters");
        return *bytes;
    }

    uint32_t block_size(const char* name) const {
        const uint64_t v = u64(name);
        if (v > UINT32_MAX || !valid_block_size(static_cast<uint32_t>(v)))
            bad(prefix_ + name, "must be a power of two from 512 to 524288");
        return static_cast<uint32_t>(v);
    }

private:
    const json& obj_;
    std::string prefix_;
};

ManifestCompression parse_compression(const json& j) {
    if (!j.is_object()) bad("compression", "must be an object");
    Fields f(j, "compression.");
    ManifestCompression c;
    c.format = f.string("format");
    if (c.format != "zstd-seekable") bad("compression.format", "unsupported (only zstd-seekable)");
    const uint64_t frame = f.u64("frameSize");
    if (frame == 0 || frame % 4096 != 0 || frame > (16u << 20))
        bad("compression.frameSize", "must be a multiple of 4096 up to 16 MiB");
    c.frame_size = static_cast<uint32_t>(frame);
    c.compressed_size = f.u64("compressedSize");
    if (c.compressed_size == 0) bad("compression.compressedSize", "must be positive");
    return c;
}

ManifestSignature parse_signature(const json& j, const std::string& root_hash) {
    if (!j.is_object()) bad("signature", "must be an object");
    Fields f(j, "signature.");
    ManifestSignature s;
    s.root_hash = to_hex(f.hex("rootHash", kDigestBytes, kDigestBytes));
    if (s.root_hash != root_hash) bad("signature.rootHash", "differs from rootHash");
    s.certificate_fingerprint = to_hex(f.hex("certificateFingerprint", kDigestBytes, kDigestBytes));
    auto sig = from_base64(f.string("signature"));
    if (!sig) bad("signature.signature", "not base64");
    if (sig->empty()) bad("signature.signature", "empty");
    s.signature = std::move(*sig);
    return s;
}

ManifestProfile parse_profile_field(const json& j, const Manifest& m) {
    if (!j.is_object()) bad("profile", "must be an object");
    Fields f(j, "profile.");
    ManifestProfile p;
    p.text = f.string("text");
    auto parsed = cache::parse_profile(p.text);
    if (auto* why = std::get_if<std::string>(&parsed)) bad("profile.text", "not a prefetch profile: " + *why);
    const auto& prof = std::get<cache::PrefetchProfile>(parsed);
    // The identity is printable (the profile parser checks), but may be long.
    if (prof.image != "verity:" + m.root_hash)
        bad("profile.text", "made for another image (" + prof.image.substr(0, 80) + "), not verity:rootHash");
    if (prof.image_size != m.image_size)
        bad("profile.text", "made for an image of " + std::to_string(prof.image_size) + " bytes, not imageSize");
    p.sha256 = to_hex(f.hex("sha256", kDigestBytes, kDigestBytes));
    if (p.sha256 != sha256_hex(p.text)) bad("profile.sha256", "does not match profile.text");
    if (f.has("signature")) {
        auto sig = from_base64(f.string("signature"));
        if (!sig) bad("profile.signature", "not base64");
        if (sig->empty()) bad("profile.signature", "empty");
        p.signature = std::move(*sig);
    }
    return p;
}

}  // namespace

std::string sha256_hex(std::string_view text) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) len = 0;
    return to_hex({md, len});
}

std::string manifest_path(const std::string& image_path) { return image_path + ".manifest.json"; }

std::string format_manifest(const Manifest& m) {
    nlohmann::ordered_json j;
    j["rootHash"] = m.root_hash;
    j["dataSize"] = m.data_size;
    j["hashOffset"] = m.hash_offset;
    j["dataBlockSize"] = m.data_block_size;
    j["hashBlockSize"] = m.hash_block_size;
    j["salt"] = to_hex(m.salt);
    j["algorithm"] = m.algorithm;
    j["imageSize"] = m.image_size;
    j["hashType"] = m.hash_type;
    j["uuid"] = m.uuid;
    if (m.hash_file) j["hashFile"] = *m.hash_file;
    if (m.signature) {
        j["signature"] = {
            {"rootHash", m.signature->root_hash},
            {"certificateFingerprint", m.signature->certificate_fingerprint},
            {"signature", to_base64(m.signature->signature)},
        };
    }
    if (m.compression)
        j["compression"] = {
            {"format", m.compression->format},
            {"frameSize", m.compression->frame_size},
            {"compressedSize", m.compression->compressed_size},
        };
    if (m.profile) {
        nlohmann::ordered_json p;
        p["text"] = m.profile->text;
        p["sha256"] = m.profile->sha256;
        if (!m.profile->signature.empty()) p["signature"] = to_base64(m.profile->signature);
        j["profile"] = std::move(p);
    }
    return j.dump(2) + "\n";
}

Manifest parse_manifest(std::string_view text) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        std::string why = e.what();
        for (char& c : why)
            if (c == '\n' || c == '\r') c = ' ';
        throw ManifestError("manifest: not JSON: " + why);
    }
    if (!j.is_object()) throw ManifestError("manifest: not a JSON object");

    Fields f(j, "");
    Manifest m;
    m.root_hash = to_hex(f.hex("rootHash", kDigestBytes, kDigestBytes));
    m.data_block_size = f.block_size("dataBlockSize");
    m.hash_block_size = f.block_size("hashBlockSize");
    m.data_size = f.u64("dataSize");
    if (m.data_size == 0 || m.data_size % m.data_block_size != 0)
        bad("dataSize", "must be a positive multiple of dataBlockSize");
    m.hash_offset = f.u64("hashOffset");
    if (m.hash_offset % 512 != 0) bad("hashOffset", "must be a multiple of 512");
    m.salt = f.hex("salt", 0, kMaxSaltBytes);
    m.algorithm = f.string("algorithm");
    if (m.algorithm != "sha256") bad("algorithm", "unsupported (only sha256)");
    m.image_size = f.u64("imageSize");
    m.hash_type = static_cast<uint32_t>(std::min<uint64_t>(f.u64("hashType"), UINT32_MAX));
    if (m.hash_type != 1) bad("hashType", "unsupported (only 1)");
    auto uuid = parse_uuid(f.string("uuid"));
    if (!uuid) bad("uuid", "not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
    m.uuid = format_uuid(*uuid);
    if (f.has("hashFile")) {
        m.hash_file = f.string("hashFile");
        if (m.hash_file->empty()) bad("hashFile", "empty");
        // It is printed in errors: one line.
        for (unsigned char c : *m.hash_file)
            if (c < 0x20 || c == 0x7f) bad("hashFile", "holds a control character");
    }

    // The image must be able to hold what the manifest says is in it.
    if (m.image_size < m.data_size) bad("imageSize", "smaller than dataSize");
    if (!m.hash_file) {
        if (m.hash_offset < m.data_size) bad("hashOffset", "inside the data (below dataSize)");
        const VerityParams p{m.data_block_size, m.hash_block_size, m.salt, m.data_size / m.data_block_size};
        uint64_t area = 0;
        try {
            area = tree_layout(p).hash_area_bytes;
        } catch (const std::invalid_argument& e) {
            bad("dataSize", e.what());  // data or a tree of 2^63 bytes or more
        }
        if (m.hash_offset > m.image_size || m.image_size - m.hash_offset < area)
            bad("imageSize", "too small for the hash tree at hashOffset");
    }
    if (f.has("signature")) m.signature = parse_signature(f.get("signature"), m.root_hash);
    if (f.has("compression")) m.compression = parse_compression(f.get("compression"));
    if (f.has("profile")) m.profile = parse_profile_field(f.get("profile"), m);
    return m;
}

}  // namespace lazyroot::verity
