#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <vector>

#include "io/event_loop.h"
#include "io/buffer_pool.h"
#include "io/file_source.h"
#include "tests/unit/read_driver.h"

using namespace lazyroot::io;

namespace {

class TempImage {
public:
    explicit TempImage(size_t size, const std::string& dir = "/tmp") : bytes_(size) {
        std::mt19937_64 rng(size);
        for (auto& b : bytes_) b = static_cast<std::byte>(rng());
        std::string tmpl = dir + "/lazyroot-img-XXXXXX";
        int fd = ::mkstemp(tmpl.data());
        path_ = tmpl;
        EXPECT_EQ(::write(fd, bytes_.data(), size), static_cast<ssize_t>(size));
        ::close(fd);
    }
    ~TempImage() { std::remove(path_.c_str()); }
    const std::string& path() const { return path_; }
    const std::vector<std::byte>& bytes() const { return bytes_; }

private:
    std::vector<std::byte> bytes_;
    std::string path_;
};

struct Read final : ReadCallback {
    std::vector<std::byte> buf;
    uint64_t offset = 0;
    int result = 1;  // 1: not completed yet
    void on_read_done(int r) override { result = r; }
};

void drain(EventLoop& loop, const std::vector<Read>& reads) {
    auto pending = [&] {
        for (const auto& r : reads)
            if (r.result == 1) return true;
        return false;
    };
    while (pending()) ASSERT_GE(loop.run_once(), 0);
}

}  // namespace

TEST(FileSource, ReportsSizeAndName) {
    TempImage img(12345);
    auto src = FileSource::open(img.path());
    EXPECT_EQ(src->size(), 12345u);
    EXPECT_EQ(src->describe(), "file://" + img.path());
}

static void random_ranges_match(const std::string& dir) {
    TempImage img(8 << 20, dir);
    auto src = FileSource::open(img.path());
    EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src->open_queue(loop, 32);

    std::mt19937 rng(7);
    for (int round = 0; round < 8; ++round) {
        std::vector<Read> reads(32);  // more than the ring batch, all in flight at once
        for (auto& r : reads) {
            size_t len = std::uniform_int_distribution<size_t>(1, 256 * 1024)(rng);
            r.offset = std::uniform_int_distribution<uint64_t>(0, img.bytes().size() - len)(rng);
            r.buf.resize(len);
            reader->read(r.offset, r.buf, r);
        }
        drain(loop, reads);
        for (const auto& r : reads) {
            ASSERT_EQ(r.result, 0);
            ASSERT_TRUE(std::equal(r.buf.begin(), r.buf.end(), img.bytes().begin() + r.offset));
        }
    }
}

// Zero copy (a ublk request's pages on 6.16+; here user buffers registered
// with the ring): the same bytes as the copy path.
TEST(FileSource, ZeroCopyReadsServeTheSameBytesAsCopies) {
    TempImage img(8 << 20);
    auto src = FileSource::open(img.path());
    EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src->open_queue(loop, 32);
    std::mt19937 rng(11);
    std::vector<lazyroot::testing::ReadOp> fixed(32), copied(32);
    for (size_t i = 0; i < fixed.size(); ++i) {
        const size_t len = std::uniform_int_distribution<size_t>(1, 256 * 1024)(rng);
        fixed[i].offset = copied[i].offset = std::uniform_int_distribution<uint64_t>(0, img.bytes().size() - len)(rng);
        fixed[i].buf.resize(len);
        copied[i].buf.resize(len);
    }
    ASSERT_EQ(lazyroot::testing::run_fixed_reads(loop, *reader, fixed), fixed.size());
    lazyroot::testing::run_reads(loop, *reader, copied);
    for (size_t i = 0; i < fixed.size(); ++i) {
        ASSERT_EQ(fixed[i].result, 0);
        ASSERT_EQ(copied[i].result, 0);
        ASSERT_EQ(fixed[i].buf, copied[i].buf);
        ASSERT_TRUE(std::equal(fixed[i].buf.begin(), fixed[i].buf.end(), img.bytes().begin() + fixed[i].offset));
    }
}

