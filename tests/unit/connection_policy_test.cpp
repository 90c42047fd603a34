#include "http/connection_policy.h"

#include <gtest/gtest.h>

using lazyroot::http::ConnectionPolicy;

TEST(ConnectionPolicy, AFixedCountNeverGrows) {
    ConnectionPolicy p(3, 3);
    p.on_response(100, 10000, false);
    EXPECT_FALSE(p.want_more(100));
    EXPECT_EQ(p.limit(), 3u);
}

TEST(ConnectionPolicy, NothingIsKnownBeforeTheFirstAnswer) {
    ConnectionPolicy p(1, 8);
    EXPECT_FALSE(p.want_more(32));
    EXPECT_EQ(p.limit(), 1u);
}

// 10 ms per request, 30 ms to set a connection up (a far server with TLS):
// two reads waiting behind four connections wait 5 ms, not worth a new one;
// forty wait 100 ms, worth it.
TEST(ConnectionPolicy, GrowsOnlyWhenTheWaitCostsMoreThanAHandshake) {
    ConnectionPolicy p(4, 16);
    p.on_response(30000, 40000, false);  // a new connection: 30 ms of handshakes, 10 ms of request
    p.on_response(0, 10000, false);
    EXPECT_FALSE(p.want_more(4));  // nothing waits
    EXPECT_FALSE(p.want_more(6));
    EXPECT_EQ(p.limit(), 4u);
    EXPECT_TRUE(p.want_more(44));
    EXPECT_EQ(p.limit(), 5u);
}

TEST(ConnectionPolicy, StopsAtItsMaximum) {
    ConnectionPolicy p(1, 3);
    p.on_response(50, 1000, false);
    while (p.want_more(100)) {}
    EXPECT_EQ(p.limit(), 3u);
}

TEST(ConnectionPolicy, AMultiplexedConnectionNeedsNoOther) {
    ConnectionPolicy p(1, 8);
    p.on_response(50, 1000, true);
    EXPECT_TRUE(p.multiplexed());
    EXPECT_FALSE(p.want_more(100));
    EXPECT_EQ(p.limit(), 1u);
}

// Before any new connection was timed, the quickest request stands for a round trip.
TEST(ConnectionPolicy, WithoutAHandshakeTimedTheQuickestRequestIsTheCost) {
    ConnectionPolicy p(2, 8);
    p.on_response(0, 1000, false);
    EXPECT_FALSE(p.want_more(3));  // one waits 500 µs < 1 ms
    EXPECT_TRUE(p.want_more(8));   // six wait 3 ms
}
