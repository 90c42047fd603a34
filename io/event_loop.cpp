#include "io/event_loop.h"

#include <utility>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "io/unique_fd.h"

namespace lazyroot::io {

// Cross-thread posts: a queue of functions and an eventfd the loop keeps a
// read armed on.
class EventLoop::Mailbox final : public Completion {
public:
    explicit Mailbox(EventLoop& loop) : loop_(loop), fd_(::eventfd(0, EFD_CLOEXEC)) {}
    bool ok() const { return static_cast<bool>(fd_); }

    void arm() { io_uring_prep_read(loop_.sqe_for(this), fd_.get(), &counter_, sizeof counter_, 0); }

    void post(std::function<void()> fn) {
        {
            std::lock_guard lock(mu_);
            fns_.push_back(std::move(fn));
        }
        uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof one);
    }

    void complete(int res, uint32_t) override {
        if (res == -ECANCELED) return;
        std::vector<std::function<void()>> batch;
        {
            std::lock_guard lock(mu_);
            batch.swap(fns_);
        }
        arm();
        for (auto& fn : batch) fn();
    }

private:
    EventLoop& loop_;
    io::UniqueFd fd_;
    uint64_t counter_ = 0;
    std::mutex mu_;
    std::vector<std::function<void()>> fns_;
};

int EventLoop::init(unsigned entries, unsigned setup_flags) {
    int r = ring_.init(entries, setup_flags);
    if (r < 0) return r;
    mailbox_ = std::make_unique<Mailbox>(*this);
    if (!mailbox_->ok()) return -errno;
    mailbox_->arm();
    return 0;
}

void EventLoop::post(std::function<void()> fn) { mailbox_->post(std::move(fn)); }

EventLoop::EventLoop() = default;

// The ring goes first: its pending mailbox read points into the mailbox.
EventLoop::~EventLoop() {
    ring_.close();
    for (Completion* c : std::exchange(dying_, {})) c->abandon();
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

Timer::Timer(EventLoop& loop, std::function<void()> on_expire) : loop_(loop), on_expire_(std::move(on_expire)) {}

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
