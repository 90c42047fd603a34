#pragma once
#include <optional>
#include <string>

#include "cache/cache_format.h"

namespace lazyroot::cache {

// What a cache's metadata says, read without opening it as a store: no lock,
// no write, and no image size to start from (the next boot after a hand-off
// asks before it knows anything about the server). The header is found in
// the sidecar PATH.lzmeta, or by its magic in the metadata area at the end of
// a block device, and checked by its CRC.
struct CacheSummary {
    CacheHeader header;
    bool complete = false;  // every chunk's bit is set: the whole image is on disk
    bool block_device = false;
};
std::optional<CacheSummary> inspect_cache(const std::string& path);

}  // namespace lazyroot::cache
