// Local faults of the cache (issue 11): a write that fails (a real EFBIG from
// RLIMIT_FSIZE, a real ENOSPC from a small tmpfs), a local read that fails (a
// data file cut short under a live cache), a cached chunk that no longer
// matches the dm-verity tree (a byte flipped on disk), the attach-time room
// check, the RAM cache's own tmpfs, and the removal of files a failed attach
// created. Every read is checked against the image's bytes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "cache/cache_format.h"
#include "cache/cache_space.h"
#include "cache/cache_store.h"
#include "cache/cached_source.h"
#include "cache/filler.h"
#include "cache/metered_source.h"
#include "cache/ram_cache.h"
#include "cli/options.h"
#include "cli/source_stack.h"
#include "cli/full_download.h"
#include "cli/source_uri.h"
#include "io/event_loop.h"
#include "io/file_source.h"
#include "io/range_source.h"
#include "tests/http_fixtures/temp_dir.h"
#include "tests/unit/read_driver.h"
#include "verity/manifest.h"
#include "verity/prepare.h"
#include "verity/verifying_source.h"

using namespace lazyroot;
using lazyroot::testing::matches;
using lazyroot::testing::ReadOp;

namespace {

constexpr uint32_t kChunk = 64 * 1024;

std::vector<uint8_t> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Image {
    fixtures::TempDir dir{"lazyroot-faults"};
    std::vector<uint8_t> bytes;
    std::string path;
    explicit Image(size_t size) : bytes(size) {
        std::mt19937_64 rng(size + 11);
        for (auto& b : bytes) b = static_cast<uint8_t>(rng());
        path = dir.write_file("image", bytes).string();
    }
};

// The cache stack as SourceStack builds it: source [→ verity] → metering → cache.
struct Stack {
    cache::IoStats stats;
    std::unique_ptr<cache::CachedSource> src;
    Stack(std::unique_ptr<io::Source> inner, const std::string& cache_path,
          const verity::VerifyingSource* verifier = nullptr) {
        cache::CacheStoreOptions so;
        so.path = cache_path;
        so.chunk_size = kChunk;
        so.image_size = inner->size();
        so.identity = inner->identity();
        auto store = cache::CacheStore::open(so);
        auto metered = std::make_unique<cache::MeteredSource>(std::move(inner), stats, false);
        src = std::make_unique<cache::CachedSource>(std::move(metered), std::move(store), stats);
        if (verifier)
            src->set_chunk_check(
                [verifier](uint64_t off, std::span<const std::byte> b) { return verifier->first_bad_block(off, b); });
    }
    Stack(const Image& img, const std::string& cache_path) : Stack(io::FileSource::open(img.path), cache_path) {}
    cache::CacheStore& store() { return src->store(); }
};

// The whole image in 128 KiB reads (not chunk-aligned: 4 KiB in), plus random ones.
std::vector<ReadOp> all_reads(size_t size, uint32_t seed) {
    std::vector<ReadOp> ops;
    for (uint64_t off = 0; off < size;) {
        ReadOp op;
        op.offset = off;
        const uint64_t len = std::min<uint64_t>(off == 0 ? 4096 : 128 * 1024, size - off);
        op.buf.resize(len);
        ops.push_back(std::move(op));
        off += len;
    }
    std::mt19937 rng(seed);
    for (int i = 0; i < 32; ++i) {
        ReadOp op;
        const size_t len = std::uniform_int_distribution<size_t>(1, 300 * 1024)(rng);
        op.offset = std::uniform_int_distribution<uint64_t>(0, size - len)(rng);
        op.buf.resize(len);
        ops.push_back(std::move(op));
    }
    return ops;
}

// Reads everything through `src` on one loop; every read must succeed with the image's bytes.
void read_all_and_check(io::Source& src, const std::vector<uint8_t>& image, uint32_t seed = 1) {
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src.open_queue(loop, 32);
    auto ops = all_reads(image.size(), seed);
    lazyroot::testing::run_reads(loop, *reader, ops);
    for (const auto& op : ops) {
        ASSERT_EQ(op.result, 0) << "read at " << op.offset << " of " << op.buf.size();
        ASSERT_TRUE(matches(op, image)) << "wrong bytes at " << op.offset;
    }
}

// After any fault: what the metadata claims on disk is really there.
void expect_durable_chunks_hold_the_image(const std::string& cache_path, const std::vector<uint8_t>& image,
                                          const std::string& identity) {
    cache::CacheStoreOptions so;
    so.path = cache_path;
    so.chunk_size = kChunk;
    so.image_size = image.size();
    so.identity = identity;
    auto store = cache::CacheStore::open(so);
    ASSERT_FALSE(store->was_reset());
    const auto data = read_file(cache_path);
    for (uint64_t c = 0; c < store->chunk_count(); ++c) {
        if (!store->map().present(c)) continue;
        const uint64_t off = c * kChunk, len = std::min<uint64_t>(kChunk, image.size() - off);
        ASSERT_GE(data.size(), off + len) << "chunk " << c << " claimed past the end of the data file";
        ASSERT_EQ(std::memcmp(data.data() + off, image.data() + off, len), 0) << "chunk " << c << " claimed but wrong";
    }
}

uint64_t allocated(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

// RLIMIT_FSIZE for this process while it lives: a write past it fails with a
// real EFBIG from the kernel (io_uring's workers share the limit).
struct FileSizeLimit {
    rlimit old{};
    explicit FileSizeLimit(rlim_t bytes) {
        ::signal(SIGXFSZ, SIG_IGN);
        ::getrlimit(RLIMIT_FSIZE, &old);
        rlimit n{bytes, old.rlim_max};
        EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &n), 0);
    }
    ~FileSizeLimit() { ::setrlimit(RLIMIT_FSIZE, &old); }
};

