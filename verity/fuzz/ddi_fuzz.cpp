// libFuzzer harness for the DDI parsers: the input is a disk image (GPT
// header at 512, entries where it says) and, separately, a verity-sig
// partition. Anything either parses or throws DdiError; nothing else.
// Build: cmake -DCMAKE_CXX_COMPILER=clang++ -DLAZYROOT_FUZZ=ON, then ddi_fuzz CORPUS_DIR
#include <cstdint>
#include <cstdlib>
#include <span>

#include "verity/ddi.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lazyroot::verity;
    const std::span<const uint8_t> disk(data, size);
    try {
        parse_verity_sig(disk);
    } catch (const DdiError&) {}
    if (size < 1024) return 0;
    try {
        const GptHeader h = parse_gpt_header(disk.subspan(512, 512), 512);
        if (h.entries_offset() > size || h.entries_bytes() > size - h.entries_offset()) return 0;
        const auto parts = parse_gpt_entries(disk.subspan(h.entries_offset(), h.entries_bytes()), h);
        for (const auto& p : parts) {
            if (p.last_lba < p.first_lba) std::abort();
            // Byte ranges never wrap (a wrapped offset would name another partition's bytes).
            uint64_t end = 0;
            if (__builtin_add_overflow(p.offset(h.sector_size), p.size(h.sector_size), &end) ||
                p.offset(h.sector_size) / h.sector_size != p.first_lba)
                std::abort();
        }
        find_ddi_root(parts);
    } catch (const DdiError&) {}
    return 0;
}
