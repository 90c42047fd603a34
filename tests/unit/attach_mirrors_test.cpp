// Mirrors at attach (issue 12, item 7): with the primary down, the manifest,
// the probe and the verity tree come from a mirror, and the device's bytes
// are right. Real nginx as the mirror; the primary is a port nobody listens
// on, or the fault server answering 503 to everything.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/options.h"
#include "cli/source_stack.h"
#include "cli/source_uri.h"
#include "cli/verity_plan.h"
#include "io/range_source.h"
#include "tests/http_fixtures/child_process.h"
#include "tests/http_fixtures/fault_server.h"
#include "tests/http_fixtures/net_util.h"
#include "tests/http_fixtures/nginx_server.h"
#include "tests/http_fixtures/temp_dir.h"
#include "tests/http_fixtures/test_image.h"
#include "verity/manifest.h"
#include "verity/prepare.h"

using namespace lazyroot;

namespace {

constexpr size_t kDataSize = 2 << 20;

std::vector<uint8_t> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct PreparedMirror {
    fixtures::TempDir dir{"lazyroot-mirror"};
    std::vector<uint8_t> data = fixtures::make_test_image(kDataSize, 71);
    std::vector<uint8_t> image;  // data, then the tree `prepare` appended
    std::string root_hash, cert;
    std::unique_ptr<fixtures::NginxServer> nginx;

    PreparedMirror() {
        const auto img = dir.write_file("root.img", data);
        const std::string key = (dir / "sign.key").string();
        cert = (dir / "sign.crt").string();
        auto r = fixtures::run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days",
                                        "2", "-subj", "/CN=lazyroot mirror test signer"});
        EXPECT_EQ(r.exit_code, 0) << r.output;
        verity::PrepareOptions o;
        o.image = img.string();
        o.sign_key = key;
        o.sign_cert = cert;
        EXPECT_EQ(verity::run_prepare(o), 0);
        image = read_file(img);
        root_hash = verity::parse_manifest([&] {
                        auto m = read_file(img.string() + ".manifest.json");
                        return std::string(m.begin(), m.end());
                    }())
                        .root_hash;
        nginx = std::make_unique<fixtures::NginxServer>(fixtures::NginxServer::Options{.root = dir.path().string()});
        nginx->start();
    }
};

// Attaches (without the kernel: the plan and the source stack) with the
// mirror behind `primary`, and reads the data back through verity.
void attach_and_check(const PreparedMirror& m, const std::string& primary, cli::VerityKind verity) {
    cli::AttachOptions o;
    o.source = primary;
    o.mirrors = {m.nginx->url("root.img")};
    o.verity = verity;
    if (verity == cli::VerityKind::RootHash) o.root_hash = m.root_hash;
    o.trust_file = m.cert;
    o.insecure = true;
    o.io_timeout = std::chrono::seconds(10);
    o.readahead_mib = 0;
    const auto uri = cli::parse_source_uri(primary);
    cli::check_source_options(uri, o);
    const cli::VerityPlan plan = cli::plan_verity(uri, o);  // the manifest, from the mirror
    EXPECT_EQ(plan.root_hash_hex, m.root_hash);
    cli::SourceStack stack(uri, o, 1, &plan);  // the probe and the tree, from the mirror
    std::vector<uint8_t> got(kDataSize);
    ASSERT_EQ(io::read_blocking(stack.top(), 0, std::as_writable_bytes(std::span(got))), 0);
    EXPECT_TRUE(got == m.data);
}

}  // namespace

TEST(AttachMirrors, ADeadPrimaryFallsBackForManifestProbeAndTree) {
    PreparedMirror m;
    const std::string dead = "http://127.0.0.1:" + std::to_string(fixtures::pick_free_port()) + "/root.img";
    attach_and_check(m, dead, cli::VerityKind::RootHash);
    attach_and_check(m, dead, cli::VerityKind::Manifest);  // a signed manifest: the signature is checked as ever
}

TEST(AttachMirrors, APrimaryAnswering503FallsBack) {
    PreparedMirror m;
    fixtures::FaultServer busy(m.image, {.path = "/root.img"});
    busy.add_fault({.fault = fixtures::Fault::Status503, .times = fixtures::FaultRule::kForever});
    attach_and_check(m, busy.url(), cli::VerityKind::RootHash);
    EXPECT_GT(busy.requests_served(), 0u);  // it was asked, and every answer was 503
}

// The manifest beside an image whose URL has a query: the suffix goes on the
// name, before the query. A presigned URL signs its one object, so no
// manifest URL can be made from it: one line, before any request.
TEST(AttachMirrors, TheManifestUrlKeepsTheQueryAndAPresignedUrlHasNone) {
    PreparedMirror m;
    cli::AttachOptions o;
    o.source = m.nginx->url("root.img") + "?v=1";
    o.verity = cli::VerityKind::Manifest;
    o.trust_file = m.cert;
    o.insecure = true;
    const auto uri = cli::parse_source_uri(o.source);
    cli::check_source_options(uri, o);
    EXPECT_EQ(cli::plan_verity(uri, o).root_hash_hex, m.root_hash);
    ASSERT_TRUE(m.nginx->wait_for_log_lines(1));
    const auto served = m.nginx->access_log_entries();
    ASSERT_FALSE(served.empty());
    EXPECT_EQ(served.back().uri, "/root.img.manifest.json?v=1");

    o.source = m.nginx->url("root.img") +
               "?X-Amz-Credential=AKID%2F20261130%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00";
    const auto presigned = cli::parse_source_uri(o.source);
    try {
        cli::plan_verity(presigned, o);
        FAIL() << "a manifest URL was made from a presigned URL";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("presigned URL signs one object"), std::string::npos) << e.what();
    }
    EXPECT_EQ(m.nginx->access_log_entries().size(), served.size());
}