// A tmpfs of `bytes` at dir/name, unmounted when done; mounted() false where
// this process may not mount.
struct SmallTmpfs {
    std::string path;
    bool ok = false;
    SmallTmpfs(const fixtures::TempDir& dir, uint64_t bytes) : path((dir / "small").string()) {
        ::mkdir(path.c_str(), 0700);
        ok = ::mount("lazyroot-test", path.c_str(), "tmpfs", 0, ("size=" + std::to_string(bytes)).c_str()) == 0;
    }
    ~SmallTmpfs() {
        if (ok) ::umount2(path.c_str(), MNT_DETACH);
    }
};

// A write failure, whatever made it: every read right, caching off with one
// line, the metadata claiming only what is there, the fill stopping.
void check_write_failure(Image& img, const std::string& cache_path, uint64_t room, const char* reason) {
    Stack st(img, cache_path);
    ::testing::internal::CaptureStderr();
    read_all_and_check(*st.src, img.bytes);
    const std::string log = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(st.store().degraded());
    EXPECT_NE(st.store().degraded_reason().find(reason), std::string::npos) << st.store().degraded_reason();
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
    EXPECT_NE(log.find("caching is off"), std::string::npos) << log;
    EXPECT_LT(st.store().map().count_present(), st.store().chunk_count());
    EXPECT_LE(st.store().map().count_present() * kChunk, room);

    // Degraded: reads of missing chunks go to the source and are not written.
    const uint64_t fetched = st.stats.bytes_fetched.load();
    const uint64_t on_disk = allocated(cache_path);
    read_all_and_check(*st.src, img.bytes, 2);
    EXPECT_GT(st.stats.bytes_fetched.load(), fetched);
    EXPECT_EQ(allocated(cache_path), on_disk);

    // A fill stops instead of refetching in a loop (wait() would never return).
    for (bool give_up : {true, false}) {
        const uint64_t before = st.stats.bytes_fetched.load();
        cache::FillOptions fo;
        fo.give_up_on_error = give_up;
        cache::Filler filler(*st.src, fo);
        filler.start();
        filler.wait();
        EXPECT_TRUE(filler.failed());
        EXPECT_FALSE(filler.complete());
        EXPECT_EQ(st.stats.bytes_fetched.load(), before);
    }
    ASSERT_EQ(st.store().commit_now(), 0);
}

}  // namespace

