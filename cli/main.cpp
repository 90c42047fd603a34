#include <cstdio>
#include <optional>
#include <cstring>
#include <exception>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "cli/commands.h"
#include "cli/handoff.h"
#include "cli/options.h"
#include "cli/profile_stop.h"
#include "cli/root_daemon.h"
#include "initrd/generator.h"
#include "io/log.h"
#include "cli/prepare_compressed.h"
#include "verity/prepare.h"

namespace {

bool invoked_as(const char* argv0, const char* name) {
    const char* slash = std::strrchr(argv0, '/');
    return std::strcmp(slash ? slash + 1 : argv0, name) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace lazyroot;
    // The systemd generator is this binary under another name (see initrd/dracut).
    if (argc > 0 && invoked_as(argv[0], "lazyroot-generator")) return initrd::run_generator(argc, argv);
    try {
        if (argc == 2 && std::strcmp(argv[1], "cmdline") == 0) return initrd::run_cmdline_check();
        // `attach-cmdline`: attach what rd.lazyroot= on the kernel command line asks for.
        std::vector<std::string> from_kernel;
        std::vector<char*> args(argv, argv + argc);
        const bool attach_cmdline = argc == 2 && std::strcmp(argv[1], "attach-cmdline") == 0;
        std::optional<unsigned> recoverable = attach_cmdline ? cli::recoverable_cmdline_device() : std::nullopt;
        if (recoverable) {
            // A restart: everything comes from the state file. The command
            // line's options may name files on the root this device serves,
            // which can't be read while nobody serves it.
            log::info("/dev/ublkb%u from rd.lazyroot= is still there: recovering it", *recoverable);
            cli::AttachOptions r;
            r.recover_dev = recoverable;
            r.from_kernel_cmdline = true;
            cli::become_root_storage_daemon(argv[0]);
            return cli::run_attach(r);
        }
        if (attach_cmdline) {
            if (auto h = cli::cmdline_handoff_record()) {
                // The kernel serves this root from the cache now (a restart
                // after the hand-off): there is nothing to attach.
                const std::string line = h->value("device", "") + " was handed off to " +
                                         h->value("handed_off_to", "") + "; nothing to serve";
                log::info("%s", line.c_str());
                cli::notify_ready(line.c_str());
                return 0;
            }
        }
        if (attach_cmdline) {
            from_kernel = initrd::kernel_attach_arguments();
            args.resize(1);
            for (auto& a : from_kernel) args.push_back(a.data());
            std::string line = "lazyroot";
            for (const auto& a : from_kernel) line += " " + a;
            log::info("rd.lazyroot=: %s", line.c_str());
        }
        cli::Command cmd = cli::parse_command_line(static_cast<int>(args.size()), args.data());
        if (auto* a = std::get_if<cli::AttachOptions>(&cmd)) {
            // Recorded for a restart: with the initrd's files copied to /run
            // (they are gone after switch_root).
            a->words = cli::pin_attach_files({args.begin() + 1, args.end()});
            a->from_kernel_cmdline = !from_kernel.empty();
        }
        // A root daemon restarted after switch_root no longer sees the
        // initrd, but it serves the root all the same (and must not look at
        // the root for /etc/initrd-release first).
        if (auto* a = std::get_if<cli::AttachOptions>(&cmd); a && (a->from_kernel_cmdline || cli::in_initrd()))
            cli::become_root_storage_daemon(argv[0]);
        return std::visit(
            [](auto& c) -> int {
                using T = std::decay_t<decltype(c)>;
                if constexpr (std::is_same_v<T, cli::AttachOptions>) return cli::run_attach(c);
                if constexpr (std::is_same_v<T, cli::DetachOptions>) return cli::run_detach(c);
                if constexpr (std::is_same_v<T, cli::ListOptions>) return cli::run_list(c);
                if constexpr (std::is_same_v<T, cli::StatusOptions>) return cli::run_status(c);
                if constexpr (std::is_same_v<T, cli::UpdateSourceOptions>) return cli::run_update_source(c);
                if constexpr (std::is_same_v<T, cli::ProfileStopOptions>) return cli::run_profile_stop(c);
                if constexpr (std::is_same_v<T, cli::PrepareOptions>) return cli::run_prepare_command(c);
                if constexpr (std::is_same_v<T, cli::HelpRequest>) {
                    std::fputs(c.text.c_str(), stdout);
                    return 0;
                }
            },
            cmd);
    } catch (const cli::UsageError& e) {
        log::error("%s", e.what());
        return 2;
    } catch (const std::exception& e) {
        log::error("%s", e.what());
        return 1;
    }
}
