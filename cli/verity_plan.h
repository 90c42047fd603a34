#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/options.h"
#include "cli/source_uri.h"

namespace lazyroot::cli {

struct ByteRange {
    uint64_t offset = 0;
    uint64_t length = 0;
};

// What dm-verity needs to map the device, decided before the device exists.
struct VerityPlan {
    std::string root_hash_hex;
    uint64_t hash_offset = 0;  // of the superblock, in the tree's source
    std::string hash_source;   // the tree's own SOURCE (--hash-source); empty: in SOURCE
    // --verity=ddi: the root partition (the data) and the root-verity
    // partition (the tree), as byte ranges of SOURCE.
    std::optional<ByteRange> data_range;
    std::optional<ByteRange> tree_range;
    std::vector<uint8_t> signature;  // DER PKCS#7 over root_hash_hex, when it came signed
    bool kernel_checks_signature = false;
    // --verity=manifest, a manifest with a `profile`: its text when its
    // signature verified against --trust (the root hash's key), else empty
    // and profile_unused says why (one line). Used at attach unless --profile
    // names another; an unused one is logged and ignored, never fails the attach.
    std::string profile_text;
    std::string profile_sha256;  // of the manifest's profile, used or not
    std::string profile_unused;
};

// Reads SOURCE.manifest.json through the same transport when the hash offset
// or the root hash must come from it; with --verity=ddi reads the GPT and the
// verity-sig partition through SOURCE. A signed root hash (manifest, ddi) must
// verify against --trust. Throws std::runtime_error (one line).
VerityPlan plan_verity(const SourceUri& uri, const AttachOptions& opts);

// --verity=ddi, the part after the bytes are read: finds the partitions in
// the GPT (read_at(offset, length) returns SOURCE's bytes), parses the
// verity-sig partition and checks its signature against trusted_pem.
// Throws std::runtime_error (one line). Exposed for the unit tests.
using ReadAt = std::function<std::vector<uint8_t>(uint64_t offset, uint64_t length)>;
VerityPlan plan_ddi(uint64_t image_size, const ReadAt& read_at, const std::string& trusted_pem);

}  // namespace lazyroot::cli
