// Issue 16: a prefetch profile embedded in IMAGE.manifest.json by
// `lazyroot prepare --profile`, signed with the root hash, and what
// --verity=manifest makes of it (used when its signature verifies, ignored
// with a reason otherwise).
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cache/prefetch_profile.h"
#include "cli/options.h"
#include "cli/source_uri.h"
#include "cli/verity_plan.h"
#include "tests/http_fixtures/child_process.h"
#include "tests/http_fixtures/temp_dir.h"
#include "tests/http_fixtures/test_image.h"
#include "verity/encoding.h"
#include "verity/manifest.h"
#include "verity/prepare.h"
#include "verity/signature.h"

using namespace lazyroot;
using namespace lazyroot::verity;
using fixtures::TempDir;

namespace {

constexpr uint32_t kBlock = 4096;
const std::string kRoot = "8c2ab2dd0a71d10eedd8b7fd8d2e0ccd0c1ea13dbc4e4e1bf1e5ad54d0baf0f1";

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string profile_text(const std::string& identity, uint64_t image_size, std::vector<uint64_t> chunks) {
    cache::PrefetchProfile p;
    p.image = identity;
    p.image_size = image_size;
    p.chunk_size = 65536;
    p.chunks = std::move(chunks);
    return cache::encode_profile(p);
}

// A manifest parse_manifest accepts: 300 blocks, the tree appended.
Manifest sample_manifest() {
    Manifest m;
    m.root_hash = kRoot;
    m.data_size = 300 * kBlock;
    m.hash_offset = m.data_size;
    m.salt = {1, 2, 3, 4};
    m.image_size = m.data_size + 16 * kBlock;  // room for the superblock and the tree
    m.uuid = "0b6f7c2e-57c4-4e34-9a1a-2f5f0d1c9e77";
    return m;
}

ManifestProfile sample_profile(const Manifest& m) {
    ManifestProfile p;
    p.text = profile_text("verity:" + m.root_hash, m.image_size, {3, 0, 17, 1});
    p.sha256 = sha256_hex(p.text);
    p.signature = {0x30, 0x82, 0x01, 0x02, 0x03};
    return p;
}

// A self-signed EC key and certificate, by the openssl tool (in every CI image).
struct Signer {
    std::string key, cert;  // paths
};
Signer make_signer(const TempDir& dir, const std::string& name) {
    const std::string key = (dir.path() / (name + ".key")).string();
    const std::string cert = (dir.path() / (name + ".pem")).string();
    auto r = fixtures::run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                                    "/CN=lazyroot test " + name, "-keyout", key, "-out", cert});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return {key, cert};
}

}  // namespace

TEST(ManifestProfile, RoundTripAndOldManifests) {
    Manifest m = sample_manifest();
    const std::string old_text = format_manifest(m);
    EXPECT_FALSE(parse_manifest(old_text).profile) << "a manifest from before profiles";
    m.profile = sample_profile(m);
    EXPECT_EQ(parse_manifest(format_manifest(m)), m);
    auto j = nlohmann::json::parse(format_manifest(m));
    EXPECT_EQ(j["profile"]["text"], m.profile->text);
    EXPECT_EQ(j["profile"]["sha256"], sha256_hex(m.profile->text));
    EXPECT_EQ(j["profile"]["signature"], to_base64(m.profile->signature));
    // Unsigned: no signature field, and it parses back empty.
    m.profile->signature.clear();
    j = nlohmann::json::parse(format_manifest(m));
    EXPECT_FALSE(j["profile"].contains("signature"));
    EXPECT_EQ(parse_manifest(j.dump()), m);
}

TEST(ManifestProfile, MalformedFieldsAreNamed) {
    Manifest m = sample_manifest();
    m.profile = sample_profile(m);
    const auto base = nlohmann::json::parse(format_manifest(m));
    const std::string other = profile_text("verity:" + std::string(64, '0'), m.image_size, {1});
    const std::string bigger = profile_text("verity:" + kRoot, m.image_size + 4096, {1});
    using Mutation = std::function<void(nlohmann::json&)>;
    const std::vector<std::pair<std::string, Mutation>> cases = {
        {"profile", [](auto& j) { j["profile"] = "abc"; }},
        {"profile", [](auto& j) { j["profile"] = nlohmann::json::array(); }},
        {"profile.text", [](auto& j) { j["profile"].erase("text"); }},
        {"profile.text", [](auto& j) { j["profile"]["text"] = 5; }},
        {"profile.text", [](auto& j) { j["profile"]["text"] = "<html>404</html>\n"; }},
        {"profile.text",
         [](auto& j) { j["profile"]["text"] = j["profile"]["text"].template get<std::string>() + "9\n"; }},
        {"profile.text", [&](auto& j) { j["profile"]["text"] = other; }},
        {"profile.text", [&](auto& j) { j["profile"]["text"] = bigger; }},
        {"profile.sha256", [](auto& j) { j["profile"].erase("sha256"); }},
        {"profile.sha256", [](auto& j) { j["profile"]["sha256"] = "abcd"; }},
        {"profile.sha256", [](auto& j) { j["profile"]["sha256"] = std::string(64, 'a'); }},
        {"profile.signature", [](auto& j) { j["profile"]["signature"] = "AA!A"; }},
        {"profile.signature", [](auto& j) { j["profile"]["signature"] = ""; }},
        {"profile.signature", [](auto& j) { j["profile"]["signature"] = 7; }},
    };
    for (const auto& [field, mutate] : cases) {
        auto j = base;
        mutate(j);
        // A text other than the one hashed must still fail on the text, not the hash.
        if (field == "profile.text" && j["profile"].contains("text") && j["profile"]["text"].is_string())
            j["profile"]["sha256"] = sha256_hex(j["profile"]["text"].get<std::string>());
        try {
            parse_manifest(j.dump());
            ADD_FAILURE() << field << " accepted: " << j.dump();
        } catch (const ManifestError& e) {
            const std::string what = e.what();
            EXPECT_EQ(what.rfind("manifest: " + field + ": ", 0), 0u) << what;
            EXPECT_EQ(what.find('\n'), std::string::npos) << what;
        }
    }
}

