#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "io/readahead.h"
#include "io/event_loop.h"
#include "io/file_source.h"
#include "tests/unit/read_driver.h"

using namespace lazyroot;
using lazyroot::testing::matches;
using lazyroot::testing::ReadOp;

namespace {

struct TempImage {
    std::vector<uint8_t> bytes;
    std::string path;
    explicit TempImage(size_t size) : bytes(size) {
        std::mt19937_64 rng(size);
        for (auto& b : bytes) b = static_cast<uint8_t>(rng());
        char tmpl[] = "/tmp/lazyroot-ra-XXXXXX";
        int fd = ::mkstemp(tmpl);
        path = tmpl;
        EXPECT_EQ(::write(fd, bytes.data(), size), static_cast<ssize_t>(size));
        ::close(fd);
    }
    ~TempImage() { std::remove(path.c_str()); }
};

// Reads one at a time, the way a sequential reader at QD 1 would.
void read_one(io::EventLoop& loop, io::QueueReader& r, ReadOp& op) {
    r.read(op.offset, op.buf, op);
    while (!op.done()) ASSERT_GE(loop.run_once(), 0);
}

io::ReadaheadOptions small_window() {
    io::ReadaheadOptions o;
    o.slice_bytes = 64 * 1024;
    o.max_window_bytes = 512 * 1024;
    o.trigger = 2;
    o.trigger_bytes = 128 * 1024;  // two slices, as the default is
    return o;
}

}  // namespace

TEST(Readahead, SequentialReadsArePrefetchedAndCorrect) {
    TempImage img(4 << 20);
    io::ReadaheadSource src(io::FileSource::open(img.path), small_window());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src.open_queue(loop, 8);
    // 24 KiB steps: reads straddle slice boundaries.
    for (uint64_t off = 0; off + 24 * 1024 <= img.bytes.size(); off += 24 * 1024) {
        ReadOp op;
        op.offset = off;
        op.buf.resize(24 * 1024);
        read_one(loop, *reader, op);
        ASSERT_EQ(op.result, 0) << off;
        ASSERT_TRUE(matches(op, img.bytes)) << off;
    }
    auto& ra = dynamic_cast<io::ReadaheadReader&>(*reader);
    EXPECT_GT(ra.prefetched_bytes(), 2u << 20);
}

// A boot reads many short files start to end: each may get a slice ahead,
// but no window that doubled on every one of its reads.
TEST(Readahead, AShortStreamGetsOneSliceAhead) {
    TempImage img(4 << 20);
    io::ReadaheadSource src(io::FileSource::open(img.path), small_window());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src.open_queue(loop, 8);
    for (uint64_t off = 1 << 20; off < (1 << 20) + 48 * 1024; off += 4096) {
        ReadOp op;
        op.offset = off;
        op.buf.resize(4096);
        read_one(loop, *reader, op);
        ASSERT_EQ(op.result, 0) << off;
        ASSERT_TRUE(matches(op, img.bytes)) << off;
    }
    // One 64 KiB window from the third read on spans two slices at most.
    EXPECT_LE(dynamic_cast<io::ReadaheadReader&>(*reader).prefetched_bytes(), 128u * 1024);
}

TEST(Readahead, RandomReadsFetchNothingExtra) {
    TempImage img(4 << 20);
    io::ReadaheadSource src(io::FileSource::open(img.path), small_window());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src.open_queue(loop, 8);
    std::mt19937 rng(3);
    for (int i = 0; i < 200; ++i) {
        ReadOp op;
        op.buf.resize(4096);
        op.offset = std::uniform_int_distribution<uint64_t>(0, 1023)(rng) * 4096;
        read_one(loop, *reader, op);
        ASSERT_EQ(op.result, 0);
        ASSERT_TRUE(matches(op, img.bytes));
    }
    EXPECT_LT(dynamic_cast<io::ReadaheadReader&>(*reader).prefetched_bytes(), 1u << 20);
}

