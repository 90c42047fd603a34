// libFuzzer: the cache file's header and chunk bitmap as read back from disk
// (a file that a crash, a full disk or another program may have mangled).
// A header decodes only if it is one encode_header wrote (so it encodes back
// to the same bytes), with sizes that agree; a bitmap loads whatever its
// bytes, keeps no bit past its last chunk and counts what it holds.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "cache/cache_format.h"
#include "cache/chunk_bitmap.h"
#include "io/crc32c.h"
#include "io/le_bytes.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void check_header(std::span<const uint8_t> bytes) {
    using namespace lazyroot::cache;
    auto h = decode_header(bytes);
    if (!h) return;
    check(valid_chunk_size(h->chunk_size) && h->image_size > 0);
    check(h->chunk_count == chunk_count_for(h->image_size, h->chunk_size));
    check(h->bitmap_bytes == bitmap_bytes_for(h->chunk_count));
    check(metadata_bytes(h->chunk_count) >= kHeaderBytes + h->bitmap_bytes);
    const auto again = encode_header(*h);
    check(again.size() == kHeaderBytes && std::memcmp(again.data(), bytes.data(), kHeaderBytes) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lazyroot::cache;
    if (size < 1) return 0;
    const bool header_mode = data[0] & 1;
    const std::span<const uint8_t> in(data + 1, size - 1);

    if (header_mode) {
        // As read, and with its CRC made right, so that the field checks
        // behind the CRC are reached too (a crash can write a good CRC over
        // bad fields no more than a fuzzer can guess one).
        check_header(in);
        if (in.size() >= kHeaderBytes) {
            std::vector<uint8_t> fixed(in.begin(), in.begin() + kHeaderBytes);
            std::memset(fixed.data() + header_offset::crc, 0, 4);
            lazyroot::io::put_le<uint32_t>(fixed, header_offset::crc, lazyroot::io::crc32c(fixed));
            check_header(fixed);
        }
        return 0;
    }

    // A bitmap: the first 2 bytes say how many chunks (fewer than 2^12, to
    // keep runs fast), the rest are its bytes as on disk, short or long.
    if (in.size() < 2) return 0;
    const uint64_t chunks = uint64_t{in[0]} | uint64_t{in[1] & 0x0fu} << 8;
    const auto bytes = in.subspan(2);
    ChunkBitmap bm(chunks);
    bm.load(bytes);
    uint64_t expect = 0;
    for (uint64_t i = 0; i < chunks; ++i) {
        const bool bit = i / 8 < bytes.size() && (bytes[i / 8] >> (i % 8) & 1);
        check(bm.present(i) == bit);
        expect += bit;
    }
    check(bm.count_present() == expect);
    check(!bm.present(chunks) && !bm.set_present(chunks));
    // The byte form reads back as loaded, with bits past the last chunk cleared.
    std::vector<uint8_t> out(bm.bytes() + 8);
    bm.copy_bytes(0, out);
    for (uint64_t i = 0; i < out.size() * 8; ++i) {
        const bool bit = out[i / 8] >> (i % 8) & 1;
        check(bit == (i < chunks && bm.present(i)));
    }
    // next_missing finds the first hole, or none; setting it moves it on.
    const auto hole = bm.next_missing(0);
    uint64_t first = 0;
    while (first < chunks && bm.present(first)) ++first;
    check(hole ? *hole == first : first == chunks);
    if (hole) {
        check(bm.set_present(*hole) && bm.count_present() == expect + 1);
        const auto next = bm.next_missing(*hole);
        check(!next || *next > *hole);
    }
    return 0;
}