// prepare --profile, then what --verity=manifest makes of the manifest: the
// profile when its signature verifies; with it unsigned or signed over
// something else, a reason and no text.
TEST(ManifestProfile, PrepareSignsAndAttachChecks) {
    TempDir dir("lazyroot-mprofile");
    const auto image = dir.write_file("img", fixtures::make_test_image(64 * kBlock, 41));
    const Signer s = make_signer(dir, "signer");
    PrepareOptions o;
    o.image = image.string();
    o.salt_hex = "00112233";
    o.sign_key = s.key;
    o.sign_cert = s.cert;
    ASSERT_EQ(run_prepare(o), 0);
    const Manifest first = parse_manifest(read_text(manifest_path(o.image)));
    ASSERT_FALSE(first.profile);

    // Refused: not a profile, another image's, another size. Nothing is written.
    const std::string good = profile_text("verity:" + first.root_hash, first.image_size, {0, 2, 1});
    const std::vector<std::pair<std::string, std::string>> refusals = {
        {"<html>404</html>\n", "not a prefetch profile"},
        {profile_text("verity:" + std::string(64, 'f'), first.image_size, {0}), "made for another image"},
        {profile_text("verity:" + first.root_hash, first.image_size + kBlock, {0}), "made for an image of"},
    };
    for (const auto& [text, why] : refusals) {
        o.profile = dir.write_file("bad.profile", text).string();
        o.salt_hex = "keep";
        try {
            run_prepare(o);
            ADD_FAILURE() << "prepare took " << text;
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        }
        EXPECT_EQ(parse_manifest(read_text(manifest_path(o.image))), first);
    }

    // --salt=keep: the same root hash, so the profile recorded on it fits.
    o.profile = dir.write_file("img.profile", good).string();
    ASSERT_EQ(run_prepare(o), 0);
    const Manifest m = parse_manifest(read_text(manifest_path(o.image)));
    EXPECT_EQ(m.root_hash, first.root_hash);
    ASSERT_TRUE(m.profile);
    EXPECT_EQ(m.profile->text, good);
    EXPECT_EQ(m.profile->sha256, sha256_hex(good));
    EXPECT_TRUE(verify_signature(good, m.profile->signature, read_text(s.cert)));
    // The profile's signature is over the profile, not the root hash.
    EXPECT_FALSE(verify_signature(m.root_hash, m.profile->signature, read_text(s.cert)));

    const auto uri = cli::parse_source_uri("file://" + o.image);
    cli::AttachOptions a;
    a.verity = cli::VerityKind::Manifest;
    a.trust_file = s.cert;
    auto plan = cli::plan_verity(uri, a);
    EXPECT_EQ(plan.root_hash_hex, m.root_hash);
    EXPECT_EQ(plan.profile_text, good);
    EXPECT_EQ(plan.profile_sha256, m.profile->sha256);
    EXPECT_EQ(plan.profile_unused, "");

    // Bad signatures: the root hash's in its place; another key's.
    const Signer other = make_signer(dir, "other");
    const auto other_sig = sign_root_hash(good, read_text(other.key), read_text(other.cert));
    for (const auto& sig : {m.signature->signature, other_sig}) {
        Manifest bad = m;
        bad.profile->signature = sig;
        write_manifest_file(manifest_path(o.image), format_manifest(bad));
        plan = cli::plan_verity(uri, a);
        EXPECT_EQ(plan.root_hash_hex, m.root_hash) << "the root hash's signature still holds";
        EXPECT_EQ(plan.profile_text, "");
        EXPECT_EQ(plan.profile_unused.rfind("untrusted signature: ", 0), 0u) << plan.profile_unused;
        EXPECT_EQ(plan.profile_unused.find('\n'), std::string::npos);
    }
    // Missing: prepared without signing keys, then signed root hash only.
    Manifest unsigned_profile = m;
    unsigned_profile.profile->signature.clear();
    write_manifest_file(manifest_path(o.image), format_manifest(unsigned_profile));
    plan = cli::plan_verity(uri, a);
    EXPECT_EQ(plan.profile_text, "");
    EXPECT_EQ(plan.profile_unused, "it is not signed");

    // prepare without keys writes an unsigned profile.
    o.sign_key.clear();
    o.sign_cert.clear();
    ASSERT_EQ(run_prepare(o), 0);
    const Manifest u = parse_manifest(read_text(manifest_path(o.image)));
    ASSERT_TRUE(u.profile);
    EXPECT_TRUE(u.profile->signature.empty());
    EXPECT_FALSE(u.signature);
}
