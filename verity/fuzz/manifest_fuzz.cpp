// libFuzzer harness for parse_manifest: any input either parses or throws
// ManifestError; a parsed manifest survives format → parse unchanged.
// Build: cmake -DCMAKE_CXX_COMPILER=clang++ -DLAZYROOT_FUZZ=ON, then
//   manifest_fuzz -dict=verity/fuzz/manifest.dict CORPUS_DIR
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "verity/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lazyroot::verity;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    Manifest m;
    try {
        m = parse_manifest(text);
    } catch (const ManifestError&) {
        return 0;
    }
    if (!(parse_manifest(format_manifest(m)) == m)) std::abort();
    return 0;
}
