// cache_inspect: what the next boot after a hand-off reads before trusting a
// cache (cli/handoff_boot.cpp): only a complete, intact metadata says so.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <vector>

#include "cache/cache_inspect.h"
#include "cache/cache_store.h"
#include "tests/http_fixtures/temp_dir.h"

namespace lazyroot::cache {
namespace {

constexpr uint32_t kChunk = 4096;
constexpr uint64_t kImage = 10 * kChunk + 512;  // a short last chunk

std::unique_ptr<CacheStore> open_store(const std::string& path) {
    CacheStoreOptions o;
    o.path = path;
    o.chunk_size = kChunk;
    o.image_size = kImage;
    o.identity = "etag=\"x\";size=41472";
    o.commit_interval = std::chrono::hours(1);
    return CacheStore::open(o);
}

void fill(CacheStore& s, uint64_t first, uint64_t end) {
    std::vector<uint8_t> b(kChunk, 0x5a);
    for (uint64_t i = first; i < end; ++i) {
        const uint64_t off = i * kChunk;
        const size_t len = std::min<uint64_t>(kChunk, kImage - off);
        ASSERT_EQ(::pwrite(s.data_fd(), b.data(), len, static_cast<off_t>(off)), static_cast<ssize_t>(len));
        s.chunk_written(i);
    }
}

TEST(CacheInspect, CompleteOnlyWhenEveryChunkIsDurable) {
    fixtures::TempDir dir("lazyroot-inspect");
    const std::string path = (dir / "cache.img").string();
    {
        auto s = open_store(path);
        fill(*s, 0, 10);
        ASSERT_EQ(s->commit_now(), 0);
    }
    auto partial = inspect_cache(path);
    ASSERT_TRUE(partial);
    EXPECT_FALSE(partial->complete);
    EXPECT_FALSE(partial->block_device);
    EXPECT_EQ(partial->header.image_size, kImage);
    {
        auto s = open_store(path);
        fill(*s, 10, 11);
        ASSERT_EQ(s->commit_now(), 0);
    }
    auto full = inspect_cache(path);
    ASSERT_TRUE(full);
    EXPECT_TRUE(full->complete);
    EXPECT_EQ(full->header.chunk_count, 11u);
}

TEST(CacheInspect, NoOrDamagedMetadataIsNothing) {
    fixtures::TempDir dir("lazyroot-inspect");
    const std::string path = (dir / "cache.img").string();
    EXPECT_FALSE(inspect_cache(path));  // no file
    {
        auto s = open_store(path);
        fill(*s, 0, 11);
        ASSERT_EQ(s->commit_now(), 0);
    }
    ASSERT_TRUE(inspect_cache(path));
    // One flipped byte in the header: its CRC no longer holds.
    std::fstream meta(path + ".lzmeta", std::ios::in | std::ios::out | std::ios::binary);
    meta.seekp(20);
    meta.put('\x7f');
    meta.close();
    EXPECT_FALSE(inspect_cache(path));
}

}  // namespace
}  // namespace lazyroot::cache
