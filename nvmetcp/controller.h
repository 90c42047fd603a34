#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "io/event_loop.h"
#include "io/timer.h"
#include "nvmetcp/command.h"
#include "nvmetcp/connection.h"

namespace lazyroot::nvmetcp {

struct ControllerConfig {
    Endpoint endpoint;
    std::string subnqn;
    std::string hostnqn;
    std::array<uint8_t, 16> hostid{};
    Digests digests;
    uint32_t kato_ms = 10000;      // Keep Alive goes out every kato/2; 0: none
    bool io_queue = true;          // false: admin only (attach-time probe, discovery)
    uint16_t io_entries = 128;     // IO SQ entries wanted; capped by CAP.MQES
    uint32_t max_data = 1u << 20;  // the largest transfer one command asks for
    std::chrono::milliseconds command_timeout{10000};
    std::string name;  // "queue 0", for logs
};

// One association with a controller, on one queue's loop: the admin queue
// (Connect with cntlid 0xFFFF, CAP, CC.EN, CSTS.RDY, Set Features, Keep Alive
// every KATO/2) and, optionally, one IO queue connected with the cntlid the
// admin Connect returned. Bring-up is a chain of admin commands, each step
// started by the previous one's completion; any failure tears down both
// connections and is reported once, from the loop. Data never passes
// through here: the owner submits its commands to io() and they complete to
// it (Command::Target).
class Controller final : private Connection::Listener, private Command::Target {
public:
    class Owner {
    public:
        virtual void on_live() = 0;
        // `permanent`: the target said DNR (e.g. no such subsystem).
        virtual void on_down(const std::string& why, bool permanent) = 0;

    protected:
        ~Owner() = default;
    };

    enum class Phase { Idle, Connecting, Live, Down };

    Controller(io::EventLoop& loop, ControllerConfig cfg, Owner& owner);
    ~Controller();

    // Starts the bring-up. Call from the loop (a timer), not from a callback
    // of this controller.
    void start();
    // Tears the association down; on_down follows from the loop.
    void fail(const std::string& why, bool permanent = false);
    // Tears it down without telling anyone.
    void stop();

    Phase phase() const { return phase_; }
    bool live() const { return phase_ == Phase::Live; }
    Connection& io() { return io_; }
    // IO SQ entries in force (after CAP.MQES); at most entries-1 in flight.
    uint16_t io_entries() const { return io_entries_; }
    uint64_t cap() const { return cap_; }
    uint16_t cntlid() const { return cntlid_; }
    const ControllerConfig& config() const { return cfg_; }

    using AdminDone = std::function<void(const Cqe&)>;
    // An admin command (its CID is filled in). `in` receives C2H data.
    // `done` is not called if the association fails first.
    void admin(Sqe sqe, std::span<uint8_t> in, AdminDone done, std::span<const uint8_t> out = {});

private:
    struct AdminSlot : Command {
        AdminDone done;
    };

    void step(const char* what) { step_ = what; }
    void on_admin_connected();
    void enable();
    void poll_ready();
    void connect_io();
    void keep_alive();
    bool check(const Cqe& c, const char* what, bool connect = false);

    // Connection::Listener
    void on_connected(Connection& c) override;
    void on_failed(Connection& c, const std::string& why) override;
    // Command::Target: admin commands and the IO queue's Connect.
    void on_completion(Command& c, const Cqe& cqe) override;

    ControllerConfig cfg_;
    Owner& owner_;
    Phase phase_ = Phase::Idle;
    Connection admin_;
    Connection io_;
    std::vector<AdminSlot> slots_;
    Command io_connect_;
    uint16_t cntlid_ = 0;
    uint64_t cap_ = 0;
    uint16_t io_entries_ = 0;
    const char* step_ = "";
    io::Clock::time_point ka_sent_{};
    bool ka_outstanding_ = false;
    io::Timer bringup_timer_;
    io::Timer poll_timer_;
    io::Timer ka_timer_;
    io::Timer down_timer_;
    std::string down_why_;
    bool down_permanent_ = false;
};

}  // namespace lazyroot::nvmetcp
