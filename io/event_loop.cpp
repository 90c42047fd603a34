#include "io/event_loop.h"

#include <cerrno>

namespace lazyroot::io {

int EventLoop::init(unsigned entries, unsigned setup_flags) {
    return ring_.init(entries, setup_flags);
}

io_uring_sqe* EventLoop::sqe_for(Completion* c) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring_.raw());
    while (!sqe) {
        io_uring_submit(ring_.raw());
        sqe = io_uring_get_sqe(ring_.raw());
    }
    io_uring_sqe_set_data(sqe, c);
    return sqe;
}

int EventLoop::flush() { return io_uring_submit(ring_.raw()); }

int EventLoop::run_once() {
    int r;
    if (timers_.empty()) {
        r = io_uring_submit_and_wait(ring_.raw(), 1);
    } else {
        auto wait = timers_.begin()->first - Clock::now();
        if (wait < Clock::duration::zero()) wait = Clock::duration::zero();
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
        __kernel_timespec ts{};
        ts.tv_sec = ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        io_uring_cqe* unused = nullptr;
        r = io_uring_submit_and_wait_timeout(ring_.raw(), &unused, 1, &ts, nullptr);
    }
    if (r < 0 && r != -EINTR && r != -EBUSY && r != -ETIME) return r;

    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    // Copy out before dispatch: a handler may queue SQEs, never CQEs, so the
    // CQ head advance below stays correct.
    io_uring_for_each_cqe(ring_.raw(), head, cqe) {
        auto* c = static_cast<Completion*>(io_uring_cqe_get_data(cqe));
        int res = cqe->res;
        uint32_t flags = cqe->flags;
        ++seen;
        if (c) c->complete(res, flags);
    }
    io_uring_cq_advance(ring_.raw(), seen);
    fire_expired_timers();
    return 0;
}

void EventLoop::fire_expired_timers() {
    const auto now = Clock::now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
        Timer* t = timers_.begin()->second;
        timers_.erase(timers_.begin());
        t->armed_ = false;
        t->on_expire_();  // may re-arm t or arm others
    }
}

Timer::Timer(EventLoop& loop, std::function<void()> on_expire)
    : loop_(loop), on_expire_(std::move(on_expire)) {}

void Timer::arm_at(Clock::time_point when) {
    cancel();
    pos_ = loop_.timers_.emplace(when, this);
    armed_ = true;
}

void Timer::cancel() {
    if (!armed_) return;
    loop_.timers_.erase(pos_);
    armed_ = false;
}

}  // namespace lazyroot::io
