#pragma once
#include <cstdint>

#include "tests/http_fixtures/scoped_fd.h"

namespace lazyroot::fixtures {

// A listening TCP socket on 127.0.0.1 (port 0: the kernel picks a free one),
// non-blocking, close-on-exec. Throws std::runtime_error on failure.
ScopedFd listen_loopback(uint16_t port = 0, int backlog = 128);

// The local port a socket is bound to.
uint16_t local_port(int fd);

// A port on 127.0.0.1 that was free a moment ago: bound to port 0, then
// released. Another process could take it before the caller binds it, so
// callers retry on EADDRINUSE.
uint16_t pick_free_port();

// True when a TCP connection to 127.0.0.1:port is accepted right now.
bool port_accepts(uint16_t port);

}  // namespace lazyroot::fixtures
