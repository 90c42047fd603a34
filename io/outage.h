#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "io/timer.h"

namespace lazyroot::io {

// Tells the user that a source is down while reads wait for it: one line
// after `first` of outage and then one every `every`, naming how many reads
// wait, and one line when it answers again. Shared by all queues of a source
// (thread-safe), so there is one line per interval per source, not one per
// queue or per read. The caller's own timers drive it (tick() on each retry).
class OutageMonitor {
public:
    using Sink = std::function<void(const std::string& line)>;
    struct Intervals {
        Clock::duration first = std::chrono::seconds(15);
        Clock::duration every = std::chrono::seconds(30);
    };

    // `what` names the source in the lines ("http://host/x.img"). Lines go to
    // `sink`, or to log::info (rate-limited, never blocking) without one.
    explicit OutageMonitor(std::string what, Sink sink = {});
    OutageMonitor(std::string what, Sink sink, Intervals iv);

    // A read is waiting for the source (its first attempt failed), or no
    // longer is (served, or given up).
    void wait_begin(unsigned reads = 1) { waiting_.fetch_add(reads, std::memory_order_relaxed); }
    void wait_end(unsigned reads = 1) { waiting_.fetch_sub(reads, std::memory_order_relaxed); }
    unsigned waiting() const { return waiting_.load(std::memory_order_relaxed); }

    // An attempt failed for a reason an outage explains (no connection, no
    // answer, a 5xx): starts an outage unless one is on.
    void failed(Clock::time_point now = Clock::now());
    // The source answered: ends the outage, with a line if one was reported.
    void answered(Clock::time_point now = Clock::now()) {
        if (down_.load(std::memory_order_relaxed)) answered_slow(now);
    }
    // Writes the "unreachable" line when one is due and reads are waiting.
    void tick(Clock::time_point now = Clock::now()) {
        if (down_.load(std::memory_order_relaxed)) tick_slow(now);
    }

private:
    void answered_slow(Clock::time_point now);
    void tick_slow(Clock::time_point now);
    void emit(const std::string& line);

    const std::string what_;
    const Sink sink_;
    const Intervals iv_;
    std::atomic<unsigned> waiting_{0};
    std::atomic<bool> down_{false};  // fast path: nothing to do while the source answers
    std::mutex mu_;
    Clock::time_point down_since_{};
    Clock::time_point last_failure_{};
    Clock::time_point next_report_{};
    bool reported_ = false;
};

}  // namespace lazyroot::io