TEST(CacheFaults, AFailedWriteNeverFailsTheRead_EFBIG) {
    Image img(4 << 20);
    const std::string cache = (img.dir / "cache").string();
    const std::string identity = io::FileSource::open(img.path)->identity();
    // The files are made and the data file sized (sparse) before the limit.
    { Stack create(img, cache); }
    {
        FileSizeLimit limit(1 << 20);
        check_write_failure(img, cache, 1 << 20, "File too large");
    }
    expect_durable_chunks_hold_the_image(cache, img.bytes, identity);
}

TEST(CacheFaults, AFailedWriteNeverFailsTheRead_ENOSPC) {
    Image img(4 << 20);
    SmallTmpfs fs(img.dir, 1 << 20);
    // The tests run as root (./run test): a tmpfs that can't be mounted is a failure, not a skip.
    ASSERT_TRUE(fs.ok) << "cannot mount a tmpfs here: " << std::strerror(errno);
    const std::string cache = fs.path + "/cache";
    check_write_failure(img, cache, 1 << 20, "No space left on device");
    expect_durable_chunks_hold_the_image(cache, img.bytes, io::FileSource::open(img.path)->identity());
}

TEST(CacheFaults, ALocalReadErrorIsFetchedAgain) {
    Image img(2 << 20);
    const std::string cache = (img.dir / "cache").string();
    Stack st(img, cache);
    read_all_and_check(*st.src, img.bytes);
    ASSERT_TRUE(st.src->complete());
    const uint64_t fetched = st.stats.bytes_fetched.load();
    ASSERT_EQ(fetched, img.bytes.size());
    // Cut the data file under the live cache: its second half reads short (EIO).
    ASSERT_EQ(::truncate(cache.c_str(), 1 << 20), 0);
    ::testing::internal::CaptureStderr();
    read_all_and_check(*st.src, img.bytes, 3);
    const std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_GT(st.stats.cache_read_errors.load(), 0u);
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
    EXPECT_NE(log.find("fetching them again"), std::string::npos) << log;
    // The lost chunks fetched once more (with the others of a read that
    // failed: which chunk failed is not known), and written back.
    const uint64_t lost = img.bytes.size() - (1 << 20);
    EXPECT_GE(st.stats.bytes_fetched.load() - fetched, lost);
    EXPECT_LT(st.stats.bytes_fetched.load() - fetched, 2 * lost);
    EXPECT_TRUE(st.src->complete());
    EXPECT_FALSE(st.store().degraded());
    EXPECT_TRUE(read_file(cache) == img.bytes);
    const uint64_t after = st.stats.bytes_fetched.load();
    read_all_and_check(*st.src, img.bytes, 4);
    EXPECT_EQ(st.stats.bytes_fetched.load(), after);
}

namespace {

// An image with its dm-verity tree appended by `lazyroot prepare`.
struct VerityImage {
    Image img;
    verity::Manifest manifest;
    explicit VerityImage(size_t data_size) : img(data_size) {
        verity::PrepareOptions o;
        o.image = img.path;
        ::testing::internal::CaptureStdout();
        EXPECT_EQ(verity::run_prepare(o), 0);
        ::testing::internal::GetCapturedStdout();
        std::ifstream in(img.path + ".manifest.json");
        std::stringstream ss;
        ss << in.rdbuf();
        manifest = verity::parse_manifest(ss.str());
        img.bytes = read_file(img.path);  // data + tree
    }
    std::unique_ptr<verity::VerifyingSource> open() const {
        return verity::VerifyingSource::open(io::FileSource::open(img.path), manifest.hash_offset, manifest.root_hash);
    }
};

void flip_byte(const std::string& path, uint64_t at) {
    auto bytes = read_file(path);
    ASSERT_LT(at, bytes.size());
    bytes[at] ^= 0x40;
    std::ofstream out(path, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(at));
    out.put(static_cast<char>(bytes[at]));
}

}  // namespace

