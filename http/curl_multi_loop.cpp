#include "http/curl_multi_loop.h"

#include <poll.h>

#include <stdexcept>

#include "io/socket_watch.h"

namespace lazyroot::http {

CurlMultiLoop::CurlMultiLoop(io::EventLoop& loop, long max_connections, std::function<void(CURL*, CURLcode)> on_done)
    : loop_(loop),
      multi_(curl_multi_init()),
      timer_(loop, [this] { act(CURL_SOCKET_TIMEOUT, 0); }),
      on_done_(std::move(on_done)) {
    if (!multi_) throw std::runtime_error("cannot create a libcurl multi handle");
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlMultiLoop::on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlMultiLoop::on_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
    set_max_connections(max_connections);
}

void CurlMultiLoop::set_max_connections(long n) {
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, n);
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, n);
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, n);
}

CurlMultiLoop::~CurlMultiLoop() {
    timer_.cancel();
    curl_multi_cleanup(multi_);  // closes the sockets; on_socket frees the watches
}

bool CurlMultiLoop::add(CURL* easy) { return curl_multi_add_handle(multi_, easy) == CURLM_OK; }

void CurlMultiLoop::remove(CURL* easy) { curl_multi_remove_handle(multi_, easy); }

int CurlMultiLoop::on_socket(CURL*, curl_socket_t s, int what, void* self_p, void* watch_p) {
    auto* self = static_cast<CurlMultiLoop*>(self_p);
    auto* watch = static_cast<io::SocketWatch*>(watch_p);
    if (what == CURL_POLL_REMOVE) {
        if (watch) watch->destroy();
        curl_multi_assign(self->multi_, s, nullptr);
        return 0;
    }
    if (!watch) {
        watch = io::SocketWatch::create(self->loop_, s, [self, s](uint32_t revents) {
            int ev = 0;
            if (revents & POLLIN) ev |= CURL_CSELECT_IN;
            if (revents & POLLOUT) ev |= CURL_CSELECT_OUT;
            if (revents & (POLLERR | POLLHUP)) ev |= CURL_CSELECT_ERR;
            self->act(s, ev);
        });
        curl_multi_assign(self->multi_, s, watch);
    }
    uint32_t mask = 0;
    if (what & CURL_POLL_IN) mask |= POLLIN;
    if (what & CURL_POLL_OUT) mask |= POLLOUT;
    watch->want(mask);
    return 0;
}

int CurlMultiLoop::on_timer(CURLM*, long timeout_ms, void* self_p) {
    auto* self = static_cast<CurlMultiLoop*>(self_p);
    // curl forbids calling back into it from here; the loop fires the timer later.
    if (timeout_ms < 0)
        self->timer_.cancel();
    else
        self->timer_.arm_in(std::chrono::milliseconds(timeout_ms));
    return 0;
}

void CurlMultiLoop::act(curl_socket_t s, int ev) {
    int running = 0;
    curl_multi_socket_action(multi_, s, ev, &running);
    collect_done();
}

void CurlMultiLoop::collect_done() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL* easy = m->easy_handle;
        CURLcode rc = m->data.result;
        curl_multi_remove_handle(multi_, easy);
        on_done_(easy, rc);
    }
}

}  // namespace lazyroot::http
