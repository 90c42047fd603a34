#include <gtest/gtest.h>

#include "cache/prefetch_profile.h"

using lazyroot::cache::encode_profile;
using lazyroot::cache::parse_profile;
using lazyroot::cache::PrefetchProfile;

namespace {

PrefetchProfile sample() {
    PrefetchProfile p;
    p.image = "a3f1c9e2d4b5a6978877665544332211a3f1c9e2d4b5a6978877665544332211";
    p.image_size = (10u << 20) + 100;  // the last chunk is partial
    p.chunk_size = 1u << 20;
    p.chunks = {0, 10, 3, 4, 9};
    return p;
}

std::string why(std::string_view text) {
    auto r = parse_profile(text);
    if (auto* w = std::get_if<std::string>(&r)) return *w;
    return "";
}

}  // namespace

TEST(PrefetchProfile, RoundTrips) {
    const auto text = encode_profile(sample());
    EXPECT_EQ(text.substr(0, 19), "lazyroot-profile 1\n");
    auto r = parse_profile(text);
    ASSERT_TRUE(std::holds_alternative<PrefetchProfile>(r)) << std::get<std::string>(r);
    const auto& p = std::get<PrefetchProfile>(r);
    EXPECT_EQ(p.image, sample().image);
    EXPECT_EQ(p.image_size, sample().image_size);
    EXPECT_EQ(p.chunk_size, sample().chunk_size);
    EXPECT_EQ(p.chunks, sample().chunks);  // first-read order kept
    EXPECT_EQ(p.chunk_count(), 11u);
}

TEST(PrefetchProfile, TruncatedOrGarbageIsRefusedWhole) {
    const auto text = encode_profile(sample());
    // Every cut of the file, at any byte, is refused: none is used in part.
    for (size_t n = 0; n < text.size(); ++n) EXPECT_NE(why(text.substr(0, n)), "") << n;
    EXPECT_NE(why("<html><body>404 Not Found</body></html>\n"), "");
    EXPECT_NE(why(std::string(100, '\0')), "");
    EXPECT_NE(why(text + "11\n"), "");  // more after the last chunk
}

TEST(PrefetchProfile, ChunksMustLieInTheImageOnce) {
    auto p = sample();
    p.chunks.push_back(11);  // past the last chunk (10)
    EXPECT_NE(why(encode_profile(p)).find("not a chunk of the image"), std::string::npos);
    p = sample();
    p.chunks.push_back(3);
    EXPECT_NE(why(encode_profile(p)).find("twice"), std::string::npos);
    p = sample();
    p.chunk_size = 3u << 20;  // no power of two
    EXPECT_NE(why(encode_profile(p)).find("chunk-size"), std::string::npos);
    p.chunk_size = 2048;  // under 4 KiB
    EXPECT_NE(why(encode_profile(p)).find("chunk-size"), std::string::npos);
    p = sample();
    p.image = "two words";
    EXPECT_NE(why(encode_profile(p)).find("printable"), std::string::npos);
}

TEST(PrefetchProfile, ReasonsAreOneLine) {
    for (std::string_view bad : {"", "lazyroot-profile 2\n", "lazyroot-profile 1\nimage x\nsize 0\n",
                                 "lazyroot-profile 1\nimage x\nsize 10\nchunk-size 4096\nchunks 2\n0\n"}) {
        const auto w = why(bad);
        EXPECT_NE(w, "") << bad;
        EXPECT_EQ(w.find('\n'), std::string::npos) << w;
    }
}
