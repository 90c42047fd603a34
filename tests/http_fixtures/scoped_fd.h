#pragma once
// The fixtures use the product's own fd owner (header-only, no link needed).
#include "io/unique_fd.h"

namespace lazyroot::fixtures {

using ScopedFd = io::UniqueFd;

}  // namespace lazyroot::fixtures
