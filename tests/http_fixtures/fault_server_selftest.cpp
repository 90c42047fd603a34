// Self-test of FaultServer: normal static-file behaviour, then each fault as
// seen on the wire by libcurl (or a raw socket where curl would hide it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/http_fixtures/fault_server.h"
#include "tests/http_fixtures/scoped_fd.h"
#include "tests/http_fixtures/selftest_curl.h"
#include "tests/http_fixtures/test_image.h"

using namespace lazyroot::fixtures;
using namespace lazyroot::fixtures::selftest;
using namespace std::chrono_literals;

namespace {

constexpr size_t kImageSize = 256 * 1024 + 17;

std::string slice(const std::vector<uint8_t>& v, size_t first, size_t len) {
    return std::string(reinterpret_cast<const char*>(v.data()) + first, len);
}

class FaultServerTest : public ::testing::Test {
protected:
    FaultServerTest() : image_(make_test_image(kImageSize, 3)), server_(image_) {}

    CurlResponse get(const std::string& range = "", std::vector<std::string> headers = {}) {
        return client_.perform({.url = server_.url(), .range = range, .headers = std::move(headers)});
    }

    std::vector<uint8_t> image_;
    FaultServer server_;
    CurlClient client_;
};

TEST_F(FaultServerTest, ServesRangesLikeAStaticFileServer) {
    EXPECT_EQ(server_.url(), "http://127.0.0.1:" + std::to_string(server_.port()) + "/disk.img");

    auto r = get("4096-8191");
    ASSERT_EQ(r.code, CURLE_OK) << r.error;
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.header("Content-Range"), "bytes 4096-8191/" + std::to_string(kImageSize));
    EXPECT_EQ(r.header("Content-Length"), "4096");
    EXPECT_EQ(r.header("ETag"), "\"img-v1\"");
    EXPECT_EQ(r.header("Last-Modified"), "Mon, 01 Jan 2024 00:00:00 GMT");
    EXPECT_EQ(r.body, slice(image_, 4096, 4096));

    auto open = get(std::to_string(kImageSize - 7) + "-");
    EXPECT_EQ(open.status, 206);
    EXPECT_EQ(open.body, slice(image_, kImageSize - 7, 7));

    auto clamped = get(std::to_string(kImageSize - 7) + "-" + std::to_string(kImageSize + 100));
    EXPECT_EQ(clamped.status, 206);
    EXPECT_EQ(clamped.body.size(), 7u);

    auto suffix = get("-5");
    EXPECT_EQ(suffix.status, 206);
    EXPECT_EQ(suffix.body, slice(image_, kImageSize - 5, 5));

    auto whole = get();
    EXPECT_EQ(whole.status, 200);
    EXPECT_EQ(whole.body, slice(image_, 0, kImageSize));

    auto past = get(std::to_string(kImageSize) + "-");
    EXPECT_EQ(past.status, 416);
    EXPECT_EQ(past.header("Content-Range"), "bytes */" + std::to_string(kImageSize));

    auto head = client_.perform({.url = server_.url(), .head = true});
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("Content-Length"), std::to_string(kImageSize));
    EXPECT_EQ(head.header("Accept-Ranges"), "bytes");

    EXPECT_EQ(client_.perform({.url = server_.url("/moved/disk.img"), .range = "0-9"}).status, 206);
    EXPECT_EQ(client_.perform({.url = server_.url("/other")}).status, 404);

    // All on one kept-alive connection.
    EXPECT_EQ(server_.connections_accepted(), 1u);
    EXPECT_EQ(server_.requests_served(), 9u);
}

TEST_F(FaultServerTest, IfMatchAndIfRange) {
    EXPECT_EQ(get("0-9", {"If-Match: \"other\""}).status, 412);
    EXPECT_EQ(get("0-9", {"If-Match: \"other\", \"img-v1\""}).status, 206);
    EXPECT_EQ(get("0-9", {"If-Match: *"}).status, 206);
    EXPECT_EQ(get("0-9", {"If-Match: W/\"img-v1\""}).status, 412);  // weak never matches

    auto stale = get("0-9", {"If-Range: \"other\""});
    EXPECT_EQ(stale.status, 200);
    EXPECT_EQ(stale.body.size(), kImageSize);
    EXPECT_EQ(get("0-9", {"If-Range: \"img-v1\""}).status, 206);
    EXPECT_EQ(get("0-9", {"If-Range: Mon, 01 Jan 2024 00:00:00 GMT"}).status, 206);
    EXPECT_EQ(get("0-9", {"If-Range: Mon, 01 Jan 2024 00:00:01 GMT"}).status, 200);
}

