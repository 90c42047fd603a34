#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lazyroot::fixtures {

// Deterministic pseudo-random bytes: every 8-byte word depends on its offset
// and the seed, so a block served from the wrong offset (or from another
// image version) never compares equal to the expected one.
std::vector<uint8_t> make_test_image(size_t size, uint64_t seed = 1);

}  // namespace lazyroot::fixtures
