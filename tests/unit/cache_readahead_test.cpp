#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>

#include "cache/cache_store.h"
#include "cache/cached_source.h"
#include "cache/metered_source.h"
#include "io/stream_detector.h"
#include "io/event_loop.h"
#include "io/file_source.h"
#include "tests/http_fixtures/temp_dir.h"
#include "tests/unit/read_driver.h"

using namespace lazyroot;
using io::StreamDetector;
using io::StreamOptions;

namespace {

constexpr uint64_t kChunk = 64 * 1024;
constexpr uint64_t kRead = 128 * 1024;

StreamOptions options(uint64_t image) {
    StreamOptions o;
    o.chunk_bytes = kChunk;
    o.image_bytes = image;
    return o;
}

}  // namespace

TEST(StreamDetector, ARandomReaderTriggersNoPrefetch) {
    StreamDetector d(options(1ull << 30));
    std::mt19937_64 rng(5);
    for (int i = 0; i < 10000; ++i) {
        const uint64_t off = (rng() % ((1ull << 30) / 4096)) * 4096;
        EXPECT_EQ(d.on_read(off, 4096, true).count, 0u) << i;
    }
    EXPECT_EQ(d.prefetched_bytes(), 0u);
}

TEST(StreamDetector, ASequentialReaderGetsOneSliceAheadThenNoOverlap) {
    StreamDetector d(options(256u << 20));
    uint64_t asked_to = 0;
    for (unsigned i = 0; i < 64; ++i) {
        // Cold until the window opens; then every prefetched chunk is there in time.
        // Nothing until the stream spans 2 MiB (16 reads).
        const auto p = d.on_read(i * kRead, kRead, i < 16);
        if (i < 15) {
            EXPECT_EQ(p.count, 0u) << i;
            continue;
        }
        if (i == 15) {
            // Just past the read, one slice (1 MiB = 16 chunks).
            EXPECT_EQ(p.first, (16 * kRead) / kChunk);
            EXPECT_EQ(p.count, 16u);
        }
        if (p.count) {
            EXPECT_GE(p.first, asked_to) << "asked twice, read " << i;
            asked_to = p.first + p.count;
        }
    }
    // The window stayed one slice: the prefetch was always there in time.
    EXPECT_LE(asked_to * kChunk, 64 * kRead + (2u << 20));
}

TEST(StreamDetector, TheWindowDoublesWhileTheReaderWaitsUpToTheCap) {
    StreamOptions o = options(1ull << 30);
    o.max_window_bytes = 8u << 20;
    StreamDetector d(o);
    uint64_t asked_to = 0;
    for (unsigned i = 0; i < 400; ++i) {
        const auto p = d.on_read(i * kRead, kRead, true);
        if (p.count) asked_to = p.first + p.count;
        // Never more than the cap (plus one slice of hysteresis) ahead of the reader.
        EXPECT_LE(asked_to * kChunk, (i + 1) * kRead + o.max_window_bytes + o.slice_bytes) << i;
    }
    EXPECT_GE(asked_to * kChunk, 400 * kRead + o.max_window_bytes - o.slice_bytes);
}

// Feeds the detector a link: 1 MiB fetches that each take `latency_ms`,
// landing back to back at `mb_per_s`.
static void measure_link(StreamDetector& d, double latency_ms, double mb_per_s, unsigned fetches) {
    const uint64_t slice = 1u << 20;
    const auto gap = static_cast<uint64_t>(static_cast<double>(slice) / (mb_per_s * 1e6) * 1e9);
    const auto latency = static_cast<uint64_t>(latency_ms * 1e6);
    for (unsigned i = 1; i <= fetches; ++i) d.on_fetched(slice, latency, latency + i * gap);
}

