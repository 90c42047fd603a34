#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "initrd/cmdline.h"
#include "initrd/pinned_exec.h"

namespace lazyroot::initrd {

// What the systemd generator writes into its output directory.
struct GeneratedFile {
    std::string path;      // relative to the generator's output directory
    std::string contents;  // file text; empty with `link_to` set
    std::string link_to;   // non-empty: a symlink to this target instead
};

inline constexpr const char* kServiceName = "lazyroot.service";
// With profile=record or profile-record=: `lazyroot profile stop` once the
// real root reaches multi-user.target.
inline constexpr const char* kProfileStopName = "lazyroot-profile-stop.service";

// A copy of lazyroot made by pin_executable(): DIR and its loader's file name.
struct PinnedExec {
    std::string dir;
    std::string loader;
};

// The units for one rd.lazyroot= request. `root` is the kernel's root=
// (may be empty); `binary` the lazyroot executable inside the initrd, run
// when there is no `exec` copy (else the copy is). The service runs
// `lazyroot attach-cmdline`, which reads rd.lazyroot= itself: no quoting of
// URLs through unit files, and bootorigin resolves at start.
std::vector<GeneratedFile> render_units(const RootSpec& spec, std::string_view root, std::string_view binary,
                                        const PinnedExec* exec = nullptr);

// The units for a malformed rd.lazyroot=: a service that prints `why` on the
// console (through `lazyroot cmdline`) and sends the boot to the emergency target.
std::vector<GeneratedFile> render_error_units(std::string_view binary);

// systemd's unit name for a device path: /dev/mapper/x-y -> dev-mapper-x\x2dy.device
std::string device_unit_name(std::string_view dev_path);

// The attach command line (without argv[0]) that `spec` stands for, with a
// bootorigin SOURCE resolved against `boot_url`, and --io-timeout=infinity
// unless the spec names an io-timeout. Throws CmdlineError.
std::vector<std::string> attach_arguments(const RootSpec& spec, const std::string& boot_url);

// attach_arguments() for this boot: /proc/cmdline, and efivarfs for
// bootorigin. Throws CmdlineError (also when there is no rd.lazyroot=).
std::vector<std::string> kernel_attach_arguments();

// systemd generator entry point: lazyroot-generator NORMAL_DIR [EARLY_DIR LATE_DIR].
// Reads /proc/cmdline (and efivarfs for bootorigin). Returns the exit status.
int run_generator(int argc, char** argv);

// `lazyroot cmdline`: prints the attach command rd.lazyroot= stands for, or
// the reason it is malformed (exit 1).
int run_cmdline_check();

}  // namespace lazyroot::initrd
