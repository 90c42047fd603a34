#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <set>
#include <thread>

#include "cache/cache_store.h"
#include "cache/cached_source.h"
#include "cache/metered_source.h"
#include "io/event_loop.h"
#include "io/file_source.h"
#include "tests/http_fixtures/temp_dir.h"
#include "tests/unit/read_driver.h"

using namespace lazyroot;
using lazyroot::testing::matches;
using lazyroot::testing::ReadOp;

namespace {

constexpr uint32_t kChunk = 64 * 1024;

struct Image {
    fixtures::TempDir dir{"lazyroot-cached"};
    std::vector<uint8_t> bytes;
    std::string path;
    explicit Image(size_t size) : bytes(size) {
        std::mt19937_64 rng(size);
        for (auto& b : bytes) b = static_cast<uint8_t>(rng());
        path = dir.write_file("image", bytes).string();
    }
};

struct Stack {
    cache::IoStats stats;
    std::unique_ptr<cache::CachedSource> src;
    Stack(const Image& img, const std::string& cache_path) {
        auto inner = io::FileSource::open(img.path);
        cache::CacheStoreOptions so;
        so.path = cache_path;
        so.chunk_size = kChunk;
        so.image_size = inner->size();
        so.identity = inner->identity();
        auto store = cache::CacheStore::open(so);
        auto metered = std::make_unique<cache::MeteredSource>(std::move(inner), stats, false);
        src = std::make_unique<cache::CachedSource>(std::move(metered), std::move(store), stats);
    }
};

std::vector<ReadOp> random_reads(size_t n, size_t size, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<ReadOp> ops(n);
    for (auto& op : ops) {
        size_t len = std::uniform_int_distribution<size_t>(1, 200 * 1024)(rng);
        op.offset = std::uniform_int_distribution<uint64_t>(0, size - len)(rng);
        op.buf.resize(len);
    }
    return ops;
}

std::set<uint64_t> chunks_of(const std::vector<ReadOp>& ops) {
    std::set<uint64_t> s;
    for (const auto& op : ops)
        for (uint64_t c = op.offset / kChunk; c <= (op.offset + op.buf.size() - 1) / kChunk; ++c) s.insert(c);
    return s;
}

}  // namespace

TEST(CachedSource, ServesCorrectBytesAndFetchesEachChunkOnce) {
    Image img(8 << 20);
    Stack st(img, (img.dir / "cache").string());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = st.src->open_queue(loop, 32);
    auto ops = random_reads(64, img.bytes.size(), 1);
    lazyroot::testing::run_reads(loop, *reader, ops);
    for (const auto& op : ops) {
        ASSERT_EQ(op.result, 0);
        ASSERT_TRUE(matches(op, img.bytes)) << op.offset;
    }
    // Overlapping reads in flight together share fetches: every chunk once.
    EXPECT_EQ(st.stats.bytes_fetched.load(), chunks_of(ops).size() * kChunk);
    // Read again: all hits, nothing fetched.
    const uint64_t fetched = st.stats.bytes_fetched.load();
    auto again = ops;
    for (auto& op : again) op.result = 1;
    lazyroot::testing::run_reads(loop, *reader, again);
    for (const auto& op : again) ASSERT_TRUE(matches(op, img.bytes));
    EXPECT_EQ(st.stats.bytes_fetched.load(), fetched);
}

