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

// A command in flight on a Connection. Its owner keeps it alive until it
// completes or the connection's commands are taken back (take_commands()).
struct Command {
    class Target {
    public:
        // The command's response capsule arrived, or a C2HData PDU with
        // SUCCESS set (`cqe` is then a plain success). The command has left
        // the connection's table, so the target may send it again.
        virtual void on_completion(Command& c, const Cqe& cqe) = 0;

    protected:
        ~Target() = default;
    };

    Target* target = nullptr;
    std::span<uint8_t> in;  // where its C2H data goes
    // Zero copy: the data goes instead to `fixed_len` bytes at `fixed_addr`
    // of buffer `fixed_index` registered with the loop's ring (a ublk
    // request's pages), received from the socket by IORING_OP_READ_FIXED.
    int fixed_index = -1;
    uint64_t fixed_addr = 0;
    uint32_t fixed_len = 0;
    size_t length() const { return fixed_index >= 0 ? fixed_len : in.size(); }
    uint32_t received = 0;  // C2H data bytes that arrived, in order
    bool data_ok = true;    // false: some of them failed the data digest
    int cid = -1;           // in flight when >= 0
};

// One NVMe/TCP connection (one queue) on a queue's loop: a non-blocking TCP
// connect, ICReq/ICResp, then capsules out and PDUs in, with no blocking call.
// It keeps the table of commands in flight, by command id: a C2HData header
// is checked against its command (DATAO must continue what arrived, DATAL
// must fit) and its payload is received straight into that command's
// buffer (or, zero copy, into its registered buffer by io_uring); a response
// completes the command to its target. Every failure
// closes the socket at once and is reported later, from the loop, so the
// listener may reopen or drop the connection from its callback.
class Connection final : private PduSink {
public:
    enum class State { Closed, Connecting, AwaitIcResp, Up, Failed };

    class Listener {
    public:
        virtual void on_connected(Connection& c) = 0;
        virtual void on_failed(Connection& c, const std::string& why) = 0;

    protected:
        ~Listener() = default;
    };

    Connection(io::EventLoop& loop, Listener& listener);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Starts a connection for a queue of `entries` (SQSIZE + 1); the table
    // starts empty. on_connected or on_failed follows. Never call it from
    // inside a callback of this connection (defer it to a timer).
    void open(const Endpoint& ep, Digests digests, uint32_t max_data, uint16_t entries);
    // Puts `c` in the table under a free command id (written into the SQE and
    // c.cid) and appends its capsule to the send buffer; flush() sends. False
    // when entries-1 are in flight (SQSIZE is honoured without tracking SQHD).
    bool submit(Sqe sqe, Command& c, std::span<const uint8_t> data = {});
    void flush();
    // A protocol error seen above this layer: send H2CTermReq, close, report.
    void fail(const std::string& why, TermFes fes = TermFes::PduSequenceError);
    // Closes without reporting anything. The table is kept for take_commands().
    void close();
    // Empties the table: the commands that were in flight, oldest id first.
    std::vector<Command*> take_commands();

    template <typename F>
    void for_each_command(F f) const {
        for (Command* c : table_)
            if (c) f(*c);
    }

    State state() const { return state_; }
    bool up() const { return state_ == State::Up; }
    const Digests& digests() const { return digests_; }

private:
    void on_ready(uint32_t events);
    void on_writable_connect();
    void receive();
    void receive_fixed();
    void on_fixed_received(int res);
    void report_failure(std::string why);
    void want_events();
    Command* command(uint16_t cid, const char* what);
    void complete(Command& c, const Cqe& cqe);

    // PduSink
    void on_icresp(const ICResp& r) override;
    void on_capsule_resp(std::span<const uint8_t, kCqeLen> cqe) override;
    uint8_t* on_c2h_header(const DataHeader& h) override;
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
    std::vector<Command*> table_;  // by command id
    std::vector<uint16_t> free_cids_;
    size_t in_flight_ = 0;
    std::vector<uint8_t> out_;
    size_t out_off_ = 0;
    std::vector<uint8_t> in_ = std::vector<uint8_t>(256 * 1024);
    // Zero-copy commands in the table: while there are any, the socket is
    // read up to the end of each header or payload and no further, so a
    // payload bound for a registered buffer is never read into in_.
    unsigned fixed_in_table_ = 0;
    class FixedRecv;
    FixedRecv* fixed_recv_ = nullptr;
    bool fixed_busy_ = false;  // a READ_FIXED is in flight: the socket's input is its
    uint64_t generation_ = 0;  // bumped by close(): a stale socket watch stops
    std::string failure_;
    io::Timer report_;
    std::string peer_;
};

}  // namespace lazyroot::nvmetcp
