#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "io/timer.h"

namespace lazyroot::io {

// --io-timeout: how long one read may take, retries included, before it
// fails with EIO. nullopt is "infinity": the read waits out any outage.
using IoTimeout = std::optional<std::chrono::milliseconds>;

// When a read started at `now` runs out of time (never, for infinity).
inline Clock::time_point deadline_after(const IoTimeout& t, Clock::time_point now = Clock::now()) {
    return t ? now + *t : Clock::time_point::max();
}

// A finite bound (a stall or command timeout), shortened to the IO timeout.
inline std::chrono::milliseconds at_most(std::chrono::milliseconds bound, const IoTimeout& t) {
    return t ? std::min(bound, *t) : bound;
}

inline std::string describe(const IoTimeout& t) {
    if (!t) return "infinity";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(t->count()) / 1000.0);
    return buf;
}

}  // namespace lazyroot::io
