#include "io/outage.h"

#include "io/log.h"

namespace lazyroot::io {
namespace {

long long whole_seconds(Clock::duration d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

}  // namespace

OutageMonitor::OutageMonitor(std::string what, Sink sink)
    : OutageMonitor(std::move(what), std::move(sink), Intervals{}) {}

OutageMonitor::OutageMonitor(std::string what, Sink sink, Intervals iv)
    : what_(std::move(what)), sink_(std::move(sink)), iv_(iv) {}

void OutageMonitor::emit(const std::string& line) {
    if (sink_)
        sink_(line);
    else
        log::info("%s", line.c_str());
}

void OutageMonitor::failed(Clock::time_point now) {
    std::lock_guard lock(mu_);
    // A failure long after the last one (nobody read in between) starts a
    // new outage: we can't claim the source was down while nobody asked.
    const bool stale = down_ && now - last_failure_ > iv_.every;
    last_failure_ = now;
    if (down_ && !stale) return;
    down_since_ = now;
    next_report_ = now + iv_.first;
    reported_ = false;
    down_.store(true, std::memory_order_relaxed);
}

void OutageMonitor::answered_slow(Clock::time_point now) {
    std::string line;
    {
        std::lock_guard lock(mu_);
        if (!down_) return;
        down_.store(false, std::memory_order_relaxed);
        // A short blip that never got an "unreachable" line gets no
        // "reachable" line either.
        if (!reported_) return;
        line = what_ + " reachable again after " + std::to_string(whole_seconds(now - down_since_)) + " s";
    }
    emit(line);
}

void OutageMonitor::tick_slow(Clock::time_point now) {
    std::string line;
    {
        std::lock_guard lock(mu_);
        const unsigned n = waiting();
        if (!down_ || n == 0 || now < next_report_) return;
        next_report_ = now + iv_.every;
        reported_ = true;
        line = what_ + " unreachable for " + std::to_string(whole_seconds(now - down_since_)) + " s, " +
               std::to_string(n) + (n == 1 ? " read" : " reads") + " waiting";
    }
    emit(line);
}

}  // namespace lazyroot::io