// The window a reader can use on that link, when it always waits (the link is the bottleneck).
static uint64_t window_reached(StreamDetector& d, unsigned reads) {
    uint64_t asked_to = 0, most_ahead = 0;
    for (unsigned i = 0; i < reads; ++i) {
        const auto p = d.on_read(i * kRead, kRead, true);
        if (p.count) asked_to = p.first + p.count;
        most_ahead = std::max(most_ahead, asked_to * kChunk - std::min(asked_to * kChunk, (i + 1) * kRead));
    }
    return most_ahead;
}

// 20 ms RTT at 19 MB/s: a 1 MiB slice takes 75 ms, so a reader that
// outruns the link needs ~2.4 MB ahead; more in flight would only be lost
// where the stream stops.
TEST(StreamDetector, AFullLinkStopsTheWindowAtRateTimesLatency) {
    StreamOptions o = options(1ull << 30);
    StreamDetector d(o);
    EXPECT_EQ(d.target_window(), UINT64_MAX);  // nothing measured: the cap alone
    measure_link(d, 75, 19, 20);
    const uint64_t target = d.target_window();
    EXPECT_GT(target, o.slice_bytes + 1'300'000);
    EXPECT_LT(target, o.slice_bytes + 1'600'000);
    // Whole slices: 3 MiB, never the 16 MiB cap; ahead by at most that plus the slice being asked.
    EXPECT_LE(window_reached(d, 400), (3u << 20) + o.slice_bytes);
}

// 200 ms RTT at 12.5 MB/s (100 Mbit/s): the window grows to cover rate × latency.
TEST(StreamDetector, ALongFatLinkGrowsTheWindowToItsBandwidthDelayProduct) {
    StreamOptions o = options(1ull << 30);
    StreamDetector d(o);
    measure_link(d, 280, 12.5, 60);
    const uint64_t target = d.target_window();
    EXPECT_GT(target, o.slice_bytes + 3'400'000);
    const uint64_t reached = window_reached(d, 400);
    EXPECT_GE(reached, target - o.slice_bytes);
    EXPECT_LE(reached, target + 2 * o.slice_bytes);
}

TEST(StreamDetector, InterleavedAndReorderedStreamsAreEachFollowed) {
    StreamDetector d(options(1ull << 30));
    const uint64_t a = 0, b = 512u << 20;
    uint64_t got_a = 0, got_b = 0;
    for (unsigned i = 0; i < 32; i += 2) {
        // Two queues complete each stream's pairs in the wrong order.
        for (uint64_t base : {a, b}) {
            for (unsigned k : {i + 1, i}) {
                const auto p = d.on_read(base + k * kRead, kRead, true);
                if (!p.count) continue;
                (p.first * kChunk >= b ? got_b : got_a) += p.count;
                EXPECT_GT(p.first * kChunk, base + k * kRead);
            }
        }
    }
    EXPECT_GT(got_a, 0u);
    EXPECT_GT(got_b, 0u);
}

// A warm cache or a profile's chunks: a stream over present data fetches nothing.
TEST(StreamDetector, AStreamOverPresentDataOpensNoWindow) {
    StreamDetector d(options(256u << 20));
    for (unsigned i = 0; i < 64; ++i) EXPECT_EQ(d.on_read(i * kRead, kRead, false).count, 0u) << i;
    // Its first miss opens the window at once.
    EXPECT_GT(d.on_read(64 * kRead, kRead, true).count, 0u);
}

TEST(StreamDetector, StopsAtTheImageEnd) {
    StreamDetector d(options(3u << 20));
    uint64_t last = 0;
    for (unsigned i = 0; i < 24; ++i) {
        const auto p = d.on_read(i * kRead, kRead, true);
        if (p.count) last = p.first + p.count;
    }
    EXPECT_EQ(last, (3u << 20) / kChunk);
}

