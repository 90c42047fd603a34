#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "cache/cache_backing.h"
#include "cache/cache_format.h"
#include "cache/cache_store.h"
#include "cache/chunk_bitmap.h"
#include "io/crc32c.h"
#include "io/unique_fd.h"
#include "tests/http_fixtures/temp_dir.h"

using namespace lazyroot;
using namespace lazyroot::cache;
using lazyroot::fixtures::TempDir;

namespace {

// ---- helpers ---------------------------------------------------------------

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_at(const std::string& path, uint64_t off, std::span<const uint8_t> bytes) {
    io::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::pwrite(fd.get(), bytes.data(), bytes.size(), static_cast<off_t>(off)),
              static_cast<ssize_t>(bytes.size()));
}

uint64_t file_size(const std::string& path) { return std::filesystem::file_size(path); }

void set_le32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}
void set_le64(std::vector<uint8_t>& b, size_t off, uint64_t v) {
    for (int i = 0; i < 8; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get_le64(const std::vector<uint8_t>& b, size_t off) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{b[off + i]} << (8 * i);
    return v;
}

// Recomputes the CRC so that only the semantic checks can refuse the header.
void fix_crc(std::vector<uint8_t>& h) {
    set_le32(h, header_offset::crc, 0);
    set_le32(h, header_offset::crc, io::crc32c({h.data(), kHeaderBytes}));
}

std::vector<uint8_t> chunk_pattern(uint64_t i, size_t len) {
    std::vector<uint8_t> b(len);
    for (size_t k = 0; k < len; ++k) b[k] = static_cast<uint8_t>(i * 131 + k * 7 + 1);
    return b;
}

// What a queue thread does: write the chunk to data_fd, then report it.
void write_chunk(CacheStore& s, uint64_t i, bool report = true) {
    const uint64_t off = i * s.chunk_size();
    const size_t len = static_cast<size_t>(std::min<uint64_t>(s.chunk_size(), s.image_size() - off));
    auto b = chunk_pattern(i, len);
    ASSERT_EQ(::pwrite(s.data_fd(), b.data(), len, static_cast<off_t>(off)), static_cast<ssize_t>(len));
    if (report) s.chunk_written(i);
}

bool chunk_intact(const std::string& path, uint64_t i, uint32_t chunk_size, uint64_t image_size) {
    const uint64_t off = i * chunk_size;
    const size_t len = static_cast<size_t>(std::min<uint64_t>(chunk_size, image_size - off));
    std::vector<uint8_t> b(len);
    io::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd || ::pread(fd.get(), b.data(), len, static_cast<off_t>(off)) != static_cast<ssize_t>(len)) return false;
    return b == chunk_pattern(i, len);
}

std::set<uint64_t> present_set(const CacheStore& s) {
    std::set<uint64_t> out;
    for (uint64_t i = 0; i < s.chunk_count(); ++i)
        if (s.map().present(i)) out.insert(i);
    return out;
}

struct CacheDir {
    TempDir dir{"lazyroot-cache"};
    std::string path = (dir / "cache.img").string();
    std::string meta = path + ".lzmeta";

    CacheStoreOptions opts(std::string identity = "etag=\"abc\";size=409723", uint64_t image_size = 100 * 4096 + 123,
                           uint32_t chunk_size = 4096) const {
        CacheStoreOptions o;
        o.path = path;
        o.chunk_size = chunk_size;
        o.image_size = image_size;
        o.identity = std::move(identity);
        o.commit_interval = std::chrono::hours(1);  // only commit_now and close commit
        return o;
    }
};

