#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "cache/cache_store.h"

namespace lazyroot::cache {

// Whether a cache can take the whole image: full and hydrate check it at
// attach, before anything is downloaded, so that a small cache is a clear
// refusal rather than ENOSPC at 94 %.
struct CacheRoom {
    uint64_t needed = 0;     // bytes its filesystem must still allocate to hold every chunk
    uint64_t available = 0;  // bytes free on that filesystem (for us)
};

// Of a cache file (data file plus sidecar); nullopt for a block device, whose
// size open_backing has already checked.
std::optional<CacheRoom> cache_room(const CacheStore& store);

// Throws std::runtime_error (one line, naming `what_for`, e.g. "--mode=full")
// when the cache cannot hold the image.
void require_room_for_image(const CacheStore& store, const std::string& what_for);

// MemAvailable from /proc/meminfo (or `path`), in bytes; nullopt if unreadable.
std::optional<uint64_t> mem_available_bytes(const std::string& path = "/proc/meminfo");

// "1.5 GiB", "300.0 MiB", "12.0 KiB": for messages.
std::string human_bytes(uint64_t bytes);

}  // namespace lazyroot::cache
