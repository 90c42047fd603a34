// The outage lines: one after the first interval, then one per interval, per
// source, with the number of reads waiting; one when the source answers again.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/outage.h"

using namespace lazyroot;
using namespace std::chrono_literals;

namespace {

struct Recorder {
    std::vector<std::string> lines;
    io::OutageMonitor::Sink sink() {
        return [this](const std::string& l) { lines.push_back(l); };
    }
};

}  // namespace

TEST(OutageMonitor, ReportsAtIntervalsAndOnRecovery) {
    Recorder r;
    io::OutageMonitor m("http://h/x.img", r.sink());
    const auto t0 = io::Clock::now();
    m.failed(t0);
    m.wait_begin(12);
    m.tick(t0 + 10s);
    EXPECT_TRUE(r.lines.empty());
    m.tick(t0 + 15s);
    m.failed(t0 + 16s);
    m.tick(t0 + 16s);  // still within the interval
    m.tick(t0 + 44s);
    ASSERT_EQ(r.lines.size(), 1u);
    EXPECT_EQ(r.lines[0], "http://h/x.img unreachable for 15 s, 12 reads waiting");
    m.failed(t0 + 40s);
    m.tick(t0 + 45s);
    ASSERT_EQ(r.lines.size(), 2u);
    EXPECT_EQ(r.lines[1], "http://h/x.img unreachable for 45 s, 12 reads waiting");
    m.answered(t0 + 130s);
    m.wait_end(12);
    ASSERT_EQ(r.lines.size(), 3u);
    EXPECT_EQ(r.lines[2], "http://h/x.img reachable again after 130 s");
    m.tick(t0 + 200s);
    m.answered(t0 + 200s);
    EXPECT_EQ(r.lines.size(), 3u);
    EXPECT_EQ(m.waiting(), 0u);
}

TEST(OutageMonitor, ABlipSaysNothing) {
    Recorder r;
    io::OutageMonitor m("src", r.sink());
    const auto t0 = io::Clock::now();
    m.failed(t0);
    m.wait_begin();
    m.tick(t0 + 2s);
    m.answered(t0 + 3s);
    m.wait_end();
    EXPECT_TRUE(r.lines.empty());
}

TEST(OutageMonitor, NoLineWhileNoReadWaits) {
    Recorder r;
    io::OutageMonitor m("src", r.sink());
    const auto t0 = io::Clock::now();
    m.failed(t0);
    m.tick(t0 + 20s);
    EXPECT_TRUE(r.lines.empty());
    m.wait_begin();
    m.failed(t0 + 20s);
    m.tick(t0 + 21s);
    ASSERT_EQ(r.lines.size(), 1u);
    EXPECT_EQ(r.lines[0], "src unreachable for 21 s, 1 read waiting");
}

// A failure long after the last one (nobody read in between) starts a new
// outage: the count restarts there.
TEST(OutageMonitor, AStaleOutageStartsAfresh) {
    Recorder r;
    io::OutageMonitor m("src", r.sink());
    const auto t0 = io::Clock::now();
    m.failed(t0);
    m.failed(t0 + 600s);
    m.wait_begin(2);
    m.tick(t0 + 610s);
    EXPECT_TRUE(r.lines.empty());
    m.tick(t0 + 615s);
    ASSERT_EQ(r.lines.size(), 1u);
    EXPECT_EQ(r.lines[0], "src unreachable for 15 s, 2 reads waiting");
}
