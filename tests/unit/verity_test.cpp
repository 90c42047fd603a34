// dm-verity preparation: the superblock, the hash tree (byte for byte against
// `veritysetup format`, and `veritysetup verify` on what we write), the
// manifest, root-hash signatures and `lazyroot prepare`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "cli/options.h"
#include "cli/verity_plan.h"
#include "io/file_source.h"
#include "io/range_source.h"
#include "tests/unit/gpt_builder.h"
#include "verity/ddi.h"
#include "verity/verifying_source.h"
#include "io/unique_fd.h"
#include "tests/http_fixtures/child_process.h"
#include "tests/http_fixtures/temp_dir.h"
#include "tests/http_fixtures/test_image.h"
#include "verity/encoding.h"
#include "verity/hash_tree.h"
#include "verity/manifest.h"
#include "verity/prepare.h"
#include "verity/signature.h"
#include "verity/superblock.h"

using namespace lazyroot;
using namespace lazyroot::verity;
using fixtures::TempDir;

namespace {

// ---- helpers ---------------------------------------------------------------

constexpr uint32_t kBlock = 4096;

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string read_text(const std::filesystem::path& path) {
    auto b = read_file(path);
    return {b.begin(), b.end()};
}

std::vector<uint8_t> read_range(const std::filesystem::path& path, uint64_t off, uint64_t len) {
    auto all = read_file(path);
    if (off + len > all.size()) return {};
    return {all.begin() + static_cast<ptrdiff_t>(off), all.begin() + static_cast<ptrdiff_t>(off + len)};
}

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint8_t> out(n);
    for (auto& b : out) b = static_cast<uint8_t>(rng());
    return out;
}

// `veritysetup format` with our parameters; returns its root hash ("" on failure).
std::string veritysetup_format(const std::filesystem::path& image, const std::filesystem::path& hash_file,
                               const std::vector<uint8_t>& salt, const std::string& uuid) {
    const std::string salt_arg = salt.empty() ? "-" : to_hex(salt);
    auto r =
        fixtures::run_command({"veritysetup", "format", "--salt=" + salt_arg, "--uuid=" + uuid,
                               "--data-block-size=4096", "--hash-block-size=4096", image.string(), hash_file.string()});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::smatch m;
    static const std::regex root_line(R"(Root hash:\s*([0-9a-f]+))");
    return std::regex_search(r.output, m, root_line) ? m[1].str() : std::string();
}

// `veritysetup verify`; the hash area at hash_offset of hash_file.
fixtures::CommandResult veritysetup_verify(const std::filesystem::path& image, const std::filesystem::path& hash_file,
                                           const std::string& root_hex, uint64_t hash_offset = 0) {
    std::vector<std::string> argv{"veritysetup", "verify"};
    if (hash_offset) argv.push_back("--hash-offset=" + std::to_string(hash_offset));
    argv.insert(argv.end(), {image.string(), hash_file.string(), root_hex});
    return fixtures::run_command(argv);
}

// The whole hash area for image (superblock with `uuid`, then the tree), built
// by build_hash_tree into hash_file. Returns the root hash.
std::vector<uint8_t> build_hash_file(const std::filesystem::path& image, const std::filesystem::path& hash_file,
                                     const VerityParams& p, const std::array<uint8_t, 16>& uuid, unsigned threads = 0) {
    io::UniqueFd fd(::open(hash_file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    EXPECT_TRUE(fd);
    Superblock sb;
    sb.uuid = uuid;
    sb.data_blocks = p.data_blocks;
    sb.salt = p.salt;
    auto bytes = encode_superblock(sb);
    bytes.resize(kBlock, 0);
    EXPECT_EQ(::pwrite(fd.get(), bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    return build_hash_tree(image.string(), p.data_blocks * p.data_block_size, p, fd.get(), 0, threads);
}

VerityParams params_for(uint64_t blocks, std::vector<uint8_t> salt) {
    VerityParams p;
    p.data_blocks = blocks;
    p.salt = std::move(salt);
    return p;
}

// ---- certificates, made in-process ------------------------------------------

template <auto Free>
struct Deleter {
    template <typename T>
    void operator()(T* p) const {
        Free(p);
    }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;

struct Signer {
    std::string key_pem;
    std::string cert_pem;
};

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return {data, static_cast<size_t>(n)};
}

std::string key_pem(EVP_PKEY* key) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
    return bio_text(bio.get());
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    ASSERT_NE(ext, nullptr);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

// A certificate for `key` valid from now+not_before_s to now+not_after_s,
// self-signed unless an issuer is given.
X509Ptr make_cert(EVP_PKEY* key, const char* cn, long not_before_s, long not_after_s, bool ca = false,
                  X509* issuer = nullptr, EVP_PKEY* issuer_key = nullptr) {
    static long serial = 1;
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after_s);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
    if (ca) {
        add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,digitalSignature");
    }
    X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256());
    return cert;
}

std::string cert_pem(X509* cert) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert);
    return bio_text(bio.get());
}

constexpr long kDay = 24 * 3600;

// RSA, so signatures are deterministic and comparable with openssl's bytes.
struct Keys {
    KeyPtr a{EVP_RSA_gen(2048)}, b{EVP_RSA_gen(2048)}, ca{EVP_RSA_gen(2048)};
    X509Ptr ca_cert = make_cert(ca.get(), "lazyroot test CA", -kDay, 30 * kDay, true);

    Signer self_signed(EVP_PKEY* key, const char* cn, long nb = -kDay, long na = 30 * kDay) const {
        return {key_pem(key), cert_pem(make_cert(key, cn, nb, na).get())};
    }
};

const Keys& keys() {
    static const Keys k;
    return k;
}

const std::string kRoot = "8c2ab2dd0a71d10eedd8b7fd8d2e0ccd0c1ea13dbc4e4e1bf1e5ad54d0baf0f1";

// ---- superblock ------------------------------------------------------------

TEST(VeritySuperblock, RoundTripAndLayout) {
    Superblock sb;
    sb.uuid = random_uuid();
    sb.data_blocks = 0x0102030405060708ull;
    sb.salt = random_bytes(77, 1);
    auto bytes = encode_superblock(sb);
    ASSERT_EQ(bytes.size(), 512u);
    EXPECT_EQ(std::memcmp(bytes.data(), "verity\0\0", 8), 0);
    EXPECT_EQ(bytes[8], 1);   // version, little-endian
    EXPECT_EQ(bytes[12], 1);  // hash_type
    EXPECT_EQ(std::memcmp(bytes.data() + 16, sb.uuid.data(), 16), 0);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data() + 32)), "sha256");
    EXPECT_EQ(bytes[64 + 1], 0x10);  // 4096
    EXPECT_EQ(bytes[68 + 1], 0x10);
    EXPECT_EQ(bytes[72], 0x08);
    EXPECT_EQ(bytes[79], 0x01);
    EXPECT_EQ(bytes[80], 77);
    EXPECT_EQ(std::memcmp(bytes.data() + 88, sb.salt.data(), 77), 0);
    for (size_t i = 88 + 77; i < 512; ++i) ASSERT_EQ(bytes[i], 0) << i;

    auto back = decode_superblock(bytes);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, sb);

    EXPECT_EQ(parse_uuid(format_uuid(sb.uuid)), sb.uuid);
    EXPECT_EQ(format_uuid(sb.uuid)[14], '4');  // version 4
}

