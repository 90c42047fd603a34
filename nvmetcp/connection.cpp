#include "nvmetcp/connection.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <liburing.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "io/le_bytes.h"

namespace lazyroot::nvmetcp {

namespace {
constexpr uint32_t kDirectMin = 16 * 1024;
}  // namespace

Endpoint resolve(const std::string& host, uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (int r = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); r != 0)
        throw std::runtime_error("cannot resolve " + host + ": " + ::gai_strerror(r));
    Endpoint ep;
    std::memcpy(&ep.addr, res->ai_addr, res->ai_addrlen);
    ep.len = res->ai_addrlen;
    ep.text = (res->ai_family == AF_INET6 ? "[" + host + "]" : host) + ":" + service;
    ::freeaddrinfo(res);
    return ep;
}

Connection::Connection(io::EventLoop& loop, Listener& listener)
    : loop_(loop), listener_(listener), report_(loop, [this] {
          state_ = State::Closed;
          std::string why = std::move(failure_);
          listener_.on_failed(*this, why);
      }) {}

// One READ_FIXED of a C2HData payload from the socket. If its connection
// closes first, it is orphaned: the socket is shut down so the read ends,
// and it frees itself on that CQE (or when the loop closes).
class Connection::FixedRecv final : public io::Completion {
public:
    FixedRecv(io::EventLoop& loop, Connection* owner) : loop_(loop), owner_(owner) {}
    void complete(int res, uint32_t) override {
        if (owner_) return owner_->on_fixed_received(res);
        loop_.forget(this);
        delete this;
    }
    void abandon() override { delete this; }
    void orphan() {
        owner_ = nullptr;
        loop_.free_at_close(this);
    }

private:
    io::EventLoop& loop_;
    Connection* owner_;
};

Connection::~Connection() {
    close();
    delete fixed_recv_;  // not in flight: close() orphaned one that was
}

void Connection::close() {
    ++generation_;
    parser_.stop();  // a feed() in progress stops after the callback that closed
    report_.cancel();
    if (watch_) {
        watch_->destroy();
        watch_ = nullptr;
    }
    if (fixed_busy_) {
        if (fd_) ::shutdown(fd_.get(), SHUT_RDWR);
        fixed_recv_->orphan();
        fixed_recv_ = nullptr;
        fixed_busy_ = false;
    }
    fd_.reset();
    out_.clear();
    out_off_ = 0;
    state_ = State::Closed;
}

void Connection::report_failure(std::string why) {
    if (state_ == State::Failed) return;
    close();
    state_ = State::Failed;
    failure_ = std::move(why);
    report_.arm_in({});
}

void Connection::open(const Endpoint& ep, Digests digests, uint32_t max_data, uint16_t entries) {
    close();
    table_.assign(entries, nullptr);
    fixed_in_table_ = 0;
    free_cids_.clear();
    for (int cid = entries - 1; cid >= 0; --cid) free_cids_.push_back(static_cast<uint16_t>(cid));
    in_flight_ = 0;
    peer_ = ep.text;
    digests_ = digests;
    parser_ = PduParser();
    // Data PDUs carry at most one command's data; ICResp and the rest are smaller.
    parser_.set_max_data(max_data);
    int fd = ::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return report_failure(std::string("socket: ") + std::strerror(errno));
    fd_.reset(fd);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    state_ = State::Connecting;
    const uint64_t gen = generation_;
    watch_ = io::SocketWatch::create(loop_, fd, [this, gen](uint32_t ev) {
        if (gen == generation_) on_ready(ev);
    });
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) < 0 && errno != EINPROGRESS)
        return report_failure("cannot connect to " + peer_ + ": " + std::strerror(errno));
    watch_->want(POLLOUT);
}

void Connection::want_events() {
    if (!watch_) return;
    // While a READ_FIXED owns the socket's input, readiness would only spin.
    uint32_t ev = fixed_busy_ ? 0 : POLLIN;
    if (out_off_ < out_.size()) ev |= POLLOUT;
    watch_->want(ev);
}

void Connection::on_writable_connect() {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return report_failure("cannot connect to " + peer_ + ": " + std::strerror(err));
    state_ = State::AwaitIcResp;
    ICReq req;
    req.digests = digests_;
    auto pdu = encode_icreq(req);
    out_.insert(out_.end(), pdu.begin(), pdu.end());
    flush();
}