// A boot's libraries and binaries: files of a MiB or two, read start to end
// in 128 KiB requests, one after another. A slice past the end of each
// would be waste (issue 16: fetched ≤ 1.25× the working set).
TEST(StreamDetector, FilesUnderTwoMiBReadWholeTriggerNothing) {
    StreamDetector d(options(1ull << 30));
    uint64_t at = 0;
    for (unsigned file = 0; file < 200; ++file) {
        const uint64_t bytes = (1u << 20) + (file % 8) * kRead;  // 1 to 1.875 MiB
        at += 8u << 20;                                          // the next file is elsewhere in the image
        for (uint64_t off = 0; off < bytes; off += kRead) EXPECT_EQ(d.on_read(at + off, kRead, true).count, 0u);
    }
    EXPECT_EQ(d.prefetched_bytes(), 0u);
}

// Through a real cache: a sequential reader on one queue prefetches into the
// cache; another queue (thread) and a second attach read those chunks
// without fetching them.
TEST(CacheReadahead, PrefetchedChunksAreCachedForEveryQueueAndTheNextAttach) {
    fixtures::TempDir dir{"lazyroot-cache-ra"};
    std::vector<uint8_t> bytes(16u << 20);
    std::mt19937_64 rng(16);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    const std::string image = dir.write_file("image", bytes).string();
    const std::string cache_path = (dir / "cache").string();

    auto open = [&](cache::IoStats& stats) {
        auto inner = io::FileSource::open(image);
        cache::CacheStoreOptions so;
        so.path = cache_path;
        so.chunk_size = kChunk;
        so.image_size = inner->size();
        so.identity = inner->identity();
        auto metered = std::make_unique<cache::MeteredSource>(std::move(inner), stats, false);
        auto src = std::make_unique<cache::CachedSource>(std::move(metered), cache::CacheStore::open(so), stats);
        StreamOptions o = options(bytes.size());
        o.max_window_bytes = 4u << 20;
        src->set_readahead(o);
        return src;
    };

    cache::IoStats stats;
    auto src = open(stats);
    {
        io::EventLoop loop;
        ASSERT_EQ(loop.init(64), 0);
        auto reader = src->open_queue(loop, 8);
        // 4 MiB read sequentially, one request at a time, as a file's reader does.
        for (uint64_t off = 0; off < (4u << 20); off += kRead) {
            std::vector<lazyroot::testing::ReadOp> ops(1);
            ops[0].offset = off;
            ops[0].buf.resize(kRead);
            lazyroot::testing::run_reads(loop, *reader, ops);
            ASSERT_EQ(ops[0].result, 0);
            ASSERT_TRUE(lazyroot::testing::matches(ops[0], bytes)) << off;
        }
        while (src->inflight().in_flight() > 0) ASSERT_GE(loop.run_once(), 0);
    }
    const uint64_t present = src->store().map().count_present();
    ASSERT_GT(present * kChunk, (4u << 20) + 2 * kChunk) << "nothing was prefetched past the reader";
    EXPECT_EQ(stats.bytes_fetched.load(), present * kChunk) << "a chunk was fetched twice";
    EXPECT_GT(src->streams()->prefetched_bytes(), 0u);

    // Another queue, on its own thread, reads what was prefetched: no fetch.
    const uint64_t fetched = stats.bytes_fetched.load();
    std::thread other([&] {
        io::EventLoop loop;
        ASSERT_EQ(loop.init(64), 0);
        auto reader = src->open_queue(loop, 8);
        // Far from the stream's reads: a reader of its own, not one that continues it.
        std::vector<lazyroot::testing::ReadOp> ops(1);
        ops[0].offset = (present - 2) * kChunk;
        ops[0].buf.resize(2 * kChunk);
        lazyroot::testing::run_reads(loop, *reader, ops);
        EXPECT_EQ(ops[0].result, 0);
        EXPECT_TRUE(lazyroot::testing::matches(ops[0], bytes));
    });
    other.join();
    EXPECT_EQ(stats.bytes_fetched.load(), fetched);

    // The next attach finds them in the cache.
    src->store().commit_now();
    src.reset();
    cache::IoStats stats2;
    auto again = open(stats2);
    EXPECT_EQ(again->store().map().count_present(), present);
}