// O_DIRECT (the cache's reads): aligned reads into aligned buffers skip the
// page cache, the rest go through it; the same bytes either way, and a
// buffered write is seen by the direct reads that follow (the cache writes
// chunks, then reads them back).
TEST(FileSource, DirectReadsServeTheSameBytesAndSeeBufferedWrites) {
    TempImage img(8 << 20);
    auto src = FileSource::open(img.path(), true);
    ::testing::Test::RecordProperty("direct_align", static_cast<int>(src->direct_align()));
    EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src->open_queue(loop, 32);
    BufferPool pool(4096, 0);
    std::vector<BufferPool::Buffer> bufs;
    std::vector<Read> reads(32);
    std::vector<size_t> lens(reads.size());
    std::mt19937 rng(5);
    std::vector<std::byte> now = img.bytes();
    for (int round = 0; round < 4; ++round) {
        bufs.clear();
        for (size_t i = 0; i < reads.size(); ++i) {
            auto& r = reads[i];
            const bool aligned = i % 4 != 3;
            const size_t len = aligned ? 4096 * std::uniform_int_distribution<size_t>(1, 64)(rng)
                                       : std::uniform_int_distribution<size_t>(1, 100000)(rng);
            r.offset =
                std::uniform_int_distribution<uint64_t>(0, (now.size() - len) / 4096)(rng) * 4096 + (aligned ? 0 : i);
            r.result = 1;
            bufs.push_back(pool.take(len + 1));
            lens[i] = len;
            reader->read(r.offset, {bufs.back().get() + (aligned ? 0 : 1), len}, r);
        }
        drain(loop, reads);
        for (size_t i = 0; i < reads.size(); ++i) {
            const auto& r = reads[i];
            ASSERT_EQ(r.result, 0);
            const std::byte* got = bufs[i].get() + (i % 4 != 3 ? 0 : 1);
            ASSERT_TRUE(std::equal(got, got + lens[i], now.begin() + static_cast<ptrdiff_t>(r.offset)))
                << "round " << round << " read " << i;
        }
        // Overwrite a stretch through the page cache, as the cache writes a chunk.
        const uint64_t at = std::uniform_int_distribution<uint64_t>(0, 120)(rng) * 65536;
        std::vector<std::byte> fresh(65536);
        for (auto& b : fresh) b = static_cast<std::byte>(rng());
        const int fd = ::open(img.path().c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::pwrite(fd, fresh.data(), fresh.size(), static_cast<off_t>(at)), 65536);
        ::close(fd);
        std::copy(fresh.begin(), fresh.end(), now.begin() + static_cast<ptrdiff_t>(at));
        bufs.clear();
        std::vector<Read> back(1);
        bufs.push_back(pool.take(65536));
        reader->read(at, {bufs[0].get(), 65536}, back[0]);
        drain(loop, back);
        ASSERT_EQ(back[0].result, 0);
        ASSERT_TRUE(std::equal(bufs[0].get(), bufs[0].get() + 65536, fresh.begin()));
    }
}

TEST(FileSource, ReadsBeyondDepthStillComplete) {
    TempImage img(1 << 20);
    auto src = FileSource::open(img.path());
    EventLoop loop;
    ASSERT_EQ(loop.init(8), 0);
    auto reader = src->open_queue(loop, 2);
    std::vector<Read> reads(20);
    for (size_t i = 0; i < reads.size(); ++i) {
        reads[i].offset = i * 4096;
        reads[i].buf.resize(4096);
        reader->read(reads[i].offset, reads[i].buf, reads[i]);
    }
    drain(loop, reads);
    for (const auto& r : reads) {
        ASSERT_EQ(r.result, 0);
        ASSERT_TRUE(std::equal(r.buf.begin(), r.buf.end(), img.bytes().begin() + r.offset));
    }
}

static void callback_never_runs_inside_read(const std::string& dir) {
    TempImage img(4096, dir);
    auto src = FileSource::open(img.path());
    EventLoop loop;
    ASSERT_EQ(loop.init(8), 0);
    auto reader = src->open_queue(loop, 1);
    std::vector<Read> reads(2);
    reads[0].buf.resize(0);
    reads[1].buf.resize(4096);
    reader->read(0, reads[0].buf, reads[0]);
    reader->read(0, reads[1].buf, reads[1]);
    EXPECT_EQ(reads[0].result, 1);
    EXPECT_EQ(reads[1].result, 1);
    drain(loop, reads);
    EXPECT_EQ(reads[0].result, 0);
    EXPECT_EQ(reads[1].result, 0);
}

