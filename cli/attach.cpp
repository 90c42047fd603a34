#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <optional>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "cli/attach_interrupt.h"
#include "cli/commands.h"
#include "cli/device_users.h"
#include "cli/handoff.h"
#include "cli/handoff_boot.h"
#include "cli/full_download.h"
#include "cli/source_stack.h"
#include "cli/source_uri.h"
#include "cli/profile_stop.h"
#include "cli/ready_report.h"
#include "cli/profile_use.h"
#include "cli/update_source.h"
#include "cli/verity_plan.h"
#include "verity/activate.h"
#include "cli/state_file.h"
#include "cli/root_daemon.h"
#include "io/log.h"
#include "io/unique_fd.h"
#include "ublk/control.h"
#include "ublk/device.h"
#include "ublk/features.h"

namespace lazyroot::cli {
namespace {

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

// What a successor needs to rebuild this daemon's stack and check that it
// serves the same image (see `lazyroot recover`).
nlohmann::json describe_state(const AttachOptions& o, const ublk::Device& dev, SourceStack& stack,
                              const std::string& mapper, const std::string& root_hash, const nlohmann::json* previous) {
    const io::Source& src = stack.top();
    nlohmann::json j = {
        {"dev_id", dev.id()},
        {"block_device", dev.block_path()},
        {"char_device", dev.char_path()},
        {"pid", ::getpid()},
        {"source", src.describe()},
        {"identity", src.identity()},
        {"size", src.size()},
        {"name", o.name},
        {"mode", to_string(o.mode)},
        {"cache", stack.cache_path()},
        {"ram_dir", stack.ram_dir()},
        {"verity_device", mapper},
        {"root_hash", root_hash},
        {"queues", dev.info().nr_hw_queues},
        {"depth", dev.info().queue_depth},
        {"max_io_bytes", dev.info().max_io_buf_bytes},
        {"flags", dev.info().flags},
        {"words", o.words},
        {"origin", o.from_kernel_cmdline ? "cmdline" : "cli"},
        {"attached_at", unix_now()},
        {"recoveries", 0},
        {"last_recovery", nullptr},
    };
    if (previous) {
        j["attached_at"] = previous->value("attached_at", unix_now());
        j["recoveries"] = previous->value("recoveries", 0) + 1;
        j["last_recovery"] = unix_now();
    }
    return j;
}

// The dead daemon's record, when this attach takes its device over.
struct Takeover {
    unsigned dev_id;
    nlohmann::json state;
};

// Not 1 or 2, which the boot unit treats as final: systemd restarts the
// daemon, and the successor takes the device over.
constexpr int kExitLeftForRecovery = 75;

bool signal_is_force(const signalfd_siginfo& si) { return si.ssi_signo == SIGUSR1; }

int serve(const AttachOptions& o, ReadyReport& report, const Takeover* takeover) {
    // Block termination signals before any thread starts, so that every thread
    // inherits the mask and only the signalfd below sees them.
    sigset_t term;
    sigemptyset(&term);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&term, s);
    pthread_sigmask(SIG_BLOCK, &term, nullptr);
    io::UniqueFd sigfd(::signalfd(-1, &term, SFD_CLOEXEC));
    if (!sigfd) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
    // SIGUSR2: `lazyroot update-source` or `lazyroot profile stop` left a
    // request (cli/update_source.h, cli/profile_stop.h).
    // Its own signalfd, read only while serving: the attach-time watcher
    // takes every signal of `term` as a stop.
    sigset_t update;
    sigemptyset(&update);
    sigaddset(&update, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &update, nullptr);
    io::UniqueFd update_fd(::signalfd(-1, &update, SFD_CLOEXEC));
    if (!update_fd) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
    AttachInterrupt interrupt(sigfd.get());
    // A complete cache of a verified image needs neither the server nor us.
    if (!takeover)
        if (auto path = attach_from_complete_cache(o)) {
            report.ready(*path);
            notify_ready(("serving " + *path + " from the complete cache, in the kernel").c_str());
            return 0;
        }
    const bool cache_is_new = !o.cache.empty() && ::access(o.cache.c_str(), F_OK) != 0;
    if (cache_is_new) {
        interrupt.remove_if_cut_short(o.cache);
        interrupt.remove_if_cut_short(o.cache + ".lzmeta");
    }

