#include "io/ring.h"

namespace lazyroot::io {

int Ring::init(unsigned entries, unsigned flags) {
    io_uring_params p{};
    p.flags = flags;
    int r = io_uring_queue_init_params(entries, &ring_, &p);
    if (r == 0) ready_ = true;
    return r;
}

void Ring::close() {
    if (ready_) io_uring_queue_exit(&ring_);
    ready_ = false;
}

}  // namespace lazyroot::io
