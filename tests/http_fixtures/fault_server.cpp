#include "tests/http_fixtures/fault_server.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <list>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "tests/http_fixtures/net_util.h"
#include "tests/http_fixtures/scoped_fd.h"

namespace lazyroot::fixtures {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxHead = 64 * 1024;
constexpr uint64_t kShift = 4096;  // WrongContentRange
// DropMidBody waits this long at most for the peer to take the half body
// before the RST, which would otherwise discard data still queued.
constexpr auto kResetDrainLimit = std::chrono::seconds(2);
constexpr int64_t kBaseTime = 1704067200;  // 2024-01-01T00:00:00Z, the default Last-Modified

const char* reason(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 206:
            return "Partial Content";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 303:
            return "See Other";
        case 307:
            return "Temporary Redirect";
        case 308:
            return "Permanent Redirect";
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 412:
            return "Precondition Failed";
        case 416:
            return "Range Not Satisfiable";
        case 431:
            return "Request Header Fields Too Large";
        case 503:
            return "Service Unavailable";
        default:
            return "Status";
    }
}

enum class After { KeepAlive, Close, Reset };

// A response before it is put on the wire.
struct Reply {
    int status = 200;
    std::string headers;         // extra header lines, each ending in CRLF
    bool image_headers = false;  // ETag, Last-Modified, Accept-Ranges, Content-Type
    bool validators = true;      // with image_headers: ETag and Last-Modified (each if not empty)
    uint64_t body_off = 0;
    uint64_t content_length = 0;
    uint64_t send_len = 0;           // body bytes actually sent; less than content_length for a fault
    bool keep_alive = true;          // what the Connection header promises
    After after = After::KeepAlive;  // what really happens once sent
    std::optional<Clock::time_point> stall_until;
    std::optional<uint64_t> claimed_length;            // Content-Length sent instead of content_length
    std::shared_ptr<const ImageVersion> literal_body;  // sent instead of the image's bytes
    bool endless_headers = false;
    std::chrono::milliseconds drip{0};  // > 0: one body byte per drip
};

struct Conn {
    ScopedFd fd;
    uint64_t id = 0;
    std::string in;
    uint64_t skip = 0;  // request body bytes still to discard
    bool peer_eof = false;
    bool closed = false;
    // The response being sent.
    bool responding = false;
    std::string head;
    size_t head_sent = 0;
    std::shared_ptr<const ImageVersion> body;  // keeps the bytes alive across ChangeIdentity
    uint64_t body_off = 0, body_len = 0, body_sent = 0;
    After after = After::KeepAlive;
    std::optional<Clock::time_point> stall_until;     // time_point::max(): until stop()
    std::optional<Clock::time_point> drain_deadline;  // Reset: waiting for the peer's ACKs
    bool endless_headers = false;                     // EndlessHeaders: the head never ends
    uint64_t header_lines = 0;
    std::chrono::milliseconds drip{0};  // Slowloris
};

}  // namespace

std::string_view fault_name(Fault f) {
    switch (f) {
        case Fault::DropMidBody:
            return "DropMidBody";
        case Fault::ShortBody:
            return "ShortBody";
        case Fault::WrongContentRange:
            return "WrongContentRange";
        case Fault::FullBodyInsteadOf206:
            return "FullBodyInsteadOf206";
        case Fault::Status503:
            return "Status503";
        case Fault::Stall:
            return "Stall";
        case Fault::Redirect:
            return "Redirect";
        case Fault::ChangeIdentity:
            return "ChangeIdentity";
        case Fault::LyingTotal:
            return "LyingTotal";
        case Fault::HugeContentLength:
            return "HugeContentLength";
        case Fault::EndlessHeaders:
            return "EndlessHeaders";
        case Fault::Slowloris:
            return "Slowloris";
        case Fault::RedirectLoop:
            return "RedirectLoop";
        case Fault::MultipartByteranges:
            return "MultipartByteranges";
        case Fault::NoValidators:
            return "NoValidators";
    }
    return "?";
}

struct FaultServer::Impl {
    Options opts;
    ScopedFd listen_fd;
    ScopedFd wake_fd;  // eventfd: stop() wakes the poll with it
    uint16_t port = 0;
    std::thread thread;

    // Shared with the test thread.
    mutable std::mutex mu;
    mutable std::condition_variable cv;
    std::shared_ptr<const ImageVersion> version;
    unsigned generation = 1;
    std::deque<FaultRule> rules;
    FaultServerStats stats;
    std::vector<ServedRequest> log;