TEST_F(FaultServerTest, CountsRequestsConnectionsAndBodyBytes) {
    ASSERT_EQ(get("0-99").status, 206);
    ASSERT_EQ(get("100-349").status, 206);
    CurlClient second;
    ASSERT_EQ(second.perform({.url = server_.url(), .range = "0-49"}).status, 206);

    ASSERT_TRUE(server_.wait_for([](const FaultServerStats& s) { return s.body_bytes == 400; }));
    auto s = server_.stats();
    EXPECT_EQ(s.requests, 3u);
    EXPECT_EQ(s.connections, 2u);
    auto log = server_.log();
    ASSERT_EQ(log.size(), 3u);
    EXPECT_EQ(log[0].method, "GET");
    EXPECT_EQ(log[0].target, "/disk.img");
    EXPECT_EQ(log[0].range, "bytes=0-99");
    EXPECT_EQ(log[0].status, 206);
    EXPECT_FALSE(log[0].fault);
    EXPECT_EQ(log[0].connection, log[1].connection);
    EXPECT_NE(log[1].connection, log[2].connection);
}

TEST_F(FaultServerTest, DropMidBodyResetsAfterHalfTheBody) {
    server_.add_fault(Fault::DropMidBody);
    auto r = get("0-65535");
    EXPECT_EQ(r.code, CURLE_RECV_ERROR) << r.error;  // "Connection reset by peer"
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.body, slice(image_, 0, 32768));
    ASSERT_TRUE(server_.wait_for([](const FaultServerStats& s) { return s.body_bytes == 32768; }));
    ASSERT_EQ(server_.log().at(0).fault, Fault::DropMidBody);

    EXPECT_EQ(get("0-9").status, 206);  // next request is normal, on a new connection
    EXPECT_EQ(server_.connections_accepted(), 2u);
}

TEST_F(FaultServerTest, ShortBodyClosesAfterHalfTheContentLength) {
    server_.add_fault(Fault::ShortBody);
    auto r = get("0-9999");
    EXPECT_EQ(r.code, CURLE_PARTIAL_FILE) << r.error;
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.header("Content-Length"), "10000");
    EXPECT_EQ(r.body, slice(image_, 0, 5000));
    EXPECT_EQ(get("0-9").status, 206);
}

TEST_F(FaultServerTest, WrongContentRangeServesTheShiftedRange) {
    server_.add_fault(Fault::WrongContentRange);
    auto r = get("8192-12287");
    ASSERT_EQ(r.code, CURLE_OK) << r.error;
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.header("Content-Range"), "bytes 12288-16383/" + std::to_string(kImageSize));
    EXPECT_EQ(r.body, slice(image_, 12288, 4096));

    // Near the end it moves backwards instead.
    server_.add_fault(Fault::WrongContentRange);
    auto end = get(std::to_string(kImageSize - 100) + "-");
    EXPECT_EQ(end.header("Content-Range"), "bytes " + std::to_string(kImageSize - 100 - 4096) + "-" +
                                               std::to_string(kImageSize - 1 - 4096) + "/" +
                                               std::to_string(kImageSize));
    EXPECT_EQ(end.body, slice(image_, kImageSize - 100 - 4096, 100));
}

TEST_F(FaultServerTest, FullBodyInsteadOf206) {
    server_.add_fault(Fault::FullBodyInsteadOf206);
    auto r = get("0-99");
    ASSERT_EQ(r.code, CURLE_OK) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Range"), "");
    EXPECT_EQ(r.body, slice(image_, 0, kImageSize));
    EXPECT_EQ(get("0-99").status, 206);
}

TEST_F(FaultServerTest, Status503ForTheFirstTwoThenNormal) {
    server_.add_fault(Fault::Status503, 2);
    for (int i = 0; i < 2; ++i) {
        auto r = get("0-99");
        ASSERT_EQ(r.code, CURLE_OK) << r.error;
        EXPECT_EQ(r.status, 503);
        EXPECT_EQ(r.header("Retry-After"), "0");
        EXPECT_TRUE(r.body.empty());
    }
    EXPECT_EQ(server_.pending_faults(), 0u);
    auto ok = get("0-99");
    EXPECT_EQ(ok.status, 206);
    EXPECT_EQ(ok.body, slice(image_, 0, 100));
    EXPECT_EQ(server_.connections_accepted(), 1u);  // 503 keeps the connection
}

TEST_F(FaultServerTest, StallTimesOutAClientThenAnswersLate) {
    FaultRule forever{.fault = Fault::Stall};
    server_.add_fault(forever);
    auto timed_out = client_.perform({.url = server_.url(), .range = "0-9", .timeout_ms = 300});
    EXPECT_EQ(timed_out.code, CURLE_OPERATION_TIMEDOUT) << timed_out.error;

    server_.add_fault({.fault = Fault::Stall, .stall = 200ms});
    const auto t0 = std::chrono::steady_clock::now();
    auto late = client_.perform({.url = server_.url(), .range = "0-9"});
    EXPECT_EQ(late.status, 206);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
    EXPECT_EQ(server_.log().at(0).status, 0);  // never answered
}

