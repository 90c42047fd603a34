// The zstd seekable format: the writer's output is what `zstd -d` and our
// reader both turn back into the image; bad tables and frames are refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "compress/seek_table.h"
#include "compress/seekable_source.h"
#include "compress/seekable_writer.h"
#include "verity/manifest.h"
#include "io/event_loop.h"
#include "io/file_source.h"
#include "read_driver.h"

namespace lazyroot::compress {
namespace {

using testing::ReadOp;

std::vector<uint8_t> image_bytes(size_t size) {
    // Half compressible text, half random: frames of both kinds.
    std::vector<uint8_t> v(size);
    std::mt19937 rng(7);
    for (size_t i = 0; i < size; ++i) v[i] = (i / 8192) % 2 ? static_cast<uint8_t>(rng()) : "lazyroot "[i % 9];
    return v;
}

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/compress_test.XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() { std::system(("rm -rf " + path).c_str()); }
};

void write_file(const std::string& p, const std::vector<uint8_t>& v) {
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(v.data()), v.size());
}
std::vector<uint8_t> read_file(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

std::unique_ptr<io::Source> open_wrapped(const std::string& path) {
    return SeekableSource::wrap_if_seekable(io::FileSource::open(path));
}

// Reads [offset, offset+len) through a fresh queue.
int read_range(io::Source& src, uint64_t offset, std::vector<std::byte>& out) {
    io::EventLoop loop;
    EXPECT_EQ(loop.init(64), 0);
    auto reader = src.open_queue(loop, 16);
    std::vector<ReadOp> ops(1);
    ops[0].offset = offset;
    ops[0].buf.resize(out.size());
    testing::run_reads(loop, *reader, ops);
    out = ops[0].buf;
    return ops[0].result;
}

struct Compressed {
    TempDir dir;
    std::vector<uint8_t> image;
    std::string raw, zst;
    CompressResult result;
    explicit Compressed(size_t size, uint32_t frame = 64 << 10) {
        image = image_bytes(size);
        raw = dir.path + "/image";
        zst = raw + ".zst";
        write_file(raw, image);
        CompressOptions o;
        o.input = raw;
        o.output = zst;
        o.frame_bytes = frame;
        o.threads = 3;
        result = compress_seekable(o);
    }
};

TEST(SeekableZstd, ZstdCliDecompressesTheWriterOutputByteForByte) {
    Compressed c(3 * (64 << 10) + 5000);
    EXPECT_EQ(c.result.frames, 4u);
    EXPECT_LT(c.result.output_bytes, c.result.input_bytes);
    const std::string out = c.dir.path + "/back";
    ASSERT_EQ(std::system(("zstd -q -d -o " + out + " " + c.zst).c_str()), 0);
    EXPECT_EQ(read_file(out), c.image);
}

TEST(SeekableZstd, ServesEveryRangeAsTheImage) {
    Compressed c(20 * (16 << 10) + 777, 16 << 10);
    auto src = open_wrapped(c.zst);
    ASSERT_NE(dynamic_cast<SeekableSource*>(src.get()), nullptr);
    EXPECT_EQ(src->size(), c.image.size());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(256), 0);
    auto reader = src->open_queue(loop, 64);
    std::mt19937 rng(1);
    std::vector<ReadOp> ops(200);
    for (auto& op : ops) {
        const size_t len = 1 + rng() % (70 << 10);
        op.offset = rng() % (c.image.size() - len + 1);
        op.buf.resize(len);
    }
    ops[0].offset = c.image.size() - 1;  // the last byte, in the short last frame
    ops[0].buf.resize(1);
    testing::run_reads(loop, *reader, ops);
    for (const auto& op : ops) {
        ASSERT_EQ(op.result, 0) << op.offset;
        ASSERT_TRUE(testing::matches(op, c.image)) << op.offset << "+" << op.buf.size();
    }
    auto* s = dynamic_cast<SeekableSource*>(src.get());
    EXPECT_GT(s->wire_bytes(), 0u);
}