    // Server thread only.
    std::list<Conn> conns;  // a list: poll bookkeeping holds pointers across accepts
    uint64_t next_conn_id = 1;

    void run();
    void accept_all();
    void read_some(Conn& c);
    void process_input(Conn& c);
    void handle(Conn& c, const HttpRequest& req);
    void answer_error(Conn& c, int status);
    Reply normal_reply(const HttpRequest& req, const ImageVersion& v, bool is_image) const;
    void apply_fault(const FaultRule& rule, const ImageVersion& v, const HttpRequest& req, Reply& r) const;
    void start_reply(Conn& c, const Reply& r, std::shared_ptr<const ImageVersion> v, bool head_only);
    void write_some(Conn& c);
    void finish(Conn& c);
    void graceful_close(Conn& c);
    void reset_close(Conn& c);
    void record(const Conn& c, const HttpRequest* req, int status, std::optional<Fault> fault);

    // Under mu.
    std::optional<FaultRule> take_rule(const HttpRequest& req);
    std::shared_ptr<const ImageVersion> next_version(const FaultRule& rule);

    std::string absolute(const std::string& location) const {
        return location.starts_with("/") ? "http://127.0.0.1:" + std::to_string(port) + location : location;
    }
};

void FaultServer::Impl::run() {
    try {
        for (;;) {
            std::vector<pollfd> pfds{{wake_fd.get(), POLLIN, 0}, {listen_fd.get(), POLLIN, 0}};
            std::vector<Conn*> owners;
            const auto now = Clock::now();
            std::optional<Clock::time_point> wake_at;
            auto wake_by = [&](Clock::time_point t) {
                if (!wake_at || t < *wake_at) wake_at = t;
            };
            for (auto& c : conns) {
                short events = 0;
                if (c.drain_deadline) {
                    wake_by(now + std::chrono::milliseconds(1));  // no event says "peer ACKed all"
                } else if (c.stall_until) {
                    if (*c.stall_until != Clock::time_point::max()) wake_by(*c.stall_until);
                } else {
                    events = c.responding ? POLLOUT : POLLIN;
                }
                pfds.push_back({c.fd.get(), events, 0});
                owners.push_back(&c);
            }
            int timeout = -1;
            if (wake_at) {
                auto ms = std::chrono::ceil<std::chrono::milliseconds>(*wake_at - now).count();
                timeout = static_cast<int>(std::clamp<int64_t>(ms, 0, 60000));
            }
            if (::poll(pfds.data(), pfds.size(), timeout) < 0) {
                if (errno == EINTR) continue;
                throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
            }
            if (pfds[0].revents) break;  // stop()
            if (pfds[1].revents & POLLIN) accept_all();

            for (size_t i = 0; i < owners.size(); ++i) {
                Conn& c = *owners[i];
                const short re = pfds[i + 2].revents;
                if (c.closed || !re) continue;
                if (c.drain_deadline || c.stall_until) {
                    // Not polled for data; only a dead peer is reported.
                    if (re & (POLLERR | POLLHUP | POLLNVAL)) reset_close(c);
                } else if (c.responding) {
                    write_some(c);
                } else {
                    read_some(c);
                }
            }

            const auto later = Clock::now();
            for (auto& c : conns) {
                if (c.closed) continue;
                if (c.stall_until && *c.stall_until <= later) c.stall_until.reset();
                if (c.drain_deadline) {
                    int unacked = 0;
                    if (::ioctl(c.fd.get(), SIOCOUTQ, &unacked) != 0 || unacked == 0 || later >= *c.drain_deadline)
                        reset_close(c);
                }
            }
            conns.remove_if([](const Conn& c) { return c.closed; });
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "FaultServer: server thread stopped: %s\n", e.what());
    }
    conns.clear();
    listen_fd.reset();  // clients see "connection refused" rather than a hang
}

