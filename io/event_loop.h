#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "io/ring.h"
#include "io/timer.h"

namespace lazyroot::io {

// Anything waiting for a CQE. The SQE's user_data points at it, so a completion
// needs no allocation and no lookup.
class Completion {
public:
    virtual void complete(int res, uint32_t cqe_flags) = 0;
    // The loop is going away before a completion this object waited for to
    // free itself arrived (see EventLoop::free_at_close).
    virtual void abandon() {}

protected:
    ~Completion() = default;
};

// One per queue thread: the single place that waits. ublk commands, file IO,
// sockets (SocketWatch) and timers (Timer) all complete here, so a queue
// needs no locks.
class EventLoop {
public:
    // SQE128 is needed for ublk control commands and harmless elsewhere.
    static constexpr unsigned kSqe128 = IORING_SETUP_SQE128;

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Returns 0 or -errno.
    int init(unsigned entries, unsigned setup_flags = 0);

    // An SQE owned by `c`; flushes the SQ to make room when it is full.
    // Never returns null once the ring is initialised.
    io_uring_sqe* sqe_for(Completion* c);

    // Submits what is queued, waits for at least one completion or the
    // earliest timer, and dispatches both. Returns 0 or -errno.
    int run_once();

    // Submits queued SQEs without waiting.
    int flush();

    // Runs `fn` on this loop's thread soon. The one thread-safe call here:
    // how other queues hand this one work (e.g. "the chunk you wait for landed").
    void post(std::function<void()> fn);

    // Closes the ring; nothing in flight completes afterwards. Call before
    // freeing buffers or completions that in-flight operations still point at.
    void close() { ring_.close(); }

    io_uring* raw() { return ring_.raw(); }

    // An object that frees itself on its last CQE (a SocketWatch being
    // cancelled) is abandoned instead if the loop closes first, so that a
    // short-lived loop (attach time) leaks nothing. `forget` when it was freed.
    void free_at_close(Completion* c) { dying_.push_back(c); }
    void forget(Completion* c) { std::erase(dying_, c); }
    // Objects that will free themselves on a CQE still to come.
    bool settling() const { return !dying_.empty(); }

private:
    friend class Timer;
    class Mailbox;
    void fire_expired_timers();

    Ring ring_;
    std::multimap<Clock::time_point, Timer*> timers_;
    std::unique_ptr<Mailbox> mailbox_;
    std::vector<Completion*> dying_;
};

}  // namespace lazyroot::io