TEST(VeritySuperblock, ReadsWhatVeritysetupWrites) {
    TempDir dir("lazyroot-verity");
    auto image = dir.write_file("img", fixtures::make_test_image(300 * kBlock, 3));
    const auto salt = random_bytes(32, 2);
    const std::string uuid = "0b6f7c2e-57c4-4e34-9a1a-2f5f0d1c9e77";
    ASSERT_FALSE(veritysetup_format(image, dir / "hash", salt, uuid).empty());
    auto sb = decode_superblock(read_range(dir / "hash", 0, 512));
    ASSERT_TRUE(sb);
    EXPECT_EQ(format_uuid(sb->uuid), uuid);
    EXPECT_EQ(sb->algorithm, "sha256");
    EXPECT_EQ(sb->hash_type, 1u);
    EXPECT_EQ(sb->data_blocks, 300u);
    EXPECT_EQ(sb->salt, salt);
    EXPECT_EQ(encode_superblock(*sb), read_range(dir / "hash", 0, 512));
}

TEST(VeritySuperblock, RefusesWhatIsNotOne) {
    Superblock sb;
    sb.data_blocks = 1;
    const auto good = encode_superblock(sb);
    EXPECT_FALSE(decode_superblock(std::span(good).first(511)));
    auto mutate = [&](size_t off, uint8_t v) {
        auto b = good;
        b[off] = v;
        return decode_superblock(b);
    };
    EXPECT_FALSE(mutate(0, 'V'));    // signature
    EXPECT_FALSE(mutate(8, 2));      // version
    EXPECT_FALSE(mutate(12, 2));     // hash_type
    EXPECT_FALSE(mutate(65, 0x11));  // data block size not a power of two
    EXPECT_FALSE(mutate(69, 0x00));  // hash block size 0
    EXPECT_TRUE(mutate(81, 0x01));   // salt_size 256: the most there is room for
    auto b = good;
    b[80] = 1;
    b[81] = 1;  // 257
    EXPECT_FALSE(decode_superblock(b));
    b = good;
    std::memset(b.data() + 32, 'x', 32);  // algorithm without its NUL
    EXPECT_FALSE(decode_superblock(b));

    sb.salt.resize(257);
    EXPECT_THROW(encode_superblock(sb), std::invalid_argument);
    sb.salt.clear();
    sb.algorithm = std::string(32, 'a');
    EXPECT_THROW(encode_superblock(sb), std::invalid_argument);
    sb.algorithm = "sha256";
    sb.data_block_size = 1000;
    EXPECT_THROW(encode_superblock(sb), std::invalid_argument);
}

// ---- encodings -------------------------------------------------------------

TEST(VerityEncoding, HexAndBase64) {
    const std::vector<uint8_t> bytes{0x00, 0x01, 0xab, 0xff};
    EXPECT_EQ(to_hex(bytes), "0001abff");
    EXPECT_EQ(from_hex("0001ABff"), bytes);
    EXPECT_FALSE(from_hex("abc"));
    EXPECT_FALSE(from_hex("zz"));
    EXPECT_EQ(from_hex(""), std::vector<uint8_t>{});

    // RFC 4648 test vectors.
    const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                           {"f", "Zg=="},
                                                           {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},
                                                           {"foob", "Zm9vYg=="},
                                                           {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, b64] : vectors) {
        const std::vector<uint8_t> raw(plain.begin(), plain.end());
        EXPECT_EQ(to_base64(raw), b64);
        EXPECT_EQ(from_base64(b64), raw) << b64;
    }
    for (const char* bad : {"Zg=", "Zg", "Z===", "Zh==", "Zm9v\n", "Zm=v", "Zm9v====", "Zm 9"})
        EXPECT_FALSE(from_base64(bad)) << bad;
    auto random = random_bytes(1000, 9);
    EXPECT_EQ(from_base64(to_base64(random)), random);
}

// ---- hash tree ---------------------------------------------------------------

TEST(VerityTree, Layout) {
    // 1 block: no tree; 128: one level; 129: two; 16385 (> 128 * 128): three.
    struct Case {
        uint64_t blocks;
        std::vector<uint64_t> level_blocks;  // bottom first
    };
    for (const Case& c : {Case{1, {}}, Case{2, {1}}, Case{128, {1}}, Case{129, {2, 1}}, Case{16384, {128, 1}},
                          Case{16385, {129, 2, 1}}}) {
        const TreeLayout l = tree_layout(params_for(c.blocks, {}));
        ASSERT_EQ(l.levels.size(), c.level_blocks.size()) << c.blocks;
        EXPECT_EQ(l.hashes_per_block, 128u);
        EXPECT_EQ(l.tree_offset, 4096u);
        uint64_t at = 4096;
        for (size_t i = l.levels.size(); i-- > 0;) {  // top level first on disk
            EXPECT_EQ(l.levels[i].blocks, c.level_blocks[i]);
            EXPECT_EQ(l.levels[i].offset, at);
            at += l.levels[i].blocks * 4096;
        }
        EXPECT_EQ(l.hash_area_bytes, at);
    }
    EXPECT_THROW(tree_layout(params_for(0, {})), std::invalid_argument);
    EXPECT_THROW(tree_layout(params_for(1, std::vector<uint8_t>(257))), std::invalid_argument);
}

struct TreeCase {
    uint64_t blocks;
    size_t salt_bytes;
};

class VerityTreeCompat : public ::testing::TestWithParam<TreeCase> {};

// Byte for byte what veritysetup writes (given the same UUID), the same root
// hash, and veritysetup verify accepts our file.
TEST_P(VerityTreeCompat, MatchesVeritysetup) {
    const auto [blocks, salt_bytes] = GetParam();
    TempDir dir("lazyroot-verity");
    auto image = dir.write_file("img", fixtures::make_test_image(blocks * kBlock, blocks));
    const auto p = params_for(blocks, random_bytes(salt_bytes, blocks + salt_bytes));
    const auto uuid = random_uuid();

    const std::string theirs = veritysetup_format(image, dir / "theirs.hash", p.salt, format_uuid(uuid));
    const std::string ours = to_hex(build_hash_file(image, dir / "ours.hash", p, uuid));
    EXPECT_EQ(ours, theirs);
    EXPECT_EQ(std::filesystem::file_size(dir / "ours.hash"), tree_layout(p).hash_area_bytes);
    EXPECT_TRUE(read_file(dir / "ours.hash") == read_file(dir / "theirs.hash")) << "hash files differ";
    auto v = veritysetup_verify(image, dir / "ours.hash", ours);
    EXPECT_EQ(v.exit_code, 0) << v.output;
}