void FaultServer::Impl::accept_all() {
    for (;;) {
        int fd = ::accept4(listen_fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return;  // EAGAIN, or out of descriptors: try again on the next poll
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        Conn& c = conns.emplace_back();
        c.fd.reset(fd);
        c.id = next_conn_id++;
        std::lock_guard lk(mu);
        ++stats.connections;
        cv.notify_all();
    }
}

void FaultServer::Impl::read_some(Conn& c) {
    char buf[65536];
    for (;;) {
        ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
        if (n > 0) {
            c.in.append(buf, static_cast<size_t>(n));
            if (c.in.size() > 4 * kMaxHead) break;  // parse before reading more
            continue;
        }
        if (n == 0) {
            c.peer_eof = true;
            break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        c.fd.reset();  // reset by peer or similar
        c.closed = true;
        return;
    }
    process_input(c);
    if (!c.closed && c.peer_eof && !c.responding && !c.stall_until) graceful_close(c);
}

void FaultServer::Impl::process_input(Conn& c) {
    while (!c.closed && !c.responding) {
        if (c.skip) {
            const uint64_t k = std::min<uint64_t>(c.skip, c.in.size());
            c.in.erase(0, k);
            c.skip -= k;
            if (c.skip) return;
        }
        while (c.in.starts_with("\r\n")) c.in.erase(0, 2);  // RFC 9112 2.2: ignore leading CRLFs
        const size_t end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (c.in.size() > kMaxHead) answer_error(c, 431);
            return;
        }
        auto req = parse_request_head(std::string_view(c.in).substr(0, end));
        c.in.erase(0, end + 4);
        std::optional<uint64_t> body = req ? req->content_length() : std::nullopt;
        if (!body) {
            answer_error(c, 400);
            return;
        }
        c.skip = *body;
        handle(c, *req);
    }
}

void FaultServer::Impl::answer_error(Conn& c, int status) {
    Reply r;
    r.status = status;
    r.keep_alive = false;
    r.after = After::Close;
    start_reply(c, r, nullptr, false);
    record(c, nullptr, status, std::nullopt);
}

void FaultServer::Impl::handle(Conn& c, const HttpRequest& req) {
    const std::string_view path = req.path();
    const bool is_image = path == opts.path || path == "/moved" + opts.path;
    std::optional<FaultRule> rule;
    std::shared_ptr<const ImageVersion> v;
    {
        std::lock_guard lk(mu);
        if (is_image) rule = take_rule(req);
        if (rule && rule->fault == Fault::ChangeIdentity) version = next_version(*rule);
        v = version;
    }
    Reply r = normal_reply(req, *v, is_image);
    r.keep_alive = req.keep_alive() && !c.peer_eof;
    if (!r.keep_alive) r.after = After::Close;
    if (rule) apply_fault(*rule, *v, req, r);

    const bool stalled_forever = r.stall_until == Clock::time_point::max();
    start_reply(c, r, v, req.method == "HEAD");
    record(c, &req, stalled_forever ? 0 : r.status, rule ? std::optional(rule->fault) : std::nullopt);
}

std::optional<FaultRule> FaultServer::Impl::take_rule(const HttpRequest& req) {
    for (auto it = rules.begin(); it != rules.end(); ++it) {
        if (it->times == 0 || (it->match && !it->match(req))) continue;
        FaultRule taken = *it;
        if (it->times > 0 && --it->times == 0) rules.erase(it);
        return taken;
    }
    return std::nullopt;
}

std::shared_ptr<const ImageVersion> FaultServer::Impl::next_version(const FaultRule& rule) {
    ++generation;
    if (rule.new_version) return std::make_shared<const ImageVersion>(*rule.new_version);
    ImageVersion next;
    next.bytes = version->bytes;
    for (auto& b : next.bytes) b ^= 0xA5;  // every byte differs from the old version
    next.etag = "\"img-v" + std::to_string(generation) + "\"";
    if (next.etag == version->etag) next.etag = "\"img-v" + std::to_string(generation) + "-changed\"";
    int64_t t = kBaseTime + 3600 * static_cast<int64_t>(generation);
    next.last_modified = http_date(t);
    if (next.last_modified == version->last_modified) next.last_modified = http_date(t + 1);
    return std::make_shared<const ImageVersion>(std::move(next));
}

Reply FaultServer::Impl::normal_reply(const HttpRequest& req, const ImageVersion& v, bool is_image) const {
    Reply r;
    const uint64_t size = v.bytes.size();
    if (!is_image) {
        r.status = 404;
        return r;
    }
    if (req.method != "GET" && req.method != "HEAD") {
        r.status = 405;
        r.headers = "Allow: GET, HEAD\r\n";
        return r;
    }
    r.image_headers = true;
    // Preconditions come before Range, as in RFC 9110 13.2.2 (and nginx).
    if (const std::string* im = req.header("If-Match"); im && !if_match_passes(*im, v.etag)) {
        r.status = 412;
        return r;
    }
    RangeDecision d;
    if (const std::string* range = req.header("Range")) {
        const std::string* ir = req.header("If-Range");
        if (!ir || if_range_passes(*ir, v.etag, v.last_modified)) d = resolve_range(*range, size);
    }
    switch (d.kind) {
        case RangeDecision::Satisfiable:
            r.status = 206;
            r.headers = "Content-Range: bytes " + std::to_string(d.range.first) + "-" + std::to_string(d.range.last) +
                        "/" + std::to_string(size) + "\r\n";
            r.body_off = d.range.first;
            r.content_length = d.range.length();
            break;
        case RangeDecision::Unsatisfiable:
            r.status = 416;
            r.headers = "Content-Range: bytes */" + std::to_string(size) + "\r\n";
            break;
        case RangeDecision::Ignore:
            r.status = 200;
            r.content_length = size;
            break;
    }
    r.send_len = r.content_length;
    return r;
}

void FaultServer::Impl::apply_fault(const FaultRule& rule, const ImageVersion& v, const HttpRequest& req,
                                    Reply& r) const {
    const uint64_t size = v.bytes.size();
    const bool ranged_or_full = r.status == 200 || r.status == 206;
    switch (rule.fault) {
        case Fault::DropMidBody:
            r.send_len = r.content_length / 2;
            r.after = After::Reset;
            break;
        case Fault::ShortBody:
            r.send_len = r.content_length / 2;
            r.after = After::Close;
            break;
        case Fault::WrongContentRange: {
            if (!ranged_or_full || size == 0) break;
            const uint64_t first = r.body_off, len = r.content_length;
            // Forward if the moved window fits, else backward, else wrap.
            uint64_t moved = first + len - 1 + kShift < size ? first + kShift
                             : first >= kShift               ? first - kShift
                                                             : (first + kShift) % size;
            const uint64_t last = std::min(moved + len - 1, size - 1);
            r.status = 206;
            r.headers = "Content-Range: bytes " + std::to_string(moved) + "-" + std::to_string(last) + "/" +
                        std::to_string(size) + "\r\n";
            r.body_off = moved;
            r.content_length = r.send_len = last - moved + 1;
            break;
        }
        case Fault::FullBodyInsteadOf206:
            if (!ranged_or_full && r.status != 416) break;
            r.status = 200;
            r.headers.clear();
            r.body_off = 0;
            r.content_length = r.send_len = size;
            break;
        case Fault::Status503: {
            Reply busy;
            busy.status = 503;
            busy.headers = "Retry-After: " + rule.retry_after + "\r\n";
            busy.keep_alive = r.keep_alive;
            busy.after = r.after;
            r = busy;
            break;
        }
        case Fault::Stall:
            r.stall_until = rule.stall.count() > 0 ? Clock::now() + rule.stall : Clock::time_point::max();
            break;
        case Fault::Redirect: {
            Reply moved;
            moved.status = rule.redirect_status;
            moved.headers =
                "Location: " + absolute(rule.location.empty() ? "/moved" + opts.path : rule.location) + "\r\n";
            moved.keep_alive = r.keep_alive;
            moved.after = r.after;
            r = moved;
            break;
        }
        case Fault::ChangeIdentity:
            break;  // the new version was installed before the reply was built
        case Fault::LyingTotal:
            if (r.status != 206) break;
            r.headers = "Content-Range: bytes " + std::to_string(r.body_off) + "-" +
                        std::to_string(r.body_off + r.content_length - 1) + "/" + std::to_string(2 * size + 4096) +
                        "\r\n";
            break;
        case Fault::HugeContentLength:
            r.claimed_length = uint64_t{1} << 40;
            r.keep_alive = false;
            r.after = After::Close;
            break;
        case Fault::EndlessHeaders:
            r.endless_headers = true;
            break;
        case Fault::Slowloris:
            r.drip = std::max(rule.drip, std::chrono::milliseconds(1));
            break;
        case Fault::RedirectLoop: {
            Reply loop;
            loop.status = 302;
            loop.headers = "Location: " + absolute(req.target) + "\r\n";
            loop.keep_alive = r.keep_alive;
            loop.after = r.after;
            r = loop;
            break;
        }
        case Fault::MultipartByteranges: {
            if (r.status != 206) break;
            const std::string boundary = "lazyroot-fault-boundary";
            const std::string range_line = r.headers;  // "Content-Range: …\r\n" of the part
            std::string body = "--" + boundary + "\r\nContent-Type: application/octet-stream\r\n" + range_line + "\r\n";
            body.append(reinterpret_cast<const char*>(v.bytes.data() + r.body_off), r.content_length);
            body += "\r\n--" + boundary + "--\r\n";
            auto part = std::make_shared<ImageVersion>();
            part->bytes.assign(body.begin(), body.end());
            r.headers = "Content-Type: multipart/byteranges; boundary=" + boundary + "\r\n";
            r.image_headers = false;
            r.literal_body = std::move(part);
            r.body_off = 0;
            r.content_length = r.send_len = body.size();
            break;
        }
        case Fault::NoValidators:
            r.validators = false;
            break;
    }
}

void FaultServer::Impl::start_reply(Conn& c, const Reply& r, std::shared_ptr<const ImageVersion> v, bool head_only) {
    std::string h = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n";
    h += "Server: lazyroot-fault\r\n";
    h += "Date: " + http_date(std::time(nullptr)) + "\r\n";
    if (r.image_headers && v) {
        h += "Content-Type: application/octet-stream\r\n";
        if (r.validators && !v->etag.empty()) h += "ETag: " + v->etag + "\r\n";
        if (r.validators && !v->last_modified.empty()) h += "Last-Modified: " + v->last_modified + "\r\n";
        h += "Accept-Ranges: bytes\r\n";
    }
    h += r.headers;
    if (r.endless_headers) {
        v.reset();
    } else {
        h += "Content-Length: " + std::to_string(r.claimed_length.value_or(r.content_length)) + "\r\n";
        h += r.keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
        h += "\r\n";
    }
    if (r.literal_body) v = r.literal_body;

    c.responding = true;
    c.head = std::move(h);
    c.head_sent = 0;
    c.body = std::move(v);
    c.body_off = r.body_off;
    c.body_len = head_only ? 0 : r.send_len;
    c.body_sent = 0;
    c.after = r.after;
    c.stall_until = r.stall_until;
    c.endless_headers = r.endless_headers;
    c.header_lines = 0;
    c.drip = r.drip;
}

void FaultServer::Impl::write_some(Conn& c) {
    for (;;) {
        ssize_t n;
        bool body = false;
        if (c.endless_headers && c.head_sent == c.head.size()) {
            // The head never ends: another 4 KiB of header lines each time.
            c.head.clear();
            c.head_sent = 0;
            while (c.head.size() < 4096)
                c.head += "X-Endless-" + std::to_string(c.header_lines++) + ": " + std::string(48, 'x') + "\r\n";
        }
        if (c.head_sent < c.head.size()) {
            n = ::send(c.fd.get(), c.head.data() + c.head_sent, c.head.size() - c.head_sent,
                       MSG_NOSIGNAL | (c.body_len ? MSG_MORE : 0));
        } else if (c.body_sent < c.body_len) {
            body = true;
            const uint64_t left = c.body_len - c.body_sent;
            const uint64_t most = c.drip.count() > 0 ? 1 : 1 << 20;
            n = ::send(c.fd.get(), c.body->bytes.data() + c.body_off + c.body_sent,
                       static_cast<size_t>(std::min<uint64_t>(left, most)), MSG_NOSIGNAL);
        } else {
            finish(c);
            return;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            c.fd.reset();  // the client went away
            c.closed = true;
            return;
        }
        if (!body) {
            c.head_sent += static_cast<size_t>(n);
            continue;
        }
        c.body_sent += static_cast<uint64_t>(n);
        {
            std::lock_guard lk(mu);
            stats.body_bytes += static_cast<uint64_t>(n);
            cv.notify_all();
        }
        if (c.drip.count() > 0 && c.body_sent < c.body_len) {
            c.stall_until = Clock::now() + c.drip;  // the loop resumes writing then
            return;
        }
    }
}

void FaultServer::Impl::finish(Conn& c) {
    c.responding = false;
    c.head.clear();
    c.body.reset();
    switch (c.after) {
        case After::KeepAlive:
            process_input(c);  // a pipelined request may be waiting
            if (!c.closed && c.peer_eof && !c.responding && !c.stall_until) graceful_close(c);
            break;
        case After::Close:
            graceful_close(c);
            break;
        case After::Reset:
            c.drain_deadline = Clock::now() + kResetDrainLimit;
            break;
    }
}

void FaultServer::Impl::graceful_close(Conn& c) {
    // Unread input would turn close() into a RST; read it away first.
    char buf[4096];
    for (int i = 0; i < 64 && ::recv(c.fd.get(), buf, sizeof buf, 0) > 0; ++i) {}
    ::shutdown(c.fd.get(), SHUT_WR);
    c.fd.reset();  // the kernel still delivers queued data, then FIN
    c.closed = true;
}

void FaultServer::Impl::reset_close(Conn& c) {
    linger l{1, 0};  // zero linger: close() sends RST
    ::setsockopt(c.fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    c.fd.reset();
    c.closed = true;
}

void FaultServer::Impl::record(const Conn& c, const HttpRequest* req, int status, std::optional<Fault> fault) {
    ServedRequest s;
    s.connection = c.id;
    if (req) {
        s.method = req->method;
        s.target = req->target;
        if (const std::string* range = req->header("Range")) s.range = *range;
    }
    s.status = status;
    s.fault = fault;
    std::lock_guard lk(mu);
    log.push_back(std::move(s));
    ++stats.requests;
    cv.notify_all();
}

FaultServer::FaultServer(std::vector<uint8_t> image) : FaultServer(std::move(image), Options{}) {}

FaultServer::FaultServer(std::vector<uint8_t> image, Options opts) : impl_(std::make_unique<Impl>()) {
    impl_->opts = std::move(opts);
    if (!impl_->opts.path.starts_with("/")) impl_->opts.path.insert(0, "/");
    impl_->version = std::make_shared<const ImageVersion>(
        ImageVersion{std::move(image), impl_->opts.etag, impl_->opts.last_modified});
    impl_->listen_fd = listen_loopback(0);
    impl_->port = local_port(impl_->listen_fd.get());
    impl_->wake_fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!impl_->wake_fd) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

FaultServer::~FaultServer() { stop(); }

void FaultServer::stop() {
    if (!impl_->thread.joinable()) return;
    uint64_t one = 1;
    (void)!::write(impl_->wake_fd.get(), &one, sizeof one);
    impl_->thread.join();
}

uint16_t FaultServer::port() const { return impl_->port; }

std::string FaultServer::url() const { return url(impl_->opts.path); }

std::string FaultServer::url(std::string_view path) const {
    if (path.starts_with("/")) path.remove_prefix(1);
    return "http://127.0.0.1:" + std::to_string(impl_->port) + "/" + std::string(path);
}

void FaultServer::add_fault(FaultRule rule) {
    std::lock_guard lk(impl_->mu);
    impl_->rules.push_back(std::move(rule));
}

void FaultServer::add_fault(Fault fault, int times) {
    FaultRule rule;
    rule.fault = fault;
    rule.times = times;
    add_fault(std::move(rule));
}

void FaultServer::clear_faults() {
    std::lock_guard lk(impl_->mu);
    impl_->rules.clear();
}

size_t FaultServer::pending_faults() const {
    std::lock_guard lk(impl_->mu);
    return static_cast<size_t>(
        std::count_if(impl_->rules.begin(), impl_->rules.end(), [](const FaultRule& r) { return r.times != 0; }));
}

void FaultServer::set_version(ImageVersion v) {
    auto next = std::make_shared<const ImageVersion>(std::move(v));
    std::lock_guard lk(impl_->mu);
    impl_->version = std::move(next);
    ++impl_->generation;
}

std::shared_ptr<const ImageVersion> FaultServer::version() const {
    std::lock_guard lk(impl_->mu);
    return impl_->version;
}

FaultServerStats FaultServer::stats() const {
    std::lock_guard lk(impl_->mu);
    return impl_->stats;
}

std::vector<ServedRequest> FaultServer::log() const {
    std::lock_guard lk(impl_->mu);
    return impl_->log;
}

bool FaultServer::wait_for(const std::function<bool(const FaultServerStats&)>& pred,
                           std::chrono::milliseconds timeout) const {
    std::unique_lock lk(impl_->mu);
    return impl_->cv.wait_for(lk, timeout, [&] { return pred(impl_->stats); });
}

}  // namespace lazyroot::fixtures
