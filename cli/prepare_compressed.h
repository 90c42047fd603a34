#pragma once
#include "cli/options.h"

namespace lazyroot::cli {

// `lazyroot prepare`: the verity tree and manifest (verity::run_prepare),
// then with --compress IMAGE.zst in the zstd seekable format and its
// manifest IMAGE.zst.manifest.json (the same verity facts, which describe
// the decompressed image, plus the compression). Returns the exit status.
int run_prepare_command(const PrepareOptions& opts);

}  // namespace lazyroot::cli
