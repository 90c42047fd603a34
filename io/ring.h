#pragma once
#include <liburing.h>

namespace lazyroot::io {

// A thin RAII wrapper around one io_uring; the raw ring stays reachable on purpose.
class Ring {
public:
    // Returns 0 or -errno; the ring is usable only after a successful init.
    int init(unsigned entries, unsigned flags);
    Ring() = default;
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;
    ~Ring() { close(); }
    // Waits out or cancels whatever is in flight, then releases the ring.
    void close();

    io_uring* raw() { return &ring_; }
    bool ready() const { return ready_; }

private:
    io_uring ring_{};
    bool ready_ = false;
};

}  // namespace lazyroot::io
