#include "tests/http_fixtures/test_image.h"

namespace lazyroot::fixtures {
namespace {

uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

}  // namespace

std::vector<uint8_t> make_test_image(size_t size, uint64_t seed) {
    std::vector<uint8_t> out(size);
    const uint64_t key = splitmix64(seed);
    for (size_t w = 0; w * 8 < size; ++w) {
        const uint64_t word = splitmix64(key ^ w);
        for (size_t b = 0; b < 8 && w * 8 + b < size; ++b) out[w * 8 + b] = static_cast<uint8_t>(word >> (8 * b));
    }
    return out;
}

}  // namespace lazyroot::fixtures
