#include "http/connection_policy.h"

#include <algorithm>

namespace lazyroot::http {

namespace {
// Recent requests count most: a link's latency changes (an outage, a mirror).
constexpr double kWeight = 0.125;
double blend(double avg, double sample) { return avg == 0 ? sample : avg + kWeight * (sample - avg); }
}  // namespace

ConnectionPolicy::ConnectionPolicy(unsigned start, unsigned max)
    : limit_(std::max(1u, start)), max_(std::max(std::max(1u, start), max)) {}

bool ConnectionPolicy::want_more(unsigned in_flight) {
    if (limit_ >= max_ || multiplexed_ || held_us_ == 0 || in_flight <= limit_) return false;
    const double waiting = in_flight - limit_;
    const double wait_us = held_us_ * waiting / limit_;
    // Before any new connection was timed, the quickest request stands in
    // for a round trip, about what a TCP handshake takes.
    const double setup_us = connect_us_ > 0 ? connect_us_ : static_cast<double>(min_held_us_);
    if (wait_us <= setup_us) return false;
    ++limit_;
    return true;
}

void ConnectionPolicy::on_response(uint64_t connect_us, uint64_t held_us, bool multiplexed) {
    multiplexed_ = multiplexed;
    if (connect_us > 0) connect_us_ = blend(connect_us_, static_cast<double>(connect_us));
    if (held_us == 0) held_us = 1;
    held_us_ = blend(held_us_, static_cast<double>(held_us));
    min_held_us_ = std::min(min_held_us_, held_us);
}

}  // namespace lazyroot::http
