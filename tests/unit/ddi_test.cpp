#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/http_fixtures/child_process.h"
#include "tests/http_fixtures/temp_dir.h"
#include "tests/unit/gpt_builder.h"
#include "verity/ddi.h"
#include "verity/encoding.h"

using namespace lazyroot;
using namespace lazyroot::verity;
using lazyroot::fixtures::TempDir;
using lazyroot::testing::GptImage;
using lazyroot::testing::make_gpt;

namespace {

const std::string kRoot{kRootX86_64}, kVerity{kRootVerityX86_64}, kSig{kRootVeritySigX86_64};

GptImage ddi_image(uint32_t ss = 512) {
    const uint64_t unit = 4096 / ss;  // partitions on 4 KiB boundaries either way
    return make_gpt({{kRoot, 64 * unit, 96 * unit - 1, "root-x86-64"},
                     {kVerity, 96 * unit, 100 * unit - 1, "root-x86-64-verity"},
                     {kSig, 100 * unit, 104 * unit - 1, "root-x86-64-verity-sig"}},
                    128 * unit, ss);
}

std::vector<GptPartition> parse_all(GptImage& img) {
    const GptHeader h = parse_gpt_header(img.header(), img.ss);
    return parse_gpt_entries(img.read(h.entries_offset(), h.entries_bytes()), h);
}

// Runs f and returns the DdiError's message ("" if none was thrown).
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const DdiError& e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
        return e.what();
    }
    return "";
}

std::span<const uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

TEST(DdiGuid, TextAndMixedEndianBytes) {
    const auto g = parse_guid(kRoot);
    ASSERT_TRUE(g);
    // 4f68bce3-e8cd-4db1-...: the first three fields are stored little-endian.
    EXPECT_EQ(to_hex(std::span<const uint8_t>(g->data(), 8)), "e3bc684fcde8b14d");
    EXPECT_EQ(format_guid(*g), kRoot);
    EXPECT_EQ(format_guid(*parse_guid("2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5")), kVerity);
    EXPECT_FALSE(parse_guid("2c7357ed-ebd2-46d9-aec1-23d437ec2bf"));
    EXPECT_FALSE(parse_guid("2c7357ed+ebd2-46d9-aec1-23d437ec2bf5"));
    EXPECT_FALSE(parse_guid("zc7357ed-ebd2-46d9-aec1-23d437ec2bf5"));
}

TEST(DdiGpt, FindsTheRootPartitionsBothSectorSizes) {
    for (uint32_t ss : {512u, 4096u}) {
        GptImage img = ddi_image(ss);
        const auto parts = parse_all(img);
        ASSERT_EQ(parts.size(), 3u);
        EXPECT_EQ(parts[0].name, "root-x86-64");
        const DdiRoot d = find_ddi_root(parts);
        EXPECT_EQ(d.root.offset(ss), 64u * 4096);
        EXPECT_EQ(d.root.size(ss), 32u * 4096);
        EXPECT_EQ(d.verity.offset(ss), 96u * 4096);
        EXPECT_EQ(d.signature.size(ss), 4u * 4096);
    }
}

