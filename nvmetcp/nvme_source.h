#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "io/outage.h"
#include "io/source.h"
#include "io/timeout.h"
#include "nvmetcp/host_identity.h"
#include "nvmetcp/io_queue.h"
#include "nvmetcp/target_uri.h"

namespace lazyroot::nvmetcp {

struct NvmeTcpOptions {
    std::string uri;                                              // nvme+tcp://…
    std::string hostnqn;                                          // empty: /etc/nvme/hostnqn or generated
    io::IoTimeout io_timeout = std::chrono::milliseconds(30000);  // nullopt: infinity
};

// What Identify says about a namespace, as sizes: `nsze` blocks of 2^lbads
// bytes, reads of at most CAP.MPSMIN pages << mdts (0: no limit; capped at
// 1 MiB). The values come from the controller: lbads must be 9..16, the size
// must fit in 2^63 bytes, and any MDTS is safe to shift by. Throws
// std::runtime_error with a one-line reason.
NamespaceInfo namespace_geometry(uint32_t nsid, uint64_t nsze, unsigned lbads, uint64_t cap, uint8_t mdts);

// A namespace of an NVMe/TCP subsystem, read by a userspace initiator: each
// queue gets its own association (admin queue + one IO queue) on its own loop.
class NvmeTcpSource final : public io::Source {
public:
    // Resolves the target, follows discovery if asked, brings up an admin
    // queue and identifies the controller and the namespace (blocking; attach
    // time). Throws std::runtime_error with a one-line reason.
    static std::unique_ptr<NvmeTcpSource> open(const NvmeTcpOptions& opts);

    uint64_t size() const override { return ns_.size_bytes; }
    std::string describe() const override { return uri_.text; }
    std::string identity() const override { return identity_; }
    std::unique_ptr<io::QueueReader> open_queue(io::EventLoop& loop, unsigned depth) override;

    const NamespaceInfo& ns() const { return ns_; }
    // Where the data comes from after discovery: "127.0.0.1:4420 nqn…".
    std::string target() const { return ctrl_.endpoint.text + " " + ctrl_.subnqn; }

private:
    NvmeTcpSource() = default;

    TargetUri uri_;
    ControllerConfig ctrl_;
    NamespaceInfo ns_;
    std::string identity_;
    io::IoTimeout io_timeout_ = std::chrono::milliseconds(30000);
    std::shared_ptr<io::OutageMonitor> outage_;
    std::atomic<unsigned> queues_opened_{0};
};

}  // namespace lazyroot::nvmetcp
