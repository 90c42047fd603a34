// Prefetch profiles (issue 16): the recorder keeps the device's first-read
// order from every queue; a fill given a profile fetches its chunks first,
// in that order, and with only_first nothing else. What reached the source
// is recorded below the cache, so the order checked is the fetch order.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "cache/cache_store.h"
#include "cache/cached_source.h"
#include "cache/filler.h"
#include "cache/metered_source.h"
#include "cache/prefetch_profile.h"
#include "cache/profile_recorder.h"
#include "io/event_loop.h"
#include "io/file_source.h"
#include "io/range_source.h"
#include "tests/http_fixtures/temp_dir.h"

using namespace lazyroot;

namespace {

constexpr uint32_t kChunk = 64 * 1024;
constexpr size_t kSize = 4 << 20;  // 64 chunks

struct Fixture {
    fixtures::TempDir dir{"lazyroot-profile"};
    std::vector<uint8_t> bytes = std::vector<uint8_t>(kSize);
    std::unique_ptr<io::FileSource> file;
    cache::ProfileRecorder fetched{"test", kSize, kChunk};  // what reached the source, in order
    cache::IoStats stats;
    std::unique_ptr<cache::CachedSource> cached;

    Fixture() {
        std::mt19937_64 rng(5);
        for (auto& b : bytes) b = static_cast<uint8_t>(rng());
        file = io::FileSource::open(dir.write_file("image", bytes).string());
        cache::CacheStoreOptions so;
        so.path = (dir / "cache").string();
        so.chunk_size = kChunk;
        so.image_size = kSize;
        so.identity = file->identity();
        auto below = std::make_unique<cache::RecordingSource>(*file, fetched);
        auto metered = std::make_unique<cache::MeteredSource>(std::move(below), stats, false);
        cached = std::make_unique<cache::CachedSource>(std::move(metered), cache::CacheStore::open(so), stats);
    }
    std::vector<uint64_t> present() {
        std::vector<uint64_t> out;
        for (uint64_t c = 0; c < kSize / kChunk; ++c)
            if (cached->store().map().present(c)) out.push_back(c);
        return out;
    }
};

// The most reads in flight at once through it.
class PeakSource final : public io::Source {
public:
    explicit PeakSource(io::Source& inner) : inner_(inner) {}
    uint64_t size() const override { return inner_.size(); }
    std::string describe() const override { return inner_.describe(); }
    std::string identity() const override { return inner_.identity(); }
    std::unique_ptr<io::QueueReader> open_queue(io::EventLoop& loop, unsigned depth) override {
        return std::make_unique<Reader>(*this, inner_.open_queue(loop, depth));
    }
    unsigned peak() const { return peak_.load(); }

private:
    struct Read final : io::ReadCallback {
        PeakSource* src;
        io::ReadCallback* cb;
        Read(PeakSource* s, io::ReadCallback* c) : src(s), cb(c) {}
        void on_read_done(int result) override {
            --src->in_flight_;
            io::ReadCallback* done = cb;
            delete this;
            done->on_read_done(result);
        }
    };
    struct Reader final : io::QueueReader {
        PeakSource& src;
        std::unique_ptr<io::QueueReader> inner;
        Reader(PeakSource& s, std::unique_ptr<io::QueueReader> r) : src(s), inner(std::move(r)) {}
        void read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) override {
            const unsigned now = ++src.in_flight_;
            unsigned seen = src.peak_.load();
            while (now > seen && !src.peak_.compare_exchange_weak(seen, now)) {}
            inner->read(offset, dst, *new Read(&src, &cb));
        }
    };
    io::Source& inner_;
    std::atomic<unsigned> in_flight_{0}, peak_{0};
};

// A profile's fill issues its runs side by side, or one at a time while the
// device waits on a fetch of its own (yield_to_demand, hydrate's way).
unsigned fill_peak_while_demand_waits(bool yield_to_demand) {
    fixtures::TempDir dir{"lazyroot-profile-peak"};
    std::vector<uint8_t> bytes(kSize, 0x5a);
    auto file = io::FileSource::open(dir.write_file("image", bytes).string());
    cache::CacheStoreOptions so;
    so.path = (dir / "cache").string();
    so.chunk_size = kChunk;
    so.image_size = kSize;
    so.identity = file->identity();
    auto peak = std::make_unique<PeakSource>(*file);
    PeakSource& counted = *peak;
    cache::IoStats stats;
    cache::CachedSource cached(std::move(peak), cache::CacheStore::open(so), stats);
    cached.demand_fetches.store(1);  // a device read waiting on its fetch, all along
    cache::FillOptions fo;
    fo.parallel = 4;
    fo.yield_to_demand = yield_to_demand;
    fo.first = {1, 3, 5, 7, 9, 11, 13, 15};  // none adjacent: one run each
    fo.only_first = true;
    cache::Filler filler(cached, fo);
    filler.start();
    filler.wait();
    EXPECT_TRUE(filler.complete());
    EXPECT_EQ(filler.filled_bytes(), 8u * kChunk);
    return counted.peak();
}

}  // namespace