void Connection::on_ready(uint32_t events) {
    if (state_ == State::Connecting) {
        if (events & (POLLOUT | POLLERR | POLLHUP)) on_writable_connect();
        return;
    }
    const uint64_t gen = generation_;
    if (events & POLLOUT) flush();
    if (gen != generation_) return;
    if (events & (POLLIN | POLLERR | POLLHUP)) receive();
}

bool Connection::submit(Sqe sqe, Command& c, std::span<const uint8_t> data) {
    if (free_cids_.empty() || in_flight_ + 1 >= table_.size()) return false;
    const uint16_t cid = free_cids_.back();
    free_cids_.pop_back();
    table_[cid] = &c;
    ++in_flight_;
    if (c.fixed_index >= 0) ++fixed_in_table_;
    c.cid = cid;
    c.received = 0;
    c.data_ok = true;
    io::put_le<uint16_t>(sqe, 2, cid);
    auto pdu = encode_capsule_cmd(sqe, data, digests_);
    out_.insert(out_.end(), pdu.begin(), pdu.end());
    return true;
}

std::vector<Command*> Connection::take_commands() {
    std::vector<Command*> taken;
    for (uint16_t cid = 0; cid < table_.size(); ++cid) {
        Command* c = table_[cid];
        if (!c) continue;
        table_[cid] = nullptr;
        free_cids_.push_back(cid);
        c->cid = -1;
        taken.push_back(c);
    }
    in_flight_ = 0;
    fixed_in_table_ = 0;
    return taken;
}

void Connection::flush() {
    if (!fd_ || state_ == State::Connecting || state_ == State::Failed) return;
    while (out_off_ < out_.size()) {
        ssize_t n = ::send(fd_.get(), out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return report_failure("send to " + peer_ + ": " + std::strerror(errno));
        }
        out_off_ += static_cast<size_t>(n);
    }
    if (out_off_ == out_.size()) {
        out_.clear();
        out_off_ = 0;
    }
    want_events();
}

void Connection::receive() {
    const uint64_t gen = generation_;
    // Bounded so one busy connection can't starve the queue's other work.
    for (int round = 0; round < 16; ++round) {
        if (fixed_busy_) return;  // the payload in flight comes first
        if (parser_.payload_elsewhere()) return receive_fixed();
        // A large payload is received straight into its command's buffer.
        uint8_t* buf = in_.data();
        size_t room = in_.size();
        if (const auto window = parser_.c2h_window(); window.size() >= kDirectMin) {
            buf = window.data();
            room = window.size();
        } else if (fixed_in_table_ > 0) {
            room = std::min(room, parser_.to_boundary());
        }
        ssize_t n = ::recv(fd_.get(), buf, room, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            return report_failure("receive from " + peer_ + ": " + std::strerror(errno));
        }
        if (n == 0) return report_failure("connection closed by " + peer_);
        if (!parser_.feed({buf, static_cast<size_t>(n)}, *this)) {
            if (gen != generation_) return;  // a callback closed it
            return fail("protocol error from " + peer_ + ": " + parser_.error().why, parser_.error().fes);
        }
        if (gen != generation_) return;
        if (static_cast<size_t>(n) < room && !parser_.payload_elsewhere()) return;
    }
}

// The rest of a zero-copy command's payload, from the socket straight into
// its registered buffer (sockets read at position 0).
void Connection::receive_fixed() {
    const DataHeader& h = parser_.data_header();
    const Command* c = table_[h.cccid];  // the header was checked against it
    const uint32_t left = static_cast<uint32_t>(parser_.to_boundary());
    const uint64_t at = c->fixed_addr + h.offset + (h.length - left);
    if (!fixed_recv_) fixed_recv_ = new FixedRecv(loop_, this);  // once per connection
    fixed_busy_ = true;
    io_uring_sqe* sqe = loop_.sqe_for(fixed_recv_);
    io_uring_prep_read_fixed(sqe, fd_.get(), reinterpret_cast<void*>(static_cast<uintptr_t>(at)), left, 0,
                             c->fixed_index);
    want_events();
}

