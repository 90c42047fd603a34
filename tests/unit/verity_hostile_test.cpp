// Hostile verity metadata: a superblock is not covered by the root hash, so
// every field in it is checked against the image and tree sizes before it
// sizes a read or an allocation. Each case here crashed or misread before.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "io/file_source.h"
#include "io/range_source.h"
#include "verity/encoding.h"
#include "tests/http_fixtures/temp_dir.h"
#include "verity/hash_tree.h"
#include "verity/manifest.h"
#include "verity/superblock.h"
#include "verity/verifying_source.h"

using namespace lazyroot;
using namespace lazyroot::verity;
using fixtures::TempDir;

namespace {

constexpr uint64_t kData = 8 * 4096;
const std::string kAnyRoot(64, 'a');

// kData bytes of data, then the superblock `sb` at kData, then `tail` zeros
// (by default room for the tree of 8 data blocks).
std::string image_with(const Superblock& sb, size_t tail = 8192) {
    std::string img(kData, 'd');
    auto bytes = encode_superblock(sb);
    img.append(bytes.begin(), bytes.end());
    img.append(tail, '\0');
    return img;
}

// The reason VerifyingSource::open gives, or "" if it accepted the image.
std::string open_error(const std::string& image) {
    TempDir dir("lazyroot-verity-hostile");
    auto path = dir.write_file("img", image);
    try {
        VerifyingSource::open(io::FileSource::open(path.string()), kData, kAnyRoot);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

Superblock sb_with(uint32_t data_bs, uint32_t hash_bs, uint64_t blocks) {
    Superblock sb;
    sb.data_block_size = data_bs;
    sb.hash_block_size = hash_bs;
    sb.data_blocks = blocks;
    return sb;
}

// With 512 B hash blocks (16 hashes each) this many data blocks make the
// tree exactly 2^64 bytes: the hash area's size wrapped to 0.
constexpr uint64_t kWrapsToZero = 540431955284459488ull;

}  // namespace

TEST(VerityHostile, TreeLayoutRefusesSizesThatOverflow) {
    VerityParams p;
    p.hash_block_size = 512;
    p.data_block_size = 512;
    p.data_blocks = kWrapsToZero;
    EXPECT_THROW(tree_layout(p), std::invalid_argument);
    p.data_blocks = UINT64_MAX;
    EXPECT_THROW(tree_layout(p), std::invalid_argument);
    // data_blocks * data_block_size past 2^63: no image is that large.
    p.data_block_size = 4096;
    p.hash_block_size = 4096;
    p.data_blocks = (1ull << 52);
    EXPECT_THROW(tree_layout(p), std::invalid_argument);
    // verify_tree says no rather than throwing or reading past the area.
    std::vector<uint8_t> area(512);
    EXPECT_FALSE(verify_tree(area, p, std::vector<uint8_t>(32)));
}

TEST(VerityHostile, AWrappingHashAreaIsRefusedNotRead) {
    const std::string why = open_error(image_with(sb_with(4096, 512, kWrapsToZero)));
    EXPECT_NE(why.find("verity superblock"), std::string::npos) << why;
    EXPECT_EQ(why.find('\n'), std::string::npos);
    EXPECT_NE(open_error(image_with(sb_with(4096, 512, kWrapsToZero + 1))), "");
    EXPECT_NE(open_error(image_with(sb_with(512, 512, UINT64_MAX))), "");
}

TEST(VerityHostile, EveryFieldIsCheckedAgainstTheImage) {
    // No data blocks.
    EXPECT_NE(open_error(image_with(sb_with(4096, 4096, 0))).find("verity superblock"), std::string::npos);
    // Data that runs into the superblock.
    EXPECT_NE(open_error(image_with(sb_with(4096, 4096, 9))).find("verity superblock"), std::string::npos);
    // A tree larger than what is left of the image.
    EXPECT_NE(open_error(image_with(sb_with(4096, 4096, 8), 0)).find("past the end"), std::string::npos);
    // Another algorithm, or the Chrome OS hash type, would be hashed as SHA-256 salt-first.
    Superblock sb = sb_with(4096, 4096, 8);
    sb.algorithm = "sha1";
    EXPECT_NE(open_error(image_with(sb)).find("sha1"), std::string::npos);
    sb.algorithm = "sha\n256";
    const std::string why = open_error(image_with(sb));
    EXPECT_NE(why.find("algorithm sha?256"), std::string::npos) << why;
    sb = sb_with(4096, 4096, 8);
    sb.hash_type = 0;
    EXPECT_NE(open_error(image_with(sb)).find("hash type"), std::string::npos);
    // A good superblock gets as far as the root hash.
    EXPECT_NE(open_error(image_with(sb_with(4096, 4096, 8))).find("does not match root hash"), std::string::npos);
}

TEST(VerityHostile, ASuperblockAtTheVeryEndOfTheOffsetRange) {
    TempDir dir("lazyroot-verity-hostile");
    auto path = dir.write_file("img", std::string(4096, 'x'));
    // hash_offset + 512 wraps: must be "past its end", not a read at offset 2^64 - 1.
    EXPECT_THROW(VerifyingSource::open(io::FileSource::open(path.string()), UINT64_MAX - 100, kAnyRoot),
                 std::runtime_error);
}

// A manifest's sizes pass through the same layout: one it cannot hold is a
// ManifestError, not another exception (the fuzzer treats those as crashes).
TEST(VerityHostile, ManifestWithDataPastTheLargestImageIsAManifestError) {
    const std::string text =
        R"({"rootHash":")" + kAnyRoot + R"(","dataSize":)" + std::to_string(UINT64_MAX - 511) +
        R"(,"hashOffset":0,"dataBlockSize":512,"hashBlockSize":512,"salt":"","algorithm":"sha256",)"
        R"("imageSize":18446744073709551615,"hashType":1,"uuid":"0b6f7c2e-57c4-4e34-9a1a-2f5f0d1c9e77"})";
    EXPECT_THROW(parse_manifest(text), ManifestError);
}

TEST(VerityHostile, AManifestHashFileIsOneLine) {
    const std::string text =
        R"({"rootHash":")" + kAnyRoot +
        R"(","dataSize":4096,"hashOffset":0,"dataBlockSize":4096,"hashBlockSize":4096,"salt":"",)"
        R"("algorithm":"sha256","imageSize":4096,"hashType":1,"uuid":"0b6f7c2e-57c4-4e34-9a1a-2f5f0d1c9e77",)"
        R"("hashFile":"a\nb"})";
    try {
        parse_manifest(text);
        ADD_FAILURE() << "accepted";
    } catch (const ManifestError& e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
}

// Found by superblock_fuzz: an image of one data block has no tree, and the
// leaf hashes (level 0 of an empty level list) were read from a null
// reference. Its one block hashes to the root hash itself.
TEST(VerityHostile, AOneBlockImageHasNoTreeAndStillVerifies) {
    std::string img(4096, 'd');
    Superblock sb = sb_with(4096, 4096, 1);
    auto bytes = encode_superblock(sb);
    img.append(bytes.begin(), bytes.end());
    img.append(4096 - 512, '\0');
    const std::vector<uint8_t> block(img.begin(), img.begin() + 4096);
    const std::string root = to_hex(hash_block(sb.salt, block));
    TempDir dir("lazyroot-verity-hostile");
    auto path = dir.write_file("img", img);
    auto v = VerifyingSource::open(io::FileSource::open(path.string()), 4096, root);
    EXPECT_EQ(v->data_bytes(), 4096u);
    std::vector<std::byte> got(4096);
    ASSERT_EQ(io::read_blocking(*v, 0, got), 0);
    EXPECT_EQ(std::memcmp(got.data(), block.data(), block.size()), 0);
    EXPECT_EQ(v->first_bad_block(0, got), std::nullopt);
    got[7] = std::byte{'x'};
    EXPECT_EQ(v->first_bad_block(0, got), 0u);
    // Another block with this root is refused when read.
    img[100] = 'x';
    auto tampered = dir.write_file("tampered", img);
    auto t = VerifyingSource::open(io::FileSource::open(tampered.string()), 4096, root);
    EXPECT_LT(io::read_blocking(*t, 0, got), 0);
}
