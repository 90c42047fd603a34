#pragma once
#include <chrono>
#include <functional>
#include <map>

namespace lazyroot::io {

class EventLoop;
using Clock = std::chrono::steady_clock;

// A one-shot deadline on a queue's loop. Timers are kept by the loop itself
// (the wait is bounded by the earliest one), so arming, re-arming and
// cancelling never touch the ring and can't race a completion.
class Timer {
public:
    Timer(EventLoop& loop, std::function<void()> on_expire);
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    ~Timer() { cancel(); }

    void arm_at(Clock::time_point when);
    void arm_in(Clock::duration d) { arm_at(Clock::now() + d); }
    void cancel();
    bool armed() const { return armed_; }

private:
    friend class EventLoop;
    EventLoop& loop_;
    std::function<void()> on_expire_;
    std::multimap<Clock::time_point, Timer*>::iterator pos_;
    bool armed_ = false;
};

}  // namespace lazyroot::io
