#pragma once
#include <cstdint>
#include <functional>

#include "io/event_loop.h"

namespace lazyroot::io {

// Readiness of one socket on a queue's loop, via one-shot io_uring polls that
// are re-armed after each event. Libraries that want "tell me when fd is
// readable/writable" (libcurl's multi-socket API) plug in here.
class SocketWatch final : public Completion {
public:
    // `on_ready(revents)` runs on the loop with POLLIN/POLLOUT/POLLERR bits.
    static SocketWatch* create(EventLoop& loop, int fd, std::function<void(uint32_t)> on_ready);

    // Events wanted from now on (POLLIN|POLLOUT); 0 pauses the watch.
    void want(uint32_t events);
    // Stops watching; the object frees itself once the kernel has let go of it.
    void destroy();

    void complete(int res, uint32_t flags) override;
    void abandon() override { delete this; }

private:
    SocketWatch(EventLoop& loop, int fd, std::function<void(uint32_t)> on_ready)
        : loop_(loop), fd_(fd), on_ready_(std::move(on_ready)) {}
    void arm();

    EventLoop& loop_;
    int fd_;
    std::function<void(uint32_t)> on_ready_;
    uint32_t wanted_ = 0;
    uint32_t armed_mask_ = 0;
    bool in_flight_ = false;
    bool cancelling_ = false;
    bool destroyed_ = false;
    bool dispatching_ = false;
};

}  // namespace lazyroot::io
