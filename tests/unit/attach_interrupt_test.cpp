// SIGTERM during attach-time work (issue 12, item 8; issue 11): the probe
// and the verity tree load against a server that never answers end at the
// signal, with the one line and exit 1, and never wait out the IO timeout.
// The real `lazyroot attach`: it touches no kernel interface before the
// source is built, so this runs on the host.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include "tests/http_fixtures/child_process.h"
#include "tests/http_fixtures/fault_server.h"
#include "tests/http_fixtures/temp_dir.h"
#include "tests/http_fixtures/test_image.h"

using namespace lazyroot;
using fixtures::Fault;
using fixtures::FaultRule;

namespace {

// Starts attach with `extra` against `server`, waits until the server has
// had `requests` requests (the last one stalled), sends SIGTERM and returns
// attach's output; its exit must be 1.
std::string interrupt_attach(fixtures::FaultServer& server, uint64_t requests, const std::vector<std::string>& extra) {
    fixtures::TempDir dir("lazyroot-interrupt");
    const std::string log = (dir / "attach.log").string();
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    std::vector<std::string> argv = {LAZYROOT_BINARY, "attach", server.url(),  "--insecure",
                                     "--io-timeout",  "600",    "--readahead", "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = fixtures::ChildProcess::spawn(argv, fd);
    ::close(fd);
    // The stalled request is logged when it arrives (status 0: never answered).
    EXPECT_TRUE(server.wait_for([&](const fixtures::FaultServerStats& s) { return s.requests >= requests; },
                                std::chrono::seconds(30)));
    child.signal(SIGTERM);
    const auto status = child.wait_for(std::chrono::seconds(30));
    EXPECT_TRUE(status) << "attach still running after SIGTERM";
    if (!status) child.kill_hard();
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 1)
        << (status ? fixtures::describe_wait_status(*status) : "running");
    std::ifstream in(log);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST(AttachInterrupt, SigtermDuringTheProbeStopsTheAttach) {
    fixtures::FaultServer server(fixtures::make_test_image(1 << 20, 81));
    server.add_fault(FaultRule{.fault = Fault::Stall, .times = FaultRule::kForever});
    const std::string out = interrupt_attach(server, 1, {});
    EXPECT_NE(out.find("interrupted by signal 15 during attach; nothing was attached"), std::string::npos) << out;
}

TEST(AttachInterrupt, SigtermDuringTheTreeLoadStopsTheAttach) {
    fixtures::FaultServer server(fixtures::make_test_image(1 << 20, 82));
    // The probe (bytes=0-0) is answered; the superblock and tree reads stall.
    FaultRule stall{.fault = Fault::Stall, .times = FaultRule::kForever};
    stall.match = [](const fixtures::HttpRequest& r) {
        const std::string* range = r.header("Range");
        return !range || *range != "bytes=0-0";
    };
    server.add_fault(stall);
    const std::string out = interrupt_attach(server, 2, {"--verity", std::string(64, 'a'), "--hash-offset", "524288"});
    EXPECT_NE(out.find("interrupted by signal 15 during attach; nothing was attached"), std::string::npos) << out;
    bool tree_read_seen = false;
    for (const auto& r : server.log()) tree_read_seen |= r.range != "bytes=0-0" && r.status == 0;
    EXPECT_TRUE(tree_read_seen) << "the attach was not in the tree load";
}