void Connection::on_fixed_received(int res) {
    fixed_busy_ = false;
    if (res == -EINTR || res == -EAGAIN) return receive_fixed();
    if (res < 0) return report_failure("receive from " + peer_ + ": " + std::strerror(-res));
    if (res == 0) return report_failure("connection closed by " + peer_);
    const uint64_t gen = generation_;
    if (!parser_.payload_received_elsewhere(static_cast<uint32_t>(res), *this)) {
        if (gen != generation_) return;
        return fail("protocol error from " + peer_ + ": " + parser_.error().why, parser_.error().fes);
    }
    if (gen != generation_) return;
    want_events();
    receive();
}

void Connection::fail(const std::string& why, TermFes fes) {
    if (state_ == State::Failed || state_ == State::Closed) return;
    if (fd_ && state_ != State::Connecting) {
        // Best effort: tell the controller why before going.
        TermReq t;
        t.fes = static_cast<uint16_t>(fes);
        auto hdr = parser_.current_header();
        t.data.assign(hdr.begin(), hdr.end());
        auto pdu = encode_h2c_term(t);
        [[maybe_unused]] ssize_t n = ::send(fd_.get(), pdu.data(), pdu.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    report_failure(why);
}

void Connection::on_icresp(const ICResp& r) {
    if (state_ != State::AwaitIcResp) return fail("ICResp out of sequence", TermFes::PduSequenceError);
    if (r.digests != digests_)
        return fail(std::string("the target does not agree to the digests asked for (header ") +
                        (r.digests.header ? "on" : "off") + ", data " + (r.digests.data ? "on" : "off") + ")",
                    TermFes::UnsupportedParameter);
    parser_.set_digests(digests_);
    state_ = State::Up;
    listener_.on_connected(*this);
}

Command* Connection::command(uint16_t cid, const char* what) {
    if (cid < table_.size() && table_[cid]) return table_[cid];
    fail(std::string(what) + " for command id " + std::to_string(cid) + ", which is not in flight");
    return nullptr;
}

void Connection::complete(Command& c, const Cqe& cqe) {
    table_[c.cid] = nullptr;
    if (c.fixed_index >= 0) --fixed_in_table_;
    free_cids_.push_back(static_cast<uint16_t>(c.cid));
    --in_flight_;
    c.cid = -1;
    c.target->on_completion(c, cqe);
}

void Connection::on_capsule_resp(std::span<const uint8_t, kCqeLen> bytes) {
    const Cqe cqe = parse_cqe(bytes);
    if (Command* c = command(cqe.cid, "response")) complete(*c, cqe);
}

// The command table, consulted as the header arrives: the payload goes
// straight to the command's buffer, or nowhere.
uint8_t* Connection::on_c2h_header(const DataHeader& h) {
    Command* c = command(h.cccid, "C2HData");
    if (!c) return nullptr;
    if (h.offset != c->received || uint64_t{h.offset} + h.length > c->length()) {
        fail("C2HData at offset " + std::to_string(h.offset) + " (+" + std::to_string(h.length) +
                 ") does not continue command " + std::to_string(h.cccid) + " (" + std::to_string(c->received) +
                 " of " + std::to_string(c->length()) + " bytes)",
             TermFes::DataOutOfRange);
        return nullptr;
    }
    if (c->fixed_index >= 0) return kPayloadElsewhere;
    return c->in.data() + h.offset;
}

void Connection::on_c2h_end(const DataHeader& h, bool digest_ok) {
    Command* c = command(h.cccid, "C2HData");
    if (!c) return;
    c->received += h.length;
    // A bad digest spoils this command only: the stream is still in step.
    if (!digest_ok) c->data_ok = false;
    if (!h.success) return;  // a response capsule follows
    Cqe ok;                  // SUCCESS: no response capsule follows; the command is complete
    ok.cid = h.cccid;
    complete(*c, ok);
}

void Connection::on_r2t(const DataHeader& h) {
    fail("R2T for command " + std::to_string(h.cccid) + ", but this host never writes", TermFes::PduSequenceError);
}

void Connection::on_c2h_term(const TermReq& t) {
    report_failure("the target " + peer_ + " terminated the connection (C2HTermReq FES " + std::to_string(t.fes) +
                   ", FEI " + std::to_string(t.fei) + ")");
}

}  // namespace lazyroot::nvmetcp