TEST(CacheFaults, WithVerityACachedChunkIsCheckedOncePerAttach) {
    VerityImage vi(3 << 20);
    const std::string cache = (vi.img.dir / "cache").string();
    {
        auto v = vi.open();
        auto* raw = v.get();
        Stack st(std::move(v), cache, raw);
        read_all_and_check(*st.src, vi.img.bytes);
        ASSERT_TRUE(st.src->complete());
    }
    // Bit rot in chunk 17 (data) and in the last chunk (the tree, as served).
    const uint64_t last = (vi.img.bytes.size() - 1) / kChunk;
    flip_byte(cache, 17 * kChunk + 1000);
    flip_byte(cache, vi.img.bytes.size() - 10);
    auto v = vi.open();
    auto* raw = v.get();
    Stack st(std::move(v), cache, raw);
    ASSERT_TRUE(st.src->complete());
    ::testing::internal::CaptureStderr();
    read_all_and_check(*st.src, vi.img.bytes, 5);
    const std::string log = ::testing::internal::GetCapturedStderr();
    // One line per bad chunk, naming it; each fetched once and written back.
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2) << log;
    EXPECT_NE(log.find("chunk 17 (block " + std::to_string((17 * kChunk + 1000) / 4096) + ") failed verification"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("chunk " + std::to_string(last) + " "), std::string::npos) << log;
    EXPECT_EQ(st.stats.cache_bad_chunks.load(), 2u);
    EXPECT_EQ(st.stats.bytes_fetched.load(), kChunk + (vi.img.bytes.size() - last * kChunk));
    EXPECT_TRUE(read_file(cache) == vi.img.bytes) << "the bad chunks were not written back";
    // Checked once: another pass reads nothing from the source and logs nothing.
    ::testing::internal::CaptureStderr();
    read_all_and_check(*st.src, vi.img.bytes, 6);
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
    EXPECT_EQ(st.stats.bytes_fetched.load(), kChunk + (vi.img.bytes.size() - last * kChunk));
}

TEST(CacheFaults, WithoutVerityChunkContentsAreNotChecked) {
    // What the README says: without a tree, the cache checks its metadata
    // (CRC, identity, sizes), not the bytes of its chunks.
    Image img(1 << 20);
    const std::string cache = (img.dir / "cache").string();
    {
        Stack st(img, cache);
        read_all_and_check(*st.src, img.bytes);
    }
    flip_byte(cache, 5 * kChunk + 3);
    Stack st(img, cache);
    io::EventLoop loop;
    ASSERT_EQ(loop.init(8), 0);
    auto reader = st.src->open_queue(loop, 8);
    std::vector<ReadOp> ops(1);
    ops[0].offset = 5 * kChunk;
    ops[0].buf.resize(kChunk);
    lazyroot::testing::run_reads(loop, *reader, ops);
    EXPECT_EQ(ops[0].result, 0);
    EXPECT_FALSE(matches(ops[0], img.bytes));
}

// ---- attach-time room, the RAM cache, files left behind ------------------------

TEST(CacheFaults, RoomIsWhatTheFilesystemStillMustAllocate) {
    Image img(2 << 20);
    const std::string cache = (img.dir / "cache").string();
    Stack st(img, cache);
    auto room = cache::cache_room(st.store());
    ASSERT_TRUE(room);
    struct statvfs vfs {};
    ASSERT_EQ(::statvfs(cache.c_str(), &vfs), 0);
    // The sidecar is preallocated; the data file is all holes.
    EXPECT_EQ(room->needed, img.bytes.size());
    EXPECT_GT(room->available, 0u);
    read_all_and_check(*st.src, img.bytes);
    ASSERT_EQ(st.store().commit_now(), 0);
    EXPECT_EQ(cache::cache_room(st.store())->needed, 0u);
    EXPECT_NO_THROW(cache::require_room_for_image(st.store(), "--mode=full"));
}