// A queue keeps its last few decoded frames, and a read of a kept frame
// doesn't fetch it again; with many reads in flight, others complete first and
// push it out of the queue's set. The read must still be served (the real boot
// from root.img.zst saw EIO there before the read held its kept frames).
TEST(SeekableZstd, KeptFramesPushedOutByOtherReadsInFlightStillServe) {
    Compressed c(40 * (16 << 10), 16 << 10);
    auto src = open_wrapped(c.zst);
    io::EventLoop loop;
    ASSERT_EQ(loop.init(256), 0);
    auto reader = src->open_queue(loop, 128);
    std::mt19937 rng(7);
    for (int round = 0; round < 40; ++round) {
        std::vector<ReadOp> ops(100);
        for (auto& op : ops) {
            // Small reads inside a few frames (kept ones among them) and some across two.
            const uint64_t frame = rng() % 10;
            const size_t len = (rng() % 4 == 0) ? (20 << 10) : 4096;
            op.offset = std::min<uint64_t>(frame * (16 << 10) + (rng() % 4) * 4096, c.image.size() - len);
            op.buf.resize(len);
        }
        testing::run_reads(loop, *reader, ops);
        for (const auto& op : ops) {
            ASSERT_EQ(op.result, 0) << "round " << round << " offset " << op.offset;
            ASSERT_TRUE(testing::matches(op, c.image)) << op.offset << "+" << op.buf.size();
        }
    }
}

TEST(SeekableZstd, APlainImageIsServedAsItIs) {
    TempDir d;
    write_file(d.path + "/plain", image_bytes(100000));
    auto src = open_wrapped(d.path + "/plain");
    EXPECT_EQ(dynamic_cast<SeekableSource*>(src.get()), nullptr);
    EXPECT_EQ(src->size(), 100000u);
}

