#pragma once
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "http/connection_policy.h"
#include "http/curl_multi_loop.h"
#include "http/curl_setup.h"
#include "http/response_head.h"
#include "io/backoff.h"
#include "io/source.h"
#include "io/timer.h"

namespace lazyroot::http {

class HttpSource;

// The per-queue half of HttpSource: turns each read into a range request on
// the queue's own curl multi handle, checks the answer, and retries with
// backoff (rotating through the mirrors) until the IO timeout.
class HttpReader final : public io::QueueReader {
public:
    // `connections` to start with, growing up to `max_connections` while reads
    // queue behind busy HTTP/1.1 connections (ConnectionPolicy).
    HttpReader(HttpSource& source, io::EventLoop& loop, unsigned depth, unsigned connections, unsigned max_connections);
    ~HttpReader() override;

    void read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) override;
    void prefer_another_source() override;
    std::string current_source() const override;

private:
    struct Transfer;
    enum class Verdict { Ok, Retry, Fatal };

    struct Queued {
        uint64_t offset;
        std::span<std::byte> dst;
        io::ReadCallback* cb;
    };

    Transfer* take();
    void dispatch();
    void start(Transfer& t);
    bool room(unsigned wanting);
    void send(Transfer& t);
    void hand_to_curl(Transfer& t);
    void sent_done(Transfer& t);
    void on_done(CURL* easy, CURLcode rc);
    Verdict judge(Transfer& t, CURLcode rc, std::string& why);
    void finish(Transfer& t, int result);
    // The request headers for a URL: --header-file's, then the precondition
    // once its identity is known. Null on allocation failure with headers.
    curl_slist* headers_for(size_t url_index);
    void retry_now(size_t url_index);

    static size_t on_header(char* data, size_t size, size_t n, void* t);
    static size_t on_body(char* data, size_t size, size_t n, void* t);

    HttpSource& source_;
    io::EventLoop& loop_;
    std::deque<Transfer> pool_;  // deque: growth never moves a transfer in flight
    std::vector<Transfer*> free_;
    std::vector<Queued> queued_;  // reads not yet turned into requests
    io::Timer dispatch_timer_;
    std::vector<HeaderList> preconditions_;  // per URL; empty until its identity is known
    HeaderList plain_headers_;               // --header-file's alone, for a URL not yet identified
    io::Backoff backoff_;
    size_t preferred_url_ = 0;  // the URL that answered last
    bool retrying_ = false;     // some request failed since the last answer
    ConnectionPolicy conns_;
    bool may_multiplex_;             // HTTPS that may negotiate HTTP/2
    bool answered_ = false;          // some answer told the HTTP version
    unsigned in_curl_ = 0;           // requests handed to curl, not yet done
    std::deque<Transfer*> waiting_;  // ready, waiting for a connection
    CurlMultiLoop multi_;            // last: its destructor still calls back into us
};

}  // namespace lazyroot::http