TEST(DdiGpt, ReadsWhatSfdiskWrites) {
    TempDir dir("lazyroot-ddi");
    const auto disk = dir / "disk.img";
    std::filesystem::resize_file(dir.write_file("disk.img", std::string_view()), 16 << 20);
    const std::string script =
        "label: gpt\n"
        "start=2048, size=16384, type=" +
        kRoot +
        ", name=root\n"
        "size=4096, type=" +
        kVerity +
        "\n"
        "size=2048, type=" +
        kSig + "\n";
    const auto script_file = dir.write_file("layout", script);
    auto r = fixtures::run_command(
        {"sh", "-c", "PATH=$PATH:/usr/sbin:/sbin sfdisk -q '" + disk.string() + "' <'" + script_file.string() + "'"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::ifstream in(disk, std::ios::binary);
    GptImage img;
    img.bytes.assign(std::istreambuf_iterator<char>(in), {});
    const auto parts = parse_all(img);
    const DdiRoot d = find_ddi_root(parts);
    EXPECT_EQ(d.root.offset(512), 2048u * 512);
    EXPECT_EQ(d.root.size(512), 16384u * 512);
    EXPECT_EQ(d.root.name, "root");
    EXPECT_EQ(d.verity.offset(512), (2048u + 16384) * 512);
    EXPECT_EQ(d.verity.size(512), 4096u * 512);
    EXPECT_EQ(d.signature.offset(512), (2048u + 16384 + 4096) * 512);
}

TEST(DdiGpt, CorruptHeadersAreRefused) {
    struct Case {
        const char* expect;
        void (*edit)(GptImage&);
        bool fix_crc;
    };
    const Case cases[] = {
        {"header CRC32 mismatch", [](GptImage& i) { i.header()[40] ^= 1; }, false},
        {"entries CRC32 mismatch", [](GptImage& i) { i.entries()[33] ^= 1; }, false},
        {"no \"EFI PART\"", [](GptImage& i) { i.header()[0] = 'X'; }, true},
        {"revision", [](GptImage& i) { io::put_le<uint32_t>(i.header(), 8, 0x00020000); }, true},
        {"header size", [](GptImage& i) { io::put_le<uint32_t>(i.header(), 12, 60); }, false},
        {"not the primary", [](GptImage& i) { io::put_le<uint64_t>(i.header(), 24, 7); }, true},
        {"entry size", [](GptImage& i) { io::put_le<uint32_t>(i.header(), 84, 100); }, true},
        {"partition entries is out of range", [](GptImage& i) { io::put_le<uint32_t>(i.header(), 80, 0); }, true},
        {"partition entries is out of range", [](GptImage& i) { io::put_le<uint32_t>(i.header(), 80, 1u << 20); },
         true},
        {"outside the usable LBAs", [](GptImage& i) { io::put_le<uint64_t>(i.entries(), 40, 1u << 30); }, true},
        {"outside the usable LBAs", [](GptImage& i) { io::put_le<uint64_t>(i.entries(), 40, 10); }, true},
        // A partition at LBA 2^55 of 512 B sectors starts at byte 2^64: offset 0 once wrapped.
        {"past 2^63 bytes",
         [](GptImage& i) {
             io::put_le<uint64_t>(i.header(), 48, uint64_t{1} << 62);
             io::put_le<uint64_t>(i.entries(), 32, uint64_t{1} << 55);
             io::put_le<uint64_t>(i.entries(), 40, (uint64_t{1} << 55) + 63);
         },
         true},
    };
    for (const Case& c : cases) {
        GptImage img = ddi_image();
        c.edit(img);
        if (c.fix_crc) img.fix_crcs();
        const std::string err = error_of([&] { parse_all(img); });
        EXPECT_NE(err.find(c.expect), std::string::npos) << "expected '" << c.expect << "', got '" << err << "'";
    }
    GptImage img = ddi_image();
    EXPECT_NE(error_of([&] { parse_gpt_header(img.header().first(100), 512); }).find("short read"), std::string::npos);
}

TEST(DdiGpt, MissingOrAmbiguousPartitions) {
    auto parts = parse_all(*std::make_unique<GptImage>(ddi_image()));
    auto without = parts;
    without.erase(without.begin() + 1);
    EXPECT_NE(error_of([&] { find_ddi_root(without); }).find("no root-verity partition"), std::string::npos);
    without = parts;
    without.erase(without.begin() + 2);
    EXPECT_NE(error_of([&] { find_ddi_root(without); }).find("no root-verity-sig partition"), std::string::npos);
    without = parts;
    without.erase(without.begin());
    EXPECT_NE(error_of([&] { find_ddi_root(without); }).find("no x86-64 root partition"), std::string::npos);
    auto twice = parts;
    twice.push_back(parts[0]);
    EXPECT_NE(error_of([&] { find_ddi_root(twice); }).find("more than one x86-64 root"), std::string::npos);
}

TEST(DdiVeritySig, ParsesThePaddedJson) {
    const std::string root = "8C2AB2DD0A71D10EEDD8B7FD8D2E0CCD0C1EA13DBC4E4E1BF1E5AD54D0BAF0F1";
    std::string json = R"({"rootHash":")" + root + R"(","certificateFingerprint":")" + std::string(64, 'a') +
                       R"(","signature":"AQID"})";
    std::vector<uint8_t> part(bytes_of(json).begin(), bytes_of(json).end());
    part.resize(16384, 0);
    VeritySig s = parse_verity_sig(part);
    EXPECT_EQ(s.root_hash, to_hex(*from_hex(root)));
    EXPECT_EQ(s.certificate_fingerprint, std::string(64, 'a'));
    EXPECT_EQ(s.signature, (std::vector<uint8_t>{1, 2, 3}));

    // The fingerprint is optional; no padding at all is fine too.
    s = parse_verity_sig(bytes_of(R"({"rootHash":")" + root + R"(","signature":"AQID"})"));
    EXPECT_FALSE(s.certificate_fingerprint);
}

TEST(DdiVeritySig, MalformedIsRefusedWithTheField) {
    const std::string root(64, 'b');
    const std::pair<std::string, const char*> cases[] = {
        {"", "empty"},
        {"{", "not JSON"},
        {"[]", "not a JSON object"},
        {R"({"signature":"AQID"})", "rootHash: missing"},
        {R"({"rootHash":"xyz","signature":"AQID"})", "rootHash: must be 64 hex"},
        {R"({"rootHash":")" + root.substr(2) + R"(","signature":"AQID"})", "rootHash: must be 64 hex"},
        {R"({"rootHash":7,"signature":"AQID"})", "rootHash: must be a string"},
        {R"({"rootHash":")" + root + R"("})", "signature: missing"},
        {R"({"rootHash":")" + root + R"(","signature":"A*ID"})", "signature: not base64"},
        {R"({"rootHash":")" + root + R"(","signature":""})", "signature: empty"},
        {R"({"rootHash":")" + root + R"(","signature":"AQID","certificateFingerprint":"ab"})",
         "certificateFingerprint: must be 64 hex"},
        {std::string("{}\0garbage", 10), "bytes after the NUL padding"},
    };
    for (const auto& [text, expect] : cases) {
        const std::string err = error_of([&] { parse_verity_sig(bytes_of(text)); });
        EXPECT_NE(err.find(expect), std::string::npos) << "for " << text << ": " << err;
    }
}
