// Leaks (issue 12, item 5): credentials in URLs are cut from logs and
// `status`, and the files under /run/lazyroot are private to root.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <fcntl.h>

#include <thread>

#include "cli/state_file.h"
#include "io/log.h"
#include "io/redact.h"
#include "tests/http_fixtures/temp_dir.h"

using lazyroot::io::redact_url;
using lazyroot::io::redact_urls;

TEST(Redact, UserinfoAndPresignedQueriesAreCut) {
    EXPECT_EQ(redact_url("https://user:s3cret@images.lan:8443/root.img"), "https://…@images.lan:8443/root.img");
    EXPECT_EQ(redact_url("http://token@h/r.img"), "http://…@h/r.img");
    // A password with an unescaped '@': the last one ends the userinfo.
    EXPECT_EQ(redact_url("https://u:p@ss@h/r"), "https://…@h/r");
    EXPECT_EQ(redact_url("https://bucket.s3.amazonaws.com/root.img?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                         "&X-Amz-Credential=AKIA%2F20261130&X-Amz-Signature=deadbeef"),
              "https://bucket.s3.amazonaws.com/root.img?…");
    EXPECT_EQ(redact_url("https://acct.blob.core.windows.net/c/root.img?sv=2022&sig=abc%3D&se=x"),
              "https://acct.blob.core.windows.net/c/root.img?…");
    EXPECT_EQ(redact_url("HTTPS://u:p@h?token=1#frag"), "HTTPS://…@h?…#frag");
    // Nothing to cut: unchanged.
    EXPECT_EQ(redact_url("https://h/r.img"), "https://h/r.img");
    EXPECT_EQ(redact_url("file:///srv/r.img"), "file:///srv/r.img");
    EXPECT_EQ(redact_url("not a url"), "not a url");
    EXPECT_EQ(redact_url(""), "");
    // An '@' in the path is not userinfo.
    EXPECT_EQ(redact_url("https://h/a@b/r.img"), "https://h/a@b/r.img");
    // NVMe/TCP's query is options, not secrets.
    EXPECT_EQ(redact_url("nvme+tcp://10.0.0.2/nqn.2014-08.org.example:root?nsid=1"),
              "nvme+tcp://10.0.0.2/nqn.2014-08.org.example:root?nsid=1");
}

TEST(Redact, EveryUrlInALine) {
    EXPECT_EQ(redact_urls("lazyroot: warn: https://u:p@a/r.img?sig=x: HTTP 503; retrying"),
              "lazyroot: warn: https://…@a/r.img?…: HTTP 503; retrying");
    EXPECT_EQ(redact_urls("mirror http://m/r?t=1 serves 5 bytes but https://u:p@h/r serves 6"),
              "mirror http://m/r?… serves 5 bytes but https://…@h/r serves 6");
    EXPECT_EQ(redact_urls("lazyroot attach 'https://u:p@h/r' --mirror=\"http://v:q@m/r\""),
              "lazyroot attach 'https://…@h/r' --mirror=\"http://…@m/r\"");
    EXPECT_EQ(redact_urls("rd.lazyroot=https://h/r.img?X-Amz-Signature=1,insecure ro"),
              "rd.lazyroot=https://h/r.img?… ro");
    EXPECT_EQ(redact_urls("no url here, just ://"), "no url here, just ://");
    EXPECT_EQ(redact_urls("(see https://u:p@h/r?t=1)."), "(see https://…@h/r?…).");
    EXPECT_EQ(redact_urls(""), "");
}

// Every log line, from the main thread (written at once) and from another
// thread (through the logger's ring), whatever the message: no credentials.
TEST(Redact, LogLinesCarryNoCredentials) {
    lazyroot::fixtures::TempDir dir("lazyroot-log");
    const std::string path = (dir / "stderr").string();
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    const int saved = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    lazyroot::log::error("%s: HTTP 403", "https://alice:hunter2@images.lan/root.img?X-Amz-Signature=abc123");
    std::thread([] { lazyroot::log::warn("mirror %s: retrying", "http://bob:pw@m.lan/r.img?sig=zzz9"); }).join();
    lazyroot::log::flush();
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ::close(fd);
    std::ifstream in(path);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("lazyroot: error: https://…@images.lan/root.img?…: HTTP 403\n"), std::string::npos) << text;
    EXPECT_NE(text.find("mirror http://…@m.lan/r.img?…: retrying\n"), std::string::npos) << text;
    for (const char* secret : {"alice", "hunter2", "abc123", "bob", "pw@", "zzz9"})
        EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << text;
}

namespace {

unsigned mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

struct RunDir {
    lazyroot::fixtures::TempDir tmp{"lazyroot-run"};
    std::string dir = (tmp / "lazyroot").string();
    RunDir() { ::setenv("LAZYROOT_RUN_DIR", dir.c_str(), 1); }
    ~RunDir() { ::unsetenv("LAZYROOT_RUN_DIR"); }
};

}  // namespace

TEST(StateFiles, AreMode0600InA0700Directory) {
    RunDir run;
    const nlohmann::json state = {{"source", "https://u:p@h/r.img?sig=x"}, {"words", {"attach"}}};
    ASSERT_TRUE(lazyroot::cli::write_state(7, state));
    EXPECT_EQ(mode_of(run.dir), 0700u);
    EXPECT_EQ(mode_of(lazyroot::cli::state_path(7)), 0600u);
    // The state keeps the full URL: a successor needs it to rebuild the stack.
    EXPECT_EQ(lazyroot::cli::read_state(7)->value("source", ""), "https://u:p@h/r.img?sig=x");

    // A world-readable leftover (an older version's file, or its .tmp) ends 0600 too.
    const std::string status = run.dir + "/7.status.json";
    for (const std::string& p : {status, status + ".tmp"}) {
        std::ofstream(p) << "{}";
        ::chmod(p.c_str(), 0644);
    }
    ASSERT_TRUE(lazyroot::cli::write_private_file(status, "{\"a\":1}\n"));
    EXPECT_EQ(mode_of(status), 0600u);
    std::ifstream in(status);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "{\"a\":1}\n");

    // A 0755 directory from an older version is tightened.
    ::chmod(run.dir.c_str(), 0755);
    ASSERT_TRUE(lazyroot::cli::write_state(8, state));
    EXPECT_EQ(mode_of(run.dir), 0700u);
    EXPECT_EQ(mode_of(lazyroot::cli::state_path(8)), 0600u);
}
