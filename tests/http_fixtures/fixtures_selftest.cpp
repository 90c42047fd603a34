// Self-test of the nginx side of the fixtures: NginxServer (plain, TLS, h2)
// and TestCa, driven with libcurl.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/http_fixtures/nginx_server.h"
#include "tests/http_fixtures/selftest_curl.h"
#include "tests/http_fixtures/temp_dir.h"
#include "tests/http_fixtures/test_ca.h"
#include "tests/http_fixtures/test_image.h"

using namespace lazyroot::fixtures;
using namespace lazyroot::fixtures::selftest;

namespace {

constexpr size_t kImageSize = (1 << 20) + 123;  // not a multiple of anything

std::string slice(const std::vector<uint8_t>& v, size_t first, size_t len) {
    return std::string(reinterpret_cast<const char*>(v.data()) + first, len);
}

class NginxTest : public ::testing::Test {
protected:
    NginxTest() : image_(make_test_image(kImageSize, 7)) { root_.write_file("disk.img", image_); }

    NginxServer::Options options() const {
        NginxServer::Options o;
        o.root = root_.path().string();
        return o;
    }

    TempDir root_{"lazyroot-docroot"};
    std::vector<uint8_t> image_;
};

TEST_F(NginxTest, RangeGetReturns206AndTheRightBytes) {
    NginxServer nginx(options());
    nginx.start();
    EXPECT_NE(nginx.port(), 0);
    EXPECT_EQ(nginx.url("/disk.img"), "http://127.0.0.1:" + std::to_string(nginx.port()) + "/disk.img");

    auto r = fetch({.url = nginx.url("disk.img"), .range = "4096-8191"});
    ASSERT_EQ(r.code, CURLE_OK) << r.error;
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.header("Content-Range"), "bytes 4096-8191/" + std::to_string(kImageSize));
    EXPECT_EQ(r.body, slice(image_, 4096, 4096));
    EXPECT_FALSE(r.header("ETag").empty());

    ASSERT_TRUE(nginx.wait_for_log_lines(1));
    auto log = nginx.access_log_entries();
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].status, 206);
    EXPECT_EQ(log[0].method, "GET");
    EXPECT_EQ(log[0].uri, "/disk.img");
    EXPECT_EQ(log[0].range, "bytes=4096-8191");
    EXPECT_EQ(log[0].body_bytes_sent, 4096u);
    EXPECT_GT(log[0].bytes_sent, 4096u);
    EXPECT_EQ(nginx.total_body_bytes(), 4096u);
}

TEST_F(NginxTest, OpenEndedAndUnsatisfiableRanges) {
    NginxServer nginx(options());
    nginx.start();
    auto tail = fetch({.url = nginx.url("disk.img"), .range = std::to_string(kImageSize - 10) + "-"});
    EXPECT_EQ(tail.status, 206);
    EXPECT_EQ(tail.body, slice(image_, kImageSize - 10, 10));

    auto past = fetch({.url = nginx.url("disk.img"), .range = std::to_string(kImageSize) + "-"});
    EXPECT_EQ(past.status, 416);
    EXPECT_EQ(past.header("Content-Range"), "bytes */" + std::to_string(kImageSize));
}

TEST_F(NginxTest, KeepAliveShowsAsOneConnectionInTheAccessLog) {
    NginxServer nginx(options());
    nginx.start();
    CurlClient client;
    auto a = client.perform({.url = nginx.url("disk.img"), .range = "0-99"});
    auto b = client.perform({.url = nginx.url("disk.img"), .range = "100-299"});
    ASSERT_EQ(a.status, 206);
    ASSERT_EQ(b.status, 206);
    EXPECT_EQ(b.new_connections, 0);  // curl's side agrees: reused

    ASSERT_TRUE(nginx.wait_for_log_lines(2));
    auto log = nginx.access_log_entries();
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0].connection, log[1].connection);
    EXPECT_EQ(log[0].connection_requests, 1u);
    EXPECT_EQ(log[1].connection_requests, 2u);
    EXPECT_EQ(nginx.distinct_connections(), 1u);
    EXPECT_EQ(nginx.total_body_bytes(), 300u);
}

