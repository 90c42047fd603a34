// Caching tiers that break the rules (issue 19), where no real tier config
// does it on demand: a server that never sends a validator is refused at
// attach; an answer that lacks the image's validator is never used. The real
// tiers (varnish, nginx slice, a tier that strips validators) are in
// vm.http_cache_tier.
#include <gtest/gtest.h>

#include <random>

#include "http/http_source.h"
#include "http/image_identity.h"
#include "io/event_loop.h"
#include "tests/http_fixtures/fault_server.h"
#include "tests/http_fixtures/test_image.h"
#include "tests/unit/read_driver.h"

using namespace lazyroot;
using fixtures::Fault;
using fixtures::FaultRule;
using fixtures::FaultServer;
using lazyroot::testing::matches;
using lazyroot::testing::ReadOp;

namespace {

constexpr size_t kImageSize = 2 << 20;

http::HttpOptions options(const std::string& url) {
    http::HttpOptions o;
    o.urls = {url};
    o.io_timeout = std::chrono::milliseconds(1500);
    o.stall_timeout = std::chrono::seconds(1);
    return o;
}

std::string attach_error(const http::HttpOptions& o) {
    try {
        http::HttpSource::open(o);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

std::vector<ReadOp> read_ranges(io::QueueReader& reader, io::EventLoop& loop, size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<ReadOp> ops(n);
    for (auto& op : ops) {
        size_t len = std::uniform_int_distribution<size_t>(4096, 128 * 1024)(rng);
        op.offset = std::uniform_int_distribution<uint64_t>(0, kImageSize - len)(rng);
        op.buf.resize(len);
    }
    lazyroot::testing::run_reads(loop, reader, ops);
    return ops;
}

}  // namespace

TEST(ImageIdentity, TheValidatorItIsCheckedByMustBeInEveryAnswer) {
    http::ImageIdentity both{10, "\"abc\"", "date1"};
    EXPECT_STREQ(both.missing_validator("\"abc\"", ""), "");
    EXPECT_STREQ(both.missing_validator("", "date1"), "ETag");
    http::ImageIdentity date_only{10, "", "date1"};
    EXPECT_STREQ(date_only.missing_validator("", "date1"), "");
    EXPECT_STREQ(date_only.missing_validator("\"abc\"", ""), "Last-Modified");
}

TEST(HttpTier, AServerWithoutValidatorsIsRefusedAtAttachInOneLine) {
    FaultServer server(fixtures::make_test_image(kImageSize, 31), {.etag = "", .last_modified = ""});
    const std::string err = attach_error(options(server.url()));
    EXPECT_NE(err.find(server.url() + ": the answer carries neither ETag nor Last-Modified"), std::string::npos) << err;
    EXPECT_NE(err.find("strips validators"), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

TEST(HttpTier, LastModifiedAloneIsEnough) {
    const auto image = fixtures::make_test_image(kImageSize, 32);
    FaultServer server(image, {.etag = ""});
    auto src = http::HttpSource::open(options(server.url()));
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src->open_queue(loop, 16);
    for (const auto& op : read_ranges(*reader, loop, 8, 1)) {
        EXPECT_EQ(op.result, 0);
        EXPECT_TRUE(matches(op, image));
    }
}

// A tier that drops the validators on some answers (e.g. its cache hits):
// those answers are retried, and where every answer lacks them, EIO.
TEST(HttpTier, AnAnswerWithoutTheImagesValidatorIsNeverUsed) {
    const auto image = fixtures::make_test_image(kImageSize, 33);
    FaultServer server(image);
    auto src = http::HttpSource::open(options(server.url()));
    src->set_connections_per_queue(2);
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto reader = src->open_queue(loop, 16);

    server.add_fault(Fault::NoValidators, 2);
    for (const auto& op : read_ranges(*reader, loop, 6, 2)) {
        EXPECT_EQ(op.result, 0);
        EXPECT_TRUE(matches(op, image));
    }
    EXPECT_EQ(server.pending_faults(), 0u);

    server.add_fault(FaultRule{.fault = Fault::NoValidators, .times = FaultRule::kForever});
    for (const auto& op : read_ranges(*reader, loop, 4, 3)) EXPECT_EQ(op.result, -EIO) << "offset " << op.offset;

    // Once the tier behaves again, reads are right again.
    server.clear_faults();
    for (const auto& op : read_ranges(*reader, loop, 4, 4)) {
        EXPECT_EQ(op.result, 0);
        EXPECT_TRUE(matches(op, image));
    }
}
