#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lazyroot::initrd {

// What `rd.lazyroot=SOURCE[,key=value|flag…]` on the kernel command line asks
// for, as the arguments of `lazyroot attach`.
struct RootSpec {
    std::string source;
    bool bootorigin = false;        // SOURCE is relative to the UEFI HTTP boot URL
    std::vector<std::string> args;  // "--mode=full", "--mirror=…", "--insecure", …
};

struct CmdlineError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Splits a kernel command line into parameters the way the kernel does:
// spaces separate, double quotes group (and are removed).
std::vector<std::string> split_kernel_cmdline(std::string_view cmdline);

// The rd.lazyroot= parameter of `cmdline`, parsed; nullopt when there is none
// (the last one counts, as for other rd.* options). Throws CmdlineError with a
// one-line reason for a malformed or unknown option, a control character
// anywhere in the value (quotes let one in), or a SOURCE that is not
// printable ASCII without blanks and backslashes (it goes into the unit file).
std::optional<RootSpec> parse_root_spec(std::string_view cmdline);

}  // namespace lazyroot::initrd
