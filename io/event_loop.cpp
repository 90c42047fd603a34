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
    int r = io_uring_submit_and_wait(ring_.raw(), 1);
    if (r < 0 && r != -EINTR && r != -EBUSY) return r;

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
    return static_cast<int>(seen);
}

}  // namespace lazyroot::io