TEST(CacheFaults, FullAndHydrateRefuseACacheTooSmallBeforeDownloading) {
    Image img(4 << 20);
    SmallTmpfs fs(img.dir, 1 << 20);
    // The tests run as root (./run test): a tmpfs that can't be mounted is a failure, not a skip.
    ASSERT_TRUE(fs.ok) << "cannot mount a tmpfs here: " << std::strerror(errno);
    // A file that was there before stays; files the attach created go.
    const std::string old = fs.path + "/old";
    { std::ofstream(old) << ""; }
    for (const std::string& cache : {fs.path + "/new", old}) {
        for (const cli::Mode m : {cli::Mode::Full, cli::Mode::Hydrate}) {
            const std::string mode = cli::to_string(m);
            cli::AttachOptions o;
            o.source = "file://" + img.path;
            o.mode = m;
            o.cache = cache;
            try {
                cli::SourceStack stack(cli::parse_source_uri(o.source), o, 1);
                FAIL() << "a " << mode << " attach with a 1 MiB cache was accepted";
            } catch (const std::runtime_error& e) {
                const std::string msg = e.what();
                EXPECT_NE(msg.find("cannot hold the image (--mode=" + std::string(mode) + " keeps all of it)"),
                          std::string::npos)
                    << msg;
                EXPECT_NE(msg.find("4.0 MiB more"), std::string::npos) << msg;
                EXPECT_EQ(msg.find('\n'), std::string::npos);
            }
            EXPECT_FALSE(std::filesystem::exists(fs.path + "/new"));
            EXPECT_FALSE(std::filesystem::exists(fs.path + "/new.lzmeta"));
            EXPECT_TRUE(std::filesystem::exists(old));
            EXPECT_FALSE(std::filesystem::exists(old + ".lzmeta"));
        }
    }
    // lazy takes it, and degrades when full.
    cli::AttachOptions o;
    o.source = "file://" + img.path;
    o.cache = fs.path + "/new";
    {
        cli::SourceStack stack(cli::parse_source_uri(o.source), o, 1);
        EXPECT_TRUE(std::filesystem::exists(o.cache));
    }
    EXPECT_FALSE(std::filesystem::exists(o.cache)) << "a failed (never live) attach left its cache";
    {
        cli::SourceStack stack(cli::parse_source_uri(o.source), o, 1);
        stack.keep_cache();
    }
    EXPECT_TRUE(std::filesystem::exists(o.cache)) << "a live attach's cache was removed";
    EXPECT_TRUE(std::filesystem::exists(o.cache + ".lzmeta"));
}

TEST(CacheFaults, TheRamCacheIsATmpfsOfItsOwnAndRefusesWhatRamCannotHold) {
    fixtures::TempDir dir("lazyroot-ram");
    const std::string meminfo =
        dir.write_file("meminfo", "MemTotal: 2000000 kB\nMemAvailable:   1048576 kB\n").string();
    EXPECT_EQ(cache::mem_available_bytes(meminfo), uint64_t{1} << 30);
    try {
        cache::RamCacheDir::create(dir.path().string(), (1ull << 30) + 1, meminfo);
        FAIL() << "1 GiB + 1 byte fitted into 1 GiB";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("does not fit in RAM (1.0 GiB available)"), std::string::npos) << e.what();
    }
    auto ram = cache::RamCacheDir::create(dir.path().string(), 8 << 20, meminfo);
    const std::string path = ram->path();
    ASSERT_TRUE(std::filesystem::is_directory(path));
    ASSERT_TRUE(ram->own_tmpfs()) << "no tmpfs of its own: fell back to a plain directory";
    EXPECT_EQ(path.rfind(dir.path().string() + "/lazyroot-ram-", 0), 0u) << path;
    struct statvfs vfs {};
    ASSERT_EQ(::statvfs(path.c_str(), &vfs), 0);
    const uint64_t size = vfs.f_blocks * vfs.f_frsize;
    EXPECT_GE(size, 8u << 20);
    EXPECT_LE(size, 10u << 20);  // sized to the image, not to RAM
    ram.reset();
    EXPECT_FALSE(std::filesystem::exists(path));
    std::ifstream mounts("/proc/self/mounts");
    std::string all((std::istreambuf_iterator<char>(mounts)), std::istreambuf_iterator<char>());
    EXPECT_EQ(all.find(path), std::string::npos) << "still mounted";
}

