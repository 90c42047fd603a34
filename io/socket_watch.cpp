#include "io/socket_watch.h"

#include <poll.h>

#include <cerrno>

namespace lazyroot::io {

SocketWatch* SocketWatch::create(EventLoop& loop, int fd, std::function<void(uint32_t)> on_ready) {
    return new SocketWatch(loop, fd, std::move(on_ready));
}

void SocketWatch::want(uint32_t events) {
    wanted_ = events;
    if (!in_flight_) return arm();
    if (armed_mask_ != wanted_ && !cancelling_) {
        // The armed poll has the wrong mask: cancel it; its -ECANCELED
        // completion re-arms with what is wanted then.
        cancelling_ = true;
        io_uring_prep_poll_remove(loop_.sqe_for(nullptr), reinterpret_cast<uint64_t>(this));
    }
}

void SocketWatch::destroy() {
    destroyed_ = true;
    wanted_ = 0;
    if (dispatching_) return;  // complete() frees it after the callback returns
    if (!in_flight_) {
        delete this;
        return;
    }
    if (!cancelling_) {
        cancelling_ = true;
        io_uring_prep_poll_remove(loop_.sqe_for(nullptr), reinterpret_cast<uint64_t>(this));
    }
    loop_.free_at_close(this);
}

void SocketWatch::arm() {
    if (wanted_ == 0 || destroyed_) return;
    armed_mask_ = wanted_;
    in_flight_ = true;
    io_uring_prep_poll_add(loop_.sqe_for(this), fd_, armed_mask_);
}

void SocketWatch::complete(int res, uint32_t) {
    in_flight_ = false;
    cancelling_ = false;
    if (destroyed_) {
        loop_.forget(this);
        delete this;
        return;
    }
    if (res > 0) {
        // The callback may call want() (which re-arms) or destroy().
        dispatching_ = true;
        on_ready_(static_cast<uint32_t>(res));
        dispatching_ = false;
        if (destroyed_) {
            delete this;
            return;
        }
        if (!in_flight_) arm();
        return;
    }
    // -ECANCELED (mask change) or an error: poll again if still wanted.
    arm();
}

}  // namespace lazyroot::io
