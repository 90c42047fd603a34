// The shared IO-path helpers in io/: the per-queue object pool and the one
// retry backoff.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "io/backoff.h"
#include "io/object_pool.h"

using namespace lazyroot;

namespace {

struct State {
    int n = 0;
    std::string text;
};

}  // namespace

TEST(ObjectPool, ReusesReleasedObjectsInTheirDefaultState) {
    io::ObjectPool<State> pool;
    State& a = pool.take();
    a.n = 7;
    a.text = "used";
    State& b = pool.take();
    EXPECT_NE(&a, &b);
    EXPECT_EQ(pool.allocated(), 2u);
    pool.release(a);
    EXPECT_EQ(pool.in_use(), 1u);
    State& c = pool.take();
    EXPECT_EQ(&c, &a) << "a released object is handed out again, not a new one";
    EXPECT_EQ(c.n, 0);
    EXPECT_EQ(c.text, "");
    EXPECT_EQ(pool.allocated(), 2u);
    // A steady load of one read at a time allocates once.
    for (int i = 0; i < 1000; ++i) pool.release(pool.take());
    EXPECT_EQ(pool.allocated(), 3u);
}

TEST(Backoff, DoublesFromFiftyMillisecondsUpToTwoSecondsWithJitter) {
    io::Backoff b;
    std::set<long> firsts;
    for (int i = 0; i < 200; ++i) {
        const auto d = b.delay(1).count();
        EXPECT_GE(d, 25);
        EXPECT_LT(d, 75);
        firsts.insert(d);
    }
    EXPECT_GT(firsts.size(), 1u) << "no jitter: queues would retry in lockstep";
    for (unsigned n = 2; n <= 5; ++n) {
        const long base = 50L << (n - 1);
        for (int i = 0; i < 50; ++i) {
            const auto d = b.delay(n).count();
            EXPECT_GE(d, base / 2) << n;
            EXPECT_LT(d, base * 3 / 2) << n;
        }
    }
    for (unsigned n : {7u, 8u, 100u}) {
        const auto d = b.delay(n).count();
        EXPECT_GE(d, 1000);
        EXPECT_LT(d, 3000);
    }
}
