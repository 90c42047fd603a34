// The HTTP source against a server that misbehaves in the ways nginx can't:
// each case must end in the right bytes or a clean -EIO, never wrong bytes.
#include <gtest/gtest.h>

#include <random>

#include "http/curl_setup.h"
#include "http/http_source.h"
#include "http/probe.h"
#include "http/small_get.h"
#include "io/event_loop.h"
#include "tests/http_fixtures/fault_server.h"
#include "tests/http_fixtures/test_image.h"
#include "tests/unit/read_driver.h"

using namespace lazyroot;
using fixtures::Fault;
using fixtures::FaultRule;
using lazyroot::testing::matches;
using lazyroot::testing::ReadOp;

namespace {

constexpr size_t kImageSize = 4 << 20;

class HttpFaultTest : public ::testing::Test {
protected:
    HttpFaultTest() : image_(fixtures::make_test_image(kImageSize, 5)), server_(image_) {}

    void open(io::IoTimeout io_timeout = std::chrono::seconds(10),
              std::chrono::milliseconds stall = std::chrono::seconds(1)) {
        http::HttpOptions o;
        o.urls = {server_.url()};
        o.io_timeout = io_timeout;
        o.stall_timeout = stall;
        src_ = http::HttpSource::open(o);
        src_->set_connections_per_queue(2);
        ASSERT_EQ(loop_.init(64), 0);
        reader_ = src_->open_queue(loop_, 16);
    }

    std::vector<ReadOp> read_ranges(size_t n, uint32_t seed) {
        std::mt19937 rng(seed);
        std::vector<ReadOp> ops(n);
        for (auto& op : ops) {
            size_t len = std::uniform_int_distribution<size_t>(4096, 128 * 1024)(rng);
            op.offset = std::uniform_int_distribution<uint64_t>(0, kImageSize - len)(rng);
            op.buf.resize(len);
        }
        lazyroot::testing::run_reads(loop_, *reader_, ops);
        return ops;
    }

    void expect_all_correct(const std::vector<ReadOp>& ops) {
        for (const auto& op : ops) {
            EXPECT_EQ(op.result, 0) << "offset " << op.offset;
            EXPECT_TRUE(matches(op, image_)) << "offset " << op.offset;
        }
    }

    void expect_all_eio(const std::vector<ReadOp>& ops) {
        for (const auto& op : ops) EXPECT_EQ(op.result, -EIO) << "offset " << op.offset;
    }

    std::vector<uint8_t> image_;
    fixtures::FaultServer server_;
    io::EventLoop loop_;
    std::unique_ptr<http::HttpSource> src_;
    std::unique_ptr<io::QueueReader> reader_;
};

}  // namespace

TEST_F(HttpFaultTest, ConnectionDropMidBodyIsRetried) {
    open();
    server_.add_fault(Fault::DropMidBody, 2);
    expect_all_correct(read_ranges(6, 1));
    EXPECT_EQ(server_.pending_faults(), 0u);
}

TEST_F(HttpFaultTest, WrongContentRangeIsRefusedAndRetried) {
    open();
    server_.add_fault(Fault::WrongContentRange, 2);
    expect_all_correct(read_ranges(6, 2));
    EXPECT_EQ(server_.pending_faults(), 0u);
}

TEST_F(HttpFaultTest, FullBodyInsteadOf206IsRefusedAndRetried) {
    open();
    server_.add_fault(Fault::FullBodyInsteadOf206, 2);
    expect_all_correct(read_ranges(6, 3));
    EXPECT_EQ(server_.pending_faults(), 0u);
}

TEST_F(HttpFaultTest, ShortBodyIsRetried) {
    open();
    server_.add_fault(Fault::ShortBody, 2);
    expect_all_correct(read_ranges(6, 4));
    EXPECT_EQ(server_.pending_faults(), 0u);
}

TEST_F(HttpFaultTest, Status503ThenOk) {
    open();
    server_.add_fault(Fault::Status503, 3);
    expect_all_correct(read_ranges(4, 5));
    EXPECT_EQ(server_.pending_faults(), 0u);
}

TEST_F(HttpFaultTest, AStallIsAbandonedAndRetried) {
    open(std::chrono::seconds(10), std::chrono::seconds(1));
    FaultRule r{.fault = Fault::Stall};
    r.stall = std::chrono::seconds(4);
    server_.add_fault(r);
    expect_all_correct(read_ranges(3, 6));
}

TEST_F(HttpFaultTest, AServerThatNeverAnswersIsEioAfterTheTimeout) {
    open(std::chrono::milliseconds(2500), std::chrono::seconds(1));
    FaultRule r{.fault = Fault::Stall, .times = FaultRule::kForever};
    server_.add_fault(r);
    expect_all_eio(read_ranges(2, 7));
}

// --io-timeout=infinity: stalls for longer than a finite timeout would allow
// are each abandoned at the (finite) stall timeout and retried; the read waits,
// counted by the source, and succeeds once the server answers.
TEST_F(HttpFaultTest, WithAnInfiniteIoTimeoutAReadWaitsUntilTheServerAnswers) {
    open(std::nullopt, std::chrono::seconds(1));
    FaultRule r{.fault = Fault::Stall, .times = 3};
    r.stall = std::chrono::seconds(60);
    server_.add_fault(r);
    std::vector<ReadOp> ops(1);
    ops[0].offset = 12288;
    ops[0].buf.resize(8192);
    reader_->read(ops[0].offset, ops[0].buf, ops[0]);
    while (src_->outage().waiting() == 0) ASSERT_GE(loop_.run_once(), 0);
    EXPECT_FALSE(ops[0].done());
    while (!ops[0].done()) ASSERT_GE(loop_.run_once(), 0);
    expect_all_correct(ops);
    EXPECT_EQ(src_->outage().waiting(), 0u);
    EXPECT_EQ(server_.pending_faults(), 0u);
}

