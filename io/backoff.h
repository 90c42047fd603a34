#pragma once
#include <algorithm>
#include <chrono>
#include <random>

namespace lazyroot::io {

// How long to wait before retrying a server that failed: doubling from 50 ms
// up to 2 s, times a random factor in [0.5, 1.5). A server that comes back is
// found quickly; one that stays away isn't hammered; queues and machines that
// failed together don't retry in lockstep. One policy for every transport.
class Backoff {
public:
    static constexpr std::chrono::milliseconds kFirst{50};
    static constexpr std::chrono::milliseconds kCap{2000};

    Backoff() : rng_(std::random_device{}()) {}

    // The wait before retry number `n` (1 for the first).
    std::chrono::milliseconds delay(unsigned n) {
        const unsigned shift = std::min(n > 0 ? n - 1 : 0u, 6u);
        const double base =
            std::min<double>(static_cast<double>(kCap.count()), static_cast<double>(kFirst.count()) * (1u << shift));
        std::uniform_real_distribution<double> jitter(0.5, 1.5);
        return std::chrono::milliseconds(static_cast<long>(base * jitter(rng_)));
    }

private:
    std::mt19937 rng_;
};

}  // namespace lazyroot::io
