// Transport trust (issue 12, item 2): a redirect never takes an https://
// source (or its manifest) to clear text, and --ca trusts that CA alone.
// Real nginx over TLS; the clear-text side of a redirect is the fault
// server, which counts what reached it.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>

#include "http/http_source.h"
#include "http/probe.h"
#include "http/small_get.h"
#include "io/event_loop.h"
#include "tests/http_fixtures/child_process.h"
#include "tests/http_fixtures/fault_server.h"
#include "tests/http_fixtures/nginx_server.h"
#include "tests/http_fixtures/temp_dir.h"
#include "tests/http_fixtures/test_ca.h"
#include "tests/http_fixtures/test_image.h"
#include "tests/unit/read_driver.h"

using namespace lazyroot;
using lazyroot::testing::ReadOp;

namespace {

constexpr size_t kImageSize = 1 << 20;

http::HttpOptions options(const std::string& url, const std::string& ca) {
    http::HttpOptions o;
    o.urls = {url};
    o.ca_file = ca;
    o.io_timeout = std::chrono::seconds(3);
    o.stall_timeout = std::chrono::seconds(2);
    return o;
}

// nginx over TLS serving img.raw, with redirects to `clear` (an http:// URL):
// /redir.img always, /ranged.img for every request but the probe's
// bytes=0-0 (so the source opens and its reads meet the redirect), and
// /hop.img to https:// on itself.
struct RedirectingNginx {
    fixtures::TestCa ca;
    fixtures::TempDir docroot{"lazyroot-docroot"};
    std::vector<uint8_t> image = fixtures::make_test_image(kImageSize, 12);
    std::unique_ptr<fixtures::NginxServer> nginx;

    explicit RedirectingNginx(const std::string& clear) {
        docroot.write_file("img.raw", image);
        docroot.write_file("ranged.img", image);
        docroot.write_file("ranged.img.manifest.json", "{}");
        fixtures::NginxServer::Options o{
            .root = docroot.path().string(), .tls = true, .cert = ca.server_cert(), .key = ca.server_key()};
        o.extra_server_config = "location = /redir.img { return 302 " + clear +
                                "; }\n"
                                "location = /redir.img.manifest.json { return 302 " +
                                clear +
                                "; }\n"
                                "location = /ranged.img { if ($http_range != \"bytes=0-0\") { return 302 " +
                                clear +
                                "; } }\n"
                                "location = /hop.img { return 302 https://127.0.0.1:$server_port/img.raw; }\n";
        nginx = std::make_unique<fixtures::NginxServer>(o);
        nginx->start();
    }
    std::string url(const char* path) const { return nginx->url(path); }
};

}  // namespace

TEST(TransportTrust, HttpsNeverFollowsARedirectToHttp) {
    fixtures::FaultServer clear(fixtures::make_test_image(kImageSize, 12));
    RedirectingNginx tls(clear.url());

    // The probe: refused, with the reason, and nothing asked of the clear-text server.
    http::ProbeResult p = http::probe(tls.url("redir.img"), options(tls.url("redir.img"), tls.ca.ca_cert()));
    EXPECT_FALSE(p.ok);
    EXPECT_NE(p.error.find("refused a redirect from https:// to clear text"), std::string::npos) << p.error;
    EXPECT_EQ(p.error.find('\n'), std::string::npos);

    // The manifest fetch.
    try {
        http::small_get(tls.url("redir.img.manifest.json"), options("", tls.ca.ca_cert()));
        ADD_FAILURE() << "the manifest was fetched over a downgrading redirect";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("refused a redirect from https://"), std::string::npos) << e.what();
    }

    // Block reads of a source that opened: each fails (EIO), never served from http://.
    auto src = http::HttpSource::open(options(tls.url("ranged.img"), tls.ca.ca_cert()));
    io::EventLoop loop;
    ASSERT_EQ(loop.init(16), 0);
    auto reader = src->open_queue(loop, 4);
    std::vector<ReadOp> ops(2);
    ops[0].offset = 0;
    ops[0].buf.resize(4096);
    ops[1].offset = 65536;
    ops[1].buf.resize(8192);
    lazyroot::testing::run_reads(loop, *reader, ops);
    for (const auto& op : ops) EXPECT_EQ(op.result, -EIO) << "offset " << op.offset;

    EXPECT_EQ(clear.requests_served(), 0u) << "a request reached the clear-text server";

    // https:// to https:// is still followed.
    p = http::probe(tls.url("hop.img"), options(tls.url("hop.img"), tls.ca.ca_cert()));
    EXPECT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.identity.size, kImageSize);
}

