#include "nvmetcp/kernel_source.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <regex>
#include <stdexcept>
#include <thread>

#include "io/file_source.h"
#include "io/log.h"
#include "io/unique_fd.h"
#include "nvmetcp/host_identity.h"
#include "nvmetcp/nvme_source.h"
#include "nvmetcp/target_uri.h"

namespace lazyroot::nvmetcp {
namespace {

// The connected controller, deleted through sysfs when the source goes.
class KernelController {
public:
    explicit KernelController(std::string name) : name_(std::move(name)) {}
    ~KernelController() {
        const std::string path = "/sys/class/nvme/" + name_ + "/delete_controller";
        io::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd || ::write(fd.get(), "1", 1) != 1)
            log::warn("disconnecting %s failed: %s", name_.c_str(), std::strerror(errno));
    }
    KernelController(const KernelController&) = delete;
    KernelController& operator=(const KernelController&) = delete;
    const std::string& name() const { return name_; }

private:
    std::string name_;
};

class KernelSource final : public io::Source {
public:
    KernelSource(std::unique_ptr<KernelController> ctrl, std::unique_ptr<io::Source> dev, std::string uri)
        : ctrl_(std::move(ctrl)), dev_(std::move(dev)), uri_(std::move(uri)) {}
    ~KernelSource() override { dev_.reset(); }  // close the block device before disconnecting

    uint64_t size() const override { return dev_->size(); }
    std::string describe() const override { return uri_ + " (kernel nvme-tcp, " + ctrl_->name() + ")"; }
    std::string identity() const override { return "nvme-kernel;" + uri_ + ";size=" + std::to_string(size()); }
    std::unique_ptr<io::QueueReader> open_queue(io::EventLoop& loop, unsigned depth) override {
        return dev_->open_queue(loop, depth);
    }

private:
    std::unique_ptr<KernelController> ctrl_;
    std::unique_ptr<io::Source> dev_;
    std::string uri_;
};

// /sys/class/nvme/nvmeC holds nvmeCnN, or with native multipath the hidden
// path nvmeScCnN whose block device is the head nvmeSnN.
std::string find_namespace(const std::string& ctrl, uint32_t nsid) {
    const std::string dir = "/sys/class/nvme/" + ctrl;
    const std::regex plain("nvme([0-9]+)n" + std::to_string(nsid));
    const std::regex path("nvme([0-9]+)c[0-9]+n" + std::to_string(nsid));
    DIR* d = ::opendir(dir.c_str());
    if (!d) return {};
    std::string found;
    while (dirent* e = ::readdir(d)) {
        std::cmatch m;
        if (std::regex_match(e->d_name, m, plain))
            found = std::string("/dev/") + e->d_name;
        else if (std::regex_match(e->d_name, m, path))
            found = "/dev/nvme" + m[1].str() + "n" + std::to_string(nsid);
        if (!found.empty()) break;
    }
    ::closedir(d);
    return found;
}

}  // namespace

std::unique_ptr<io::Source> open_kernel_source(const NvmeTcpOptions& opts, unsigned queues) {
    TargetUri u;
    try {
        u = parse_target_uri(opts.uri);
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(e.what());
    }
    if (u.discover)
        throw std::runtime_error("--nvme-transport=kernel does not do discovery; name the subsystem: " + u.text);
    if (::access("/dev/nvme-fabrics", W_OK) != 0)
        throw std::runtime_error(std::string("--nvme-transport=kernel: /dev/nvme-fabrics: ") + std::strerror(errno) +
                                 " (is nvme-tcp loaded?)");
    const HostIdentity host = host_identity(opts.hostnqn);
    char hostid[37];
    const auto& h = host.hostid;
    std::snprintf(hostid, sizeof hostid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0],
                  h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
    const Endpoint ep = resolve(u.host, u.port);  // the kernel wants an address, not a name
    char addr[64] = {};
    const void* raw = ep.addr.ss_family == AF_INET6
                          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&ep.addr)->sin6_addr)
                          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&ep.addr)->sin_addr);
    ::inet_ntop(ep.addr.ss_family, raw, addr, sizeof addr);

    // What libnvme's nvmf_add_ctrl does, without linking libnvme into the
    // initrd: one line of options to /dev/nvme-fabrics, "instance=N,…" back.
    // The kernel splits it at commas and newlines: a value holding either
    // would add options of its own. The NQNs were checked when parsed; check
    // again here, where it matters (the rest are numbers and inet_ntop's).
    try {
        check_nqn(u.subnqn, "subsystem NQN");
        check_nqn(host.hostnqn, "host NQN");
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(std::string("--nvme-transport=kernel: ") + e.what());
    }
    std::string req = "nqn=" + u.subnqn + ",transport=tcp,traddr=" + addr + ",trsvcid=" + std::to_string(u.port) +
                      ",hostnqn=" + host.hostnqn + ",hostid=" + hostid + ",nr_io_queues=" + std::to_string(queues) +
                      // Like the userspace path: give up on a lost controller at
                      // --io-timeout, or never (-1) with --io-timeout=infinity.
                      ",ctrl_loss_tmo=" +
                      (opts.io_timeout ? std::to_string(std::max<long long>(1, opts.io_timeout->count() / 1000))
                                       : std::string("-1")) +
                      ",reconnect_delay=1";
    if (u.digests.header) req += ",hdr_digest";
    if (u.digests.data) req += ",data_digest";
    io::UniqueFd fabrics(::open("/dev/nvme-fabrics", O_RDWR | O_CLOEXEC));
    if (!fabrics) throw std::runtime_error(std::string("/dev/nvme-fabrics: ") + std::strerror(errno));
    if (::write(fabrics.get(), req.data(), req.size()) != static_cast<ssize_t>(req.size()))
        throw std::runtime_error("kernel nvme-tcp connect to " + u.subnqn + " at " + ep.text +
                                 " failed: " + std::strerror(errno));
    char answer[256] = {};
    const ssize_t n = ::read(fabrics.get(), answer, sizeof answer - 1);
    unsigned instance = 0;
    if (n <= 0 || std::sscanf(answer, "instance=%u", &instance) != 1)
        throw std::runtime_error("kernel nvme-tcp: /dev/nvme-fabrics answered '" + std::string(answer) + "'");
    auto ctrl = std::make_unique<KernelController>("nvme" + std::to_string(instance));
    // The kernel scans namespaces after connect returns.
    std::string dev;
    for (int i = 0; i < 100 && dev.empty(); ++i) {
        dev = find_namespace(ctrl->name(), u.nsid);
        struct stat st;
        if (!dev.empty() && ::stat(dev.c_str(), &st) != 0) dev.clear();
        if (dev.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (dev.empty())
        throw std::runtime_error("kernel nvme-tcp: " + ctrl->name() + " has no namespace " + std::to_string(u.nsid));
    log::info("%s: kernel nvme-tcp %s, %s", u.text.c_str(), ctrl->name().c_str(), dev.c_str());
    auto file = io::FileSource::open(dev);
    return std::make_unique<KernelSource>(std::move(ctrl), std::move(file), u.text);
}

}  // namespace lazyroot::nvmetcp