std::string one_line_error(const CacheStoreOptions& o) {
    try {
        CacheStore::open(o);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

// ---- format ----------------------------------------------------------------

TEST(CacheFormat, Crc32cKnownAnswer) {
    const std::string s = "123456789";
    EXPECT_EQ(io::crc32c({reinterpret_cast<const uint8_t*>(s.data()), s.size()}), 0xE3069283u);
    EXPECT_EQ(io::crc32c({}), 0u);
}

TEST(CacheFormat, HeaderRoundTripAndFixedOffsets) {
    const CacheHeader h = make_header(64 * 1024, 10'000'000'123ull, "verity=0123abcd");
    auto bytes = encode_header(h);
    ASSERT_EQ(bytes.size(), kHeaderBytes);
    EXPECT_EQ(std::memcmp(bytes.data(), "LZRCACHE", 8), 0);
    EXPECT_EQ(bytes[header_offset::version], 1);
    EXPECT_EQ(bytes[header_offset::chunk_size + 2], 1);  // 0x00010000 little-endian
    EXPECT_EQ(get_le64(bytes, header_offset::image_size), 10'000'000'123ull);
    EXPECT_EQ(get_le64(bytes, header_offset::chunk_count), 152588u);  // ceil(10000000123 / 65536)
    EXPECT_EQ(get_le64(bytes, header_offset::bitmap_offset), 4096u);
    EXPECT_EQ(get_le64(bytes, header_offset::bitmap_bytes), 19074u);  // ceil(152588 / 8)
    EXPECT_EQ(bytes[header_offset::identity_len], 15);
    EXPECT_EQ(std::memcmp(bytes.data() + header_offset::identity, "verity=0123abcd", 15), 0);

    auto back = decode_header(bytes);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, h);
    EXPECT_EQ(encode_header(*back), bytes);

    // The longest identity, and an empty one, both survive.
    for (std::string id : {std::string(kMaxIdentityBytes, 'x'), std::string()}) {
        auto h2 = make_header(4096, 1, id);
        auto b2 = decode_header(encode_header(h2));
        ASSERT_TRUE(b2);
        EXPECT_EQ(b2->identity, id);
        EXPECT_EQ(b2->chunk_count, 1u);
    }
}

TEST(CacheFormat, AnyFlippedBitIsRejected) {
    const auto good = encode_header(make_header(4096, 123456789, "etag=\"abc\";size=123456789"));
    const std::pair<const char*, size_t> fields[] = {
        {"magic", header_offset::magic},
        {"version", header_offset::version},
        {"chunk_size", header_offset::chunk_size},
        {"image_size", header_offset::image_size},
        {"chunk_count", header_offset::chunk_count},
        {"bitmap_offset", header_offset::bitmap_offset},
        {"bitmap_bytes", header_offset::bitmap_bytes},
        {"identity_len", header_offset::identity_len},
        {"crc", header_offset::crc},
        {"identity", header_offset::identity + 3},
        {"identity padding", header_offset::identity + 1000},
        {"reserved", header_offset::reserved + 5},
        {"last byte", kHeaderBytes - 1},
    };
    for (auto [name, off] : fields) {
        for (int bit : {0, 5}) {
            auto b = good;
            b[off] ^= static_cast<uint8_t>(1u << bit);
            EXPECT_FALSE(decode_header(b)) << name << " bit " << bit;
        }
    }
    EXPECT_FALSE(decode_header(std::span(good).first(kHeaderBytes - 1)));
    EXPECT_FALSE(decode_header(std::vector<uint8_t>(kHeaderBytes, 0)));
}

TEST(CacheFormat, InconsistentFieldsAreRejectedEvenWithAGoodCrc) {
    const auto good = encode_header(make_header(8192, 1'000'000, "id"));
    auto with = [&](auto&& change) {
        auto b = good;
        change(b);
        fix_crc(b);
        return decode_header(b).has_value();
    };
    EXPECT_TRUE(with([](auto&) {}));
    EXPECT_FALSE(with([](auto& b) { set_le32(b, header_offset::version, 2); }));
    EXPECT_FALSE(with([](auto& b) { set_le32(b, header_offset::chunk_size, 12288); }));      // not 2^n
    EXPECT_FALSE(with([](auto& b) { set_le32(b, header_offset::chunk_size, 2048); }));       // too small
    EXPECT_FALSE(with([](auto& b) { set_le32(b, header_offset::chunk_size, 32u << 20); }));  // too big
    EXPECT_FALSE(with([](auto& b) { set_le64(b, header_offset::image_size, 0); }));
    EXPECT_FALSE(with([](auto& b) { set_le64(b, header_offset::image_size, 2'000'000); }));
    EXPECT_FALSE(with([](auto& b) { set_le64(b, header_offset::chunk_count, 124); }));
    EXPECT_FALSE(with([](auto& b) { set_le64(b, header_offset::bitmap_offset, 8192); }));
    EXPECT_FALSE(with([](auto& b) { set_le64(b, header_offset::bitmap_bytes, 17); }));
    EXPECT_FALSE(with([](auto& b) { set_le32(b, header_offset::identity_len, 2049); }));
    EXPECT_FALSE(with([](auto& b) { set_le32(b, header_offset::identity_len, 1); }));  // 'd' left in padding
    EXPECT_FALSE(with([](auto& b) { b[header_offset::reserved] = 1; }));
}

TEST(CacheFormat, EncodeRefusesWhatDecodeWouldRefuse) {
    EXPECT_THROW(encode_header(make_header(4096, 1, std::string(kMaxIdentityBytes + 1, 'x'))), std::invalid_argument);
    EXPECT_THROW(encode_header(make_header(5000, 1, "")), std::invalid_argument);
    EXPECT_THROW(encode_header(make_header(4096, 0, "")), std::invalid_argument);
}

TEST(CacheFormat, Sizes) {
    EXPECT_EQ(metadata_bytes(0), 4096u);
    EXPECT_EQ(metadata_bytes(1), 8192u);
    EXPECT_EQ(metadata_bytes(8 * 4096), 8192u);
    EXPECT_EQ(metadata_bytes(8 * 4096 + 1), 12288u);
    EXPECT_EQ(chunk_count_for(4096, 4096), 1u);
    EXPECT_EQ(chunk_count_for(4097, 4096), 2u);
    EXPECT_EQ(chunk_count_for(UINT64_MAX, 4096), (UINT64_MAX >> 12) + 1);  // no overflow
    EXPECT_EQ(bitmap_bytes_for(9), 2u);
    EXPECT_TRUE(valid_chunk_size(4096));
    EXPECT_TRUE(valid_chunk_size(16u << 20));
    EXPECT_FALSE(valid_chunk_size(0));
    EXPECT_FALSE(valid_chunk_size(6144));
}

// ---- bitmap ----------------------------------------------------------------

TEST(ChunkBitmap, BytesAreLsbFirst) {
    ChunkBitmap m(20);
    for (uint64_t i : {0, 3, 9, 19}) EXPECT_TRUE(m.set_present(i));
    EXPECT_FALSE(m.set_present(3));   // already
    EXPECT_FALSE(m.set_present(20));  // out of range: ignored
    EXPECT_EQ(m.count_present(), 4u);
    std::vector<uint8_t> b(4, 0xAA);
    m.copy_bytes(0, b);
    EXPECT_EQ(b, (std::vector<uint8_t>{0x09, 0x02, 0x08, 0x00}));  // past the end reads as 0
    std::vector<uint8_t> one(1);
    m.copy_bytes(1, one);
    EXPECT_EQ(one[0], 0x02);
    EXPECT_TRUE(m.present(19));
    EXPECT_FALSE(m.present(18));
    EXPECT_FALSE(m.present(1000));
}

TEST(ChunkBitmap, LoadRoundTripsAndIgnoresBitsPastTheEnd) {
    std::mt19937 rng(7);
    for (uint64_t chunks : {1u, 10u, 64u, 65u, 1000u}) {
        ChunkBitmap m(chunks);
        std::vector<uint8_t> in(m.bytes() + 3);
        for (auto& x : in) x = static_cast<uint8_t>(rng());
        m.load(in);
        uint64_t expect = 0;
        for (uint64_t i = 0; i < chunks; ++i) {
            const bool bit = (in[i / 8] >> (i % 8)) & 1;
            EXPECT_EQ(m.present(i), bit);
            expect += bit;
        }
        EXPECT_EQ(m.count_present(), expect) << chunks;
        std::vector<uint8_t> out(m.bytes());
        m.copy_bytes(0, out);
        for (uint64_t i = 0; i < chunks; ++i) EXPECT_EQ((out[i / 8] >> (i % 8)) & 1, (in[i / 8] >> (i % 8)) & 1);
        if (chunks % 8) {
            EXPECT_EQ(out.back() >> (chunks % 8), 0) << "stray bits past the end";
        }
        m.clear();
        EXPECT_EQ(m.count_present(), 0u);
        EXPECT_FALSE(m.present(0));
    }
}

TEST(ChunkBitmap, NextMissing) {
    ChunkBitmap m(130);
    EXPECT_EQ(m.next_missing(0), 0u);
    EXPECT_EQ(m.next_missing(129), 129u);
    EXPECT_FALSE(m.next_missing(130));
    for (uint64_t i = 0; i < 100; ++i) m.set_present(i);
    EXPECT_EQ(m.next_missing(0), 100u);
    EXPECT_EQ(m.next_missing(64), 100u);
    EXPECT_EQ(m.next_missing(101), 101u);
    for (uint64_t i = 100; i < 129; ++i) m.set_present(i);
    EXPECT_EQ(m.next_missing(5), 129u);
    m.set_present(129);
    EXPECT_FALSE(m.next_missing(0)) << "bits past the end must not count as missing";
    m.clear_present(64);
    EXPECT_EQ(m.next_missing(0), 64u);
    EXPECT_EQ(m.count_present(), 129u);
    EXPECT_FALSE(m.next_missing(65));

    ChunkBitmap empty(0);
    EXPECT_FALSE(empty.next_missing(0));
}

TEST(ChunkBitmap, ConcurrentSetPresentCountsEachChunkOnce) {
    constexpr uint64_t kChunks = 100'000;
    ChunkBitmap m(kChunks);
    std::atomic<uint64_t> firsts{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            // Overlapping strides: every chunk is set by several threads.
            uint64_t mine = 0;
            for (uint64_t i = static_cast<uint64_t>(t % 2); i < kChunks; i += 1 + static_cast<uint64_t>(t / 2))
                mine += m.set_present(i);
            firsts += mine;
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(m.count_present(), kChunks);
    EXPECT_EQ(firsts.load(), kChunks);
    EXPECT_FALSE(m.next_missing(0));
}

// ---- store: layout, persistence, resets ------------------------------------

TEST(CacheStore, CreatesSparseDataFileAndSidecar) {
    CacheDir d;
    auto s = CacheStore::open(d.opts());
    EXPECT_FALSE(s->was_reset());
    EXPECT_EQ(s->chunk_count(), 101u);
    EXPECT_EQ(s->map().count_present(), 0u);
    EXPECT_EQ(file_size(d.path), 100u * 4096 + 123);
    EXPECT_EQ(file_size(d.meta), metadata_bytes(101));
    auto h = decode_header(read_file(d.meta));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->identity, "etag=\"abc\";size=409723");
    EXPECT_EQ(fcntl(s->data_fd(), F_GETFL) & O_ACCMODE, O_RDWR);
    EXPECT_TRUE(fcntl(s->data_fd(), F_GETFD) & FD_CLOEXEC);
}

TEST(CacheStore, PersistsAcrossReopen) {
    CacheDir d;
    const std::set<uint64_t> chunks{0, 5, 63, 64, 100};  // 100 is the short last chunk
    {
        auto s = CacheStore::open(d.opts());
        for (uint64_t i : chunks) write_chunk(*s, i);
        EXPECT_EQ(present_set(*s), chunks);  // present before any commit
        EXPECT_EQ(s->durable_count(), 0u);
        EXPECT_EQ(s->commit_now(), 0);
        EXPECT_EQ(s->durable_count(), chunks.size());
        EXPECT_EQ(s->commit_now(), 0);  // nothing new: still fine
    }
    auto s = CacheStore::open(d.opts());
    EXPECT_FALSE(s->was_reset());
    EXPECT_EQ(present_set(*s), chunks);
    EXPECT_EQ(s->durable_count(), chunks.size());
    for (uint64_t i : chunks) EXPECT_TRUE(chunk_intact(d.path, i, 4096, s->image_size())) << i;
}

TEST(CacheStore, CloseCommitsWhatWasWritten) {
    CacheDir d;
    {
        auto s = CacheStore::open(d.opts());
        write_chunk(*s, 7);
        write_chunk(*s, 8);
    }
    auto s = CacheStore::open(d.opts());
    EXPECT_EQ(present_set(*s), (std::set<uint64_t>{7, 8}));
}

TEST(CacheStore, CommitsOnItsInterval) {
    CacheDir d;
    auto o = d.opts();
    o.commit_interval = std::chrono::milliseconds(20);
    auto s = CacheStore::open(o);
    write_chunk(*s, 3);
    for (int i = 0; i < 500 && s->durable_count() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(s->durable_count(), 1u);
}

TEST(CacheStore, IdentityChangeResets) {
    CacheDir d;
    {
        auto s = CacheStore::open(d.opts("etag=\"v1\""));
        write_chunk(*s, 1);
        ASSERT_EQ(s->commit_now(), 0);
    }
    {
        auto s = CacheStore::open(d.opts("etag=\"v2\""));
        EXPECT_TRUE(s->was_reset());
        EXPECT_EQ(s->map().count_present(), 0u);
        EXPECT_EQ(s->durable_count(), 0u);
        EXPECT_EQ(file_size(d.path), s->image_size());
    }
    {
        auto s = CacheStore::open(d.opts("etag=\"v2\""));
        EXPECT_FALSE(s->was_reset());
        write_chunk(*s, 2);
    }
    auto s = CacheStore::open(d.opts("etag=\"v1\""));
    EXPECT_TRUE(s->was_reset());
    EXPECT_EQ(s->map().count_present(), 0u);
}

TEST(CacheStore, ChunkSizeOrImageSizeChangeResets) {
    CacheDir d;
    {
        auto s = CacheStore::open(d.opts());
        write_chunk(*s, 1);
    }
    {
        auto s = CacheStore::open(d.opts("etag=\"abc\";size=409723", 100 * 4096 + 123, 8192));
        EXPECT_TRUE(s->was_reset());
        EXPECT_EQ(s->map().count_present(), 0u);
        write_chunk(*s, 1);
    }
    {
        auto s = CacheStore::open(d.opts("etag=\"abc\";size=409723", 200 * 4096, 8192));
        EXPECT_TRUE(s->was_reset());
        EXPECT_EQ(s->map().count_present(), 0u);
        EXPECT_EQ(file_size(d.path), 200u * 4096);
        EXPECT_EQ(file_size(d.meta), metadata_bytes(100));
    }
}

TEST(CacheStore, CorruptOrTruncatedMetadataResets) {
    CacheDir d;
    auto seed = [&] {
        auto s = CacheStore::open(d.opts());
        write_chunk(*s, 1);
    };
    auto reopen_is_reset = [&] {
        auto s = CacheStore::open(d.opts());
        return s->was_reset() && s->map().count_present() == 0;
    };
    seed();
    const uint8_t junk[] = {0x42};
    write_at(d.meta, header_offset::image_size + 2, junk);
    EXPECT_TRUE(reopen_is_reset()) << "flipped header byte";

    seed();
    std::filesystem::resize_file(d.meta, kHeaderBytes + 5);
    EXPECT_TRUE(reopen_is_reset()) << "bitmap cut short";

    seed();
    std::filesystem::resize_file(d.meta, 100);
    EXPECT_TRUE(reopen_is_reset()) << "header cut short";

    seed();
    std::filesystem::resize_file(d.path, 4096);
    EXPECT_TRUE(reopen_is_reset()) << "data file truncated";

    seed();
    std::filesystem::remove(d.path);
    EXPECT_TRUE(reopen_is_reset()) << "data file deleted and recreated";

    // No metadata at all is a new cache, not a reset.
    seed();
    std::filesystem::remove(d.meta);
    auto s = CacheStore::open(d.opts());
    EXPECT_FALSE(s->was_reset());
    EXPECT_EQ(s->map().count_present(), 0u);
}

TEST(CacheStore, RefusesUnusablePathsAndOptionsInOneLine) {
    CacheDir d;
    auto expect_error = [](const CacheStoreOptions& o, const char* what) {
        const std::string e = one_line_error(o);
        EXPECT_NE(e.find(what), std::string::npos) << e;
        EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    };
    auto o = d.opts();
    o.chunk_size = 6000;
    expect_error(o, "power of two");
    o = d.opts();
    o.image_size = 0;
    expect_error(o, "image size");
    o = d.opts(std::string(kMaxIdentityBytes + 1, 'i'));
    expect_error(o, "identity");
    o = d.opts();
    o.path = d.dir.path().string();
    expect_error(o, "not a regular file or block device");
    o.path = (d.dir / "no-such-dir" / "cache.img").string();
    expect_error(o, "No such file");
    o = d.opts();
    o.metadata_at_end = true;
    expect_error(o, "does not exist");
}

TEST(CacheStore, OneLazyrootPerCache) {
    CacheDir d;
    auto first = CacheStore::open(d.opts());
    EXPECT_NE(one_line_error(d.opts()).find("in use"), std::string::npos);
    first.reset();
    EXPECT_NO_THROW(CacheStore::open(d.opts()));
}

TEST(CacheStore, ConcurrentChunkWrittenAllBecomeDurable) {
    CacheDir d;
    auto o = d.opts("id", 4000ull * 4096, 4096);
    o.commit_interval = std::chrono::milliseconds(5);
    {
        auto s = CacheStore::open(o);
        std::atomic<bool> writing{true};
        std::thread committer_pressure([&] {
            while (writing) EXPECT_EQ(s->commit_now(), 0);
        });
        std::vector<std::thread> queues;
        for (uint64_t t = 0; t < 4; ++t) {
            queues.emplace_back([&, t] {
                // Overlapping: two queues may fetch the same chunk.
                for (uint64_t i = t; i < s->chunk_count(); i += 2) write_chunk(*s, i % s->chunk_count());
            });
        }
        for (auto& q : queues) q.join();
        writing = false;
        committer_pressure.join();
        EXPECT_EQ(s->map().count_present(), s->chunk_count());
        EXPECT_EQ(s->commit_now(), 0);
        EXPECT_EQ(s->durable_count(), s->chunk_count());
    }
    auto s = CacheStore::open(o);
    EXPECT_EQ(s->durable_count(), s->chunk_count());
    EXPECT_FALSE(s->map().next_missing(0));
    for (uint64_t i = 0; i < s->chunk_count(); i += 97) EXPECT_TRUE(chunk_intact(d.path, i, 4096, o.image_size));
}

TEST(CacheStore, NextMissingDrivesHydration) {
    CacheDir d;
    auto s = CacheStore::open(d.opts());
    uint64_t fetched = 0;
    for (auto i = s->map().next_missing(0); i; i = s->map().next_missing(*i + 1)) {
        if (*i % 3 == 0) {
            write_chunk(*s, *i);
            ++fetched;
        }
    }
    EXPECT_EQ(fetched, 34u);
    uint64_t missing = 0;
    for (auto i = s->map().next_missing(0); i; i = s->map().next_missing(*i + 1)) {
        EXPECT_NE(*i % 3, 0u);
        ++missing;
    }
    EXPECT_EQ(missing, s->chunk_count() - fetched);
}

// ---- store: metadata at the end (block-device layout) ------------------------

TEST(CacheStore, TrailingMetadataOffset) {
    EXPECT_EQ(trailing_metadata_offset(1 << 20, 1000, 8192), (1u << 20) - 8192);
    EXPECT_EQ(trailing_metadata_offset((1 << 20) + 100, 1000, 8192), (1u << 20) - 8192);  // aligned down
    EXPECT_EQ(trailing_metadata_offset(16384, 8192, 8192), 8192u);
    EXPECT_FALSE(trailing_metadata_offset(16383, 8192, 8192));
    EXPECT_FALSE(trailing_metadata_offset(4096, 0, 8192));
}

TEST(CacheStore, MetadataAtTheEndOfAPreallocatedFile) {
    CacheDir d;
    auto o = d.opts();
    o.metadata_at_end = true;
    const uint64_t size = o.image_size + metadata_bytes(101) + 5000;  // not 4 KiB aligned
    {
        std::ofstream(d.path).close();
        std::filesystem::resize_file(d.path, o.image_size + 100);
        const std::string e = one_line_error(o);
        EXPECT_NE(e.find("(metadata)"), std::string::npos) << e;
        std::filesystem::resize_file(d.path, size);
    }
    const uint64_t meta_at = (size - metadata_bytes(101)) & ~uint64_t{4095};
    {
        auto s = CacheStore::open(o);
        EXPECT_FALSE(s->was_reset());
        write_chunk(*s, 0);
        write_chunk(*s, 100);
    }
    EXPECT_FALSE(std::filesystem::exists(d.meta));
    EXPECT_EQ(file_size(d.path), size);
    auto bytes = read_file(d.path);
    ASSERT_TRUE(decode_header(std::span(bytes).subspan(meta_at)));
    EXPECT_EQ(bytes[meta_at + kHeaderBytes], 0x01);  // chunk 0
    {
        auto s = CacheStore::open(o);
        EXPECT_EQ(present_set(*s), (std::set<uint64_t>{0, 100}));
        EXPECT_TRUE(chunk_intact(d.path, 100, 4096, o.image_size));
    }
    // Another identity resets in place; the data area is not shrunk.
    auto o2 = o;
    o2.identity = "other";
    auto s = CacheStore::open(o2);
    EXPECT_TRUE(s->was_reset());
    EXPECT_EQ(s->map().count_present(), 0u);
    EXPECT_EQ(file_size(d.path), size);
}

namespace {

// A loop device over a file, detached when the fixture closes it. Needs root
// and /dev/loop-control; the test is skipped without them.
struct LoopDevice {
    io::UniqueFd fd;
    std::string path;

    static std::optional<LoopDevice> attach(const std::string& backing) {
        io::UniqueFd ctl(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
        io::UniqueFd file(::open(backing.c_str(), O_RDWR | O_CLOEXEC));
        if (!ctl || !file) return std::nullopt;
        for (int attempt = 0; attempt < 5; ++attempt) {
            const int n = ::ioctl(ctl.get(), LOOP_CTL_GET_FREE);
            if (n < 0) return std::nullopt;
            LoopDevice d;
            d.path = "/dev/loop" + std::to_string(n);
            d.fd.reset(::open(d.path.c_str(), O_RDWR | O_CLOEXEC));
            if (!d.fd) return std::nullopt;
            loop_config cfg{};
            cfg.fd = static_cast<uint32_t>(file.get());
            cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
            if (::ioctl(d.fd.get(), LOOP_CONFIGURE, &cfg) == 0) return d;
            if (errno != EBUSY) return std::nullopt;  // EBUSY: someone else took it first
        }
        return std::nullopt;
    }
    ~LoopDevice() {
        if (fd) ::ioctl(fd.get(), LOOP_CLR_FD);
    }
    LoopDevice() = default;
    LoopDevice(LoopDevice&&) = default;
};

}  // namespace

TEST(CacheStore, BlockDeviceKeepsMetadataAtItsEnd) {
    CacheDir d;
    const std::string backing = (d.dir / "device.img").string();
    const uint64_t dev_size = 4u << 20;
    std::ofstream(backing).close();
    std::filesystem::resize_file(backing, dev_size);
    auto loop = LoopDevice::attach(backing);
    // The tests run as root (./run test); a missing loop device is a failure, not a skip.
    ASSERT_TRUE(loop) << "no loop device (needs root and /dev/loop-control)";

    auto o = d.opts("id", 3u << 20, 4096);
    o.path = loop->path;
    const uint64_t meta_at = dev_size - metadata_bytes(768);
    {
        auto s = CacheStore::open(o);
        EXPECT_FALSE(s->was_reset());
        write_chunk(*s, 0);
        write_chunk(*s, 767);
        EXPECT_EQ(s->commit_now(), 0);
        // O_EXCL: the device is claimed while the cache uses it.
        EXPECT_NE(one_line_error(o).find("Device or resource busy"), std::string::npos);
    }
    {
        auto s = CacheStore::open(o);
        EXPECT_EQ(present_set(*s), (std::set<uint64_t>{0, 767}));
        EXPECT_TRUE(chunk_intact(loop->path, 767, 4096, o.image_size));
    }
    auto bytes = read_file(loop->path);
    ASSERT_EQ(bytes.size(), dev_size);
    EXPECT_TRUE(decode_header(std::span(bytes).subspan(meta_at)));

    o.image_size = dev_size;  // no room left for the metadata
    const std::string e = one_line_error(o);
    EXPECT_NE(e.find("(metadata)"), std::string::npos) << e;
}

// ---- simulated crashes --------------------------------------------------------
//
// after_step cuts the power after a chosen step, but the page cache still
// holds every write, so each test applies the losses a power cut could cause
// itself, from the steps the store reported: chunk data not covered by a
// completed fdatasync(data) becomes garbage, and metadata bytes written since
// the last completed fdatasync(metadata) are rolled back, kept, or torn per
// 512-byte sector. The model follows the reported steps, not the order the
// store is meant to take them in, so a store that synced in the wrong order
// would fail the invariant checks, not only the step-order check.

namespace {

enum class PageFate { rolled_back, kept, torn };

struct CommitCrashCase {
    StoreStep crash_at;
    PageFate fate;
};

const StoreStep kCommitSteps[] = {StoreStep::commit_took_batch, StoreStep::commit_synced_data,
                                  StoreStep::commit_wrote_bitmap, StoreStep::commit_synced_bitmap};
const StoreStep kResetSteps[] = {StoreStep::reset_invalidated_header, StoreStep::reset_zeroed_bitmap,
                                 StoreStep::reset_wrote_header};

std::string name_of(StoreStep p) {
    switch (p) {
        case StoreStep::commit_took_batch:
            return "TookBatch";
        case StoreStep::commit_synced_data:
            return "SyncedData";
        case StoreStep::commit_wrote_bitmap:
            return "WroteBitmap";
        case StoreStep::commit_synced_bitmap:
            return "SyncedBitmap";
        case StoreStep::reset_invalidated_header:
            return "InvalidatedHeader";
        case StoreStep::reset_zeroed_bitmap:
            return "ZeroedBitmap";
        case StoreStep::reset_wrote_header:
            return "WroteHeader";
    }
    return "?";
}

// The steps up to and including `last`, in protocol order.
template <size_t N>
std::vector<StoreStep> steps_through(const StoreStep (&all)[N], StoreStep last) {
    std::vector<StoreStep> v;
    for (StoreStep s : all) {
        v.push_back(s);
        if (s == last) break;
    }
    return v;
}

class CrashDuringCommit : public ::testing::TestWithParam<CommitCrashCase> {};

}  // namespace

TEST_P(CrashDuringCommit, ReopenNeverClaimsAChunkWhoseDataWasNotSynced) {
    const auto [crash_at, fate] = GetParam();
    CacheDir d;
    // Three bitmap pages, so that a commit dirties several.
    auto o = d.opts("id", 70'000ull * 4096, 4096);
    const std::set<uint64_t> committed{1, 2, 40'000};   // durable before the crash
    const std::set<uint64_t> batch{3, 33'000, 66'000};  // in the commit that crashes
    const std::set<uint64_t> unreported{4, 50'000};     // written, never reported
    {
        auto s = CacheStore::open(o);
        for (uint64_t i : committed) write_chunk(*s, i);
    }  // close commits

    // What a power cut would leave, built from what the store reports.
    std::vector<uint8_t> meta_durable = read_file(d.meta);
    std::set<uint64_t> data_durable = committed;
    std::set<uint64_t> written;
    std::vector<StoreStep> steps;
    o.after_step = [&](StoreStep step) {
        steps.push_back(step);
        if (step == StoreStep::commit_synced_data) data_durable.insert(written.begin(), written.end());
        if (step == StoreStep::commit_synced_bitmap) meta_durable = read_file(d.meta);
        return step == crash_at;
    };
    {
        auto s = CacheStore::open(o);
        for (uint64_t i : batch) {
            write_chunk(*s, i);
            written.insert(i);
        }
        for (uint64_t i : unreported) {
            write_chunk(*s, i, false);
            written.insert(i);
        }
        EXPECT_EQ(s->commit_now(), crash_at == StoreStep::commit_synced_bitmap ? 0 : -ECANCELED);
        EXPECT_EQ(s->commit_now(), -ECANCELED) << "nothing after the crash";
        EXPECT_EQ(s->durable_count(), committed.size() + (crash_at == StoreStep::commit_synced_bitmap ? 3 : 0));
    }  // no final commit: the power is off
    EXPECT_EQ(steps, steps_through(kCommitSteps, crash_at));

    // The power cut.
    const std::vector<uint8_t> garbage(4096, 0xEE);
    for (uint64_t i : written)
        if (!data_durable.count(i)) write_at(d.path, i * 4096, garbage);
    auto meta = read_file(d.meta);
    ASSERT_EQ(meta.size(), meta_durable.size());
    std::mt19937 rng(static_cast<unsigned>(crash_at) * 10 + static_cast<unsigned>(fate));
    for (size_t sector = 0; sector < meta.size() / 512; ++sector) {
        const bool lost = fate == PageFate::rolled_back || (fate == PageFate::torn && rng() % 2);
        if (lost) std::memcpy(meta.data() + sector * 512, meta_durable.data() + sector * 512, 512);
    }
    write_at(d.meta, 0, meta);

    o.after_step = nullptr;
    auto s = CacheStore::open(o);
    EXPECT_FALSE(s->was_reset()) << "a commit never touches the header";
    const auto present = present_set(*s);
    for (uint64_t i : present) {
        EXPECT_TRUE(data_durable.count(i)) << "claims chunk " << i << " whose data was never synced";
        EXPECT_TRUE(chunk_intact(d.path, i, 4096, o.image_size)) << "chunk " << i;
    }
    for (uint64_t i : committed) EXPECT_TRUE(present.count(i)) << "lost committed chunk " << i;
    // Torn unsynced pages may keep any part of the batch; otherwise it is all or nothing.
    const bool bits_written = crash_at >= StoreStep::commit_wrote_bitmap;
    const bool bits_kept = crash_at == StoreStep::commit_synced_bitmap || fate == PageFate::kept;
    if (!bits_written || fate != PageFate::torn || bits_kept) {
        for (uint64_t i : batch) EXPECT_EQ(present.count(i), bits_written && bits_kept ? 1u : 0u) << i;
    }
    for (uint64_t i : unreported) EXPECT_FALSE(present.count(i)) << i;
    EXPECT_EQ(s->durable_count(), present.size());
}

namespace {

std::vector<CommitCrashCase> commit_crash_cases() {
    std::vector<CommitCrashCase> v;
    for (auto p : kCommitSteps)
        for (auto f : {PageFate::rolled_back, PageFate::kept, PageFate::torn}) v.push_back({p, f});
    return v;
}

std::string commit_crash_name(const ::testing::TestParamInfo<CommitCrashCase>& info) {
    const char* fates[] = {"RolledBack", "Kept", "Torn"};
    return name_of(info.param.crash_at) + "_" + fates[static_cast<int>(info.param.fate)];
}

struct ResetCrashCase {
    StoreStep crash_at;
    bool reopen_with_old_identity;
};

class CrashDuringReset : public ::testing::TestWithParam<ResetCrashCase> {};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Cache, CrashDuringCommit, ::testing::ValuesIn(commit_crash_cases()), commit_crash_name);

TEST_P(CrashDuringReset, NoStaleChunkSurvivesUnderEitherIdentity) {
    const auto [crash_at, old_identity] = GetParam();
    CacheDir d;
    const std::set<uint64_t> stale{0, 9, 100};
    {
        auto s = CacheStore::open(d.opts("etag=\"old\""));
        for (uint64_t i : stale) write_chunk(*s, i);
    }
    const auto meta_before = read_file(d.meta);
    std::vector<StoreStep> steps;
    {
        auto o = d.opts("etag=\"new\"");
        o.after_step = [&](StoreStep step) {
            steps.push_back(step);
            return step == crash_at;
        };
        auto s = CacheStore::open(o);
        EXPECT_TRUE(s->was_reset());
        EXPECT_EQ(s->commit_now(), -ECANCELED) << "the power is off after any crash point";
    }
    EXPECT_EQ(steps, steps_through(kResetSteps, crash_at));

    // Every reset step ends with an fdatasync, so the disk holds exactly what
    // the completed steps wrote.
    const auto meta = read_file(d.meta);
    const auto bitmap = std::span(meta).subspan(kHeaderBytes);
    const bool header_zero = std::all_of(meta.begin(), meta.begin() + kHeaderBytes, [](uint8_t b) { return !b; });
    const bool bitmap_zero = std::all_of(bitmap.begin(), bitmap.end(), [](uint8_t b) { return !b; });
    switch (crash_at) {
        case StoreStep::reset_invalidated_header:
            EXPECT_TRUE(header_zero);
            EXPECT_TRUE(std::equal(bitmap.begin(), bitmap.end(), meta_before.begin() + kHeaderBytes));
            break;
        case StoreStep::reset_zeroed_bitmap: {
            EXPECT_TRUE(header_zero);
            EXPECT_TRUE(bitmap_zero);
            // The cut may also have torn the header write that comes next.
            auto torn = encode_header(make_header(4096, 100 * 4096 + 123, "etag=\"new\""));
            std::fill(torn.begin() + 512, torn.end(), 0);
            write_at(d.meta, 0, torn);
            break;
        }
        default:
            EXPECT_TRUE(decode_header(meta));
            EXPECT_TRUE(bitmap_zero);
    }

    auto s = CacheStore::open(d.opts(old_identity ? "etag=\"old\"" : "etag=\"new\""));
    EXPECT_EQ(s->map().count_present(), 0u);
    EXPECT_EQ(s->durable_count(), 0u);
}

namespace {

std::vector<ResetCrashCase> reset_crash_cases() {
    std::vector<ResetCrashCase> v;
    for (auto p : kResetSteps)
        for (bool old : {false, true}) v.push_back({p, old});
    return v;
}

std::string reset_crash_name(const ::testing::TestParamInfo<ResetCrashCase>& info) {
    return name_of(info.param.crash_at) + (info.param.reopen_with_old_identity ? "_OldIdentity" : "_NewIdentity");
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Cache, CrashDuringReset, ::testing::ValuesIn(reset_crash_cases()), reset_crash_name);