TEST(CacheFaults, FullModeInRamFillsItsOwnTmpfs) {
    Image img(3 << 20);
    cli::AttachOptions o;
    o.source = "file://" + img.path;
    o.mode = cli::Mode::Full;
    std::string dir;
    {
        cli::SourceStack stack(cli::parse_source_uri(o.source), o, 1);
        dir = std::filesystem::path(stack.cache_path()).parent_path().string();
        EXPECT_EQ(dir.rfind("/dev/shm/lazyroot-ram-", 0), 0u) << dir;
        cli::download_all(stack, 2);
        ASSERT_TRUE(stack.cached()->complete());
        read_all_and_check(stack.top(), img.bytes);
    }
    EXPECT_FALSE(std::filesystem::exists(dir)) << "the RAM cache was left behind";
}

TEST(CacheFaults, AFullDownloadThatCannotBeCachedFailsAttachAndLeavesNoFile) {
    Image img(4 << 20);
    cli::AttachOptions o;
    o.source = "file://" + img.path;
    o.mode = cli::Mode::Full;
    o.cache = (img.dir / "cache").string();
    try {
        cli::SourceStack stack(cli::parse_source_uri(o.source), o, 1);
        FileSizeLimit limit(1 << 20);  // after the room check, which this filesystem passes
        ::testing::internal::CaptureStderr();
        try {
            cli::download_all(stack, 2);
            ::testing::internal::GetCapturedStderr();
            FAIL() << "the download succeeded";
        } catch (...) {
            ::testing::internal::GetCapturedStderr();
            throw;
        }
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("failed: cache degraded: a chunk write failed: File too large"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(o.cache));
    EXPECT_FALSE(std::filesystem::exists(o.cache + ".lzmeta"));
}

TEST(CacheFaults, FirstBadBlockCoversTheDataAndASeparateTreeAsServed) {
    Image img(1000 * 4096);
    verity::PrepareOptions o;
    o.image = img.path;
    o.hash_out = img.path + ".verity";
    ::testing::internal::CaptureStdout();
    ASSERT_EQ(verity::run_prepare(o), 0);
    ::testing::internal::GetCapturedStdout();
    std::ifstream in(img.path + ".manifest.json");
    std::stringstream ss;
    ss << in.rdbuf();
    const auto m = verity::parse_manifest(ss.str());
    auto tree = io::FileSource::open(o.hash_out);
    auto v = verity::VerifyingSource::open(io::FileSource::open(img.path), 0, m.root_hash, tree.get());
    ASSERT_TRUE(v->separate_tree());
    // What the device shows: the data, then the tree.
    std::vector<std::byte> all(v->size());
    ASSERT_EQ(io::read_blocking(*v, 0, all), 0);
    EXPECT_EQ(v->first_bad_block(0, all), std::nullopt);
    // Chunk by chunk, as the cache checks them (the last one short).
    for (uint64_t off = 0; off < all.size(); off += kChunk)
        EXPECT_EQ(v->first_bad_block(off, std::span(all).subspan(off, std::min<uint64_t>(kChunk, all.size() - off))),
                  std::nullopt)
            << off;
    for (uint64_t at : {uint64_t{5000}, uint64_t{999 * 4096 + 4095}, v->hash_offset() + 3, uint64_t{all.size() - 1}}) {
        auto bad = all;
        bad[at] ^= std::byte{1};
        EXPECT_EQ(v->first_bad_block(0, bad), at / 4096) << at;
        const uint64_t chunk = at / kChunk * kChunk;
        const auto part = std::span(bad).subspan(chunk, std::min<uint64_t>(kChunk, bad.size() - chunk));
        EXPECT_EQ(v->first_bad_block(chunk, part), at / 4096) << at;
    }
}
