#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "compress/frame_decoder.h"
#include "compress/seek_table.h"
#include "io/source.h"

namespace lazyroot::compress {

// An image in the zstd seekable format, served decompressed: a read fetches
// the frames that cover it (adjacent frames in one inner read), decompresses
// them on the decode pool and copies out the range asked for. Each queue
// keeps its last few frames, so that small reads inside one frame fetch it
// once. Any frame that does not decompress to exactly what the seek table
// says fails its read with EIO, logged with the frame's number.
class SeekableSource final : public io::Source {
public:
    // Reads the footer and the seek table through `inner` (attach time:
    // blocking). Returns `inner` itself when its last bytes are not a
    // seekable footer. Throws SeekTableError (one line) for a table that
    // can't be right, std::runtime_error when the reads fail.
    static std::unique_ptr<io::Source> wrap_if_seekable(std::unique_ptr<io::Source> inner);

    SeekableSource(std::unique_ptr<io::Source> inner, SeekTable table);
    uint64_t size() const override { return table_.decompressed_size(); }
    std::string describe() const override { return inner_->describe(); }
    std::string identity() const override { return inner_->identity() + ";zstd-seekable"; }
    std::unique_ptr<io::QueueReader> open_queue(io::EventLoop& loop, unsigned depth) override;

    const SeekTable& table() const { return table_; }
    // Compressed bytes fetched so far (what crossed the wire for the image).
    uint64_t wire_bytes() const { return wire_bytes_.load(std::memory_order_relaxed); }

private:
    friend class SeekableReader;
    std::unique_ptr<io::Source> inner_;
    SeekTable table_;
    DecodePool pool_;
    std::atomic<uint64_t> wire_bytes_{0};
};

}  // namespace lazyroot::compress
