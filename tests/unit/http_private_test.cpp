// Issue 19: private servers (--header-file) and presigned object-store URLs,
// against a real nginx that enforces them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "http/header_file.h"
#include "http/http_source.h"
#include "http/url_check.h"
#include "io/event_loop.h"
#include "tests/http_fixtures/nginx_server.h"
#include "tests/http_fixtures/temp_dir.h"
#include "tests/http_fixtures/test_image.h"
#include "tests/unit/read_driver.h"

using namespace lazyroot;
using lazyroot::testing::matches;
using lazyroot::testing::ReadOp;
using lazyroot::testing::run_reads;

namespace {

constexpr size_t kImageSize = 4 << 20;
// As AWS spells a presigned query; %2F must reach the server as it is.
constexpr const char* kSignedQuery =
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261130%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20261130T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef";

std::string parse_error(std::string_view text) {
    try {
        http::parse_header_lines(text, "/etc/lazyroot/headers");
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return {};
}

class HttpPrivateTest : public ::testing::Test {
protected:
    void SetUp() override {
        image_ = fixtures::make_test_image(kImageSize, 19);
        std::ofstream out(docroot_.path() / "img.raw", std::ios::binary);
        out.write(reinterpret_cast<const char*>(image_.data()), static_cast<std::streamsize>(image_.size()));
    }

    // nginx with the rules of a private server and of an object store.
    fixtures::NginxServer nginx() {
        const std::string root = docroot_.path().string();
        fixtures::NginxServer::Options o{.root = root};
        o.extra_server_config = "location /private/ { if ($http_authorization != \"Bearer X\") { return 401; } alias " +
                                root + "/; }\n" +
                                // A presigned URL: GET only, and only with the exact signed query.
                                // The file "expired" in the docroot stands for the clock passing X-Amz-Expires.
                                "location /signed/ { if ($request_method != GET) { return 405; } "
                                "if (-f " +
                                root +
                                "/expired) { return 403; } "
                                "if ($request_uri != \"/signed/img.raw?" +
                                kSignedQuery + "\") { return 403; } alias " + root +
                                "/; }\n"
                                "location /expired/ { return 403; }\n";
        return fixtures::NginxServer(o);
    }

    http::HttpOptions options(const std::string& url) {
        http::HttpOptions o;
        o.urls = {url};
        o.io_timeout = std::chrono::seconds(2);
        o.stall_timeout = std::chrono::seconds(1);
        return o;
    }

    // Random reads through the source; every one must match the image.
    void expect_reads_match(http::HttpSource& src) {
        io::EventLoop loop;
        ASSERT_EQ(loop.init(64), 0);
        auto reader = src.open_queue(loop, 16);
        std::mt19937 rng(7);
        std::vector<ReadOp> ops(24);
        for (auto& op : ops) {
            const size_t len = std::uniform_int_distribution<size_t>(1, 128 * 1024)(rng);
            op.offset = std::uniform_int_distribution<uint64_t>(0, kImageSize - len)(rng);
            op.buf.resize(len);
        }
        run_reads(loop, *reader, ops);
        for (const auto& op : ops) {
            ASSERT_EQ(op.result, 0) << "offset " << op.offset;
            ASSERT_TRUE(matches(op, image_)) << "offset " << op.offset;
        }
    }

    fixtures::TempDir docroot_{"lazyroot-docroot"};
    std::vector<uint8_t> image_;
};

}  // namespace

TEST(HeaderFile, LinesCommentsAndBlanks) {
    auto h = http::parse_header_lines(
        "# a token for the image server\n\nAuthorization:   Bearer abc.def  \r\n  # indented comment\nX-Tenant: a b\n",
        "f");
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[0], "Authorization: Bearer abc.def");
    EXPECT_EQ(h[1], "X-Tenant: a b");
    EXPECT_TRUE(http::parse_header_lines("", "f").empty());
}

