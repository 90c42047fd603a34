#include "nvmetcp/controller.h"

#include <algorithm>

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
      bringup_timer_(loop,
                     [this] {
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
    admin_.take_commands();
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
    admin_.open(cfg_.endpoint, cfg_.digests, std::max<uint32_t>(cfg_.max_data, 1u << 20), kAdminEntries);
}

void Controller::admin(Sqe sqe, std::span<uint8_t> in, AdminDone done, std::span<const uint8_t> out) {
    auto it = std::find_if(slots_.begin(), slots_.end(), [](const AdminSlot& s) { return s.cid < 0; });
    if (it == slots_.end()) return fail(cfg_.name + ": admin queue full");
    it->target = this;
    it->in = in;
    it->done = std::move(done);
    if (!admin_.submit(sqe, *it, out)) return fail(cfg_.name + ": admin queue full");
    admin_.flush();
}

bool Controller::check(const Cqe& c, const char* what, bool connect) {
    if (c.ok()) return true;
    fail(cfg_.name + ": " + what + " failed at " + cfg_.endpoint.text + ": " + describe_status(c.status, connect),
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
    admin(
        make_connect(0, p), {},
        [this](const Cqe& c) {
            if (!check(c, ("connect to subsystem " + cfg_.subnqn).c_str(), true)) return;
            cntlid_ = static_cast<uint16_t>(c.result & 0xffff);
            step("Property Get CAP");
            admin(make_property_get(0, kRegCap, true), {}, [this](const Cqe& c) {
                if (!check(c, "Property Get CAP")) return;
                cap_ = c.result;
                enable();
            });
        },
        data);
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
    io_.open(cfg_.endpoint, cfg_.digests, cfg_.max_data, io_entries_);
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
    io_connect_ = Command{};
    io_connect_.target = this;
    if (!io_.submit(make_connect(0, p), io_connect_, data)) return fail(cfg_.name + ": IO queue full at Connect");
    io_.flush();
}

void Controller::on_failed(Connection& c, const std::string& why) {
    fail(cfg_.name + (&c == &admin_ ? " (admin queue): " : " (IO queue): ") + why);
}

void Controller::on_completion(Command& c, const Cqe& cqe) {
    if (&c == &io_connect_) {
        if (!check(cqe, ("IO queue connect to subsystem " + cfg_.subnqn).c_str(), true)) return;
        bringup_timer_.cancel();
        phase_ = Phase::Live;
        return owner_.on_live();
    }
    auto& slot = static_cast<AdminSlot&>(c);
    AdminDone done = std::move(slot.done);
    slot.done = nullptr;
    // Admin data (identify, the discovery log) is small and rare: a bad
    // digest redoes the bring-up rather than one command of its chain.
    if (!slot.data_ok) return fail(cfg_.name + ": data digest mismatch on admin command " + std::to_string(cqe.cid));
    if (done) done(cqe);
}

}  // namespace lazyroot::nvmetcp
