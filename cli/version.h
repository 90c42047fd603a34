#pragma once

namespace lazyroot::cli {

// "0.1.0 (git v0.1.0-3-gabcdef)": the CMake project version, and `git
// describe` of the tree it was built from when that was a git checkout.
// Defined in the build tree (cmake/Version.cmake).
const char* version();

}  // namespace lazyroot::cli