TEST(TransportTrust, ACertificateForAnotherNameIsRefused) {
    fixtures::TestCa ca;
    fixtures::TempDir docroot("lazyroot-docroot");
    docroot.write_file("img.raw", fixtures::make_test_image(kImageSize, 13));
    fixtures::NginxServer nginx(
        {.root = docroot.path().string(), .tls = true, .cert = ca.other_name_cert(), .key = ca.other_name_key()});
    nginx.start();
    http::ProbeResult p = http::probe(nginx.url("img.raw"), options(nginx.url("img.raw"), ca.ca_cert()));
    EXPECT_FALSE(p.ok);
    EXPECT_NE(p.error.find("subject name"), std::string::npos) << p.error;
    EXPECT_EQ(p.error.find('\n'), std::string::npos);
    EXPECT_THROW(http::HttpSource::open(options(nginx.url("img.raw"), ca.ca_cert())), std::runtime_error);
}

namespace {

// Runs `body` in a child process with its own mount namespace, where
// /etc/ssl/certs (libcurl's compiled-in CA file and directory) holds only
// `system_ca`: the system store, as far as the child can tell. Returns the
// child's exit status (0: every check in body passed).
int with_system_store(const std::string& system_ca, const std::function<int()>& body) {
    fixtures::TempDir store("lazyroot-store");
    std::filesystem::copy_file(system_ca, store / "ca-certificates.crt");
    std::filesystem::copy_file(system_ca, store / "test-ca.pem");
    auto rehash = fixtures::run_command({"openssl", "rehash", store.path().string()});
    if (rehash.exit_code != 0) {
        ADD_FAILURE() << "openssl rehash: " << rehash.output;
        return -1;
    }
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount(store.path().c_str(), "/etc/ssl/certs", nullptr, MS_BIND, nullptr) != 0) {
            std::perror("cannot give the test its own /etc/ssl/certs");
            ::_exit(100);
        }
        ::_exit(body());
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

// The server's certificate is signed by CA B, which the system store trusts;
// --ca names CA A. With --ca the store must not be consulted: refused.
TEST(TransportTrust, CaMeansOnlyThatCa) {
    fixtures::TestCa a("lazyroot test CA A"), b("lazyroot test CA B");
    fixtures::TempDir docroot("lazyroot-docroot");
    docroot.write_file("img.raw", fixtures::make_test_image(kImageSize, 14));
    docroot.write_file("img.raw.manifest.json", "{}");
    fixtures::NginxServer nginx(
        {.root = docroot.path().string(), .tls = true, .cert = b.server_cert(), .key = b.server_key()});
    nginx.start();
    const std::string url = nginx.url("img.raw");
    const int rc = with_system_store(b.ca_cert(), [&] {
        int failures = 0;
        // Without --ca the (test) system store validates: the setup works.
        http::ProbeResult p = http::probe(url, options(url, ""));
        if (!p.ok) {
            std::fprintf(stderr, "without --ca, the system store did not validate: %s\n", p.error.c_str());
            failures |= 1;
        }
        // --ca=A: B's server is refused, outside the initrd and inside (pinned).
        for (bool pinned : {false, true}) {
            http::HttpOptions o = options(url, a.ca_cert());
            o.pin_at_attach = pinned;
            if (pinned) {
                try {
                    http::HttpSource::open(o);
                    std::fprintf(stderr, "pinned --ca=A accepted a server of CA B\n");
                    failures |= 2;
                } catch (const std::runtime_error&) {}
            }
            p = http::probe(url, o);
            if (p.ok) {
                std::fprintf(stderr, "--ca=A (pinned=%d) accepted a server of CA B\n", pinned);
                failures |= 4;
            }
            try {
                http::small_get(url + ".manifest.json", o);
                std::fprintf(stderr, "--ca=A: the manifest was fetched from a server of CA B\n");
                failures |= 8;
            } catch (const std::runtime_error&) {}
        }
        // --ca=B still works.
        p = http::probe(url, options(url, b.ca_cert()));
        if (!p.ok) {
            std::fprintf(stderr, "--ca=B: %s\n", p.error.c_str());
            failures |= 16;
        }
        return failures;
    });
    EXPECT_EQ(rc, 0) << "see the child's stderr above";
}
