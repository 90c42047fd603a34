#include "nvmetcp/controller.h"

#include <algorithm>
#include <cstring>

#include "io/le_bytes.h"

namespace lazyroot::nvmetcp {
namespace {

constexpr uint16_t kAdminEntries = 32;
constexpr uint32_t kCstsRdy = 1u << 0;
constexpr uint32_t kCstsCfs = 1u << 1;

}  // namespace

Controller::Controller(io::EventLoop& loop, ControllerConfig cfg, Owner& owner)
    : cfg_(std::move(cfg)),
      owner_(owner),
      admin_(loop, *this),
      io_(loop, *this),
      slots_(kAdminEntries),
      bringup_timer_(loop, [this] {
          fail(cfg_.name + ": no answer from " + cfg_.endpoint.text + " within " +
               std::to_string(cfg_.command_timeout.count()) + " ms (" + step_ + ")");
      }),
      poll_timer_(loop, [this] { poll_ready(); }),
      ka_timer_(loop, [this] { keep_alive(); }),
      down_timer_(loop, [this] {
          std::string why = std::move(down_why_);
          owner_.on_down(why, down_permanent_);
      }) {}

Controller::~Controller() { stop(); }

void Controller::stop() {
    admin_.close();
    io_.close();
    bringup_timer_.cancel();
    poll_timer_.cancel();
    ka_timer_.cancel();
    down_timer_.cancel();
    for (auto& s : slots_) s = AdminSlot{};
    ka_outstanding_ = false;
    phase_ = Phase::Idle;
}

void Controller::fail(const std::string& why, bool permanent) {
    if (phase_ == Phase::Idle || phase_ == Phase::Down) return;
    stop();
    phase_ = Phase::Down;
    down_why_ = why;
    down_permanent_ = permanent;
    down_timer_.arm_in({});
}

void Controller::start() {
    stop();
    phase_ = Phase::Connecting;
    step("TCP connect and ICReq on the admin queue");
    bringup_timer_.arm_in(cfg_.command_timeout);
    // Identify data and the discovery log come through the admin queue.
    admin_.open(cfg_.endpoint, cfg_.digests, std::max<uint32_t>(cfg_.max_data, 1u << 20));
}

void Controller::admin(Sqe sqe, std::span<uint8_t> in, AdminDone done, std::span<const uint8_t> out) {
    // At most entries-1 outstanding: SQSIZE is honoured without tracking SQHD.
    uint16_t cid = 0;
    size_t busy = 0;
    for (auto& s : slots_) busy += s.busy;
    auto it = std::find_if(slots_.begin(), slots_.end(), [](const AdminSlot& s) { return !s.busy; });
    if (it == slots_.end() || busy + 1 >= kAdminEntries) return fail(cfg_.name + ": admin queue full");
    cid = static_cast<uint16_t>(it - slots_.begin());
    *it = AdminSlot{true, std::move(done), in, 0};
    io::put_le<uint16_t>(sqe, 2, cid);
    admin_.queue_command(sqe, out);
    admin_.flush();
}

bool Controller::check(const Cqe& c, const char* what, bool connect) {
    if (c.ok()) return true;
    fail(cfg_.name + ": " + what + " failed at " + cfg_.endpoint.text + ": " +
             describe_status(c.status, connect),
         c.dnr());
    return false;
}

void Controller::on_admin_connected() {
    step("Fabrics Connect on the admin queue");
    const auto data = make_connect_data(cfg_.hostid, kAdminCntlid, cfg_.subnqn, cfg_.hostnqn);
    ConnectParams p;
    p.qid = 0;
    p.sqsize = kAdminEntries - 1;
    p.kato_ms = cfg_.kato_ms;
    admin(make_connect(0, p), {}, [this](const Cqe& c) {
        if (!check(c, ("connect to subsystem " + cfg_.subnqn).c_str(), true)) return;
        cntlid_ = static_cast<uint16_t>(c.result & 0xffff);
        step("Property Get CAP");
        admin(make_property_get(0, kRegCap, true), {}, [this](const Cqe& c) {
            if (!check(c, "Property Get CAP")) return;
            cap_ = c.result;
            enable();
        });
    }, data);
}

void Controller::enable() {
    step("Property Set CC.EN");
    admin(make_property_set(0, kRegCc, kCcEnable), {}, [this](const Cqe& c) {
        if (!check(c, "Property Set CC")) return;
        step("waiting for CSTS.RDY");
        poll_ready();
    });
}

void Controller::poll_ready() {
    admin(make_property_get(0, kRegCsts, false), {}, [this](const Cqe& c) {
        if (!check(c, "Property Get CSTS")) return;
        const uint32_t csts = static_cast<uint32_t>(c.result);
        if (csts & kCstsCfs) return fail(cfg_.name + ": controller fatal status (CSTS.CFS) at " + cfg_.endpoint.text);
        if (!(csts & kCstsRdy)) {
            poll_timer_.arm_in(std::chrono::milliseconds(10));
            return;
        }
        if (cfg_.kato_ms) ka_timer_.arm_in(std::chrono::milliseconds(cfg_.kato_ms / 2));
        if (!cfg_.io_queue) {
            bringup_timer_.cancel();
            phase_ = Phase::Live;
            return owner_.on_live();
        }
        step("Set Features (number of queues)");
        admin(make_set_queue_count(0, 1), {}, [this](const Cqe& c) {
            if (!check(c, "Set Features (number of queues)")) return;
            connect_io();
        });
    });
}

void Controller::connect_io() {
    const uint32_t mqes = static_cast<uint32_t>(cap_ & 0xffff) + 1;  // CAP.MQES is 0's based
    io_entries_ = static_cast<uint16_t>(std::clamp<uint32_t>(cfg_.io_entries, 2, std::min<uint32_t>(mqes, 1024)));
    step("TCP connect and ICReq on the IO queue");
    io_.open(cfg_.endpoint, cfg_.digests, cfg_.max_data);
}

void Controller::keep_alive() {
    if (phase_ != Phase::Live && phase_ != Phase::Connecting) return;
    if (ka_outstanding_ && io::Clock::now() - ka_sent_ > cfg_.command_timeout)
        return fail(cfg_.name + ": Keep Alive unanswered by " + cfg_.endpoint.text);
    ka_timer_.arm_in(std::chrono::milliseconds(cfg_.kato_ms / 2));
    if (ka_outstanding_) return;
    ka_outstanding_ = true;
    ka_sent_ = io::Clock::now();
    admin(make_keep_alive(0), {}, [this](const Cqe& c) {
        ka_outstanding_ = false;
        check(c, "Keep Alive");
    });
}

void Controller::on_connected(Connection& c) {
    if (&c == &admin_) return on_admin_connected();
    step("Fabrics Connect on the IO queue");
    const auto data = make_connect_data(cfg_.hostid, cntlid_, cfg_.subnqn, cfg_.hostnqn);
    ConnectParams p;
    p.qid = 1;
    p.sqsize = static_cast<uint16_t>(io_entries_ - 1);
    io_.queue_command(make_connect(0, p), data);
    io_.flush();
}

void Controller::on_failed(Connection& c, const std::string& why) {
    fail(cfg_.name + (&c == &admin_ ? " (admin queue): " : " (IO queue): ") + why);
}

void Controller::on_response(Connection& c, const Cqe& cqe) {
    if (&c == &io_) {
        if (phase_ == Phase::Live) return owner_.on_io_response(cqe);
        // Before Live, the only command on the IO queue is its Connect.
        if (!check(cqe, ("IO queue connect to subsystem " + cfg_.subnqn).c_str(), true)) return;
        bringup_timer_.cancel();
        phase_ = Phase::Live;
        return owner_.on_live();
    }
    if (cqe.cid >= slots_.size() || !slots_[cqe.cid].busy)
        return admin_.fail("completion for unknown admin command " + std::to_string(cqe.cid));
    AdminDone done = std::move(slots_[cqe.cid].done);
    slots_[cqe.cid] = AdminSlot{};
    done(cqe);
}

void Controller::on_data(Connection& c, const DataHeader& h, uint32_t at, std::span<const uint8_t> bytes) {
    if (&c == &io_) {
        if (phase_ != Phase::Live) return io_.fail("C2HData before the IO queue is connected");
        return owner_.on_io_data(h, at, bytes);
    }
    if (h.cccid >= slots_.size() || !slots_[h.cccid].busy)
        return admin_.fail("C2HData for unknown admin command " + std::to_string(h.cccid));
    AdminSlot& s = slots_[h.cccid];
    const uint64_t off = uint64_t{h.offset} + at;
    if (off + bytes.size() > s.in.size())
        return admin_.fail("C2HData beyond the buffer of admin command " + std::to_string(h.cccid),
                           TermFes::DataOutOfRange);
    std::memcpy(s.in.data() + off, bytes.data(), bytes.size());
    s.received += static_cast<uint32_t>(bytes.size());
}

uint8_t* Controller::data_destination(Connection& c, const DataHeader& h, uint32_t at, uint32_t n) {
    if (&c != &io_ || phase_ != Phase::Live) return nullptr;
    return owner_.io_data_destination(h, at, n);
}

void Controller::on_data_end(Connection& c, const DataHeader& h, bool digest_ok) {
    if (&c == &io_) return owner_.on_io_data_end(h, digest_ok);
    // Admin data (identify, the discovery log) is small and rare: a bad
    // digest redoes the bring-up rather than one command of its chain.
    if (!digest_ok) return fail(cfg_.name + ": data digest mismatch on admin command " + std::to_string(h.cccid));
    if (!h.success) return;
    // SUCCESS: no response capsule follows; the command is complete.
    AdminSlot& s = slots_[h.cccid];
    if (!s.busy) return;
    Cqe ok;
    ok.cid = h.cccid;
    AdminDone done = std::move(s.done);
    s = AdminSlot{};
    done(ok);
}

}  // namespace lazyroot::nvmetcp
