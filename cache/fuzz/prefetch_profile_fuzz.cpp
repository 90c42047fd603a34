// libFuzzer: a prefetch profile as fetched from beside the image (any bytes a
// server, a truncation or a mix-up can produce). A profile parses only whole:
// every chunk inside the image, none twice, and it encodes back to exactly
// the bytes it came from.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <unordered_set>

#include "cache/prefetch_profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lazyroot::cache;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r = parse_profile(text);
    if (auto* why = std::get_if<std::string>(&r)) {
        if (why->empty() || why->find('\n') != std::string::npos) std::abort();
        return 0;
    }
    const auto& p = std::get<PrefetchProfile>(r);
    std::unordered_set<uint64_t> seen;
    for (uint64_t c : p.chunks)
        if (c >= p.chunk_count() || !seen.insert(c).second) std::abort();
    if (encode_profile(p) != text) std::abort();
    return 0;
}
