#pragma once
#include <cstdint>
#include <string>

namespace lazyroot::compress {

struct CompressOptions {
    std::string input;
    std::string output;                // written as OUTPUT.tmp-* and renamed when complete
    int level = 3;                     // zstd's; 1..19
    uint32_t frame_bytes = 64u << 10;  // decompressed bytes per frame: the cache chunk
    unsigned threads = 0;              // 0: one per CPU
};

struct CompressResult {
    uint64_t input_bytes = 0;
    uint64_t output_bytes = 0;
    uint64_t frames = 0;
};

// Writes INPUT in the zstd seekable format: independent frames of
// frame_bytes (the last one shorter), each with its content size and
// checksum, then the seek table. `zstd -d` gives INPUT back. Frames are
// compressed in parallel and written in order. Throws std::runtime_error
// (one line).
CompressResult compress_seekable(const CompressOptions& opts);

}  // namespace lazyroot::compress