INSTANTIATE_TEST_SUITE_P(Verity, VerityTreeCompat,
                         ::testing::Values(TreeCase{1, 32}, TreeCase{2, 32}, TreeCase{127, 0}, TreeCase{128, 7},
                                           TreeCase{129, 32}, TreeCase{300, 256}, TreeCase{16384, 32},
                                           TreeCase{16385, 32}),  // 3 levels: 64 MiB + 4 KiB
                         [](const auto& info) {
                             return std::to_string(info.param.blocks) + "_blocks_salt" +
                                    std::to_string(info.param.salt_bytes);
                         });

TEST(VerityTree, SameBytesWhateverTheThreadCount) {
    TempDir dir("lazyroot-verity");
    const uint64_t blocks = 3000;  // several work items per level
    auto image = dir.write_file("img", fixtures::make_test_image(blocks * kBlock, 5));
    const auto p = params_for(blocks, random_bytes(32, 5));
    const auto uuid = random_uuid();
    const auto root1 = build_hash_file(image, dir / "t1", p, uuid, 1);
    for (unsigned threads : {2u, 3u, 16u}) {
        const std::string name = "t" + std::to_string(threads);
        EXPECT_EQ(build_hash_file(image, dir / name, p, uuid, threads), root1);
        EXPECT_TRUE(read_file(dir / name) == read_file(dir / "t1")) << threads;
    }
}

TEST(VerityTree, HashOffsetInsideAnotherFile) {
    // The tree written after the data in the image itself, as veritysetup --hash-offset does.
    TempDir dir("lazyroot-verity");
    const uint64_t blocks = 200;
    auto image = dir.write_file("img", fixtures::make_test_image(blocks * kBlock, 6));
    const auto p = params_for(blocks, random_bytes(32, 6));
    io::UniqueFd fd(::open(image.c_str(), O_RDWR | O_CLOEXEC));
    Superblock sb;
    sb.uuid = random_uuid();
    sb.data_blocks = blocks;
    sb.salt = p.salt;
    auto sb_bytes = encode_superblock(sb);
    ASSERT_EQ(::pwrite(fd.get(), sb_bytes.data(), sb_bytes.size(), blocks * kBlock), 512);
    const auto root = build_hash_tree(image.string(), blocks * kBlock, p, fd.get(), blocks * kBlock);
    auto v = veritysetup_verify(image, image, to_hex(root), blocks * kBlock);
    EXPECT_EQ(v.exit_code, 0) << v.output;
}

TEST(VerityTree, VerifyBlockAndTree) {
    TempDir dir("lazyroot-verity");
    const uint64_t blocks = 16385;  // three levels
    const auto data = fixtures::make_test_image(blocks * kBlock, 7);
    auto image = dir.write_file("img", data);
    const auto p = params_for(blocks, random_bytes(32, 7));
    const auto root = build_hash_file(image, dir / "hash", p, random_uuid());
    const auto area = read_file(dir / "hash");
    const TreeLayout l = tree_layout(p);
    const auto leaves = std::span(area).subspan(l.levels[0].offset, l.levels[0].blocks * kBlock);

    EXPECT_TRUE(verify_tree(area, p, root));
    auto block = [&](uint64_t i) { return std::span(data).subspan(i * kBlock, kBlock); };
    for (uint64_t i : {0ull, 1ull, 127ull, 128ull, 5000ull, 16383ull, 16384ull})
        EXPECT_TRUE(verify_block(i, block(i), leaves, p)) << i;
    EXPECT_FALSE(verify_block(1, block(0), leaves, p));             // wrong place
    EXPECT_FALSE(verify_block(blocks, block(0), leaves, p));        // past the end
    EXPECT_FALSE(verify_block(0, block(0).first(100), leaves, p));  // short
    auto flipped = std::vector<uint8_t>(block(42).begin(), block(42).end());
    flipped[1000] ^= 1;
    EXPECT_FALSE(verify_block(42, flipped, leaves, p));

    // Any changed byte of the tree, slot or padding, at any level, is caught.
    for (uint64_t off : {l.levels[0].offset + 5, l.levels[0].offset + l.levels[0].blocks * kBlock - 1,
                         l.levels[1].offset + 64 * 32, l.levels[2].offset + 3 * 32 + 31}) {
        auto bad = area;
        bad[off] ^= 0x80;
        EXPECT_FALSE(verify_tree(bad, p, root)) << off;
    }
    auto wrong_root = root;
    wrong_root[0] ^= 1;
    EXPECT_FALSE(verify_tree(area, p, wrong_root));
    EXPECT_FALSE(verify_tree(std::span(area).first(area.size() - 1), p, root));

    // One block: no tree; the root hash is its leaf.
    const auto p1 = params_for(1, p.salt);
    const auto root1 = hash_block(p.salt, block(0));
    EXPECT_TRUE(verify_block(0, block(0), root1, p1));
    EXPECT_FALSE(verify_block(0, block(1), root1, p1));
}