TEST(HeaderFile, MalformedLinesNameFileAndLineNeverTheValue) {
    const std::string path = "/etc/lazyroot/headers";
    struct Case {
        const char* text;
        const char* expect;
    } cases[] = {
        {"Authorization: Bearer ok\nBearer s3cr3t-token\n", "line 2: not a 'Name: value' header"},
        {": s3cr3t-token\n", "line 1: not a 'Name: value' header"},
        {"Bad Name: s3cr3t-token\n", "line 1: not a 'Name: value' header"},
        {"\n\nX-Empty:   \n", "line 3: header X-Empty has no value"},
        {"X-Ctl: s3cr3t\x01-token\n", "line 1: a control character in the value of X-Ctl"},
        {"range: bytes=0-s3cr3t-token\n", "line 1: range is set by lazyroot itself"},
        {"If-Match: \"s3cr3t-token\"\n", "line 1: If-Match is set by lazyroot itself"},
    };
    for (const auto& c : cases) {
        const std::string msg = parse_error(c.text);
        EXPECT_NE(msg.find("--header-file " + path + " " + c.expect), std::string::npos) << msg;
        EXPECT_EQ(msg.find("s3cr3t"), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
    EXPECT_THROW(http::read_header_file("/nonexistent/headers"), std::runtime_error);
}

TEST(Presigned, RecognisedByItsQuery) {
    EXPECT_TRUE(http::is_presigned(std::string("https://s3.lan/b/k?") + kSignedQuery));
    EXPECT_TRUE(http::is_presigned("https://h/k?X-Amz-Signature=ab"));
    EXPECT_TRUE(http::is_presigned("https://h/k?a=1&X-Amz-Credential=ab"));
    EXPECT_FALSE(http::is_presigned("https://h/k"));
    EXPECT_FALSE(http::is_presigned("https://h/X-Amz-Signature=ab"));  // in the path, not the query
    EXPECT_FALSE(http::is_presigned("https://h/k?NotX-Amz-Signature=ab"));
    EXPECT_EQ(http::forbidden_hint("https://h/k?X-Amz-Signature=ab"), "presigned URL expired or refused");
    EXPECT_EQ(http::forbidden_hint("https://h/k"), "");
}

TEST(Presigned, ExpiryFromTheSignedDateAndExpires) {
    const std::string base = "https://h/k?X-Amz-Signature=ab&X-Amz-Date=";
    // 2026-11-30T21:15:00Z = 1796073300.
    EXPECT_EQ(http::presigned_expiry(base + "20261130T211500Z&X-Amz-Expires=30"), 1796073330);
    EXPECT_EQ(http::presigned_expiry("https://h/k?X-Amz-Expires=0&X-Amz-Date=19700101T000000Z"), 0);
    EXPECT_EQ(http::presigned_expiry(base + "20261130T211500Z&X-Amz-Expires=30#frag"), 1796073330);
    EXPECT_FALSE(http::presigned_expiry(base + "20261130T211500Z"));       // no X-Amz-Expires
    EXPECT_FALSE(http::presigned_expiry("https://h/k?X-Amz-Expires=30"));  // no X-Amz-Date
    EXPECT_FALSE(http::presigned_expiry(base + "20261130T2115Z&X-Amz-Expires=30"));
    EXPECT_FALSE(http::presigned_expiry(base + "20261330T211500Z&X-Amz-Expires=30"));  // month 13
    EXPECT_FALSE(http::presigned_expiry(base + "20261130T211500Z&X-Amz-Expires=-5"));
    EXPECT_FALSE(http::presigned_expiry(base + "20261130T211500Z&X-Amz-Expires=1e3"));
    EXPECT_FALSE(http::presigned_expiry(base + "20261130T211500Z&NotX-Amz-Expires=30"));
    EXPECT_FALSE(http::presigned_expiry("https://h/X-Amz-Date=20261130T211500Z/k?X-Amz-Expires=30"));  // path
}

TEST(Presigned, A403NamesTheExpiryByTheClock) {
    const std::string url = "https://h/k?X-Amz-Date=20261130T211500Z&X-Amz-Expires=30&X-Amz-Signature=ab";
    EXPECT_EQ(http::forbidden_hint(url, 1796073330), "presigned URL expired at 2026-11-30T21:15:30Z");
    // Seconds before by this clock: the store's may be ahead.
    EXPECT_EQ(http::forbidden_hint(url, 1796073329), "presigned URL expired at 2026-11-30T21:15:30Z");
    EXPECT_EQ(http::forbidden_hint(url, 1796073330 - 300), "presigned URL expired at 2026-11-30T21:15:30Z");
    EXPECT_EQ(http::forbidden_hint(url, 1796073330 - 301),
              "presigned URL refused (valid until 2026-11-30T21:15:30Z by this machine's clock)");
    EXPECT_EQ(http::forbidden_hint("https://h/k?X-Amz-Signature=ab", 0), "presigned URL expired or refused");
    EXPECT_EQ(http::forbidden_hint("https://h/k?X-Amz-Date=20261130T211500Z&X-Amz-Expires=30", 1796073330), "");
}

TEST_F(HttpPrivateTest, BearerTokenFromAHeaderFile) {
    auto server = nginx();
    server.start();
    const std::string url = server.url("private/img.raw");
    // Without the header: a one-line 401 at attach.
    try {
        http::HttpSource::open(options(url));
        FAIL() << "attached without the token";
    } catch (const std::runtime_error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("HTTP 401"), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
    // With it: the probe and every range carry it.
    auto o = options(url);
    o.headers = {"Authorization: Bearer X"};
    auto src = http::HttpSource::open(o);
    EXPECT_EQ(src->size(), kImageSize);
    expect_reads_match(*src);
    ASSERT_TRUE(server.wait_for_log_lines(3));
    // The probe without the token was the only request refused.
    size_t refused = 0;
    for (const auto& e : server.access_log_entries()) {
        refused += e.status == 401;
        EXPECT_TRUE(e.status == 206 || e.status == 401) << e.status << " " << e.uri << " " << e.range;
    }
    EXPECT_EQ(refused, 1u);
}

TEST_F(HttpPrivateTest, PresignedUrlIsOnlyEverSentGetsWithItsQueryIntact) {
    auto server = nginx();
    server.start();
    const std::string url = server.url(std::string("signed/img.raw?") + kSignedQuery);
    auto src = http::HttpSource::open(options(url));
    EXPECT_EQ(src->size(), kImageSize);
    expect_reads_match(*src);
    ASSERT_TRUE(server.wait_for_log_lines(2));
    for (const auto& e : server.access_log_entries()) {
        EXPECT_EQ(e.method, "GET");
        EXPECT_EQ(e.status, 206);
        EXPECT_EQ(e.uri, std::string("/signed/img.raw?") + kSignedQuery);
    }
}

TEST_F(HttpPrivateTest, ARefusedPresignedUrlSaysSo) {
    auto server = nginx();
    server.start();
    // Expired: the store answers 403.
    const std::string url = server.url(std::string("expired/img.raw?") + kSignedQuery);
    try {
        http::HttpSource::open(options(url));
        FAIL() << "attached an expired URL";
    } catch (const std::runtime_error& e) {
        const std::string msg = e.what();
        // Signed at 2026-11-30T00:00:00Z for 900 s: past by any clock running this.
        EXPECT_NE(msg.find("HTTP 403 to a range request: presigned URL expired at 2026-11-30T00:15:00Z"),
                  std::string::npos)
            << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
    // A plain URL's 403 is not called an expiry.
    try {
        http::HttpSource::open(options(server.url("expired/img.raw")));
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()).find("presigned"), std::string::npos) << e.what();
    }
}

TEST_F(HttpPrivateTest, APresignedUrlExpiringUnderARunningSourceIsNamedInTheLog) {
    auto server = nginx();
    server.start();
    auto src = http::HttpSource::open(options(server.url(std::string("signed/img.raw?") + kSignedQuery)));
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src->open_queue(loop, 4);
    std::ofstream(docroot_.path() / "expired").put('x');
    std::vector<ReadOp> ops(1);
    ops[0].offset = 4096;
    ops[0].buf.resize(4096);
    ::testing::internal::CaptureStderr();
    run_reads(loop, *reader, ops);
    const std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(ops[0].result, -EIO);  // never wrong bytes
    EXPECT_NE(log.find("presigned URL expired at 2026-11-30T00:15:00Z"), std::string::npos) << log;
    EXPECT_EQ(log.find("0123456789abcdef"), std::string::npos) << log;  // the signature is not logged
}

// `lazyroot update-source`: an expired presigned URL is shown as refused,
// and a fresh URL of the same image takes over under the same reader; a URL
// of another object (same size, other validators) is refused and the old
// one kept.
TEST_F(HttpPrivateTest, AnExpiredSourceUrlIsReplacedByOneOfTheSameImage) {
    auto server = nginx();
    server.start();
    const std::string signed_url = server.url(std::string("signed/img.raw?") + kSignedQuery);
    auto src = http::HttpSource::open(options(signed_url));
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src->open_queue(loop, 4);
    std::ofstream(docroot_.path() / "expired").put('x');
    std::vector<ReadOp> ops(1);
    ops[0].offset = 8192;
    ops[0].buf.resize(4096);
    ::testing::internal::CaptureStderr();
    run_reads(loop, *reader, ops);
    ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(ops[0].result, -EIO);
    const auto refused = src->url(0).refused();
    ASSERT_TRUE(refused);
    EXPECT_NE(refused->why.find("HTTP 403"), std::string::npos) << refused->why;
    EXPECT_NE(refused->why.find("presigned URL expired at 2026-11-30T00:15:00Z"), std::string::npos) << refused->why;

    // Same size, other bytes and validators (nginx's ETag is mtime-size).
    auto other = image_;
    other[0] ^= 0xff;
    const auto other_path = docroot_.path() / "other.raw";
    std::ofstream(other_path, std::ios::binary)
        .write(reinterpret_cast<const char*>(other.data()), static_cast<std::streamsize>(other.size()));
    std::filesystem::last_write_time(
        other_path, std::filesystem::last_write_time(docroot_.path() / "img.raw") - std::chrono::hours(1));
    auto why = src->update_source_url(server.url("other.raw"));
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("serves another image"), std::string::npos) << *why;
    EXPECT_EQ(why->find('\n'), std::string::npos) << *why;
    // Another size.
    std::ofstream(docroot_.path() / "small.raw").put('x');
    why = src->update_source_url(server.url("small.raw"));
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("size 1"), std::string::npos) << *why;
    why = src->update_source_url("ftp://host/img.raw");
    ASSERT_TRUE(why);
    EXPECT_EQ(src->url(0).url(), signed_url);  // kept
    EXPECT_TRUE(src->url(0).refused());

    // The same image at a fresh URL: the same reader reads it.
    const std::string fresh = server.url("img.raw?fresh=1");
    ASSERT_FALSE(src->update_source_url(fresh));
    EXPECT_EQ(src->url(0).url(), fresh);
    EXPECT_FALSE(src->url(0).refused());
    EXPECT_EQ(src->describe(), fresh);
    std::vector<ReadOp> more(3);
    for (size_t i = 0; i < more.size(); ++i) {
        more[i].offset = 8192 + i * 65536;
        more[i].buf.resize(65536);
    }
    run_reads(loop, *reader, more);
    for (const auto& op : more) {
        EXPECT_EQ(op.result, 0) << "offset " << op.offset;
        EXPECT_TRUE(matches(op, image_)) << "offset " << op.offset;
    }
}
