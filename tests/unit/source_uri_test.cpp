#include <gtest/gtest.h>

#include "cli/options.h"
#include "cli/source_stack.h"
#include "cli/source_uri.h"

using namespace lazyroot::cli;

TEST(SourceUri, FileNeedsAbsolutePath) {
    SourceUri u = parse_source_uri("file:///var/img.raw");
    EXPECT_EQ(u.kind, SourceUri::Kind::File);
    EXPECT_EQ(u.path, "/var/img.raw");
    EXPECT_THROW(parse_source_uri("file://relative/img"), UsageError);
    EXPECT_THROW(parse_source_uri("file://"), UsageError);
}

TEST(SourceUri, NetworkKindsAreRecognised) {
    EXPECT_EQ(parse_source_uri("http://h/i").kind, SourceUri::Kind::Http);
    EXPECT_EQ(parse_source_uri("https://h/i").kind, SourceUri::Kind::Http);
    EXPECT_EQ(parse_source_uri("nvme+tcp://h/nqn.2014-08.org.example:root").kind, SourceUri::Kind::NvmeTcp);
    EXPECT_THROW(parse_source_uri("nvme+tcp://h/"), UsageError);
}

TEST(SourceUri, UnknownSchemesAndBarePathsAreRejected) {
    EXPECT_THROW(parse_source_uri("/var/img.raw"), UsageError);
    EXPECT_THROW(parse_source_uri("ftp://h/i"), UsageError);
    EXPECT_THROW(parse_source_uri(""), UsageError);
}

TEST(SourceUri, MissingFileIsAOneLineError) {
    try {
        open_transport(parse_source_uri("file:///nonexistent/lazyroot-test.img"), AttachOptions{});
        FAIL() << "opened a missing file";
    } catch (const std::runtime_error& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find("/nonexistent/lazyroot-test.img"), std::string::npos);
        EXPECT_NE(msg.find("No such file"), std::string::npos);
        EXPECT_EQ(msg.find('\n'), std::string::npos);
    }
}

TEST(SourceUri, PlainHttpNeedsInsecureAndMirrorsNeedHttp) {
    AttachOptions o;
    EXPECT_THROW(check_source_options(parse_source_uri("http://h/i"), o), UsageError);
    EXPECT_NO_THROW(check_source_options(parse_source_uri("https://h/i"), o));
    o.insecure = true;
    EXPECT_NO_THROW(check_source_options(parse_source_uri("http://h/i"), o));
    o.mirrors = {"ftp://m/i"};
    EXPECT_THROW(check_source_options(parse_source_uri("http://h/i"), o), UsageError);
    o.mirrors = {"https://m/i"};
    EXPECT_THROW(check_source_options(parse_source_uri("file:///i"), o), UsageError);
    o.insecure = false;
    o.mirrors = {"http://m/i"};
    EXPECT_THROW(check_source_options(parse_source_uri("https://h/i"), o), UsageError);
}

// Every clear-text transport without verity needs --insecure: NVMe/TCP
// (no TLS) like plain http://, with the reason in one line.
TEST(SourceUri, ClearTextNvmeTcpNeedsInsecureOrVerity) {
    const auto nvme = parse_source_uri("nvme+tcp://h/nqn.2014-08.org.example:root");
    AttachOptions o;
    try {
        check_source_options(nvme, o);
        ADD_FAILURE() << "nvme+tcp:// accepted without verity and without --insecure";
    } catch (const UsageError& e) {
        EXPECT_NE(std::string(e.what()).find("nvme+tcp:// is clear text"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("--insecure"), std::string::npos) << e.what();
    }
    o.insecure = true;
    EXPECT_NO_THROW(check_source_options(nvme, o));
    o.insecure = false;
    o.verity = VerityKind::Manifest;
    EXPECT_NO_THROW(check_source_options(nvme, o));
    // A plain http:// mirror of an https:// source, and http:// with verity.
    o.verity = VerityKind::None;
    o.mirrors = {"http://m/i"};
    EXPECT_THROW(check_source_options(parse_source_uri("https://h/i"), o), UsageError);
    o.verity = VerityKind::Ddi;
    EXPECT_NO_THROW(check_source_options(parse_source_uri("https://h/i"), o));
}