TEST(SeekableZstd, ATruncatedFileIsRefusedInOneLine) {
    Compressed c(200000);
    auto bytes = read_file(c.zst);
    bytes.resize(bytes.size() - 3);
    write_file(c.zst, bytes);
    try {
        open_wrapped(c.zst);
        FAIL() << "a truncated file was accepted";
    } catch (const SeekTableError& e) {
        EXPECT_NE(std::string(e.what()).find("without a seek table"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
}

// The table rewritten so that its frame sizes are wrong.
std::vector<uint8_t> with_entry(std::vector<uint8_t> file, uint32_t frames, uint32_t index, uint32_t csize,
                                uint32_t dsize) {
    const size_t table = file.size() - (kSkippableHeaderSize + frames * 8 + kFooterSize);
    const size_t at = table + kSkippableHeaderSize + index * 8;
    for (int i = 0; i < 4; ++i) file[at + i] = static_cast<uint8_t>(csize >> (8 * i));
    for (int i = 0; i < 4; ++i) file[at + 4 + i] = static_cast<uint8_t>(dsize >> (8 * i));
    return file;
}

TEST(SeekableZstd, SizesThatDontAddUpAreRefused) {
    Compressed c(3 * (64 << 10));
    const auto good = read_file(c.zst);
    auto st_of = [&](const std::vector<uint8_t>& f) {
        std::span<const uint8_t> s(f);
        auto footer = parse_footer(s.last(kFooterSize), f.size());
        return SeekTable::parse(s.last(footer->table_bytes), *footer, f.size());
    };
    const auto t = st_of(good);
    const auto f1 = t.frames()[1];
    // A compressed size one too big: the frames overrun the table.
    EXPECT_THROW(st_of(with_entry(good, 3, 1, f1.compressed_size + 1, f1.size)), SeekTableError);
    // A frame claiming more than a reader allocates.
    EXPECT_THROW(st_of(with_entry(good, 3, 1, f1.compressed_size, kMaxFrameBytes + 1)), SeekTableError);
    // A frame count larger than the file.
    auto more = good;
    more[more.size() - kFooterSize] = 0xff;
    more[more.size() - kFooterSize + 1] = 0xff;
    EXPECT_THROW(st_of(more), SeekTableError);
    EXPECT_NO_THROW(st_of(good));
}

TEST(SeekableZstd, AFrameOfTheWrongSizeOrNotZstdIsEio) {
    Compressed c(3 * (64 << 10));
    const auto good = read_file(c.zst);
    std::span<const uint8_t> s(good);
    auto footer = parse_footer(s.last(kFooterSize), good.size());
    const auto t = SeekTable::parse(s.last(footer->table_bytes), *footer, good.size());
    // Frame 1 says 4 KiB less: its content is 64 KiB.
    write_file(c.zst, with_entry(good, 3, 1, t.frames()[1].compressed_size, t.frames()[1].size - 4096));
    {
        auto src = open_wrapped(c.zst);
        std::vector<std::byte> out(4096);
        EXPECT_EQ(read_range(*src, 0, out), 0);  // frame 0 is fine
        EXPECT_EQ(read_range(*src, (64 << 10) + 100, out), -EIO);
    }
    // Frame 2's bytes overwritten: not zstd.
    auto broken = good;
    for (uint32_t i = 0; i < 16; ++i) broken[t.frames()[2].compressed_offset + i] = 0xAA;
    write_file(c.zst, broken);
    {
        auto src = open_wrapped(c.zst);
        std::vector<std::byte> out(4096);
        EXPECT_EQ(read_range(*src, 2 * (64 << 10), out), -EIO);
        EXPECT_EQ(read_range(*src, 64 << 10, out), 0);
    }
    // A flipped byte inside frame 0's payload: its checksum catches it.
    broken = good;
    broken[t.frames()[0].compressed_offset + t.frames()[0].compressed_size / 2] ^= 0x40;
    write_file(c.zst, broken);
    {
        auto src = open_wrapped(c.zst);
        std::vector<std::byte> out(64 << 10);
        EXPECT_EQ(read_range(*src, 0, out), -EIO);
    }
}

TEST(SeekableZstd, WriterRefusesBadFrameSizesAndLevels) {
    TempDir d;
    write_file(d.path + "/i", image_bytes(10000));
    CompressOptions o;
    o.input = d.path + "/i";
    o.output = d.path + "/i.zst";
    o.frame_bytes = 1000;
    EXPECT_THROW(compress_seekable(o), std::runtime_error);
    o.frame_bytes = 4096;
    o.level = 99;
    EXPECT_THROW(compress_seekable(o), std::runtime_error);
    EXPECT_NE(::access(o.output.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace lazyroot::compress

namespace lazyroot::verity {
namespace {

TEST(ManifestCompression, RoundTripsAndIsChecked) {
    Manifest m;
    m.root_hash = std::string(64, 'a');
    m.data_size = 1 << 20;
    m.hash_offset = 1 << 20;
    m.image_size = (1 << 20) + (64 << 10);
    m.salt = {1, 2, 3};
    m.uuid = "01234567-89ab-cdef-0123-456789abcdef";
    m.compression = ManifestCompression{"zstd-seekable", 64 << 10, 12345};
    const std::string text = format_manifest(m);
    EXPECT_EQ(parse_manifest(text), m);
    auto with = [&](const std::string& from, const std::string& to) {
        std::string t = text;
        t.replace(t.find(from), from.size(), to);
        return t;
    };
    EXPECT_THROW(parse_manifest(with("\"zstd-seekable\"", "\"xz\"")), ManifestError);
    EXPECT_THROW(parse_manifest(with("\"frameSize\": 65536", "\"frameSize\": 1000")), ManifestError);
    EXPECT_THROW(parse_manifest(with("\"compressedSize\": 12345", "\"compressedSize\": 0")), ManifestError);
}

}  // namespace
}  // namespace lazyroot::verity