TEST_F(NginxTest, KeepaliveRequestsLimitForcesNewConnections) {
    auto o = options();
    o.keepalive_requests = 1;
    NginxServer nginx(o);
    nginx.start();
    CurlClient client;
    for (int i = 0; i < 3; ++i) ASSERT_EQ(client.perform({.url = nginx.url("disk.img"), .range = "0-9"}).status, 206);
    ASSERT_TRUE(nginx.wait_for_log_lines(3));
    EXPECT_EQ(nginx.distinct_connections(), 3u);
}

TEST_F(NginxTest, IfMatchAndIfRangeFollowTheEtag) {
    NginxServer nginx(options());
    nginx.start();
    const std::string etag = fetch({.url = nginx.url("disk.img"), .head = true}).header("ETag");
    ASSERT_FALSE(etag.empty());

    auto wrong_match = fetch({.url = nginx.url("disk.img"), .range = "0-99", .headers = {"If-Match: \"nope\""}});
    EXPECT_EQ(wrong_match.status, 412);
    auto right_match = fetch({.url = nginx.url("disk.img"), .range = "0-99", .headers = {"If-Match: " + etag}});
    EXPECT_EQ(right_match.status, 206);

    auto wrong_range = fetch({.url = nginx.url("disk.img"), .range = "0-99", .headers = {"If-Range: \"nope\""}});
    EXPECT_EQ(wrong_range.status, 200);
    EXPECT_EQ(wrong_range.body.size(), kImageSize);
    auto right_range = fetch({.url = nginx.url("disk.img"), .range = "0-99", .headers = {"If-Range: " + etag}});
    EXPECT_EQ(right_range.status, 206);
    EXPECT_EQ(right_range.body, slice(image_, 0, 100));
}

TEST_F(NginxTest, RestartKeepsThePortAndTheLogOfEveryRun) {
    NginxServer nginx(options());
    nginx.start();
    const uint16_t port = nginx.port();
    ASSERT_EQ(fetch({.url = nginx.url("disk.img"), .range = "0-9"}).status, 206);
    nginx.restart();
    EXPECT_EQ(nginx.port(), port);
    ASSERT_EQ(fetch({.url = nginx.url("disk.img"), .range = "0-9"}).status, 206);

    ASSERT_TRUE(nginx.wait_for_log_lines(2));
    auto log = nginx.access_log_entries();
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0].run, 0u);
    EXPECT_EQ(log[1].run, 1u);
    EXPECT_EQ(nginx.distinct_connections(), 2u);  // even if both runs numbered theirs 1
}

TEST_F(NginxTest, KillHardRefusesConnectionsUntilStartedAgain) {
    NginxServer nginx(options());
    nginx.start();
    nginx.kill_hard();
    EXPECT_FALSE(nginx.running());
    EXPECT_EQ(fetch({.url = nginx.url("disk.img")}).code, CURLE_COULDNT_CONNECT);
    nginx.start();
    EXPECT_EQ(fetch({.url = nginx.url("disk.img"), .range = "0-9"}).status, 206);
}

TEST_F(NginxTest, FrozenServerAcceptsButDoesNotAnswer) {
    NginxServer nginx(options());
    nginx.start();
    nginx.freeze();
    auto r = fetch({.url = nginx.url("disk.img"), .timeout_ms = 300});
    EXPECT_EQ(r.code, CURLE_OPERATION_TIMEDOUT) << r.error;
    nginx.thaw();
    EXPECT_EQ(fetch({.url = nginx.url("disk.img"), .range = "0-9"}).status, 206);
}

