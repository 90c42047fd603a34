#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/event_loop.h"
#include "io/socket_watch.h"
#include "io/timer.h"
#include "io/unique_fd.h"
#include "nvmetcp/command.h"
#include "nvmetcp/pdu.h"

namespace lazyroot::nvmetcp {

// A resolved target address (resolution happens once, at attach).
struct Endpoint {
    sockaddr_storage addr{};
    socklen_t len = 0;
    std::string text;  // "127.0.0.1:4420" for logs
};

// Throws std::runtime_error with a one-line reason.
Endpoint resolve(const std::string& host, uint16_t port);

// One NVMe/TCP connection (one queue) on a queue's loop: a non-blocking TCP
// connect, ICReq/ICResp, then capsules out and PDUs in, with no blocking call.
// Every failure closes the socket at once and is reported later, from the
// loop, so the listener may reopen or drop the connection from its callback.
class Connection final : private PduSink {
public:
    enum class State { Closed, Connecting, AwaitIcResp, Up, Failed };

    class Listener {
    public:
        virtual void on_connected(Connection& c) = 0;
        virtual void on_failed(Connection& c, const std::string& why) = 0;
        virtual void on_response(Connection& c, const Cqe& cqe) = 0;
        // C2HData for command `h.cccid`: `bytes` belong at h.offset + at.
        virtual void on_data(Connection& c, const DataHeader& h, uint32_t at,
                             std::span<const uint8_t> bytes) = 0;
        // `digest_ok` false: the data digest did not match (see PduSink).
        virtual void on_data_end(Connection& c, const DataHeader& h, bool digest_ok) = 0;
        // Where C2HData bytes [at, at + n) of `h` go, so that they can be
        // received there directly (on_data then sees that same memory); null
        // when they must be copied.
        virtual uint8_t* data_destination(Connection&, const DataHeader&, uint32_t /*at*/, uint32_t /*n*/) {
            return nullptr;
        }

    protected:
        ~Listener() = default;
    };

    Connection(io::EventLoop& loop, Listener& listener);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Starts a connection; on_connected or on_failed follows. Never call it
    // from inside a Listener callback (defer it to a timer).
    void open(const Endpoint& ep, Digests digests, uint32_t max_data);
    // Appends a command capsule to the send buffer; flush() sends.
    void queue_command(const Sqe& sqe, std::span<const uint8_t> data = {});
    void flush();
    // A protocol error seen above this layer: send H2CTermReq, close, report.
    void fail(const std::string& why, TermFes fes = TermFes::PduSequenceError);
    // Closes without reporting anything.
    void close();

    State state() const { return state_; }
    bool up() const { return state_ == State::Up; }
    const Digests& digests() const { return digests_; }

private:
    void on_ready(uint32_t events);
    void on_writable_connect();
    void receive();
    void report_failure(std::string why);
    void want_events();

    // PduSink
    void on_icresp(const ICResp& r) override;
    void on_capsule_resp(std::span<const uint8_t, kCqeLen> cqe) override;
    void on_c2h_header(const DataHeader& h) override;
    void on_c2h_payload(uint32_t at, std::span<const uint8_t> bytes) override;
    void on_c2h_end(const DataHeader& h, bool digest_ok) override;
    void on_r2t(const DataHeader& h) override;
    void on_c2h_term(const TermReq& t) override;

    io::EventLoop& loop_;
    Listener& listener_;
    State state_ = State::Closed;
    io::UniqueFd fd_;
    io::SocketWatch* watch_ = nullptr;
    PduParser parser_;
    Digests digests_;
    DataHeader cur_data_;
    std::vector<uint8_t> out_;
    size_t out_off_ = 0;
    std::vector<uint8_t> in_ = std::vector<uint8_t>(256 * 1024);
    uint64_t generation_ = 0;  // bumped by close(): stale callbacks stop
    uint64_t feed_gen_ = 0;    // the generation the parser is feeding for
    std::string failure_;
    io::Timer report_;
    std::string peer_;
};

}  // namespace lazyroot::nvmetcp