TEST(PrefetchFill, AProfilesRunsStaySideBySideWhileTheDeviceReads) {
    EXPECT_EQ(fill_peak_while_demand_waits(false), 4u);
    EXPECT_EQ(fill_peak_while_demand_waits(true), 1u);
}

TEST(PrefetchFill, OnlyTheProfilesChunksInItsOrder) {
    Fixture f;
    cache::FillOptions fo;
    fo.parallel = 1;  // one run at a time: the fetch order is the issue order
    fo.first = {40, 41, 42, 7, 3, 50};
    fo.only_first = true;
    cache::Filler filler(*f.cached, fo);
    filler.start();
    filler.wait();
    EXPECT_TRUE(filler.complete());
    EXPECT_FALSE(filler.failed());
    EXPECT_EQ(f.fetched.snapshot().chunks, fo.first);
    EXPECT_EQ(f.present(), (std::vector<uint64_t>{3, 7, 40, 41, 42, 50}));
    EXPECT_EQ(filler.filled_bytes(), 6u * kChunk);
    // The cached bytes are the image's.
    std::vector<std::byte> got(kChunk);
    ASSERT_EQ(io::read_blocking(*f.cached, 7 * kChunk, got), 0);
    EXPECT_EQ(std::memcmp(got.data(), f.bytes.data() + 7 * kChunk, kChunk), 0);
}

TEST(PrefetchFill, TheProfileFirstThenTheRest) {
    Fixture f;
    // Chunk 9 is cached already: skipped, never fetched again.
    std::vector<std::byte> got(kChunk);
    ASSERT_EQ(io::read_blocking(*f.cached, 9 * kChunk, got), 0);
    cache::FillOptions fo;
    fo.parallel = 1;
    fo.first = {60, 9, 2};
    cache::Filler filler(*f.cached, fo);
    filler.start();
    filler.wait();
    EXPECT_TRUE(filler.complete());
    const auto order = f.fetched.snapshot().chunks;
    ASSERT_EQ(order.size(), kSize / kChunk);  // each chunk fetched once
    // ...and once only: the demand read's cache write, which follows its
    // answer, landed before the fill looked.
    EXPECT_EQ(f.stats.bytes_fetched.load(), kSize);
    EXPECT_EQ(order[0], 9u);  // the demand read before the fill
    EXPECT_EQ(order[1], 60u);
    EXPECT_EQ(order[2], 2u);
    EXPECT_EQ(f.present().size(), kSize / kChunk);
}

TEST(PrefetchFill, TheRecorderKeepsTheFirstReadOrderOfEveryQueue) {
    Fixture f;
    cache::ProfileRecorder rec("image-id", kSize, kChunk);
    cache::RecordingSource top(*f.cached, rec);
    // A read spanning chunks 5-6, then 5 again, then the last partial bytes.
    for (auto [off, len] : {std::pair<uint64_t, uint64_t>{5 * kChunk + 100, kChunk},
                            {5 * kChunk, 512},
                            {kSize - 4096, 4096},
                            {0, 4096}}) {
        std::vector<std::byte> buf(len);
        ASSERT_EQ(io::read_blocking(top, off, buf), 0);
    }
    EXPECT_EQ(rec.snapshot().chunks, (std::vector<uint64_t>{5, 6, 63, 0}));
    // The working set in 4 KiB blocks: 5*kChunk+100 .. +kChunk touches 17
    // blocks (the 512 bytes again are among them), then one at each end.
    EXPECT_EQ(rec.distinct_read_bytes(), (kChunk / 4096 + 1 + 2) * 4096);
    // Two threads reading the same chunks: each chunk once.
    std::thread a([&] {
        for (uint64_t c = 0; c < 64; ++c) rec.note(c * kChunk, 1);
    });
    std::thread b([&] {
        for (uint64_t c = 64; c-- > 0;) rec.note(c * kChunk, 1);
    });
    a.join();
    b.join();
    auto p = rec.snapshot();
    EXPECT_EQ(p.chunks.size(), 64u);
    EXPECT_TRUE(rec.stop());
    rec.note(0, kSize);
    EXPECT_EQ(rec.snapshot().chunks.size(), 64u);
    const uint64_t working_set = rec.distinct_read_bytes();
    rec.note(0, kSize);
    EXPECT_EQ(rec.distinct_read_bytes(), working_set);  // not counted once stopped
    // Written whole, read back the same.
    const std::string path = (f.dir / "image.profile").string();
    ASSERT_EQ(cache::write_profile_file(path, p), 0);
    std::ifstream in(path);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto parsed = cache::parse_profile(text);
    ASSERT_TRUE(std::holds_alternative<cache::PrefetchProfile>(parsed));
    EXPECT_EQ(std::get<cache::PrefetchProfile>(parsed).chunks, p.chunks);
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}
