// Logging that never blocks a queue thread: the rate limiter, the ring in
// front of a stalled fd, and the process's own stderr logging from a thread
// while nobody reads stderr.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "io/line_writer.h"
#include "io/log.h"

using namespace lazyroot;
using Clock = io::RateLimiter::Clock;

namespace {

// Fills a pipe until a write would block, so that the next blocking write does.
void fill_pipe(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    std::vector<char> junk(4096, 'x');
    while (::write(fd, junk.data(), junk.size()) > 0) {}
    ASSERT_EQ(errno, EAGAIN);
    ::fcntl(fd, F_SETFL, flags);
}

}  // namespace

TEST(RateLimiter, BurstThenSteadyRate) {
    io::RateLimiter r(2, 3);  // 2 lines/s, bursts of 3
    const auto t0 = Clock::now();
    EXPECT_TRUE(r.allow(t0));
    EXPECT_TRUE(r.allow(t0));
    EXPECT_TRUE(r.allow(t0));
    EXPECT_FALSE(r.allow(t0));
    EXPECT_TRUE(r.allow(t0 + std::chrono::milliseconds(500)));  // one token back
    EXPECT_FALSE(r.allow(t0 + std::chrono::milliseconds(500)));
    // A long quiet spell refills only up to the burst.
    const auto t1 = t0 + std::chrono::seconds(60);
    EXPECT_TRUE(r.allow(t1));
    EXPECT_TRUE(r.allow(t1));
    EXPECT_TRUE(r.allow(t1));
    EXPECT_FALSE(r.allow(t1));
}

TEST(LineWriter, WritesLinesInOrder) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    {
        io::LineWriter w(p[1], {});
        w.post("one");
        w.post("two");
        w.post("three");
        ASSERT_TRUE(w.flush(std::chrono::seconds(30)));
        EXPECT_EQ(w.stats().written, 3u);
    }
    ::close(p[1]);
    std::string out;
    char buf[256];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    EXPECT_EQ(out, "one\ntwo\nthree\n");
}

TEST(LineWriter, OverTheRateLimitLinesAreDroppedAndCounted) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    {
        io::LineWriter w(p[1], {.capacity = 64, .per_second = 1e-6, .burst = 2});
        for (int i = 0; i < 5; ++i) w.post("line");
        ASSERT_TRUE(w.flush(std::chrono::seconds(30)));
        auto s = w.stats();
        EXPECT_EQ(s.written, 2u);
        EXPECT_EQ(s.dropped_rate, 3u);
        EXPECT_EQ(s.dropped_full, 0u);
    }
    ::close(p[1]);
    ::close(p[0]);
}

// The reader never reads: posting from a thread still returns, every time;
// what doesn't fit in the ring is dropped and counted.
TEST(LineWriter, AStalledFdNeverBlocksThePoster) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    fill_pipe(p[1]);
    io::LineWriter::Stats s;
    {
        io::LineWriter w(p[1], {.capacity = 64, .per_second = 1e9, .burst = 1e9});
        std::thread poster([&] {
            for (int i = 0; i < 10000; ++i) w.post("lazyroot: a line from a queue thread " + std::to_string(i));
        });
        poster.join();  // the assertion: it came back
        s = w.stats();
        // Closing the read end breaks the writer's blocked write (EPIPE, not
        // SIGPIPE: its thread blocks signals), so the destructor can join it.
        ::close(p[0]);
    }
    ::close(p[1]);
    EXPECT_GT(s.dropped_full, 0u);
    EXPECT_EQ(s.dropped_rate, 0u);
}

// The real thing, in a child process: stderr is a pipe nobody reads and that
// is already full; 10000 log lines from a non-main thread still return, and
// the child exits (it would hang in write() otherwise).
TEST(Log, AThreadLoggingToAStalledStderrNeverBlocks) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    fill_pipe(p[1]);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::dup2(p[1], STDERR_FILENO);
        std::thread t([] {
            for (int i = 0; i < 10000; ++i) log::warn("line %d from a queue thread", i);
        });
        t.join();
        const auto s = log::async_stats();
        ::_exit(s.dropped_full + s.dropped_rate > 0 ? 0 : 3);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ::close(p[0]);
    ::close(p[1]);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Log, ControlCharactersInAMessageCannotForgeALine) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::dup2(p[1], STDERR_FILENO);
        // As a cache header or a superblock could carry it.
        log::error("cached identity \"%s\"", "x\nlazyroot: error: forged\r\x1b[2J");
        log::flush();
        ::_exit(0);
    }
    ::close(p[1]);
    std::string out;
    char buf[512];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
    EXPECT_EQ(out.find('\r'), std::string::npos) << out;
    EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
}