TEST_F(FaultServerTest, StopClosesAStalledConnection) {
    server_.add_fault(Fault::Stall);
    ScopedFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_.port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string req = "GET /disk.img HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n";
    ASSERT_EQ(::send(fd.get(), req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
    ASSERT_TRUE(server_.wait_for([](const FaultServerStats& s) { return s.requests == 1; }));

    server_.stop();  // must not wait for the stall
    pollfd p{fd.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    char buf[16];
    EXPECT_LE(::recv(fd.get(), buf, sizeof buf, 0), 0);  // closed with nothing sent
}

TEST_F(FaultServerTest, RedirectToTheMovedAlias) {
    server_.add_fault(Fault::Redirect);
    auto r = get("0-9");
    EXPECT_EQ(r.status, 302);
    EXPECT_EQ(r.header("Location"), server_.url("/moved/disk.img"));

    server_.add_fault(Fault::Redirect);
    auto followed = client_.perform({.url = server_.url(), .range = "0-9", .follow_redirects = true});
    EXPECT_EQ(followed.status, 206);
    EXPECT_EQ(followed.effective_url, server_.url("/moved/disk.img"));
    EXPECT_EQ(followed.body, slice(image_, 0, 10));
    auto log = server_.log();
    ASSERT_EQ(log.size(), 3u);
    EXPECT_EQ(log[2].target, "/moved/disk.img");
    EXPECT_EQ(log[2].range, "bytes=0-9");
}

TEST_F(FaultServerTest, RedirectToACustomLocation) {
    server_.add_fault({.fault = Fault::Redirect, .location = "/disk.img?attempt=2", .redirect_status = 307});
    auto r = client_.perform({.url = server_.url(), .range = "0-9", .follow_redirects = true});
    EXPECT_EQ(r.status, 206);
    auto log = server_.log();
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0].status, 307);
    EXPECT_EQ(log[1].target, "/disk.img?attempt=2");
}

TEST_F(FaultServerTest, ChangeIdentityReplacesBytesAndValidators) {
    auto before = get("0-99");
    server_.add_fault(Fault::ChangeIdentity);
    auto after = get("0-99");
    EXPECT_EQ(after.status, 206);
    EXPECT_EQ(after.header("ETag"), "\"img-v2\"");
    EXPECT_NE(after.header("Last-Modified"), before.header("Last-Modified"));
    ASSERT_EQ(after.body.size(), 100u);
    for (size_t i = 0; i < 100; ++i) EXPECT_NE(after.body[i], before.body[i]) << i;

    // Old validators no longer hold; the change stays after the rule is used.
    EXPECT_EQ(get("0-99", {"If-Match: \"img-v1\""}).status, 412);
    auto stale = get("0-99", {"If-Range: \"img-v1\""});
    EXPECT_EQ(stale.status, 200);
    EXPECT_EQ(stale.body.size(), kImageSize);
    EXPECT_EQ(stale.body.substr(0, 100), after.body);
    EXPECT_EQ(server_.version()->etag, "\"img-v2\"");
}

TEST_F(FaultServerTest, ChangeIdentityToAGivenVersion) {
    auto smaller = make_test_image(5000, 99);
    server_.add_fault({.fault = Fault::ChangeIdentity,
                       .new_version = ImageVersion{smaller, "\"img-v9\"", "Tue, 02 Jan 2024 00:00:00 GMT"}});
    auto r = get("4000-");
    EXPECT_EQ(r.header("ETag"), "\"img-v9\"");
    EXPECT_EQ(r.header("Content-Range"), "bytes 4000-4999/5000");
    EXPECT_EQ(r.body, slice(smaller, 4000, 1000));
}

TEST_F(FaultServerTest, PredicateChoosesWhichRequestsFail) {
    server_.add_fault({.fault = Fault::Status503, .times = FaultRule::kForever, .match = [](const HttpRequest& req) {
                           const std::string* range = req.header("Range");
                           return range && range->starts_with("bytes=4096-");
                       }});
    EXPECT_EQ(get("0-9").status, 206);
    EXPECT_EQ(get("4096-4105").status, 503);
    EXPECT_EQ(get("4096-4105").status, 503);
    EXPECT_EQ(get("8192-8201").status, 206);
    EXPECT_EQ(server_.pending_faults(), 1u);
    server_.clear_faults();
    EXPECT_EQ(get("4096-4105").status, 206);
}

TEST_F(FaultServerTest, RulesApplyInOrder) {
    server_.add_fault(Fault::Status503);
    server_.add_fault(Fault::ShortBody);
    EXPECT_EQ(get("0-99").status, 503);
    EXPECT_EQ(get("0-99").code, CURLE_PARTIAL_FILE);
    EXPECT_EQ(get("0-99").status, 206);
    auto log = server_.log();
    ASSERT_EQ(log.size(), 3u);
    EXPECT_EQ(log[0].fault, Fault::Status503);
    EXPECT_EQ(log[1].fault, Fault::ShortBody);
    EXPECT_FALSE(log[2].fault);
}

}  // namespace