TEST(Readahead, ManyParallelSequentialReadsAndTheTail) {
    TempImage img((3 << 20) + 5000);  // a short last slice
    io::ReadaheadSource src(io::FileSource::open(img.path), small_window());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src.open_queue(loop, 8);
    uint64_t off = 0;
    while (off < img.bytes.size()) {
        std::vector<ReadOp> ops(8);
        for (auto& op : ops) {
            op.offset = off;
            op.buf.resize(std::min<uint64_t>(16 * 1024, img.bytes.size() - off));
            off += op.buf.size();
            if (off >= img.bytes.size()) break;
        }
        while (!ops.empty() && ops.back().buf.empty()) ops.pop_back();
        lazyroot::testing::run_reads(loop, *reader, ops);
        for (const auto& op : ops) {
            ASSERT_EQ(op.result, 0) << op.offset;
            ASSERT_TRUE(matches(op, img.bytes)) << op.offset;
        }
    }
}

TEST(Readahead, AFailingSourceIsAnErrorNeverStaleBytes) {
    TempImage img(2 << 20);
    io::ReadaheadSource src(io::FileSource::open(img.path), small_window());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src.open_queue(loop, 8);
    uint64_t off = 0;
    for (int i = 0; i < 4; ++i, off += 32 * 1024) {
        ReadOp op;
        op.offset = off;
        op.buf.resize(32 * 1024);
        read_one(loop, *reader, op);
        ASSERT_EQ(op.result, 0);
    }
    // The image loses its second half while prefetches may be in flight.
    ASSERT_EQ(::truncate(img.path.c_str(), 1 << 20), 0);
    for (; off < (2u << 20); off += 32 * 1024) {
        ReadOp op;
        op.offset = off;
        op.buf.resize(32 * 1024);
        read_one(loop, *reader, op);
        if (op.result == 0) {
            ASSERT_TRUE(matches(op, img.bytes)) << off;
        } else {
            ASSERT_EQ(op.result, -EIO) << off;
        }
        if (off >= (1u << 20) + (512u << 10)) {
            EXPECT_EQ(op.result, -EIO) << off;
        }
    }
}

// Two files read at once, their requests interleaved on one queue (as during
// a boot): each stream is followed, and nothing is fetched twice.
TEST(Readahead, InterleavedStreamsAreEachPrefetchedOnce) {
    TempImage img(8 << 20);
    io::ReadaheadSource src(io::FileSource::open(img.path), small_window());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src.open_queue(loop, 8);
    const uint64_t step = 16 * 1024, half = 4 << 20;
    for (uint64_t off = 0; off < half; off += step) {
        for (uint64_t base : {uint64_t{0}, half}) {
            ReadOp op;
            op.offset = base + off;
            op.buf.resize(step);
            read_one(loop, *reader, op);
            ASSERT_EQ(op.result, 0) << op.offset;
            ASSERT_TRUE(matches(op, img.bytes)) << op.offset;
        }
    }
    auto& ra = dynamic_cast<io::ReadaheadReader&>(*reader);
    // Both streams ran ahead (most of the 8 MiB came from prefetch; a reader
    // that follows one stream sees every read as a break and prefetches
    // nothing), and the two never evicted each other's windows (which would
    // refetch them over and over): at most one window beyond the image.
    EXPECT_GT(ra.prefetched_bytes(), 6u << 20);
    EXPECT_LE(ra.prefetched_bytes(), img.bytes.size() + small_window().max_window_bytes);
}

