#pragma once
#include <curl/curl.h>

#include <functional>

#include "io/event_loop.h"
#include "io/timer.h"

namespace lazyroot::http {

// A libcurl multi handle driven by a queue's event loop through the
// multi-socket API: curl says which sockets and which deadline it cares
// about, the loop tells it when they are ready. No thread ever blocks in curl.
class CurlMultiLoop {
public:
    // `on_done` runs on the loop for each finished transfer, after the easy
    // handle has been removed from the multi handle (so it may be re-added).
    CurlMultiLoop(io::EventLoop& loop, long max_connections, std::function<void(CURL*, CURLcode)> on_done);
    CurlMultiLoop(const CurlMultiLoop&) = delete;
    CurlMultiLoop& operator=(const CurlMultiLoop&) = delete;
    ~CurlMultiLoop();

    // Returns false if curl refused the handle.
    bool add(CURL* easy);
    void remove(CURL* easy);
    // Connections curl may open (a connection pool that grows under load).
    void set_max_connections(long n);

private:
    static int on_socket(CURL*, curl_socket_t s, int what, void* self, void* watch);
    static int on_timer(CURLM*, long timeout_ms, void* self);
    void act(curl_socket_t s, int ev_bitmask);
    void collect_done();

    io::EventLoop& loop_;
    CURLM* multi_;
    io::Timer timer_;
    std::function<void(CURL*, CURLcode)> on_done_;
};

}  // namespace lazyroot::http
