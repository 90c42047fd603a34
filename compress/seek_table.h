#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

// The zstd seekable format's seek table (zstd's contrib/seekable_format):
// independent zstd frames, then a skippable frame that lists each frame's
// compressed and decompressed size, ending in a 9-byte footer.
//
//   skippable frame header: magic 0x184D2A5E (LE u32), content size (LE u32)
//   entries:                compressed size, decompressed size (LE u32 each)
//                           [, XXH64 low 32 bits when the descriptor says so]
//   footer:                 frame count (LE u32), descriptor (u8),
//                           seekable magic 0x8F92EAB1 (LE u32)
//
// Everything here comes from the network: the parser checks that the sizes
// add up to the file and that no frame is larger than a reader will allocate.
namespace lazyroot::compress {

inline constexpr uint32_t kSkippableMagic = 0x184D2A5E;
inline constexpr uint32_t kSeekableMagic = 0x8F92EAB1;
inline constexpr size_t kFooterSize = 9;
inline constexpr size_t kSkippableHeaderSize = 8;
// The largest frame a reader decompresses (and so allocates): 16 MiB.
inline constexpr uint32_t kMaxFrameBytes = 16u << 20;
// A frame's compressed size can't exceed zstd's bound for that (ZSTD_COMPRESSBOUND).
inline constexpr uint32_t kMaxCompressedFrameBytes = kMaxFrameBytes + (kMaxFrameBytes >> 8) + (128u << 10);
// The table a reader fetches and keeps: 8 Mi frames (512 GiB in 64 KiB frames).
inline constexpr uint64_t kMaxTableBytes = 96ull << 20;

// A seek table that can't describe the file; what() is one line.
struct SeekTableError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Frame {
    uint64_t compressed_offset = 0;
    uint32_t compressed_size = 0;
    uint64_t offset = 0;  // in the decompressed image
    uint32_t size = 0;    // decompressed
};

struct Footer {
    uint32_t frames = 0;
    bool checksums = false;
    // The whole skippable frame: header, entries and footer.
    uint64_t table_bytes = 0;
};

// nullopt when the last bytes of a file are not a seekable footer (it is
// some other file). Throws SeekTableError when they are one that can't be
// right for a file of `file_size` bytes.
std::optional<Footer> parse_footer(std::span<const uint8_t> last9, uint64_t file_size);

class SeekTable {
public:
    // `table` is the file's last footer.table_bytes bytes. Throws SeekTableError.
    static SeekTable parse(std::span<const uint8_t> table, const Footer& footer, uint64_t file_size);

    const std::vector<Frame>& frames() const { return frames_; }
    uint64_t decompressed_size() const { return decompressed_size_; }
    uint64_t compressed_size() const { return compressed_size_; }
    // The frame that holds decompressed byte `offset` (< decompressed_size()).
    size_t frame_at(uint64_t offset) const;

private:
    std::vector<Frame> frames_;
    uint64_t decompressed_size_ = 0;
    uint64_t compressed_size_ = 0;  // of the frames, without the table
};

// The skippable frame for frames of these sizes (no checksums: each zstd
// frame carries its own content checksum).
struct FrameSizes {
    uint32_t compressed;
    uint32_t decompressed;
};
std::vector<uint8_t> encode_seek_table(std::span<const FrameSizes> frames);

}  // namespace lazyroot::compress
