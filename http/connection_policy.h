#pragma once
#include <cstdint>

namespace lazyroot::http {

// How many connections one queue's range requests may use. HTTP/1.1 carries
// one request at a time per connection, so reads beyond the connection count
// wait in curl for one to free up. Another connection is opened when that
// wait (the requests ahead × how long a request holds its connection ÷ the
// connections) costs more than setting one up (TCP and TLS handshakes, as
// measured); a multiplexed (HTTP/2) connection never needs another. With
// `start == max` the count is fixed.
class ConnectionPolicy {
public:
    ConnectionPolicy(unsigned start, unsigned max);

    unsigned limit() const { return limit_; }
    // The last answer came over HTTP/2: one connection carries every request.
    bool multiplexed() const { return multiplexed_; }

    // `in_flight` requests are in curl (started and not finished). True when
    // the limit grew: the caller applies limit() to its multi handle.
    bool want_more(unsigned in_flight);

    // A request finished. `connect_us`: the handshakes of a new connection
    // (0: it reused one); `held_us`: how long it held its connection.
    void on_response(uint64_t connect_us, uint64_t held_us, bool multiplexed);

private:
    unsigned limit_;
    unsigned max_;
    double held_us_ = 0;     // moving average; 0 until the first response
    double connect_us_ = 0;  // moving average of new connections' handshakes
    uint64_t min_held_us_ = UINT64_MAX;
    bool multiplexed_ = false;
};

}  // namespace lazyroot::http
