#pragma once
#include <cstdint>
#include <string>

#include "cli/options.h"
#include "cli/source_uri.h"

namespace lazyroot::cli {

// What dm-verity needs to map the device, decided before the device exists.
struct VerityPlan {
    std::string root_hash_hex;
    uint64_t hash_offset = 0;
};

// Reads SOURCE.manifest.json through the same transport when the hash offset
// or the root hash must come from it. With --verity=manifest the manifest's
// signature must verify against --trust. Throws std::runtime_error (one line).
VerityPlan plan_verity(const SourceUri& uri, const AttachOptions& opts);

}  // namespace lazyroot::cli
