#pragma once
#include <optional>
#include <string>

#include "cli/options.h"

namespace lazyroot::cli {

// The next boot after a hand-off: with --verity=HEX (the root hash is the
// image's identity, so no server needs asking), hand-off wanted and a
// --cache whose metadata says it holds the whole image, maps dm-verity
// straight onto the cache (a loop device over a file, or the partition):
// no network, no ublk device, no daemon. Returns "/dev/mapper/NAME", or
// nullopt (logged when the cache looked complete) to attach as usual: then
// the cache is checked against the server and used or reset as always.
std::optional<std::string> attach_from_complete_cache(const AttachOptions& o);

}  // namespace lazyroot::cli