TEST_F(HttpFaultTest, PersistentGarbageIsEioNeverServed) {
    open(std::chrono::milliseconds(1500));
    server_.add_fault(FaultRule{.fault = Fault::WrongContentRange, .times = FaultRule::kForever});
    expect_all_eio(read_ranges(3, 8));
}

TEST_F(HttpFaultTest, RedirectsAreFollowed) {
    open();
    server_.add_fault(Fault::Redirect, 3);
    expect_all_correct(read_ranges(6, 9));
    EXPECT_EQ(server_.pending_faults(), 0u);
}

TEST_F(HttpFaultTest, AChangedImageFailsAndNeverMixes) {
    open();
    expect_all_correct(read_ranges(2, 10));
    server_.add_fault(Fault::ChangeIdentity);
    auto ops = read_ranges(6, 11);
    expect_all_eio(ops);
}

// ---- hostile servers (issue 12) ----------------------------------------------
// Each ends in a clear error or EIO within the IO timeout, memory bounded by
// the code's caps, and never a wrong byte; once the server behaves, reads
// are right again.

namespace {

http::HttpOptions short_options(const std::string& url) {
    http::HttpOptions o;
    o.urls = {url};
    o.io_timeout = std::chrono::milliseconds(1500);
    o.stall_timeout = std::chrono::seconds(1);
    return o;
}

std::string small_get_error(const std::string& url, const http::HttpOptions& o) {
    try {
        http::small_get(url, o);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_F(HttpFaultTest, AContentRangeLyingAboutTheTotalIsNeverServed) {
    open();
    server_.add_fault(FaultRule{.fault = Fault::LyingTotal, .times = FaultRule::kForever});
    expect_all_eio(read_ranges(3, 20));
    // At attach, a mirror that claims another size is refused.
    server_.clear_faults();
    fixtures::FaultServer liar(image_);
    liar.add_fault(FaultRule{.fault = Fault::LyingTotal, .times = FaultRule::kForever});
    http::HttpOptions o = short_options(server_.url());
    o.urls.push_back(liar.url());
    try {
        http::HttpSource::open(o);
        ADD_FAILURE() << "a mirror with another size was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("serves"), std::string::npos) << e.what();
    }
}

TEST_F(HttpFaultTest, AHugeContentLengthIsRetriedThenEio) {
    open(std::chrono::milliseconds(1500));
    server_.add_fault(Fault::HugeContentLength, 2);
    expect_all_correct(read_ranges(4, 21));
    server_.add_fault(FaultRule{.fault = Fault::HugeContentLength, .times = FaultRule::kForever});
    expect_all_eio(read_ranges(2, 22));
    // The manifest fetch: the body cap, not the claimed length, bounds memory.
    const std::string err = small_get_error(server_.url(), short_options(server_.url()));
    EXPECT_NE(err.find("larger than"), std::string::npos) << err;
}

TEST_F(HttpFaultTest, EndlessHeadersStopAtTheHeadCap) {
    server_.add_fault(FaultRule{.fault = Fault::EndlessHeaders, .times = FaultRule::kForever});
    const std::string cap = "the response head is larger than " + std::to_string(http::kMaxResponseHead);
    http::ProbeResult p = http::probe(server_.url(), short_options(server_.url()));
    EXPECT_FALSE(p.ok);
    EXPECT_NE(p.error.find(cap), std::string::npos) << p.error;
    EXPECT_NE(small_get_error(server_.url(), short_options(server_.url())).find(cap), std::string::npos);
    server_.clear_faults();
    open(std::chrono::milliseconds(1500));
    server_.add_fault(FaultRule{.fault = Fault::EndlessHeaders, .times = FaultRule::kForever});
    expect_all_eio(read_ranges(2, 23));
    server_.clear_faults();
    expect_all_correct(read_ranges(2, 24));
}

// Faster than the stall detector's 1 byte/s, slower than any use: the IO
// timeout ends it.
TEST_F(HttpFaultTest, ASlowlorisBodyEndsAtTheIoTimeout) {
    open(std::chrono::milliseconds(1500), std::chrono::seconds(1));
    FaultRule r{.fault = Fault::Slowloris, .times = FaultRule::kForever};
    r.drip = std::chrono::milliseconds(50);
    server_.add_fault(r);
    expect_all_eio(read_ranges(2, 25));
    EXPECT_FALSE(small_get_error(server_.url(), short_options(server_.url())).empty());
    server_.clear_faults();
    expect_all_correct(read_ranges(2, 26));
}

TEST_F(HttpFaultTest, ARedirectLoopIsNamedAndEio) {
    server_.add_fault(FaultRule{.fault = Fault::RedirectLoop, .times = FaultRule::kForever});
    try {
        http::HttpSource::open(short_options(server_.url()));
        ADD_FAILURE() << "opened through a redirect loop";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("too many redirects"), std::string::npos) << e.what();
    }
    EXPECT_NE(small_get_error(server_.url(), short_options(server_.url())).find("too many redirects"),
              std::string::npos);
    server_.clear_faults();
    open(std::chrono::milliseconds(1500));
    server_.add_fault(FaultRule{.fault = Fault::RedirectLoop, .times = FaultRule::kForever});
    expect_all_eio(read_ranges(2, 27));
}

TEST_F(HttpFaultTest, AMultipartAnswerIsRefused) {
    open(std::chrono::milliseconds(1500));
    server_.add_fault(Fault::MultipartByteranges, 2);
    expect_all_correct(read_ranges(4, 28));
    server_.add_fault(FaultRule{.fault = Fault::MultipartByteranges, .times = FaultRule::kForever});
    expect_all_eio(read_ranges(2, 29));
}
