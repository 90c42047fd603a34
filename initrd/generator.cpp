#include "initrd/generator.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <vector>

#include "initrd/boot_origin.h"
#include "io/redact.h"

namespace lazyroot::initrd {
namespace {

// Modules first, network up, then the device before the root can mount.
// IgnoreOnIsolate keeps the service through initrd-switch-root.target's
// isolate, and no Conflicts=shutdown.target keeps it through shutdown: it
// serves the root until systemd-shutdown remounts it read-only and halts.
// The daemon marks itself argv[0][0]='@' so the killing sprees pass it by.
// No Condition*=: a restart after switch_root checks them again, and must
// neither fail them nor read the root (dead then) to evaluate them.
// A daemon that dies is restarted, through the recovery path (attach-cmdline
// takes over the device the state file in /run/lazyroot names), however often
// (StartLimitIntervalSec=0); exit status 1 or 2 is a start that failed for a
// reason given on the console, which goes to the emergency target instead;
// exit status 0 is a hand-off (the kernel serves the root from the cache now).
// A manual stop is refused; a stop that comes anyway never ends in SIGKILL.
constexpr const char* kServiceHead = R"([Unit]
Description=lazyroot: the root image from %s
Documentation=https://github.com/lazyroot/lazyroot#kernel-command-line
DefaultDependencies=no
Wants=network-online.target
After=network-online.target systemd-modules-load.service
Before=initrd-root-device.target
IgnoreOnIsolate=yes
RefuseManualStop=yes
StartLimitIntervalSec=0
SurviveFinalKillSignal=yes
OnFailure=emergency.target
OnFailureJobMode=replace-irreversibly

[Service]
TimeoutStartSec=infinity
OOMScoreAdjust=-1000
SendSIGKILL=no
StandardOutput=journal+console
StandardError=journal+console
SyslogIdentifier=lazyroot
)";

// The daemon's (not the error unit's: Type=oneshot takes no Restart=always).
constexpr const char* kDaemonService =
    "Type=notify\nNotifyAccess=main\nRestart=always\nRestartSec=500ms\nRestartPreventExitStatus=0 1 2\n";

// The only value from the command line in a unit is SOURCE, in Description=:
// parse_root_spec admits printable ASCII without blanks or backslashes there
// (nothing that ends the line, continues it or is stripped), and '%' starts a
// specifier, so it is doubled. ExecStart= and Environment= hold our paths only.
std::string format_head(std::string_view source) {
    std::string s;
    for (char c : source) {
        if (c == '%') s += '%';
        s += c;
    }
    std::string out(std::strlen(kServiceHead) + s.size(), '\0');
    int n = std::snprintf(out.data(), out.size() + 1, kServiceHead, s.c_str());
    out.resize(static_cast<size_t>(n));
    return out;
}

// A boot's profile covers the boot: recording ends once the real root's
// multi-user.target is reached (or after profile-record-secs, whichever comes
// first). It lives in /run/systemd/system, carried across switch_root; in the
// initrd nothing pulls multi-user.target in, and the condition keeps it out.
constexpr const char* kProfileStopUnit = R"([Unit]
Description=lazyroot: end the boot's prefetch profile recording
DefaultDependencies=no
After=multi-user.target
ConditionPathExists=!/etc/initrd-release

[Service]
Type=oneshot
StandardOutput=journal+console
StandardError=journal+console
SyslogIdentifier=lazyroot
)";

bool records_profile(const RootSpec& spec) {
    return std::any_of(spec.args.begin(), spec.args.end(), [](const std::string& a) {
        return a == "--profile=record" || a.rfind("--profile-record=", 0) == 0;
    });
}

GeneratedFile wanted_by(std::string_view target) {
    return {std::string(target) + ".wants/" + kServiceName, "", std::string("../") + kServiceName};
}

}  // namespace