// --memory-budget: the queues' windows together never hold more slice
// buffers than the budget, by the readahead's own accounting, and they
// still prefetch within it; every byte is right.
TEST(Readahead, QueuesShareOneMemoryBudget) {
    TempImage img(6 << 20);
    auto opts = small_window();  // 64 KiB slices, 512 KiB window per stream
    opts.budget = std::make_shared<io::MemoryBudget>(4 * 64 * 1024);
    {
        io::ReadaheadSource src(io::FileSource::open(img.path), opts);
        io::EventLoop loop;
        ASSERT_EQ(loop.init(128), 0);
        std::vector<std::unique_ptr<io::QueueReader>> readers;
        for (int q = 0; q < 3; ++q) readers.push_back(src.open_queue(loop, 8));
        // Three sequential streams, 2 MiB apart, advancing in turn.
        for (uint64_t off = 0; off + 16 * 1024 <= 2 << 20; off += 16 * 1024) {
            for (int q = 0; q < 3; ++q) {
                ReadOp op;
                op.offset = (uint64_t{2} << 20) * q + off;
                op.buf.resize(16 * 1024);
                read_one(loop, *readers[q], op);
                ASSERT_EQ(op.result, 0);
                ASSERT_TRUE(matches(op, img.bytes)) << op.offset;
                ASSERT_LE(src.pool().held_bytes(), opts.budget->limit());
                ASSERT_EQ(src.pool().held_bytes(), opts.budget->held());
            }
        }
        EXPECT_EQ(opts.budget->peak(), opts.budget->limit());  // the budget was the bound, and used
        for (auto& r : readers) EXPECT_GT(dynamic_cast<io::ReadaheadReader&>(*r).prefetched_bytes(), 0u);
    }
    EXPECT_EQ(opts.budget->held(), 0u);  // all given back
}

// A stream's reads spread over the queues (the reader moves between CPUs):
// one device-wide stream, each slice fetched once, whichever queue reads it.
TEST(Readahead, AStreamSpreadOverQueuesFetchesEachSliceOnce) {
    TempImage img(8 << 20);
    io::ReadaheadSource src(io::FileSource::open(img.path), small_window());
    // Two queues' readers (one loop: the pool's hand-over between loops is a post()).
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    std::vector<std::unique_ptr<io::QueueReader>> readers;
    for (int q = 0; q < 2; ++q) readers.push_back(src.open_queue(loop, 8));
    uint64_t prefetched = 0;
    for (uint64_t off = 0, i = 0; off < img.bytes.size(); off += 16 * 1024, ++i) {
        ReadOp op;
        op.offset = off;
        op.buf.resize(16 * 1024);
        // Alternate queues, as a reader migrating between two CPUs would.
        const int q = static_cast<int>((i / 3) % 2);
        read_one(loop, *readers[q], op);
        ASSERT_EQ(op.result, 0) << off;
        ASSERT_TRUE(matches(op, img.bytes)) << off;
    }
    for (auto& r : readers) prefetched += dynamic_cast<io::ReadaheadReader&>(*r).prefetched_bytes();
    // Most of the image came ahead of the reader, and no slice twice.
    EXPECT_GT(prefetched, 6u << 20);
    EXPECT_LE(prefetched, img.bytes.size());
}

// Zero copy through readahead: a read no slice holds goes straight into the
// registered buffer and still drives the prefetch; one the slices hold is
// refused (read() copies it from them). Every byte matches either way.
TEST(Readahead, ZeroCopyReadsBypassTheSlicesAndStillPrefetch) {
    TempImage img(4 << 20);
    io::ReadaheadSource src(io::FileSource::open(img.path), small_window());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src.open_queue(loop, 8);
    auto& ra = dynamic_cast<io::ReadaheadReader&>(*reader);
    size_t zero_copy = 0, copied = 0;
    for (uint64_t off = 0; off + 32 * 1024 <= (2u << 20); off += 32 * 1024) {
        std::vector<ReadOp> ops(1);
        ops[0].offset = off;
        ops[0].buf.resize(32 * 1024);
        if (lazyroot::testing::run_fixed_reads(loop, *reader, ops) == 1) {
            ++zero_copy;
        } else {
            read_one(loop, *reader, ops[0]);
            ++copied;
        }
        ASSERT_EQ(ops[0].result, 0) << off;
        ASSERT_TRUE(matches(ops[0], img.bytes)) << off;
    }
    EXPECT_GT(zero_copy, 0u);
    EXPECT_GT(copied, 0u);  // the stream's prefetched slices served the rest
    EXPECT_GT(ra.prefetched_bytes(), 0u);
}