TEST_F(NginxTest, StartFailureReportsNginxError) {
    auto o = options();
    o.extra_server_config = "no_such_directive on;";
    NginxServer nginx(o);
    try {
        nginx.start();
        FAIL() << "start() should throw";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("no_such_directive"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(nginx.running());
}

TEST_F(NginxTest, KeepsEverythingInItsTempDir) {
    std::filesystem::path dir;
    {
        NginxServer nginx(options());
        nginx.start();
        dir = nginx.dir();
        ASSERT_EQ(fetch({.url = nginx.url("disk.img"), .range = "0-9"}).status, 206);
        EXPECT_TRUE(std::filesystem::exists(dir / "error.log"));
        EXPECT_TRUE(std::filesystem::exists(dir / "client_body"));
    }
    EXPECT_FALSE(std::filesystem::exists(dir));
}

class NginxTlsTest : public NginxTest {
protected:
    NginxServer::Options tls_options() const {
        auto o = options();
        o.tls = true;
        o.cert = ca_.server_cert();
        o.key = ca_.server_key();
        return o;
    }

    TestCa ca_;
};

TEST_F(NginxTlsTest, WorksWithTheTestCaAndFailsWithout) {
    NginxServer nginx(tls_options());
    nginx.start();
    EXPECT_TRUE(nginx.url("disk.img").starts_with("https://127.0.0.1:"));

    auto ok = fetch({.url = nginx.url("disk.img"), .range = "0-99", .ca_file = ca_.ca_cert()});
    ASSERT_EQ(ok.code, CURLE_OK) << ok.error;
    EXPECT_EQ(ok.status, 206);
    EXPECT_EQ(ok.body, slice(image_, 0, 100));

    // The certificate names localhost too.
    auto by_name = fetch({.url = "https://localhost:" + std::to_string(nginx.port()) + "/disk.img",
                          .range = "0-9",
                          .ca_file = ca_.ca_cert()});
    EXPECT_EQ(by_name.code, CURLE_OK) << by_name.error;

    auto untrusted = fetch({.url = nginx.url("disk.img"), .range = "0-99"});
    EXPECT_EQ(untrusted.code, CURLE_PEER_FAILED_VERIFICATION) << untrusted.error;

    TestCa other;
    auto wrong_ca = fetch({.url = nginx.url("disk.img"), .range = "0-99", .ca_file = other.ca_cert()});
    EXPECT_EQ(wrong_ca.code, CURLE_PEER_FAILED_VERIFICATION) << wrong_ca.error;
}

TEST_F(NginxTlsTest, ClientCertificateCanBeRequired) {
    auto o = tls_options();
    o.require_client_cert = true;
    o.client_ca = ca_.ca_cert();
    NginxServer nginx(o);
    nginx.start();

    auto without = fetch({.url = nginx.url("disk.img"), .range = "0-9", .ca_file = ca_.ca_cert()});
    EXPECT_EQ(without.status, 400);  // nginx: "No required SSL certificate was sent"

    auto with = fetch({.url = nginx.url("disk.img"),
                       .range = "0-9",
                       .ca_file = ca_.ca_cert(),
                       .client_cert = ca_.client_cert(),
                       .client_key = ca_.client_key()});
    ASSERT_EQ(with.code, CURLE_OK) << with.error;
    EXPECT_EQ(with.status, 206);
}

TEST_F(NginxTlsTest, Http2OverTls) {
    auto o = tls_options();
    o.http2 = true;
    NginxServer nginx(o);
    nginx.start();
    CurlClient client;
    auto a = client.perform({.url = nginx.url("disk.img"), .range = "0-99", .http2 = true, .ca_file = ca_.ca_cert()});
    auto b =
        client.perform({.url = nginx.url("disk.img"), .range = "100-199", .http2 = true, .ca_file = ca_.ca_cert()});
    ASSERT_EQ(a.code, CURLE_OK) << a.error;
    EXPECT_EQ(a.http_version, CURL_HTTP_VERSION_2_0);
    EXPECT_EQ(a.status, 206);
    EXPECT_EQ(b.body, slice(image_, 100, 100));
    ASSERT_TRUE(nginx.wait_for_log_lines(2));
    EXPECT_EQ(nginx.distinct_connections(), 1u);
}

}  // namespace
