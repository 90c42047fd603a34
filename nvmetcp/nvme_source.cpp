#include "nvmetcp/nvme_source.h"

#include <nvme/types.h>

#include <cstring>
#include <stdexcept>

#include "io/log.h"
#include "nvmetcp/discovery.h"

namespace lazyroot::nvmetcp {
namespace {

constexpr uint8_t kCnsNamespace = 0x00;
constexpr uint8_t kCnsController = 0x01;

// An admin-only association driven to completion on a private loop: the
// attach-time probe and discovery, where blocking is what we want.
class BlockingAdmin final : private Controller::Owner {
public:
    explicit BlockingAdmin(ControllerConfig cfg) {
        if (int r = loop_.init(64); r < 0) throw std::runtime_error("io_uring init failed");
        cfg.io_queue = false;
        Controller::Owner& owner = *this;
        ctrl_ = std::make_unique<Controller>(loop_, std::move(cfg), owner);
        ctrl_->start();
        run_until([&] { return live_; });
    }

    Cqe command(const Sqe& sqe, std::span<uint8_t> in, const char* what) {
        bool done = false;
        Cqe res;
        io::Timer deadline(
            loop_, [&] { ctrl_->fail(std::string(what) + ": no answer from " + ctrl_->config().endpoint.text); });
        deadline.arm_in(ctrl_->config().command_timeout);
        ctrl_->admin(sqe, in, [&](const Cqe& c) {
            res = c;
            done = true;
        });
        run_until([&] { return done; });
        if (!res.ok())
            throw std::runtime_error(std::string(what) + " failed at " + ctrl_->config().endpoint.text + ": " +
                                     describe_status(res.status, false));
        return res;
    }

    uint64_t cap() const { return ctrl_->cap(); }

    ~BlockingAdmin() {
        ctrl_.reset();
        // Let the closed sockets' poll cancellations come back, so that
        // their watches free themselves before the ring goes.
        bool drained = false;
        loop_.post([&] { drained = true; });
        while (!drained && loop_.run_once() >= 0) {}
        loop_.close();
    }

private:
    template <typename Pred>
    void run_until(Pred done) {
        while (!done() && down_.empty())
            if (int r = loop_.run_once(); r < 0) throw std::runtime_error("event loop failed");
        if (!down_.empty()) throw std::runtime_error(down_);
    }

    void on_live() override { live_ = true; }
    void on_down(const std::string& why, bool) override { down_ = why; }

    io::EventLoop loop_;
    std::unique_ptr<Controller> ctrl_;
    bool live_ = false;
    std::string down_;
};

std::string hex(const uint8_t* p, size_t n) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        s += d[p[i] >> 4];
        s += d[p[i] & 15];
    }
    return s;
}

std::string trimmed(const char* p, size_t n) {
    std::string s(p, strnlen(p, n));
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

}  // namespace

NamespaceInfo namespace_geometry(uint32_t nsid, uint64_t nsze, unsigned lbads, uint64_t cap, uint8_t mdts) {
    const std::string which = "namespace " + std::to_string(nsid) + ": ";
    if (lbads < 9 || lbads > 16) throw std::runtime_error(which + "unsupported block size 2^" + std::to_string(lbads));
    // Sizes are offsets on the device: under 2^63 bytes, so they never wrap.
    if (nsze == 0 || nsze > (uint64_t{INT64_MAX} >> lbads))
        throw std::runtime_error(which + std::to_string(nsze) + " blocks of 2^" + std::to_string(lbads) +
                                 " bytes is not a size (0, or 2^63 bytes or more)");
    NamespaceInfo ns;
    ns.nsid = nsid;
    ns.lba_bytes = 1u << lbads;
    ns.size_bytes = nsze << lbads;
    // MDTS is in units of the minimum page size (CAP.MPSMIN, at most 2^27
    // bytes); 0 means no limit. Past 2^20 pages the 1 MiB cap wins anyway, so
    // a larger MDTS (up to 255) is not shifted by at all.
    const uint64_t min_page = uint64_t{4096} << ((cap >> 48) & 0xf);
    uint64_t max = 1u << 20;
    if (mdts && mdts < 20) max = std::min<uint64_t>(max, min_page << mdts);
    ns.max_transfer = static_cast<uint32_t>(std::max<uint64_t>(max / ns.lba_bytes * ns.lba_bytes, ns.lba_bytes));
    return ns;
}

