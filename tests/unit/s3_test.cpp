// Issue 19: s3:// sources — URL and credentials parsing, the options that
// go with them, and what a signed request carries (against a real nginx,
// which logs the headers it was sent).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/options.h"
#include "cli/source_stack.h"
#include "cli/source_uri.h"
#include "http/s3_credentials.h"
#include "http/s3_url.h"
#include "initrd/cmdline.h"
#include "io/event_loop.h"
#include "tests/http_fixtures/nginx_server.h"
#include "tests/http_fixtures/temp_dir.h"
#include "tests/http_fixtures/test_image.h"
#include "tests/unit/read_driver.h"

using namespace lazyroot;

namespace {

std::string cred_error(std::string_view text) {
    try {
        http::parse_s3_credentials(text, "/etc/lazyroot/s3");
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return {};
}

cli::AttachOptions parse_attach(std::vector<std::string> words) {
    words.insert(words.begin(), {"lazyroot", "attach"});
    std::vector<const char*> argv;
    for (const auto& w : words) argv.push_back(w.c_str());
    return std::get<cli::AttachOptions>(cli::parse_command_line(static_cast<int>(argv.size()), argv.data()));
}

std::string usage_error(std::vector<std::string> words) {
    try {
        parse_attach(std::move(words));
    } catch (const cli::UsageError& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST(S3Url, BucketAndKey) {
    auto loc = http::parse_s3_url("s3://images/fleet/root v2+.img");
    EXPECT_EQ(loc.bucket, "images");
    EXPECT_EQ(loc.key, "fleet/root v2+.img");
    EXPECT_EQ(http::s3_object_url("http://10.0.2.100:7480", loc),
              "http://10.0.2.100:7480/images/fleet/root%20v2%2B.img");
    EXPECT_EQ(http::s3_object_url("https://s3.lan/prefix/", loc),
              "https://s3.lan/prefix/images/fleet/root%20v2%2B.img");
    EXPECT_EQ(http::default_s3_endpoint("eu-central-1"), "https://s3.eu-central-1.amazonaws.com");
    for (const char* bad : {"s3://", "s3:///key", "s3://bucket", "s3://bucket/", "s3://Bucket/k", "s3://ab/k",
                            "s3://-bucket/k", "s3://bu_cket/k", "s3://bucket/k?x=1"})
        EXPECT_THROW(http::parse_s3_url(bad), std::invalid_argument) << bad;
    EXPECT_TRUE(http::valid_s3_region("us-east-1"));
    EXPECT_FALSE(http::valid_s3_region("us east"));
    EXPECT_FALSE(http::valid_s3_region(""));
}

TEST(S3Credentials, DefaultProfileOfASharedCredentialsFile) {
    auto c = http::parse_s3_credentials(
        "# fleet key\n[other]\naws_access_key_id = NOTME\n\n[default]\naws_access_key_id = AKIDEXAMPLE\r\n"
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\nregion = eu-west-1\n"
        "; a comment\naws_session_token = FwoGZXIvYXdzEXAMPLE\n",
        "f");
    EXPECT_EQ(c.access_key, "AKIDEXAMPLE");
    EXPECT_EQ(c.secret_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    EXPECT_EQ(c.session_token, "FwoGZXIvYXdzEXAMPLE");
}

TEST(S3Credentials, ErrorsNameTheFileAndLineNeverAValue) {
    const std::string file = "--s3-credentials /etc/lazyroot/s3";
    EXPECT_EQ(cred_error("[default]\naws_access_key_id = AKID\n"), file + ": no aws_secret_access_key in [default]");
    EXPECT_EQ(cred_error("[prod]\naws_access_key_id = AKID\n"), file + ": no [default] profile");
    EXPECT_EQ(cred_error("[default]\nsecretvalue-without-equals\n"), file + " line 2: not a 'name = value' line");
    EXPECT_EQ(cred_error("[default\n"), file + " line 1: an unclosed [section]");
    const std::string blank = cred_error("[default]\naws_access_key_id = AK ID\naws_secret_access_key = s\n");
    EXPECT_EQ(blank, file + " line 2: aws_access_key_id is empty or holds blanks or control characters");
    EXPECT_THROW(http::read_s3_credentials_file("/nonexistent/credentials"), std::runtime_error);
}

TEST(S3Credentials, FromTheEnvironment) {
    ::unsetenv("AWS_SESSION_TOKEN");
    ::setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    EXPECT_FALSE(http::s3_credentials_from_env());
    ::setenv("AWS_SECRET_ACCESS_KEY", "sekrit", 1);
    ::setenv("AWS_SESSION_TOKEN", "tok", 1);
    auto c = http::s3_credentials_from_env();
    ASSERT_TRUE(c);
    EXPECT_EQ(c->access_key, "AKIDENV");
    EXPECT_EQ(c->secret_key, "sekrit");
    EXPECT_EQ(c->session_token, "tok");
    ::unsetenv("AWS_ACCESS_KEY_ID");
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    ::unsetenv("AWS_SESSION_TOKEN");
}

TEST(S3Options, CommandLine) {
    auto o = parse_attach(
        {"s3://images/root.img", "--s3-endpoint=http://10.0.2.100:7480", "--s3-region=eu-west-1", "--insecure"});
    EXPECT_EQ(o.s3_endpoint, "http://10.0.2.100:7480");
    EXPECT_EQ(o.s3_region, "eu-west-1");
    EXPECT_EQ(parse_attach({"s3://images/root.img"}).s3_region, "us-east-1");
    // A clear-text endpoint is plain http:// as any other.
    EXPECT_NE(usage_error({"s3://images/root.img", "--s3-endpoint=http://10.0.2.100:7480"}).find("--insecure"),
              std::string::npos);
    EXPECT_NE(usage_error({"s3://images/root.img", "--s3-endpoint=ftp://x"}).find("--s3-endpoint"), std::string::npos);
    EXPECT_NE(usage_error({"s3://images/root.img", "--s3-region=US EAST"}).find("--s3-region"), std::string::npos);
    EXPECT_NE(usage_error({"s3://Images/root.img"}).find("bucket"), std::string::npos);
    EXPECT_NE(usage_error({"https://h/root.img", "--s3-region=us-east-1"}).find("--s3-region needs an s3:// SOURCE"),
              std::string::npos);
    EXPECT_NE(usage_error({"file:///x.img", "--s3-endpoint=https://h"}).find("needs an s3:// SOURCE"),
              std::string::npos);
    EXPECT_NE(usage_error({"s3://images/root.img", "--mirror=https://h/r.img"}).find("--mirror"), std::string::npos);
}

TEST(S3Options, KernelCommandLineKeys) {
    auto spec = initrd::parse_root_spec(
        "rd.lazyroot=s3://images/root.img,s3-endpoint=https://rgw.lan:7480,s3-region=eu-west-1,"
        "s3-credentials=/etc/lazyroot/s3,verity=manifest,trust=/etc/lazyroot/ca.pem,header-file=/etc/lazyroot/headers");
    ASSERT_TRUE(spec);
    EXPECT_EQ(spec->source, "s3://images/root.img");
    const std::vector<std::string> want = {"--s3-endpoint=https://rgw.lan:7480", "--s3-region=eu-west-1",
                                           "--s3-credentials=/etc/lazyroot/s3",  "--verity=manifest",
                                           "--trust=/etc/lazyroot/ca.pem",       "--header-file=/etc/lazyroot/headers"};
    EXPECT_EQ(spec->args, want);
}

// What an s3:// source sends, checked by a real nginx: a SigV4 Authorization
// for the key and region, the payload hash S3 requires, the session token.
// (That the signature itself is right only a real store can tell.) The
// reads sign their If-Match too: libcurl signs every header it is given.
TEST(S3Source, RequestsAreSignedForTheRegionWithThePayloadHash) {
    fixtures::TempDir docroot("lazyroot-s3-docroot");
    const auto image = fixtures::make_test_image(1 << 20, 3);
    std::ofstream(docroot.path() / "root.img", std::ios::binary)
        .write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    std::ofstream(docroot.path() / "credentials")
        << "[default]\naws_access_key_id = AKIDFLEET\naws_secret_access_key = s3cr3t/key\naws_session_token = TOK1\n";
    fixtures::NginxServer::Options no{.root = docroot.path().string()};
    no.extra_server_config =
        "location /images/ {"
        " if ($http_authorization !~ \"^AWS4-HMAC-SHA256 Credential=AKIDFLEET/[0-9]{8}/eu-west-1/s3/aws4_request, "
        "SignedHeaders=host;(if-match;)?x-amz-content-sha256;x-amz-date;x-amz-security-token, "
        "Signature=[0-9a-f]{64}$\") "
        "{ return 403; }"
        " if ($http_x_amz_content_sha256 != "
        "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\") { return 400; }"
        " if ($http_x_amz_security_token != \"TOK1\") { return 401; }"
        " alias " +
        docroot.path().string() + "/; }";
    fixtures::NginxServer nginx(no);
    nginx.start();
    auto o = parse_attach({"s3://images/root.img", "--s3-endpoint=" + nginx.url(""), "--s3-region=eu-west-1",
                           "--s3-credentials=" + (docroot.path() / "credentials").string(), "--insecure"});
    const auto uri = cli::parse_source_uri(o.source);
    EXPECT_EQ(cli::http_url(uri, o), nginx.url("images/root.img"));
    auto src = cli::open_transport(uri, o);
    ASSERT_EQ(src->size(), image.size());
    // The secret never shows in what the source says about itself.
    EXPECT_EQ(src->describe().find("s3cr3t"), std::string::npos);
    EXPECT_EQ(src->identity().find("s3cr3t"), std::string::npos);
    io::EventLoop loop;
    ASSERT_EQ(loop.init(16), 0);
    auto reader = src->open_queue(loop, 4);
    std::vector<lazyroot::testing::ReadOp> ops(3);
    ops[0].offset = 0, ops[1].offset = 300000, ops[2].offset = (1 << 20) - 4096;
    for (auto& op : ops) op.buf.resize(4096);
    lazyroot::testing::run_reads(loop, *reader, ops);
    for (const auto& op : ops) {
        EXPECT_EQ(op.result, 0);
        EXPECT_TRUE(lazyroot::testing::matches(op, image)) << op.offset;
    }
    // Signed for another region: refused, and the reason says what to check.
    auto other = o;
    other.s3_region = "us-east-1";
    try {
        cli::open_transport(uri, other);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("HTTP 403 to a range request: the store refused the signed request"),
                  std::string::npos)
            << e.what();
        EXPECT_EQ(std::string(e.what()).find("s3cr3t"), std::string::npos);
    }
    // No credentials at all: one line, before any request.
    ::unsetenv("AWS_ACCESS_KEY_ID");
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    o.s3_credentials.clear();
    try {
        cli::open_transport(uri, o);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("no S3 credentials"), std::string::npos) << e.what();
    }
}