    SourceUri uri = parse_source_uri(o.source);
    ublk::DeviceConfig cfg;
    cfg.queues = o.queues ? o.queues : ublk::default_queue_count(std::thread::hardware_concurrency());
    cfg.depth = o.depth;
    cfg.zero_copy = o.zero_copy != "off";
    // Half of --memory-budget for the queues' IO buffers (the readahead has the other half).
    cfg.io_budget = std::make_shared<io::MemoryBudget>((uint64_t{o.memory_budget_mib} << 20) / 2);
    if (takeover) {
        // The kernel's device fixes the queues; the stack must match them.
        cfg.queues = takeover->state.value("queues", cfg.queues);
        cfg.depth = takeover->state.value("depth", cfg.depth);
    }
    std::optional<VerityPlan> verity_plan;
    // Everything that may need the network before the device is served.
    auto build = [&] {
        verity_plan.reset();
        if (o.verity != VerityKind::None) verity_plan = plan_verity(uri, o);
        auto built = std::make_unique<SourceStack>(uri, o, cfg.queues, verity_plan ? &*verity_plan : nullptr);
        if (!takeover) return built;
        const std::string dev_name = "/dev/ublkb" + std::to_string(takeover->dev_id);
        const std::string was = takeover->state.value("identity", "");
        if (was != built->top().identity())
            throw std::runtime_error("the image changed since " + dev_name + " was attached (was " + was + ", now " +
                                     built->top().identity() + ")");
        if (verity_plan && takeover->state.value("root_hash", "") != verity_plan->root_hash_hex)
            throw std::runtime_error("the root hash changed since " + dev_name + " was attached");
        return built;
    };
    std::unique_ptr<SourceStack> stack_owner;
    // A successor keeps trying: the device's IO waits for it and there is no
    // one else to serve it (an outage, or a server that is being fixed).
    for (std::chrono::seconds backoff{1};; backoff = std::min(backoff * 2, std::chrono::seconds(30))) {
        try {
            stack_owner = build();
            break;
        } catch (const std::exception& e) {
            if (!takeover) throw;
            log::error("cannot recover /dev/ublkb%u yet: %s; its IO keeps waiting; retrying in %lld s",
                       takeover->dev_id, e.what(), static_cast<long long>(backoff.count()));
            for (auto waited = std::chrono::milliseconds(0); waited < backoff;
                 waited += std::chrono::milliseconds(100)) {
                if (interrupt.interrupted())
                    throw std::runtime_error("interrupted; /dev/ublkb" + std::to_string(takeover->dev_id) +
                                             " not recovered");
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
    }
    SourceStack& stack = *stack_owner;
    if (!stack.ram_dir().empty()) interrupt.remove_if_cut_short(stack.ram_dir());
    ublk::Control ctrl;
    if (!takeover && o.mode == Mode::Full) download_all(stack, o.connections, [&] { return interrupt.interrupted(); });
    if (interrupt.interrupted()) throw std::runtime_error("interrupted during attach; nothing was attached");
    interrupt.disarm();
    // --profile-record: the device reads through the recorder.
    const std::string profile_id = profile_identity(stack, verity_plan ? verity_plan->root_hash_hex : "");
    ProfileRecording recording;
    if (!o.profile_record.empty() && !takeover) recording = start_profile_recording(stack, profile_id);
    // --profile: read at attach (one request at most), so that what became
    // of it is logged before the device is announced.
    std::vector<uint64_t> profile_chunks;
    // With none named, the one a signed manifest carries (--verity=manifest).
    if (!takeover && stack.cached() && !stack.cached()->complete()) {
        if (!o.profile.empty())
            profile_chunks = load_profile_chunks(uri, o, stack, profile_id);
        else if (verity_plan)
            profile_chunks = manifest_profile_chunks(*verity_plan, stack, profile_id);
    }
    io::Source& served = recording.source ? static_cast<io::Source&>(*recording.source) : stack.top();
    std::unique_ptr<ublk::Device> dev =
        takeover ? ublk::Device::recover(ctrl, takeover->dev_id, served, std::chrono::seconds(30), cfg.io_budget)
                 : ublk::Device::create(ctrl, cfg, served);
    const unsigned id = dev->id();
    const auto started = std::chrono::steady_clock::now();
    nlohmann::json state;
    // What the kernel offers, read at attach (GET_FEATURES), and whether the
    // device uses zero copy (the device's flags: a successor's are its predecessor's).
    nlohmann::json ublk_status = {{"kernel_features", ctrl.features()},
                                  {"kernel_feature_names", ublk::feature_names(ctrl.features())},
                                  {"zero_copy_offered", ublk::zero_copy_offered(ctrl.features())},
                                  {"zero_copy_used", dev->zero_copy()}};
    auto publish = [&] {
        ublk_status["zero_copy_reads"] = dev->zero_copy_reads();
        nlohmann::json extra = {{"recoveries", state.value("recoveries", 0)},
                                {"last_recovery", state.value("last_recovery", nlohmann::json())},
                                {"ublk", ublk_status}};
        nlohmann::json status =
            stack.status(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        status.update(extra);
        write_status(id, dev->block_path(), status);
    };

    // Hand-off needs a table over the device: dm-verity's, or a dm-linear.
    bool handoff = stack.cached() && handoff_wanted(o, verity_plan.has_value());
    const bool linear_top = handoff && !verity_plan;
    std::string ready_path = dev->block_path();
    if (takeover && (verity_plan || linear_top)) {
        // The mapping stayed in place above the device while it waited.
        ready_path = takeover->state.value("verity_device", "");
        if (ready_path.empty() || ::access(ready_path.c_str(), F_OK) != 0)
            log::warn("the dm-verity mapping %s recorded for %s is gone", ready_path.c_str(),
                      dev->block_path().c_str());
    } else if (verity_plan) {
        verity::ActivateOptions va;
        va.data_device = va.hash_device = dev->block_path();
        va.hash_offset = stack.verity_hash_offset();
        va.root_hash_hex = verity_plan->root_hash_hex;
        if (verity_plan->kernel_checks_signature) va.signature = verity_plan->signature;
        va.name = o.name;
        ready_path = verity::activate(va);
    } else if (linear_top) {
        ready_path = create_linear_top(o.name, dev->block_path(), stack.top().size());
    }
    // "verity_device": the mapping on top, dm-verity or the hand-off's dm-linear.
    state = describe_state(o, *dev, stack, (verity_plan || linear_top) ? ready_path : "",
                           verity_plan ? verity_plan->root_hash_hex : "", takeover ? &takeover->state : nullptr);
    write_state(id, state);
    publish();
    if (takeover)
        log::info("recovered %s (recovery %d): serving %s again", dev->block_path().c_str(),
                  state.value("recoveries", 0), stack.top().describe().c_str());
    log::debug("serving %s on %s", stack.top().describe().c_str(), ready_path.c_str());
    stack.keep_cache();
    report.ready(ready_path);
    notify_ready(("serving " + stack.top().describe() + " on " + ready_path).c_str());
    // A successor of a full-mode daemon serves at once and completes the
    // download behind the device, since its IO has been waiting.
    const bool profile_fill = o.mode == Mode::Lazy && !profile_chunks.empty();
    if (o.mode == Mode::Hydrate || (takeover && o.mode == Mode::Full && !stack.cached()->complete()))
        stack.start_hydration(o.connections, o.hydrate_rate, std::move(profile_chunks));
    else if (profile_fill)
        stack.start_profile_fill(o.connections, std::move(profile_chunks));
    bool profile_fill_reported = false;
    // Recording runs for --profile-record-secs from attach or, for a root
    // attached in the initrd, from switch_root.
    auto record_from = std::chrono::steady_clock::now();
    bool record_clock_running = !in_initrd();
    bool hydration_reported = false;
    bool follow_failed_logged = false;

    int status = 0;
    bool force = false;
    const std::string own_mapping = (verity_plan || linear_top) ? o.name : "";
    const std::string block_name = "ublkb" + std::to_string(id);
    pollfd fds[3] = {{sigfd.get(), POLLIN, 0}, {dev->queue_exit_fd(), POLLIN, 0}, {update_fd.get(), POLLIN, 0}};
    // A signal the attach-time watcher took is a stop request like any other.
    bool stop_requested = interrupt.interrupted();
    for (;;) {
        if (stop_requested) {
            std::string users = force ? "" : device_users(block_name, own_mapping);
            if (users.empty()) break;
            log::warn("not stopping %s: %s; `lazyroot detach --force %s` tears it down anyway", ready_path.c_str(),
                      users.c_str(), ready_path.c_str());
            stop_requested = false;
        }
        // Wake every second to publish the status file.
        int n = ::poll(fds, 3, 1000);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        // Once PID 1 has switched root, follow it: the state files, the
        // status and the hand-off's device-mapper live there.
        if (int r = follow_switch_root(); r < 0 && !follow_failed_logged) {
            follow_failed_logged = true;
            log::warn("cannot follow switch_root: %s", std::strerror(-r));
        } else if (r > 0 && !record_clock_running) {
            record_clock_running = true;
            record_from = std::chrono::steady_clock::now();
        }
        if (record_clock_running && recording.recorder && !recording.recorder->stopped() &&
            std::chrono::steady_clock::now() - record_from >= std::chrono::seconds(o.profile_record_secs))
            finish_profile_recording(recording, o.profile_record);
        if (profile_fill && !profile_fill_reported && stack.filler() && stack.filler()->complete()) {
            profile_fill_reported = true;
            log::info("prefetch profile fetched: %llu MiB",
                      static_cast<unsigned long long>(stack.filler()->filled_bytes() >> 20));
        }
        if (!profile_fill && !hydration_reported && stack.filler() && stack.filler()->complete()) {
            hydration_reported = true;
            stack.cached()->store().commit_now();
            log::info("hydration complete: %s no longer needs the network", dev->block_path().c_str());
        }
        if (handoff && stack.cached()->complete()) {
            handoff = false;  // one attempt; a failure keeps serving
            finish_profile_recording(recording, o.profile_record);
            if (hand_off(o.name, *dev, stack, state)) return 0;
        }
        publish();
        if (n == 0) continue;
        if (fds[2].revents) {
            signalfd_siginfo si{};
            if (::read(update_fd.get(), &si, sizeof si) == sizeof si) {
                answer_update_request(id, stack, state);
                answer_profile_stop(id, recording, o.profile_record);
            }
            publish();
        }
        if (fds[0].revents) {
            signalfd_siginfo si{};
            if (::read(sigfd.get(), &si, sizeof si) == sizeof si) {
                force = force || signal_is_force(si);
                stop_requested = true;
            }
            continue;
        }
        if (fds[1].revents) {
            const std::string users = device_users(block_name, own_mapping);
            if (!users.empty() && (dev->info().flags & UBLK_F_USER_RECOVERY)) {
                // Tearing it down would take its users down with it.
                log::error(
                    "a queue of %s stopped serving; %s, so the device is left to a successor "
                    "(lazyroot recover)",
                    ready_path.c_str(), users.c_str());
                stack.shut_down();
                dev->abandon();
                return kExitLeftForRecovery;
            }
            log::error("a queue of %s stopped serving; removing the device", dev->block_path().c_str());
            status = 1;
            break;
        }
    }
    // The mapping sits on the ublk device: it goes first.
    if (verity_plan || linear_top) {
        if (int r = verity_plan ? verity::deactivate(o.name) : remove_top(o.name); r < 0) {
            log::error("cannot remove /dev/mapper/%s: %s", o.name.c_str(), std::strerror(-r));
            status = 1;
        }
    }
    if (dev->stop() < 0) status = 1;
    finish_profile_recording(recording, o.profile_record);
    stack.shut_down();
    remove_state(id);
    return status;
}

// attach-cmdline after the daemon died: the device the earlier one made.
std::optional<unsigned> device_of_kernel_cmdline(ublk::Control& ctrl) {
    for (const auto& j : read_all_states()) {
        if (j.value("origin", "") != "cmdline") continue;
        const unsigned id = j.value("dev_id", 0u);
        ublksrv_ctrl_dev_info info{};
        if (ctrl.get_dev_info(id, info) == 0) return id;
    }
    return std::nullopt;
}

// The options the dead daemon was started with, from its state file.
std::pair<AttachOptions, Takeover> plan_takeover(unsigned id, bool daemon) {
    const std::string dev = "/dev/ublkb" + std::to_string(id);
    auto state = read_state(id);
    if (!state || !state->contains("words"))
        throw std::runtime_error("no record of " + dev + " in " + state_dir() +
                                 ": its source is unknown, so it cannot be recovered");
    std::vector<std::string> words = state->at("words").get<std::vector<std::string>>();
    std::vector<const char*> argv{"lazyroot"};
    for (const auto& w : words) argv.push_back(w.c_str());
    Command cmd = parse_command_line(static_cast<int>(argv.size()), argv.data());
    auto* opts = std::get_if<AttachOptions>(&cmd);
    if (!opts || opts->recover_dev) throw std::runtime_error("the record of " + dev + " is not an attach");
    opts->words = std::move(words);
    opts->daemon = daemon;
    opts->from_kernel_cmdline = state->value("origin", "") == "cmdline";
    // A RAM cache outlives its daemon; the successor uses and owns it.
    opts->adopt_ram_dir = state->value("ram_dir", "");
    return {*opts, Takeover{id, *state}};
}

}  // namespace

std::optional<unsigned> recoverable_cmdline_device() {
    try {
        ublk::Control ctrl;
        return device_of_kernel_cmdline(ctrl);
    } catch (const std::exception&) {
        return std::nullopt;  // no ublk yet: nothing to recover
    }
}

int run_attach(const AttachOptions& requested) {
    const std::optional<unsigned> recover_id = requested.recover_dev;
    std::optional<Takeover> takeover;
    AttachOptions opts = requested;
    if (recover_id) {
        std::tie(opts, takeover) = plan_takeover(*recover_id, requested.daemon);
        // Before anything that may need the network: a hand-off cut short.
        if (finish_handoff_of_dead_daemon(*recover_id, takeover->state)) return 0;
    }

    const Takeover* tk = takeover ? &*takeover : nullptr;

    if (!opts.daemon) {
        ReadyReport report;
        return serve(opts, report, tk);
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
    if (::chdir("/") != 0) { /* "/" always exists; nothing to do */
    }
    ReadyReport report(p[1]);
    int status = 1;
    try {
        status = serve(opts, report, tk);
    } catch (const std::exception& e) {
        report.failed(e.what());
    }
    log::flush();  // _exit skips the atexit hook that writes what queue threads logged last
    ::_exit(status);
}

}  // namespace lazyroot::cli