std::unique_ptr<NvmeTcpSource> NvmeTcpSource::open(const NvmeTcpOptions& opts) {
    std::unique_ptr<NvmeTcpSource> src(new NvmeTcpSource());
    try {
        src->uri_ = parse_target_uri(opts.uri);
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(e.what());
    }
    const TargetUri& u = src->uri_;
    src->io_timeout_ = opts.io_timeout;
    src->outage_ = std::make_shared<io::OutageMonitor>(u.text);
    const HostIdentity host = host_identity(opts.hostnqn);

    ControllerConfig& c = src->ctrl_;
    c.hostnqn = host.hostnqn;
    c.hostid = host.hostid;
    c.digests = u.digests;
    c.command_timeout = io::at_most(c.command_timeout, opts.io_timeout);
    c.endpoint = resolve(u.host, u.port);
    c.subnqn = u.subnqn;
    c.name = u.text;

    if (u.discover) {
        ControllerConfig d = c;
        d.subnqn = kDiscoveryNqn;
        d.kato_ms = 0;  // a short-lived discovery association needs none
        BlockingAdmin admin(d);
        std::vector<uint8_t> head(1024);
        admin.command(make_get_log_page(0, kDiscoveryLogId, 1024, 0), head, "discovery log header");
        const uint64_t count = std::min<uint64_t>(discovery_record_count(head), 256);
        std::vector<uint8_t> page(1024 + count * 1024);
        admin.command(make_get_log_page(0, kDiscoveryLogId, static_cast<uint32_t>(page.size()), 0), page,
                      "discovery log");
        const auto entries = parse_discovery_log(page, count);
        const std::string want = u.subnqn == kDiscoveryNqn ? std::string() : u.subnqn;
        const auto e = pick_entry(entries, want);
        if (!e)
            throw std::runtime_error("the discovery controller at " + c.endpoint.text + " lists " +
                                     std::to_string(entries.size()) + " entries, none a TCP subsystem" +
                                     (want.empty() ? std::string() : " named " + want));
        try {
            check_nqn(e->subnqn, "discovery entry");  // the controller's word, printed and sent back in Connect
        } catch (const std::invalid_argument& err) {
            throw std::runtime_error(err.what());
        }
        // The controller's port string: digits only (no sign, space or trailing junk).
        unsigned port = 0;
        const bool digits = !e->trsvcid.empty() && e->trsvcid.size() <= 5 &&
                            e->trsvcid.find_first_not_of("0123456789") == std::string::npos;
        if (digits) port = static_cast<unsigned>(std::stoul(e->trsvcid));
        if (port == 0 || port > 65535)
            throw std::runtime_error("discovery entry for " + e->subnqn + " has a bad port (" +
                                     std::to_string(e->trsvcid.size()) + " bytes, not 1-65535)");
        c.endpoint = resolve(e->traddr, static_cast<uint16_t>(port));
        c.subnqn = e->subnqn;
        log::info("discovery at %s: %s at %s", u.host.c_str(), c.subnqn.c_str(), c.endpoint.text.c_str());
    }

    BlockingAdmin admin(c);
    nvme_id_ctrl idc{};
    admin.command(make_identify(0, kCnsController, 0), {reinterpret_cast<uint8_t*>(&idc), sizeof idc},
                  "Identify Controller");
    nvme_id_ns idn{};
    admin.command(make_identify(0, kCnsNamespace, u.nsid), {reinterpret_cast<uint8_t*>(&idn), sizeof idn},
                  "Identify Namespace");
    const uint64_t nsze = le64toh(idn.nsze);
    if (nsze == 0)
        throw std::runtime_error("namespace " + std::to_string(u.nsid) + " of " + c.subnqn + " at " + c.endpoint.text +
                                 " is not active");
    const unsigned format = idn.flbas & 0x0f;
    if (format > idn.nlbaf)
        throw std::runtime_error("namespace " + std::to_string(u.nsid) + " uses LBA format " + std::to_string(format) +
                                 " of only " + std::to_string(idn.nlbaf + 1));
    NamespaceInfo& ns = src->ns_;
    try {
        ns = namespace_geometry(u.nsid, nsze, idn.lbaf[format].ds, admin.cap(), idc.mdts);
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(std::string(e.what()) + " (flbas " + std::to_string(idn.flbas) + ", nlbaf " +
                                 std::to_string(idn.nlbaf) + ")");
    }

    const std::string sn = trimmed(idc.sn, sizeof idc.sn);
    src->identity_ = "nvme-tcp;subnqn=" + c.subnqn + ";nsid=" + std::to_string(u.nsid) + ";sn=" + sn +
                     ";nguid=" + hex(idn.nguid, sizeof idn.nguid) + ";eui64=" + hex(idn.eui64, sizeof idn.eui64) +
                     ";size=" + std::to_string(ns.size_bytes);
    log::debug("%s: %s, serial %s, namespace %u: %llu blocks of %u bytes, %u bytes per read", u.text.c_str(),
               c.endpoint.text.c_str(), sn.c_str(), u.nsid, static_cast<unsigned long long>(nsze), ns.lba_bytes,
               ns.max_transfer);
    return src;
}

std::unique_ptr<io::QueueReader> NvmeTcpSource::open_queue(io::EventLoop& loop, unsigned depth) {
    IoQueueConfig q;
    q.controller = ctrl_;
    q.controller.name = "nvme+tcp " + ctrl_.endpoint.text + " queue " + std::to_string(queues_opened_++);
    q.ns = ns_;
    q.io_timeout = io_timeout_;
    q.outage = outage_;
    return std::make_unique<IoQueue>(loop, std::move(q), depth);
}

}  // namespace lazyroot::nvmetcp