TEST(VerityTree, Errors) {
    TempDir dir("lazyroot-verity");
    auto image = dir.write_file("img", fixtures::make_test_image(10 * kBlock, 8));
    io::UniqueFd out(::open((dir / "hash").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    // The image is shorter than the data it should hold.
    try {
        build_hash_tree(image.string(), 20 * kBlock, params_for(20, {}), out.get(), 0);
        ADD_FAILURE() << "short image accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("img: reading at byte"), std::string::npos) << e.what();
    }
    EXPECT_THROW(build_hash_tree(image.string(), 5 * kBlock, params_for(4, {}), out.get(), 0), std::invalid_argument);
    EXPECT_THROW(build_hash_tree((dir / "missing").string(), kBlock, params_for(1, {}), out.get(), 0),
                 std::runtime_error);
    EXPECT_THROW(build_hash_tree(image.string(), kBlock * 2, params_for(2, {}), -1, 0), std::runtime_error);
}

// ---- manifest ----------------------------------------------------------------

Manifest sample_manifest() {
    Manifest m;
    m.root_hash = kRoot;
    m.data_size = 300 * kBlock;
    m.hash_offset = 300 * kBlock;
    m.salt = random_bytes(32, 11);
    m.image_size = m.hash_offset + tree_layout(params_for(300, m.salt)).hash_area_bytes;
    m.uuid = "0b6f7c2e-57c4-4e34-9a1a-2f5f0d1c9e77";
    return m;
}

TEST(VerityManifest, RoundTrip) {
    Manifest m = sample_manifest();
    EXPECT_EQ(parse_manifest(format_manifest(m)), m);

    m.signature = ManifestSignature{kRoot, std::string(64, 'a'), random_bytes(700, 12)};
    EXPECT_EQ(parse_manifest(format_manifest(m)), m);

    m.hash_file = "img.hash";
    m.hash_offset = 0;
    m.image_size = m.data_size;
    EXPECT_EQ(parse_manifest(format_manifest(m)), m);

    // The names of the fields are the contract.
    auto j = nlohmann::json::parse(format_manifest(m));
    for (const char* key : {"rootHash", "dataSize", "hashOffset", "dataBlockSize", "hashBlockSize", "salt", "algorithm",
                            "imageSize", "hashType", "uuid", "hashFile"})
        EXPECT_TRUE(j.contains(key)) << key;
    for (const char* key : {"rootHash", "certificateFingerprint", "signature"})
        EXPECT_TRUE(j["signature"].contains(key)) << key;
    EXPECT_EQ(j["signature"]["signature"], to_base64(m.signature->signature));

    // Upper-case hex is accepted and normalised; unknown fields are ignored.
    j["rootHash"] = "8C2AB2DD0A71D10EEDD8B7FD8D2E0CCD0C1EA13DBC4E4E1BF1E5AD54D0BAF0F1";
    j["futureField"] = {1, 2};
    EXPECT_EQ(parse_manifest(j.dump()).root_hash, kRoot);
}

TEST(VerityManifest, MalformedFieldsAreNamed) {
    const auto base = nlohmann::json::parse(format_manifest(sample_manifest()));
    using Mutation = std::function<void(nlohmann::json&)>;
    const std::vector<std::pair<std::string, Mutation>> cases = {
        {"rootHash", [](auto& j) { j.erase("rootHash"); }},
        {"rootHash", [](auto& j) { j["rootHash"] = "abcd"; }},
        {"rootHash", [](auto& j) { j["rootHash"] = std::string(64, 'g'); }},
        {"rootHash", [](auto& j) { j["rootHash"] = 5; }},
        {"dataSize", [](auto& j) { j["dataSize"] = -4096; }},
        {"dataSize", [](auto& j) { j["dataSize"] = 4096.5; }},
        {"dataSize", [](auto& j) { j["dataSize"] = "4096"; }},
        {"dataSize", [](auto& j) { j["dataSize"] = 0; }},
        {"dataSize", [](auto& j) { j["dataSize"] = 4097; }},
        {"hashOffset", [](auto& j) { j["hashOffset"] = 300 * 4096 + 100; }},
        {"hashOffset", [](auto& j) { j["hashOffset"] = 4096; }},  // inside the data
        {"dataBlockSize", [](auto& j) { j["dataBlockSize"] = 1000; }},
        {"hashBlockSize", [](auto& j) { j["hashBlockSize"] = 1u << 20; }},
        {"hashBlockSize", [](auto& j) { j.erase("hashBlockSize"); }},
        {"salt", [](auto& j) { j["salt"] = "abc"; }},
        {"salt", [](auto& j) { j["salt"] = std::string(514, 'a'); }},
        {"algorithm", [](auto& j) { j["algorithm"] = "sha1"; }},
        {"hashType", [](auto& j) { j["hashType"] = 0; }},
        {"imageSize", [](auto& j) { j["imageSize"] = 300 * 4096 + 4096; }},  // no room for the tree
        {"imageSize", [](auto& j) { j["imageSize"] = 4096; }},
        {"uuid", [](auto& j) { j["uuid"] = "0b6f7c2e57c44e349a1a2f5f0d1c9e77"; }},
        {"uuid", [](auto& j) { j["uuid"] = nullptr; }},
        {"hashFile", [](auto& j) { j["hashFile"] = ""; }},
        {"signature", [](auto& j) { j["signature"] = "abc"; }},
        {"signature.rootHash",
         [](auto& j) {
             j["signature"] = {{"rootHash", std::string(64, '0')},
                               {"certificateFingerprint", std::string(64, '0')},
                               {"signature", "AAAA"}};
         }},
        {"signature.certificateFingerprint",
         [](auto& j) {
             j["signature"] = {{"rootHash", kRoot}, {"certificateFingerprint", "00"}, {"signature", "AAAA"}};
         }},
        {"signature.signature",
         [](auto& j) {
             j["signature"] = {
                 {"rootHash", kRoot}, {"certificateFingerprint", std::string(64, '0')}, {"signature", "AA!A"}};
         }},
        {"signature.signature",
         [](auto& j) {
             j["signature"] = {{"rootHash", kRoot}, {"certificateFingerprint", std::string(64, '0')}};
         }},
    };
    for (const auto& [field, mutate] : cases) {
        auto j = base;
        mutate(j);
        try {
            parse_manifest(j.dump());
            ADD_FAILURE() << field << " accepted: " << j.dump();
        } catch (const ManifestError& e) {
            const std::string what = e.what();
            EXPECT_EQ(what.rfind("manifest: " + field + ": ", 0), 0u) << what;
            EXPECT_EQ(what.find('\n'), std::string::npos) << what;
        }
    }
    for (const char* text : {"", "{", "[]", "null", "{\"rootHash\": 1e999}", "\x01\x02"}) {
        try {
            parse_manifest(text);
            ADD_FAILURE() << "accepted: " << text;
        } catch (const ManifestError& e) {
            EXPECT_EQ(std::string(e.what()).rfind("manifest: ", 0), 0u) << e.what();
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        }
    }
}

// ---- signatures --------------------------------------------------------------

TEST(VeritySignature, ValidSignatureVerifies) {
    const Signer s = keys().self_signed(keys().a.get(), "signer");
    const auto sig = sign_root_hash(kRoot, s.key_pem, s.cert_pem);
    auto v = verify_signature(kRoot, sig, s.cert_pem);
    EXPECT_TRUE(v) << v.reason;
    // A PEM with several certificates: any of them may be the signer's.
    const Signer other = keys().self_signed(keys().b.get(), "other");
    v = verify_signature(kRoot, sig, other.cert_pem + s.cert_pem);
    EXPECT_TRUE(v) << v.reason;
}

TEST(VeritySignature, SameBytesAsOpensslSmimeAndInterchangeable) {
    TempDir dir("lazyroot-verity");
    const Signer s = keys().self_signed(keys().a.get(), "signer");
    auto key = dir.write_file("key.pem", s.key_pem);
    auto cert = dir.write_file("cert.pem", s.cert_pem);
    auto content = dir.write_file("roothash", kRoot);  // no newline
    auto r = fixtures::run_command({"openssl", "smime", "-sign", "-binary", "-noattr", "-outform", "DER", "-in",
                                    content.string(), "-signer", cert.string(), "-inkey", key.string(), "-out",
                                    (dir / "openssl.p7s").string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto theirs = read_file(dir / "openssl.p7s");
    const auto ours = sign_root_hash(kRoot, s.key_pem, s.cert_pem);
    EXPECT_TRUE(ours == theirs) << "ours " << ours.size() << " bytes, openssl's " << theirs.size();

    auto v = verify_signature(kRoot, theirs, s.cert_pem);
    EXPECT_TRUE(v) << v.reason;
    dir.write_file("ours.p7s", ours);
    r = fixtures::run_command({"openssl", "smime", "-verify", "-binary", "-inform", "DER", "-in",
                               (dir / "ours.p7s").string(), "-content", content.string(), "-CAfile", cert.string(),
                               "-out", "/dev/null"});
    EXPECT_EQ(r.exit_code, 0) << r.output;

    // The fingerprint is openssl's SHA-256 fingerprint.
    r = fixtures::run_command({"openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", cert.string()});
    std::string fp;
    for (char c : r.output.substr(r.output.find('=') + 1))
        if (std::isxdigit(static_cast<unsigned char>(c))) fp.push_back(static_cast<char>(std::tolower(c)));
    EXPECT_EQ(certificate_fingerprint(s.cert_pem), fp);
}

TEST(VeritySignature, RefusesWrongCertificate) {
    const Signer s = keys().self_signed(keys().a.get(), "signer");
    const Signer other = keys().self_signed(keys().b.get(), "other");
    const auto sig = sign_root_hash(kRoot, s.key_pem, s.cert_pem);
    auto v = verify_signature(kRoot, sig, other.cert_pem);
    EXPECT_FALSE(v);
    EXPECT_FALSE(v.reason.empty());
    // The trusted certificate's subject name on another key.
    const Signer impostor = keys().self_signed(keys().b.get(), "signer");
    EXPECT_FALSE(verify_signature(kRoot, sign_root_hash(kRoot, impostor.key_pem, impostor.cert_pem), s.cert_pem));
}

TEST(VeritySignature, RefusesTamperedRootHash) {
    const Signer s = keys().self_signed(keys().a.get(), "signer");
    const auto sig = sign_root_hash(kRoot, s.key_pem, s.cert_pem);
    std::string tampered = kRoot;
    tampered[10] = tampered[10] == '0' ? '1' : '0';
    auto v = verify_signature(tampered, sig, s.cert_pem);
    EXPECT_FALSE(v);
    EXPECT_FALSE(verify_signature(kRoot + "\n", sig, s.cert_pem));
    std::string upper = kRoot;
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    EXPECT_FALSE(verify_signature(upper, sig, s.cert_pem));  // signed text is the lowercase hex
}

// No time check (README, "Signatures and clocks"): an expired signing
// certificate, and one not yet valid by this clock (what every certificate
// looks like to an initrd whose clock reads 1970), both verify; the pinned
// certificate and the signed root hash are what count.
TEST(VeritySignature, AcceptsExpiredAndNotYetValidCertificates) {
    const Signer expired = keys().self_signed(keys().a.get(), "expired", -30 * kDay, -kDay);
    const auto sig = sign_root_hash(kRoot, expired.key_pem, expired.cert_pem);
    auto v = verify_signature(kRoot, sig, expired.cert_pem);
    EXPECT_TRUE(v) << v.reason;

    const Signer future = keys().self_signed(keys().a.get(), "future", 3650 * kDay, 7300 * kDay);
    v = verify_signature(kRoot, sign_root_hash(kRoot, future.key_pem, future.cert_pem), future.cert_pem);
    EXPECT_TRUE(v) << v.reason;

    // An expired leaf under a trusted CA that is itself not yet valid: still the chain counts.
    const Keys& k = keys();
    X509Ptr future_ca = make_cert(k.ca.get(), "future CA", 3650 * kDay, 7300 * kDay, true);
    X509Ptr leaf = make_cert(k.a.get(), "old leaf", -30 * kDay, -kDay, false, future_ca.get(), k.ca.get());
    v = verify_signature(kRoot, sign_root_hash(kRoot, key_pem(k.a.get()), cert_pem(leaf.get())),
                         cert_pem(future_ca.get()));
    EXPECT_TRUE(v) << v.reason;

    // Still only the pinned certificate: another key's, or a tampered hash, fails.
    const Signer other = keys().self_signed(keys().b.get(), "other", -30 * kDay, -kDay);
    EXPECT_FALSE(verify_signature(kRoot, sig, other.cert_pem));
    std::string tampered(kRoot);
    tampered[0] = tampered[0] == '0' ? '1' : '0';
    EXPECT_FALSE(verify_signature(tampered, sig, expired.cert_pem));

    // `prepare` asks for the time check: there the clock is right.
    v = verify_signature(kRoot, sig, expired.cert_pem, TimeCheck::Now);
    EXPECT_FALSE(v);
    EXPECT_NE(v.reason.find("expired"), std::string::npos) << v.reason;
}

TEST(VeritySignature, RefusesGarbage) {
    const Signer s = keys().self_signed(keys().a.get(), "signer");
    const auto sig = sign_root_hash(kRoot, s.key_pem, s.cert_pem);
    EXPECT_FALSE(verify_signature(kRoot, {}, s.cert_pem));
    EXPECT_FALSE(verify_signature(kRoot, random_bytes(600, 13), s.cert_pem));
    EXPECT_FALSE(verify_signature(kRoot, std::span(sig).first(sig.size() - 1), s.cert_pem));
    auto extra = sig;
    extra.push_back(0);
    EXPECT_FALSE(verify_signature(kRoot, extra, s.cert_pem));
    auto flipped = sig;
    flipped[flipped.size() - 10] ^= 1;  // inside the RSA signature value
    EXPECT_FALSE(verify_signature(kRoot, flipped, s.cert_pem));
    EXPECT_FALSE(verify_signature(kRoot, sig, "not a certificate"));
    EXPECT_FALSE(verify_signature(kRoot, sig, ""));
}

TEST(VeritySignature, ChainsToATrustedCa) {
    const Keys& k = keys();
    X509Ptr leaf = make_cert(k.a.get(), "leaf", -kDay, 30 * kDay, false, k.ca_cert.get(), k.ca.get());
    const auto sig = sign_root_hash(kRoot, key_pem(k.a.get()), cert_pem(leaf.get()));
    auto v = verify_signature(kRoot, sig, cert_pem(k.ca_cert.get()));
    EXPECT_TRUE(v) << v.reason;
    EXPECT_FALSE(verify_signature(kRoot, sig, keys().self_signed(k.b.get(), "other").cert_pem));
}

TEST(VeritySignature, SigningErrors) {
    const Signer a = keys().self_signed(keys().a.get(), "a");
    const Signer b = keys().self_signed(keys().b.get(), "b");
    EXPECT_THROW(sign_root_hash(kRoot, a.key_pem, b.cert_pem), std::runtime_error);  // key isn't the cert's
    EXPECT_THROW(sign_root_hash(kRoot, "junk", a.cert_pem), std::runtime_error);
    EXPECT_THROW(sign_root_hash(kRoot, a.key_pem, "junk"), std::runtime_error);
    EXPECT_THROW(certificate_fingerprint("junk"), std::runtime_error);
}

// ---- lazyroot prepare ----------------------------------------------------------

Manifest read_manifest(const std::filesystem::path& image) {
    return parse_manifest(read_text(manifest_path(image.string())));
}

TEST(VerityPrepare, AppendsATreeVeritysetupAccepts) {
    TempDir dir("lazyroot-verity");
    const uint64_t blocks = 16385;
    const auto data = fixtures::make_test_image(blocks * kBlock, 21);
    auto image = dir.write_file("img", data);
    auto copy = dir.write_file("copy", data);
    const std::string salt = to_hex(random_bytes(32, 21));

    PrepareOptions o;
    o.image = image.string();
    o.salt_hex = salt;
    ASSERT_EQ(run_prepare(o), 0);

    const Manifest m = read_manifest(image);
    const TreeLayout l = tree_layout(params_for(blocks, *from_hex(salt)));
    EXPECT_EQ(m.data_size, blocks * kBlock);
    EXPECT_EQ(m.hash_offset, blocks * kBlock);
    EXPECT_EQ(m.image_size, blocks * kBlock + l.hash_area_bytes);
    EXPECT_EQ(std::filesystem::file_size(image), m.image_size);
    EXPECT_EQ(to_hex(m.salt), salt);
    EXPECT_FALSE(m.hash_file);
    EXPECT_FALSE(m.signature);
    EXPECT_TRUE(read_range(image, 0, data.size()) == data) << "data changed";
    auto sb = decode_superblock(read_range(image, m.hash_offset, 512));
    ASSERT_TRUE(sb);
    EXPECT_EQ(format_uuid(sb->uuid), m.uuid);

    EXPECT_EQ(m.root_hash, veritysetup_format(copy, dir / "theirs.hash", m.salt, m.uuid));
    auto v = veritysetup_verify(image, image, m.root_hash, m.hash_offset);
    EXPECT_EQ(v.exit_code, 0) << v.output;
    EXPECT_TRUE(read_range(image, m.hash_offset, l.hash_area_bytes) == read_file(dir / "theirs.hash"));
}

TEST(VerityPrepare, RunningTwiceReplacesTheTree) {
    TempDir dir("lazyroot-verity");
    const uint64_t blocks = 500;
    const auto data = fixtures::make_test_image(blocks * kBlock, 22);
    auto image = dir.write_file("img", data);
    PrepareOptions o;
    o.image = image.string();
    ASSERT_EQ(run_prepare(o), 0);
    const Manifest first = read_manifest(image);
    const auto size = std::filesystem::file_size(image);

    ASSERT_EQ(run_prepare(o), 0);  // a new random salt
    const Manifest second = read_manifest(image);
    EXPECT_EQ(second.data_size, blocks * kBlock);
    EXPECT_EQ(second.hash_offset, first.hash_offset);
    EXPECT_EQ(std::filesystem::file_size(image), size);
    EXPECT_NE(second.root_hash, first.root_hash);
    EXPECT_TRUE(read_range(image, 0, data.size()) == data);
    auto v = veritysetup_verify(image, image, second.root_hash, second.hash_offset);
    EXPECT_EQ(v.exit_code, 0) << v.output;

    // Same salt, same data: the same root hash.
    o.salt_hex = to_hex(second.salt);
    ASSERT_EQ(run_prepare(o), 0);
    EXPECT_EQ(read_manifest(image).root_hash, second.root_hash);

    // --salt=keep: the salt of the manifest being replaced, so the same root hash.
    o.salt_hex = "keep";
    ASSERT_EQ(run_prepare(o), 0);
    EXPECT_EQ(read_manifest(image).root_hash, second.root_hash);
    // --salt=none: no salt; twice the same root hash.
    o.salt_hex = "none";
    ASSERT_EQ(run_prepare(o), 0);
    const Manifest unsalted = read_manifest(image);
    EXPECT_TRUE(unsalted.salt.empty());
    ASSERT_EQ(run_prepare(o), 0);
    EXPECT_EQ(read_manifest(image).root_hash, unsalted.root_hash);

    // Without the manifest the file still ends in a tree: hashing it as data
    // would put the old tree on the device. Refused, saying how to start over.
    std::filesystem::remove(manifest_path(image.string()));
    try {
        run_prepare(o);
        ADD_FAILURE() << "an image with a tree and no manifest was hashed";
    } catch (const std::runtime_error& e) {
        const std::string why = e.what();
        EXPECT_NE(why.find("already ends in a verity hash tree"), std::string::npos) << why;
        EXPECT_NE(why.find("truncate -s " + std::to_string(blocks * kBlock)), std::string::npos) << why;
        EXPECT_EQ(why.find('\n'), std::string::npos);
    }
    EXPECT_EQ(std::filesystem::file_size(image), size);  // untouched
    o.salt_hex = "keep";                                 // nothing to keep now
    EXPECT_THROW(run_prepare(o), std::runtime_error);
    // Cut off, it prepares again, to the same root hash for the same salt.
    std::filesystem::resize_file(image, blocks * kBlock);
    o.salt_hex = "none";
    ASSERT_EQ(run_prepare(o), 0);
    EXPECT_EQ(read_manifest(image).root_hash, unsalted.root_hash);
    EXPECT_EQ(std::filesystem::file_size(image), size);

    // A tree veritysetup appended (--hash-offset, no manifest) is found too.
    std::filesystem::remove(manifest_path(image.string()));
    std::filesystem::resize_file(image, blocks * kBlock);
    auto r = fixtures::run_command({"veritysetup", "format", "--hash-offset=" + std::to_string(blocks * kBlock),
                                    "--data-blocks=" + std::to_string(blocks), image.string(), image.string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_EQ(std::filesystem::file_size(image), size);
    EXPECT_THROW(run_prepare(o), std::runtime_error);
}

TEST(VerityPrepare, AManifestForOtherDataIsNotTrusted) {
    TempDir dir("lazyroot-verity");
    auto image = dir.write_file("img", fixtures::make_test_image(100 * kBlock, 23));
    PrepareOptions o;
    o.image = image.string();
    ASSERT_EQ(run_prepare(o), 0);
    // The image is rebuilt (bigger, no tree) but the old manifest stays.
    dir.write_file("img", fixtures::make_test_image(400 * kBlock, 24));
    ASSERT_EQ(run_prepare(o), 0);
    EXPECT_EQ(read_manifest(image).data_size, 400 * kBlock);
}

TEST(VerityPrepare, HashOutLeavesTheImageAlone) {
    TempDir dir("lazyroot-verity");
    const auto data = fixtures::make_test_image(1000 * kBlock, 25);
    auto image = dir.write_file("img", data);
    PrepareOptions o;
    o.image = image.string();
    o.hash_out = (dir / "img.verity").string();
    ASSERT_EQ(run_prepare(o), 0);
    EXPECT_TRUE(read_file(image) == data);
    const Manifest m = read_manifest(image);
    EXPECT_EQ(m.hash_file, o.hash_out);
    EXPECT_EQ(m.hash_offset, 0u);
    EXPECT_EQ(m.image_size, data.size());
    EXPECT_EQ(m.data_size, data.size());
    auto v = veritysetup_verify(image, dir / "img.verity", m.root_hash);
    EXPECT_EQ(v.exit_code, 0) << v.output;

    // A second run truncates whatever the file held.
    dir.write_file("img.verity", std::string(10 << 20, 'x'));
    ASSERT_EQ(run_prepare(o), 0);
    EXPECT_EQ(std::filesystem::file_size(dir / "img.verity"), tree_layout(params_for(1000, {})).hash_area_bytes);
    v = veritysetup_verify(image, dir / "img.verity", read_manifest(image).root_hash);
    EXPECT_EQ(v.exit_code, 0) << v.output;
}

TEST(VerityPrepare, SignsTheRootHash) {
    TempDir dir("lazyroot-verity");
    auto image = dir.write_file("img", fixtures::make_test_image(64 * kBlock, 26));
    const Signer s = keys().self_signed(keys().a.get(), "signer");
    PrepareOptions o;
    o.image = image.string();
    o.sign_key = dir.write_file("key.pem", s.key_pem).string();
    o.sign_cert = dir.write_file("cert.pem", s.cert_pem).string();
    ASSERT_EQ(run_prepare(o), 0);
    const Manifest m = read_manifest(image);
    ASSERT_TRUE(m.signature);
    EXPECT_EQ(m.signature->root_hash, m.root_hash);
    EXPECT_EQ(m.signature->certificate_fingerprint, certificate_fingerprint(s.cert_pem));
    auto v = verify_signature(m.root_hash, m.signature->signature, s.cert_pem);
    EXPECT_TRUE(v) << v.reason;

    // An expired certificate fails at prepare time, and leaves the image as it was.
    const auto before = read_file(image);
    const Signer expired = keys().self_signed(keys().a.get(), "expired", -30 * kDay, -kDay);
    o.sign_cert = dir.write_file("expired.pem", expired.cert_pem).string();
    try {
        run_prepare(o);
        ADD_FAILURE() << "expired certificate accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("expired"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(read_file(image) == before);
}

TEST(VerityPrepare, ErrorsAreOneLine) {
    TempDir dir("lazyroot-verity");
    auto expect_error = [](const PrepareOptions& o, const std::string& needle) {
        try {
            run_prepare(o);
            ADD_FAILURE() << "accepted; expected: " << needle;
        } catch (const std::runtime_error& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find(needle), std::string::npos) << what;
            EXPECT_EQ(what.find('\n'), std::string::npos) << what;
        }
    };
    PrepareOptions o;
    o.image = dir.write_file("odd", std::string(4097, 'x')).string();
    expect_error(o, "not a multiple of 4096");
    EXPECT_EQ(std::filesystem::file_size(o.image), 4097u);
    o.image = dir.write_file("empty", std::string()).string();
    expect_error(o, "empty image");
    o.image = (dir / "missing").string();
    expect_error(o, "No such file");
    o.image = dir.path().string();
    expect_error(o, "directory");
    o.image = dir.write_file("img", fixtures::make_test_image(8 * kBlock, 27)).string();
    o.salt_hex = "xyz";
    expect_error(o, "--salt");
    o.salt_hex.clear();
    o.sign_key = o.image;
    expect_error(o, "--sign-key and --sign-cert");
    o.sign_key.clear();
    o.hash_out = o.image;
    expect_error(o, "--hash-out is the image");
    EXPECT_EQ(std::filesystem::file_size(o.image), 8 * kBlock);
}

TEST(VerityPrepareOptions, CommandLine) {
    TempDir dir("lazyroot-verity");
    const std::string img = dir.write_file("img", std::string(4096, 'x')).string();
    const std::string key = dir.write_file("k.pem", "k").string();
    const std::string cert = dir.write_file("c.pem", "c").string();
    auto parse = [](std::vector<const char*> args) {
        args.insert(args.begin(), "lazyroot");
        return cli::parse_command_line(static_cast<int>(args.size()), args.data());
    };
    auto p = std::get<cli::PrepareOptions>(parse({"prepare", img.c_str()}));
    EXPECT_EQ(p.image, img);
    EXPECT_TRUE(p.salt_hex.empty() && p.sign_key.empty() && p.hash_out.empty());
    p = std::get<cli::PrepareOptions>(parse({"prepare", img.c_str(), "--salt", "00ff", "--sign-key", key.c_str(),
                                             "--sign-cert", cert.c_str(), "--hash-out", "/tmp/h"}));
    EXPECT_EQ(p.salt_hex, "00ff");
    EXPECT_EQ(p.sign_key, key);
    EXPECT_EQ(p.sign_cert, cert);
    EXPECT_EQ(p.hash_out, "/tmp/h");
    EXPECT_EQ(std::get<cli::PrepareOptions>(parse({"prepare", img.c_str(), "--salt=-"})).salt_hex, "-");

    const std::string long_salt(514, 'a');
    const std::vector<std::vector<const char*>> bad = {
        {"prepare"},
        {"prepare", "/nonexistent/img"},
        {"prepare", img.c_str(), "--salt", "0g"},
        {"prepare", img.c_str(), "--salt", long_salt.c_str()},
        {"prepare", img.c_str(), "--sign-key", key.c_str()},
        {"prepare", img.c_str(), "--sign-cert", cert.c_str()},
    };
    for (const auto& args : bad) {
        try {
            parse(args);
            ADD_FAILURE() << "accepted: " << args.back();
        } catch (const cli::UsageError& e) {
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        }
    }
}

}  // namespace

// ---- a separate tree (--hash-source) and DDI plans ------------------------------

TEST(VeritySeparateTree, TheDeviceShowsTheDataThenTheVerifiedTree) {
    TempDir dir("lazyroot-verity");
    const auto data = fixtures::make_test_image(1000 * kBlock + 0, 31);
    auto image = dir.write_file("img", data);
    PrepareOptions o;
    o.image = image.string();
    o.hash_out = (dir / "img.verity").string();
    ASSERT_EQ(run_prepare(o), 0);
    const Manifest m = read_manifest(image);
    const auto tree_bytes = read_file(dir / "img.verity");

    auto tree = lazyroot::io::FileSource::open((dir / "img.verity").string());
    auto v = VerifyingSource::open(lazyroot::io::FileSource::open(image.string()), 0, m.root_hash, tree.get());
    ASSERT_TRUE(v->separate_tree());
    EXPECT_EQ(v->hash_offset(), data.size());  // already a whole number of hash blocks
    ASSERT_EQ(v->size(), data.size() + tree_bytes.size());
    std::vector<uint8_t> all(v->size());
    ASSERT_EQ(lazyroot::io::read_blocking(*v, 0, std::as_writable_bytes(std::span(all))), 0);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), all.begin()));
    EXPECT_TRUE(std::equal(tree_bytes.begin(), tree_bytes.end(), all.begin() + static_cast<long>(data.size())));
    // A read that lies wholly in the in-memory tree still completes from the loop.
    std::vector<uint8_t> sb(512);
    ASSERT_EQ(lazyroot::io::read_blocking(*v, v->hash_offset(), std::as_writable_bytes(std::span(sb))), 0);
    EXPECT_EQ(std::memcmp(sb.data(), "verity", 6), 0);

    // The wrong root hash, or a tree for other data, is refused at open.
    std::string wrong = m.root_hash;
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    tree = lazyroot::io::FileSource::open((dir / "img.verity").string());
    EXPECT_THROW(VerifyingSource::open(lazyroot::io::FileSource::open(image.string()), 0, wrong, tree.get()),
                 std::runtime_error);
    auto small = dir.write_file("small", std::span(data).first(10 * kBlock));
    try {
        VerifyingSource::open(lazyroot::io::FileSource::open(small.string()), 0, m.root_hash, tree.get());
        ADD_FAILURE() << "a tree for more data than the source has was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("has only"), std::string::npos) << e.what();
    }
    // Not a tree at all.
    auto junk = dir.write_file("junk", std::string(8192, 'x'));
    auto junk_src = lazyroot::io::FileSource::open(junk.string());
    try {
        VerifyingSource::open(lazyroot::io::FileSource::open(image.string()), 0, m.root_hash, junk_src.get());
        ADD_FAILURE() << "junk accepted as a tree";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("no verity superblock"), std::string::npos) << e.what();
    }
}

namespace {

// A DDI in memory: GPT + root + root-verity + a verity-sig partition holding `sig_json`.
lazyroot::testing::GptImage ddi_with_sig(const std::string& sig_json) {
    auto img = lazyroot::testing::make_gpt({{std::string(kRootX86_64), 64, 127, "root"},
                                            {std::string(kRootVerityX86_64), 128, 135, "verity"},
                                            {std::string(kRootVeritySigX86_64), 136, 167, "sig"}},
                                           256);
    std::copy(sig_json.begin(), sig_json.end(), img.bytes.begin() + 136 * 512);
    return img;
}

std::string sig_json(const std::string& root, const std::vector<uint8_t>& sig, const std::string& cert_pem) {
    return nlohmann::json{{"rootHash", root},
                          {"certificateFingerprint", certificate_fingerprint(cert_pem)},
                          {"signature", to_base64(sig)}}
        .dump();
}

}  // namespace

TEST(VerityDdiPlan, SignedRootHashAndPartitionRanges) {
    const Signer s = keys().self_signed(keys().a.get(), "ddi signer");
    auto img = ddi_with_sig(sig_json(kRoot, sign_root_hash(kRoot, s.key_pem, s.cert_pem), s.cert_pem));
    auto read_at = [&](uint64_t off, uint64_t len) { return img.read(off, len); };
    const auto plan = lazyroot::cli::plan_ddi(img.bytes.size(), read_at, s.cert_pem);
    EXPECT_EQ(plan.root_hash_hex, kRoot);
    ASSERT_TRUE(plan.data_range && plan.tree_range);
    EXPECT_EQ(plan.data_range->offset, 64u * 512);
    EXPECT_EQ(plan.data_range->length, 64u * 512);
    EXPECT_EQ(plan.tree_range->offset, 128u * 512);
    EXPECT_EQ(plan.tree_range->length, 8u * 512);
    EXPECT_EQ(plan.hash_offset, 0u);
    EXPECT_FALSE(plan.signature.empty());
}

TEST(VerityDdiPlan, UntrustedOrTamperedSignaturesAndBadDisksAreOneLineErrors) {
    const Signer s = keys().self_signed(keys().a.get(), "ddi signer");
    const Signer other = keys().self_signed(keys().b.get(), "someone else");
    const auto sig = sign_root_hash(kRoot, s.key_pem, s.cert_pem);
    std::string tampered = kRoot;
    tampered[5] = tampered[5] == 'a' ? 'b' : 'a';
    struct Case {
        lazyroot::testing::GptImage img;
        std::string trust, expect;
    };
    std::vector<Case> cases;
    cases.push_back({ddi_with_sig(sig_json(kRoot, sig, s.cert_pem)), other.cert_pem, "untrusted signature"});
    cases.push_back({ddi_with_sig(sig_json(tampered, sig, s.cert_pem)), s.cert_pem, "untrusted signature"});
    cases.push_back({ddi_with_sig("{\"rootHash\": 1}"), s.cert_pem, "verity-sig: rootHash"});
    auto no_gpt = ddi_with_sig(sig_json(kRoot, sig, s.cert_pem));
    no_gpt.bytes[512] = 'X';
    cases.push_back({no_gpt, s.cert_pem, "no GPT header"});
    auto corrupt = ddi_with_sig(sig_json(kRoot, sig, s.cert_pem));
    corrupt.entries()[40] ^= 0x10;
    cases.push_back({corrupt, s.cert_pem, "entries CRC32 mismatch"});
    for (auto& c : cases) {
        auto read_at = [&](uint64_t off, uint64_t len) { return c.img.read(off, len); };
        try {
            lazyroot::cli::plan_ddi(c.img.bytes.size(), read_at, c.trust);
            ADD_FAILURE() << "accepted; expected " << c.expect;
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
        }
    }
    // A partition that runs past the end of what the server has.
    auto img = ddi_with_sig(sig_json(kRoot, sig, s.cert_pem));
    auto read_at = [&](uint64_t off, uint64_t len) { return img.read(off, len); };
    EXPECT_THROW(lazyroot::cli::plan_ddi(130 * 512, read_at, s.cert_pem), std::runtime_error);
}

TEST(VerityPlan, WhereTheTreeIsWithHashSource) {
    TempDir dir("lazyroot-verity");
    auto image = dir.write_file("img", fixtures::make_test_image(64 * kBlock, 32));
    const Signer s = keys().self_signed(keys().a.get(), "signer");
    PrepareOptions o;
    o.image = image.string();
    o.hash_out = (dir / "img.verity").string();
    o.sign_key = dir.write_file("key.pem", s.key_pem).string();
    o.sign_cert = dir.write_file("cert.pem", s.cert_pem).string();
    ASSERT_EQ(run_prepare(o), 0);
    const Manifest m = read_manifest(image);
    const auto uri = lazyroot::cli::parse_source_uri("file://" + image.string());

    // A root hash and --hash-source: no manifest needed, the superblock leads the tree.
    lazyroot::cli::AttachOptions a;
    a.verity = lazyroot::cli::VerityKind::RootHash;
    a.root_hash = m.root_hash;
    a.hash_source = "file://" + o.hash_out;
    auto plan = lazyroot::cli::plan_verity(uri, a);
    EXPECT_EQ(plan.hash_offset, 0u);
    EXPECT_EQ(plan.hash_source, a.hash_source);
    EXPECT_EQ(plan.root_hash_hex, m.root_hash);

    // The manifest says the tree is separate: without --hash-source that is an error.
    a.hash_source.clear();
    try {
        lazyroot::cli::plan_verity(uri, a);
        ADD_FAILURE() << "a manifest with hashFile was used without --hash-source";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("name it with --hash-source"), std::string::npos) << e.what();
    }

    // --verity=manifest with --hash-source: the signed root hash, the manifest's offset in the tree.
    a.verity = lazyroot::cli::VerityKind::Manifest;
    a.trust_file = o.sign_cert;
    a.hash_source = "file://" + o.hash_out;
    a.verity_sig_keyring = true;
    plan = lazyroot::cli::plan_verity(uri, a);
    EXPECT_EQ(plan.root_hash_hex, m.root_hash);
    EXPECT_EQ(plan.hash_offset, 0u);
    EXPECT_TRUE(plan.kernel_checks_signature);
    EXPECT_EQ(plan.signature, m.signature->signature);
}
