#include "compress/seek_table.h"

#include <algorithm>
#include <string>

#include "io/le_bytes.h"

namespace lazyroot::compress {

namespace {

using io::get_le;

[[noreturn]] void fail(const std::string& why) { throw SeekTableError("zstd seek table: " + why); }

constexpr uint8_t kChecksumFlag = 0x80;
constexpr uint8_t kReservedBits = 0x7c;

}  // namespace

std::optional<Footer> parse_footer(std::span<const uint8_t> last9, uint64_t file_size) {
    if (last9.size() != kFooterSize || get_le<uint32_t>(last9, 5) != kSeekableMagic) return std::nullopt;
    Footer f;
    f.frames = get_le<uint32_t>(last9, 0);
    const uint8_t descriptor = last9[4];
    if (descriptor & kReservedBits) fail("reserved descriptor bits are set");
    f.checksums = descriptor & kChecksumFlag;
    const uint64_t entry = f.checksums ? 12 : 8;
    // frames < 2^32, entry <= 12: no overflow in 64 bits.
    f.table_bytes = kSkippableHeaderSize + uint64_t{f.frames} * entry + kFooterSize;
    if (f.frames == 0) fail("no frames");
    if (f.table_bytes > file_size) fail("the table is larger than the file");
    if (f.table_bytes > kMaxTableBytes) fail(std::to_string(f.frames) + " frames are more than a reader takes");
    return f;
}

SeekTable SeekTable::parse(std::span<const uint8_t> t, const Footer& footer, uint64_t file_size) {
    if (t.size() != footer.table_bytes) fail("wrong table length");
    if (get_le<uint32_t>(t, 0) != kSkippableMagic) fail("no skippable frame where the table should start");
    if (get_le<uint32_t>(t, 4) != footer.table_bytes - kSkippableHeaderSize)
        fail("the skippable frame's size does not match the frame count");
    const size_t entry = footer.checksums ? 12 : 8;
    SeekTable st;
    st.frames_.reserve(footer.frames);
    uint64_t in = 0, out = 0;
    for (uint32_t i = 0; i < footer.frames; ++i) {
        const size_t at = kSkippableHeaderSize + size_t{i} * entry;
        Frame f;
        f.compressed_size = get_le<uint32_t>(t, at);
        f.size = get_le<uint32_t>(t, at + 4);
        if (f.compressed_size == 0 || f.compressed_size > kMaxCompressedFrameBytes)
            fail("frame " + std::to_string(i) + " has a compressed size of " + std::to_string(f.compressed_size) +
                 " bytes");
        if (f.size == 0 || f.size > kMaxFrameBytes)
            fail("frame " + std::to_string(i) + " decompresses to " + std::to_string(f.size) + " bytes (1 to " +
                 std::to_string(kMaxFrameBytes) + " allowed)");
        f.compressed_offset = in;
        f.offset = out;
        // Sums of at most 2^32 values below 2^32: no overflow in 64 bits.
        in += f.compressed_size;
        out += f.size;
        st.frames_.push_back(f);
    }
    if (in + footer.table_bytes != file_size)
        fail("the frames' sizes add up to " + std::to_string(in) + " bytes, but the file holds " +
             std::to_string(file_size - footer.table_bytes) + " before the table");
    st.compressed_size_ = in;
    st.decompressed_size_ = out;
    return st;
}

size_t SeekTable::frame_at(uint64_t offset) const {
    auto it = std::upper_bound(frames_.begin(), frames_.end(), offset,
                               [](uint64_t off, const Frame& f) { return off < f.offset; });
    return static_cast<size_t>(it - frames_.begin()) - 1;
}

std::vector<uint8_t> encode_seek_table(std::span<const FrameSizes> frames) {
    const size_t n = frames.size();
    std::vector<uint8_t> out(kSkippableHeaderSize + n * 8 + kFooterSize);
    std::span<uint8_t> s(out);
    io::put_le<uint32_t>(s, 0, kSkippableMagic);
    io::put_le<uint32_t>(s, 4, static_cast<uint32_t>(out.size() - kSkippableHeaderSize));
    for (size_t i = 0; i < n; ++i) {
        io::put_le<uint32_t>(s, kSkippableHeaderSize + i * 8, frames[i].compressed);
        io::put_le<uint32_t>(s, kSkippableHeaderSize + i * 8 + 4, frames[i].decompressed);
    }
    const size_t f = out.size() - kFooterSize;
    io::put_le<uint32_t>(s, f, static_cast<uint32_t>(n));
    out[f + 4] = 0;
    io::put_le<uint32_t>(s, f + 5, kSeekableMagic);
    return out;
}

}  // namespace lazyroot::compress
