#pragma once
#include <functional>

#include "cli/source_stack.h"

namespace lazyroot::cli {

// --mode=full, before the device exists: downloads every missing chunk into
// the stack's cache with `parallel` fetches in flight, showing progress on
// stderr (and to systemd). Throws std::runtime_error when the download fails,
// or as soon as `cancelled` returns true.
void download_all(SourceStack& stack, unsigned parallel, const std::function<bool()>& cancelled = {});

}  // namespace lazyroot::cli
