// The seek table parser and the frame decoder on arbitrary bytes: a footer,
// a table, frames; any result but a crash, a hang or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "compress/frame_decoder.h"
#include "compress/seek_table.h"

using namespace lazyroot::compress;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> file(data, size);
    try {
        if (size < kFooterSize) return 0;
        auto footer = parse_footer(file.last(kFooterSize), size);
        if (!footer) return 0;
        auto t = SeekTable::parse(file.last(footer->table_bytes), *footer, size);
        // Decode the first few frames as the reader would.
        for (size_t i = 0; i < t.frames().size() && i < 4; ++i) {
            const Frame& f = t.frames()[i];
            std::vector<std::byte> out(f.size);
            decode_frame(std::as_bytes(file.subspan(f.compressed_offset, f.compressed_size)), out);
            if (f.offset < t.decompressed_size()) (void)t.frame_at(f.offset);
        }
    } catch (const SeekTableError&) {}
    return 0;
}