static void a_truncated_file_is_an_error(const std::string& dir) {
    TempImage img(64 * 1024, dir);
    auto src = FileSource::open(img.path());
    ASSERT_EQ(::truncate(img.path().c_str(), 16 * 1024), 0);
    EventLoop loop;
    ASSERT_EQ(loop.init(8), 0);
    auto reader = src->open_queue(loop, 1);
    std::vector<Read> reads(1);
    reads[0].buf.resize(32 * 1024);
    reader->read(8 * 1024, reads[0].buf, reads[0]);
    drain(loop, reads);
    EXPECT_EQ(reads[0].result, -EIO);
}

TEST(FileSource, RandomRangesMatchTheFileByteForByte) { random_ranges_match("/tmp"); }
TEST(FileSource, CallbackNeverRunsInsideRead) { callback_never_runs_inside_read("/tmp"); }
TEST(FileSource, ATruncatedFileIsAnErrorNotZeros) { a_truncated_file_is_an_error("/tmp"); }

// A file in tmpfs (a cache in /dev/shm, the RAM cache): reads up to 128 KiB
// are copied on the loop's thread instead of through an io_uring worker,
// larger ones still go through the ring: the same bytes either way (the
// random ranges below are 1 B to 256 KiB), the same asynchronous callbacks,
// the same errors. They fail, not skip, where /dev/shm is not tmpfs.
static bool shm_is_tmpfs() {
    TempImage probe(4096, "/dev/shm");
    return FileSource::open(probe.path())->in_memory();
}
TEST(FileSource, InMemoryRandomRangesMatchTheFileByteForByte) {
    ASSERT_TRUE(shm_is_tmpfs()) << "/dev/shm must be tmpfs (as Debian mounts it): these tests cover its path";
    random_ranges_match("/dev/shm");
}
TEST(FileSource, InMemoryCallbackNeverRunsInsideRead) {
    ASSERT_TRUE(shm_is_tmpfs()) << "/dev/shm must be tmpfs (as Debian mounts it): these tests cover its path";
    callback_never_runs_inside_read("/dev/shm");
}
TEST(FileSource, InMemoryATruncatedFileIsAnErrorNotZeros) {
    ASSERT_TRUE(shm_is_tmpfs()) << "/dev/shm must be tmpfs (as Debian mounts it): these tests cover its path";
    a_truncated_file_is_an_error("/dev/shm");
}
TEST(FileSource, InMemoryZeroCopyReadsStillGoThroughTheRing) {
    ASSERT_TRUE(shm_is_tmpfs()) << "/dev/shm must be tmpfs (as Debian mounts it): these tests cover its path";
    TempImage img(1 << 20, "/dev/shm");
    auto src = FileSource::open(img.path());
    EventLoop loop;
    ASSERT_EQ(loop.init(16), 0);
    auto reader = src->open_queue(loop, 4);
    std::vector<lazyroot::testing::ReadOp> fixed(4);
    for (size_t i = 0; i < fixed.size(); ++i) {
        fixed[i].offset = i * 200000 + 17;
        fixed[i].buf.resize(100000);
    }
    ASSERT_EQ(lazyroot::testing::run_fixed_reads(loop, *reader, fixed), fixed.size());
    for (const auto& r : fixed) {
        ASSERT_EQ(r.result, 0);
        ASSERT_TRUE(std::equal(r.buf.begin(), r.buf.end(), img.bytes().begin() + r.offset));
    }
}

TEST(FileSource, UnusableFilesAreRejected) {
    EXPECT_THROW(FileSource::open("/nonexistent/x"), std::runtime_error);
    EXPECT_THROW(FileSource::open("/tmp"), std::runtime_error);
    TempImage empty(0);
    EXPECT_THROW(FileSource::open(empty.path()), std::runtime_error);
}
