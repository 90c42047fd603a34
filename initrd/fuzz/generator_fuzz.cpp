// libFuzzer: the generator as a round trip. A kernel command line is either
// refused (CmdlineError: the error unit, which must itself be well-formed)
// or becomes a unit that, read back the way systemd reads it, is well-formed
// and says what the spec said: Description= holds SOURCE exactly (credentials redacted), ExecStart=
// splits into our argv exactly, and no value added a line of its own.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "initrd/generator.h"
#include "io/redact.h"
#include "tests/unit/systemd_unit.h"

namespace {

using namespace lazyroot::initrd;
namespace t = lazyroot::testing;

void check(bool ok) {
    if (!ok) std::abort();
}

const GeneratedFile& service(const std::vector<GeneratedFile>& files) {
    for (const auto& f : files)
        if (f.path == kServiceName) return f;
    std::abort();
}

bool printable(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    // The first byte picks the ExecStart= form; the rest is /proc/cmdline.
    const bool pinned = data[0] & 1;
    const std::string_view cmdline(reinterpret_cast<const char*>(data + 1), size - 1);

    std::optional<RootSpec> spec;
    try {
        spec = parse_root_spec(cmdline);
    } catch (const CmdlineError& e) {
        check(printable(e.what()));  // printed on the console as one line
        const auto unit = t::parse_unit(service(render_error_units("/usr/bin/lazyroot")).contents);
        check(t::unit_problems(unit).empty());
        return 0;
    }
    if (!spec) return 0;

    const PinnedExec exec{kPinnedExecDir, "ld-linux-x86-64.so.2"};
    std::string root;
    for (const auto& p : split_kernel_cmdline(cmdline))
        if (p.rfind("root=", 0) == 0) root = p.substr(5);
    const auto files = render_units(*spec, root, "/usr/bin/lazyroot", pinned ? &exec : nullptr);
    const auto unit = t::parse_unit(service(files).contents);
    check(t::unit_problems(unit).empty());
    check(t::unescape_specifiers(*unit.one("Unit", "Description")) ==
          "lazyroot: the root image from " + lazyroot::io::redact_url(spec->source));
    const std::vector<std::string> argv =
        pinned ? std::vector<std::string>{"@/run/lazyroot/exec/ld-linux-x86-64.so.2",
                                          "@lazyroot",
                                          "--library-path",
                                          "/run/lazyroot/exec",
                                          "--argv0",
                                          "@lazyroot",
                                          "/run/lazyroot/exec/lazyroot",
                                          "attach-cmdline"}
               : std::vector<std::string>{"@/usr/bin/lazyroot", "@lazyroot", "attach-cmdline"};
    check(t::exec_words(*unit.one("Service", "ExecStart")) == argv);
    // The daemon reads the same spec back from the command line; none of its
    // words can hold a control character.
    for (const auto& a : spec->args) check(printable(a));
    check(printable(spec->source));
    // A drop-in's path stays in the generator's directory.
    for (const auto& f : files) {
        check(printable(f.path) && !f.path.empty() && f.path.front() != '/');
        size_t parts = 0, pos = 0;
        while (pos <= f.path.size()) {
            const size_t slash = std::min(f.path.find('/', pos), f.path.size());
            const std::string_view part(f.path.data() + pos, slash - pos);
            check(!part.empty() && part != "." && part != "..");
            ++parts;
            pos = slash + 1;
        }
        check(parts <= 2);  // a unit, or a unit's drop-in directory and file
        check(t::parse_unit(f.contents).error.empty());
    }
    return 0;
}