std::string device_unit_name(std::string_view dev_path) {
    while (dev_path.size() > 1 && dev_path.front() == '/') dev_path.remove_prefix(1);
    while (dev_path.size() > 1 && dev_path.back() == '/') dev_path.remove_suffix(1);
    std::string out;
    for (size_t i = 0; i < dev_path.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(dev_path[i]);
        if (c == '/') {
            out += '-';
        } else if (std::isalnum(c) || c == '_' || c == ':' || (c == '.' && i != 0)) {
            out += static_cast<char>(c);
        } else {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out + ".device";
}

std::vector<std::string> attach_arguments(const RootSpec& spec, const std::string& boot_url) {
    std::string source = spec.source;
    if (spec.bootorigin) {
        if (boot_url.empty()) throw CmdlineError("rd.lazyroot=: bootorigin is set but the firmware gave no boot URL");
        auto resolved = resolve_boot_origin(boot_url, spec.source);
        if (!resolved) throw CmdlineError("rd.lazyroot=: cannot resolve " + spec.source + " against " + boot_url);
        source = *resolved;
    }
    std::vector<std::string> args{"attach", source};
    args.insert(args.end(), spec.args.begin(), spec.args.end());
    // A root device waits out network outages rather than failing reads
    // (the kernel's own NVMe/TCP root waits too), unless io-timeout= says otherwise.
    const bool timeout_given = std::any_of(spec.args.begin(), spec.args.end(),
                                           [](const std::string& a) { return a.rfind("--io-timeout=", 0) == 0; });
    if (!timeout_given) args.push_back("--io-timeout=infinity");
    return args;
}

std::vector<GeneratedFile> render_units(const RootSpec& spec, std::string_view root, std::string_view binary,
                                        const PinnedExec* exec) {
    // The unit is world-readable: credentials in the URL stay out of it.
    std::string unit = format_head(io::redact_url(spec.source)) + kDaemonService;
    // argv[0] "@lazyroot": excluded from the switch_root and shutdown killing sprees.
    if (exec) {
        unit += "Environment=OPENSSL_CONF=" + exec->dir + "/openssl.cnf\n";
        unit += "ExecStart=" + pinned_exec_command(exec->dir, exec->loader, "@lazyroot", "attach-cmdline") + "\n";
    } else {
        unit += "ExecStart=@" + std::string(binary) + " @lazyroot attach-cmdline\n";
    }

    std::vector<GeneratedFile> files{{kServiceName, unit, ""}, wanted_by("initrd-root-device.target")};
    if (records_profile(spec)) {
        const std::string stop = exec ? pinned_exec_command(exec->dir, exec->loader, "lazyroot", "profile stop")
                                      : std::string(binary) + " profile stop";
        files.push_back({kProfileStopName, std::string(kProfileStopUnit) + "ExecStart=" + stop + "\n", ""});
        files.push_back(
            {std::string("multi-user.target.wants/") + kProfileStopName, "", std::string("../") + kProfileStopName});
    }
    // The root device appears only once the daemon is serving (after the whole
    // download in full mode): wait for it as long as the service is starting.
    if (root.rfind("/dev/", 0) == 0) {
        files.push_back(
            {device_unit_name(root) + ".d/50-lazyroot.conf", "[Unit]\nJobRunningTimeoutSec=infinity\n", ""});
    }
    return files;
}

std::vector<GeneratedFile> render_error_units(std::string_view binary) {
    std::string unit = format_head("the kernel command line (malformed rd.lazyroot=)");
    unit += "Type=oneshot\nExecStart=" + std::string(binary) + " cmdline\n";
    return {{kServiceName, unit, ""}, wanted_by("initrd-root-device.target")};
}

namespace {

std::string read_text(const char* path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int write_file(const std::string& dir, const GeneratedFile& f) {
    const std::string path = dir + "/" + f.path;
    const std::string parent = path.substr(0, path.rfind('/'));
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) return -errno;
    if (!f.link_to.empty()) {
        ::unlink(path.c_str());
        return ::symlink(f.link_to.c_str(), path.c_str()) == 0 ? 0 : -errno;
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "# Written by lazyroot-generator from rd.lazyroot= on the kernel command line.\n" << f.contents;
    out.close();
    return out ? 0 : -EIO;
}

constexpr const char* kPersistentUnitDir = "/run/systemd/system";

std::optional<std::string> root_parameter(std::string_view cmdline) {
    std::optional<std::string> root;
    for (const auto& p : split_kernel_cmdline(cmdline))
        if (p.rfind("root=", 0) == 0) root = p.substr(5);
    return root;
}

}  // namespace

int run_generator(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "lazyroot: error: usage: lazyroot-generator NORMAL_DIR [EARLY_DIR LATE_DIR]\n");
        return 1;
    }
    // Only in the initrd: after switch_root the daemon is already running.
    if (::access("/etc/initrd-release", F_OK) != 0) return 0;
    const std::string cmdline = read_text("/proc/cmdline");
    const char* binary = "/usr/bin/lazyroot";
    std::vector<GeneratedFile> files;
    try {
        auto spec = parse_root_spec(cmdline);
        if (!spec) return 0;
        // The daemon runs from a copy in /run from its first start on, so
        // that a restart after switch_root finds it there. The generator is
        // the same binary, loaded the same way: its copy is the daemon's.
        std::string why;
        PinnedExec exec{kPinnedExecDir, pin_executable(kPinnedExecDir, why)};
        if (exec.loader.empty())
            std::fprintf(
                stderr,
                "lazyroot: warning: generator: %s; a restart after switch_root will load lazyroot from the root\n",
                why.c_str());
        files =
            render_units(*spec, root_parameter(cmdline).value_or(""), binary, exec.loader.empty() ? nullptr : &exec);
    } catch (const CmdlineError&) {
        files = render_error_units(binary);
    }
    for (const auto& f : files) {
        // The real root's systemd re-runs generators (without this one) and
        // would find the running service without a unit file, so without
        // IgnoreOnIsolate= its isolate would stop the root's daemon. A copy
        // in /run/systemd/system (carried across switch_root) keeps it known.
        std::vector<std::string> dirs{argv[1]};
        if (f.path == kServiceName) dirs.push_back(kPersistentUnitDir);
        // Only for the real root: there, this generator does not run again.
        if (f.path.find(kProfileStopName) != std::string::npos) dirs = {kPersistentUnitDir};
        for (const auto& dir : dirs) {
            if (int r = write_file(dir, f); r < 0) {
                std::fprintf(stderr, "lazyroot: error: generator: cannot write %s/%s: %s\n", dir.c_str(),
                             f.path.c_str(), std::strerror(-r));
                return 1;
            }
        }
    }
    return 0;
}

std::vector<std::string> kernel_attach_arguments() {
    auto spec = parse_root_spec(read_text("/proc/cmdline"));
    if (!spec) throw CmdlineError("no rd.lazyroot= on the kernel command line");
    if (!spec->bootorigin) return attach_arguments(*spec, "");
    const BootUrl boot = find_boot_url_efivarfs();
    if (boot.url.empty())
        throw CmdlineError("rd.lazyroot=: bootorigin: the firmware gave no boot URL to resolve " + spec->source +
                           " against: " + boot.why);
    std::fprintf(stderr, "lazyroot: boot URL %s (from %s)\n", io::redact_url(boot.url).c_str(), boot.from.c_str());
    return attach_arguments(*spec, boot.url);
}

int run_cmdline_check() {
    try {
        std::string line = "lazyroot";
        for (const auto& a : kernel_attach_arguments()) line += " " + a;
        std::printf("%s\n", line.c_str());
        return 0;
    } catch (const CmdlineError& e) {
        std::fprintf(stderr, "lazyroot: error: %s\n", io::redact_urls(e.what()).c_str());
        return 1;
    }
}

}  // namespace lazyroot::initrd