// A read waiting for chunks another read of the same queue is fetching (a
// sequential reader behind the readahead) is answered from the fetched bytes
// as they arrive, like the read that asked: neither waits for the cache write
// and a read back. The chunks are still written and present afterwards, and
// the waiter's claim, finishing later, touches nothing (its request object is
// reused by the reads that follow, which must all be right).
TEST(CachedSource, ReadsWaitingForAFetchAreAnsweredFromItsBytes) {
    Image img(8 << 20);
    Stack st(img, (img.dir / "cache").string());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = st.src->open_queue(loop, 32);
    for (int round = 0; round < 8; ++round) {
        const uint64_t base = round * 8 * uint64_t{kChunk};
        std::vector<ReadOp> ops(4);
        ops[0].offset = base;  // chunks 0-3 of this round: one fetch
        ops[0].buf.resize(4 * kChunk);
        ops[1].offset = base + 2 * kChunk + 100;  // inside it: waits for it
        ops[1].buf.resize(kChunk);
        ops[2].offset = base + kChunk;  // inside it too
        ops[2].buf.resize(512);
        ops[3].offset = base + 3 * kChunk;  // half in it, half in a fetch of its own
        ops[3].buf.resize(2 * kChunk);
        const uint64_t served = st.stats.misses_served_from_fetch.load();
        lazyroot::testing::run_reads(loop, *reader, ops);
        for (const auto& op : ops) {
            ASSERT_EQ(op.result, 0);
            ASSERT_TRUE(matches(op, img.bytes)) << "round " << round << " offset " << op.offset;
        }
        // ops[0] and the two inside it; ops[3] spans two fetches, so it waits and reads back.
        EXPECT_EQ(st.stats.misses_served_from_fetch.load() - served, 3u) << "round " << round;
    }
    while (static_cast<cache::CachedReader&>(*reader).fetches_in_flight() > 0) ASSERT_GE(loop.run_once(), 0);
    EXPECT_EQ(st.stats.bytes_fetched.load(), 8 * 5 * uint64_t{kChunk});
    // Every chunk fetched is in the cache now: read again, nothing fetched.
    std::vector<ReadOp> again(8);
    for (size_t i = 0; i < again.size(); ++i) {
        again[i].offset = i * 8 * uint64_t{kChunk};
        again[i].buf.resize(5 * kChunk);
    }
    lazyroot::testing::run_reads(loop, *reader, again);
    for (const auto& op : again) ASSERT_TRUE(op.result == 0 && matches(op, img.bytes));
    EXPECT_EQ(st.stats.bytes_fetched.load(), 8 * 5 * uint64_t{kChunk});
}

// Zero copy takes only plain hits: on a cold cache every read goes through
// read() (its own buffers, the fetch, the write); once warm, the same ranges
// go straight from the cache file into the caller's registered buffers and
// match the image, and each still counts as a hit.
TEST(CachedSource, ZeroCopyServesHitsOnlyAndTheSameBytes) {
    Image img(8 << 20);
    Stack st(img, (img.dir / "cache").string());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = st.src->open_queue(loop, 32);
    auto cold = random_reads(16, img.bytes.size(), 5);
    EXPECT_EQ(lazyroot::testing::run_fixed_reads(loop, *reader, cold), 0u);
    EXPECT_EQ(st.stats.bytes_fetched.load(), 0u);
    lazyroot::testing::run_reads(loop, *reader, cold);
    for (const auto& op : cold) ASSERT_TRUE(op.result == 0 && matches(op, img.bytes)) << op.offset;
    // Answered from the fetched bytes: present once their cache writes land.
    while (dynamic_cast<cache::CachedReader&>(*reader).fetches_in_flight() > 0) ASSERT_GE(loop.run_once(), 0);
    const uint64_t fetched = st.stats.bytes_fetched.load(), hits = st.stats.cache_hit_reads.load();

    auto warm = cold;
    for (auto& op : warm) {
        op.result = 1;
        std::fill(op.buf.begin(), op.buf.end(), std::byte{0});
    }
    ASSERT_EQ(lazyroot::testing::run_fixed_reads(loop, *reader, warm), warm.size());
    for (const auto& op : warm) ASSERT_TRUE(op.result == 0 && matches(op, img.bytes)) << op.offset;
    EXPECT_EQ(st.stats.bytes_fetched.load(), fetched);
    EXPECT_EQ(st.stats.cache_hit_reads.load(), hits + warm.size());

    // A range reaching one missing chunk is not taken.
    std::vector<ReadOp> partly(1);
    const auto present = chunks_of(cold);
    uint64_t missing = 0;
    while (present.count(missing) || !present.count(missing + 1)) ++missing;
    partly[0].offset = missing * kChunk + kChunk / 2;
    partly[0].buf.resize(kChunk);
    EXPECT_EQ(lazyroot::testing::run_fixed_reads(loop, *reader, partly), 0u);
}

