#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/source_stack.h"
#include "cli/source_uri.h"
#include "cli/verity_plan.h"
#include "verity/activate.h"
#include "cli/state_file.h"
#include "cli/root_daemon.h"
#include "io/log.h"
#include "io/unique_fd.h"
#include "ublk/control.h"
#include "ublk/device.h"

namespace lazyroot::cli {
namespace {

// Where "ready" or the failure reason goes: stdout in the foreground, a pipe
// to the waiting parent with --daemon.
class ReadyReport {
public:
    explicit ReadyReport(int pipe_fd = -1) : fd_(pipe_fd) {}

    void ready(const std::string& dev_path) {
        if (!fd_) {
            std::printf("%s\n", dev_path.c_str());
            std::fflush(stdout);
            return;
        }
        send("OK " + dev_path + "\n");
        fd_.reset();
        detach_stdio();
    }

    void failed(const std::string& why) {
        if (fd_) send("ERR " + why + "\n");
    }

    bool to_parent() const { return static_cast<bool>(fd_); }

private:
    void send(const std::string& s) {
        [[maybe_unused]] ssize_t n = ::write(fd_.get(), s.data(), s.size());
    }
    // The caller of `attach --daemon` may capture stdout; let its read end.
    static void detach_stdio() {
        int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0) return;
        ::dup2(null, STDIN_FILENO);
        ::dup2(null, STDOUT_FILENO);
        ::close(null);
    }

    io::UniqueFd fd_;
};

// Parent side of --daemon: relay the child's verdict, then leave it running.
int wait_for_daemon(int read_fd, pid_t child) {
    std::string msg;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(read_fd, buf, sizeof buf);
        if (n > 0) {
            msg.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;
    }
    ::close(read_fd);
    if (!msg.empty() && msg.back() == '\n') msg.pop_back();
    if (msg.rfind("OK ", 0) == 0) {
        std::printf("%s\n", msg.c_str() + 3);
        return 0;
    }
    ::waitpid(child, nullptr, 0);
    if (msg.rfind("ERR ", 0) == 0)
        log::error("%s", msg.c_str() + 4);
    else
        log::error("the daemon exited before the device was ready");
    return 1;
}

nlohmann::json describe_state(const AttachOptions& o, const ublk::Device& dev,
                              SourceStack& stack, const std::string& mapper) {
    const io::Source& src = stack.top();
    return {
        {"dev_id", dev.id()},
        {"block_device", dev.block_path()},
        {"char_device", dev.char_path()},
        {"pid", ::getpid()},
        {"source", src.describe()},
        {"size", src.size()},
        {"name", o.name},
        {"mode", o.mode},
        {"cache", stack.cache_path()},
        {"verity_device", mapper},
        {"queues", dev.info().nr_hw_queues},
        {"depth", dev.info().queue_depth},
        {"max_io_bytes", dev.info().max_io_buf_bytes},
        {"flags", dev.info().flags},
    };
}

int serve(const AttachOptions& o, ReadyReport& report) {
    // Block termination signals before any thread starts, so that every thread
    // inherits the mask and only the signalfd below sees them.
    sigset_t term;
    sigemptyset(&term);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&term, s);
    pthread_sigmask(SIG_BLOCK, &term, nullptr);
    io::UniqueFd sigfd(::signalfd(-1, &term, SFD_CLOEXEC));
    if (!sigfd) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));

    SourceUri uri = parse_source_uri(o.source);
    ublk::DeviceConfig cfg;
    cfg.queues = o.queues ? o.queues
                          : ublk::default_queue_count(std::thread::hardware_concurrency());
    cfg.depth = o.depth;
    std::optional<VerityPlan> verity_plan;
    if (!o.verity.empty()) verity_plan = plan_verity(uri, o);
    SourceStack stack(uri, o, cfg.queues, verity_plan ? &*verity_plan : nullptr);
    ublk::Control ctrl;
    if (o.mode == "full") stack.download_all(o.connections);
    std::unique_ptr<ublk::Device> dev = ublk::Device::create(ctrl, cfg, stack.top());
    const unsigned id = dev->id();
    const auto started = std::chrono::steady_clock::now();
    auto publish = [&] {
        write_status(id, dev->block_path(), stack,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    };

    std::string ready_path = dev->block_path();
    if (verity_plan) {
        verity::ActivateOptions va;
        va.data_device = va.hash_device = dev->block_path();
        va.hash_offset = stack.verity_hash_offset();
        va.root_hash_hex = verity_plan->root_hash_hex;
        if (verity_plan->kernel_checks_signature) va.signature = verity_plan->signature;
        va.name = o.name;
        ready_path = verity::activate(va);
    }
    write_state(id, describe_state(o, *dev, stack, verity_plan ? ready_path : ""));
    publish();
    log::debug("serving %s on %s", stack.top().describe().c_str(), ready_path.c_str());
    stack.keep_cache();
    report.ready(ready_path);
    notify_ready(("serving " + stack.top().describe() + " on " + ready_path).c_str());
    if (o.mode == "hydrate") stack.start_hydration(o.connections, o.hydrate_rate);
    bool hydration_reported = false;

    int status = 0;
    pollfd fds[2] = {{sigfd.get(), POLLIN, 0}, {dev->queue_exit_fd(), POLLIN, 0}};
    for (;;) {
        // Wake every second to publish the status file.
        int n = ::poll(fds, 2, 1000);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        if (!hydration_reported && stack.filler() && stack.filler()->complete()) {
            hydration_reported = true;
            stack.cached()->store().commit_now();
            log::info("hydration complete: %s no longer needs the network", dev->block_path().c_str());
        }
        publish();
        if (n == 0) continue;
        if (fds[0].revents) break;
        if (fds[1].revents) {
            log::error("a queue of %s stopped serving; removing the device",
                       dev->block_path().c_str());
            status = 1;
            break;
        }
    }
    // The mapping sits on the ublk device: it goes first.
    if (verity_plan) {
        if (int r = verity::deactivate(o.name); r < 0) {
            log::error("cannot remove /dev/mapper/%s: %s", o.name.c_str(), std::strerror(-r));
            status = 1;
        }
    }
    if (dev->stop() < 0) status = 1;
    stack.shut_down();
    remove_state(id);
    return status;
}

}  // namespace

int run_attach(const AttachOptions& opts) {
    // Reject a bad SOURCE before forking, so the error reaches the caller directly.
    check_source_options(parse_source_uri(opts.source), opts);
    if (!opts.hash_source.empty() && parse_source_uri(opts.hash_source).kind == SourceUri::Kind::NvmeTcp)
        throw UsageError("--hash-source must be file:///path or http(s)://: " + opts.hash_source);

    if (!opts.daemon) {
        ReadyReport report;
        return serve(opts, report);
    }

    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    pid_t child = ::fork();
    if (child < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (child > 0) {
        ::close(p[1]);
        return wait_for_daemon(p[0], child);
    }
    ::close(p[0]);
    ::setsid();
    if (::chdir("/") != 0) { /* "/" always exists; nothing to do */ }
    ReadyReport report(p[1]);
    try {
        ::_exit(serve(opts, report));
    } catch (const std::exception& e) {
        report.failed(e.what());
        ::_exit(1);
    }
}

}  // namespace lazyroot::cli