TEST(CachedSource, QueuesOnOtherThreadsWaitForOneFetch) {
    Image img(8 << 20);
    Stack st(img, (img.dir / "cache").string());
    // Four "queues", each its own thread and loop, reading the same ranges.
    auto ops_for = [&](int) { return random_reads(48, img.bytes.size(), 7); };
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    for (int q = 0; q < 4; ++q) {
        threads.emplace_back([&, q] {
            io::EventLoop loop;
            if (loop.init(64) != 0) return bad++, void();
            auto reader = st.src->open_queue(loop, 48);
            auto ops = ops_for(q);
            lazyroot::testing::run_reads(loop, *reader, ops);
            for (const auto& op : ops)
                if (op.result != 0 || !matches(op, img.bytes)) bad++;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(st.stats.bytes_fetched.load(), chunks_of(ops_for(0)).size() * kChunk);
}

TEST(CachedSource, ASecondAttachReadsFromTheCacheOnly) {
    Image img(4 << 20);
    const std::string cache = (img.dir / "cache").string();
    {
        Stack st(img, cache);
        io::EventLoop loop;
        ASSERT_EQ(loop.init(64), 0);
        auto reader = st.src->open_queue(loop, 8);
        std::vector<ReadOp> all(16);
        for (size_t i = 0; i < all.size(); ++i) {
            all[i].offset = i * (256 * 1024);
            all[i].buf.resize(256 * 1024);
        }
        lazyroot::testing::run_reads(loop, *reader, all);
        // Reads are answered from the fetched bytes; their cache writes follow.
        auto& cached = dynamic_cast<cache::CachedReader&>(*reader);
        while (cached.fetches_in_flight() > 0) ASSERT_GE(loop.run_once(), 0);
        ASSERT_TRUE(st.src->complete());
    }
    Stack st(img, cache);
    EXPECT_TRUE(st.src->complete());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = st.src->open_queue(loop, 8);
    auto ops = random_reads(32, img.bytes.size(), 3);
    lazyroot::testing::run_reads(loop, *reader, ops);
    for (const auto& op : ops) ASSERT_TRUE(matches(op, img.bytes));
    EXPECT_EQ(st.stats.fetches.load(), 0u);
}

// A warm queue fetches without allocating: after the first batch, every
// miss reuses a fetch buffer from the reader's pool (issue 15: no
// allocation per IO). Counted by the pool, not timed.
TEST(CachedSource, SteadyStateMissesReuseFetchBuffers) {
    Image img(16 << 20);
    Stack st(img, (img.dir / "cache").string());
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = st.src->open_queue(loop, 16);
    auto& cached = dynamic_cast<cache::CachedReader&>(*reader);
    constexpr size_t kRead = 128 * 1024;
    constexpr size_t kBatch = 8;
    uint64_t offset = 0;
    auto batch = [&] {
        std::vector<ReadOp> ops(kBatch);
        for (auto& op : ops) {
            op.offset = offset;
            op.buf.resize(kRead);
            offset += kRead;
        }
        lazyroot::testing::run_reads(loop, *reader, ops);
        for (const auto& op : ops) {
            ASSERT_EQ(op.result, 0);
            ASSERT_TRUE(matches(op, img.bytes)) << op.offset;
        }
        // The batch's cache writes, which follow its answers, give their buffers back.
        while (cached.fetches_in_flight() > 0) ASSERT_GE(loop.run_once(), 0);
    };
    batch();
    const uint64_t warm_misses = cached.fetch_buffers().misses();
    EXPECT_GT(warm_misses, 0u);
    while (offset + kBatch * kRead <= img.bytes.size()) batch();
    EXPECT_GT(cached.fetch_buffers().takes(), 8 * warm_misses);  // many fetches since
    EXPECT_EQ(cached.fetch_buffers().misses(), warm_misses);     // none of them allocated
    EXPECT_EQ(st.stats.bytes_fetched.load(), offset);
}
