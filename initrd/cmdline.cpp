#include "initrd/cmdline.h"

#include <algorithm>
#include <array>

namespace lazyroot::initrd {
namespace {

// Options that take a value, named as on the lazyroot attach command line.
constexpr std::array kValued = {"mode",
                                "cache",
                                "chunk-size",
                                "hydrate-rate",
                                "verity",
                                "hash-source",
                                "hash-offset",
                                "trust",
                                "mirror",
                                "name",
                                "connections",
                                "max-connections",
                                "io-timeout",
                                "readahead",
                                "zero-copy",
                                "memory-budget",
                                "coalesce",
                                "queues",
                                "depth",
                                "ca",
                                "cert",
                                "key",
                                "hostnqn",
                                "nvme-transport",
                                "resolve",
                                "header-file",
                                "s3-endpoint",
                                "s3-region",
                                "s3-credentials",
                                "http-version",
                                "profile",
                                "profile-record",
                                "profile-record-secs"};
constexpr std::array kFlags = {"insecure", "verity-sig-keyring"};

bool is_one_of(std::string_view s, const auto& list) { return std::find(list.begin(), list.end(), s) != list.end(); }

std::string byte_hex(unsigned char c) {
    static constexpr char kHex[] = "0123456789abcdef";
    return std::string("0x") + kHex[c >> 4] + kHex[c & 15];
}

}  // namespace

std::vector<std::string> split_kernel_cmdline(std::string_view cmdline) {
    std::vector<std::string> out;
    std::string cur;
    bool in_quotes = false, have = false;
    for (char c : cmdline) {
        if (c == '"') {
            in_quotes = !in_quotes;
            have = true;
            continue;
        }
        if (!in_quotes && (c == ' ' || c == '\t' || c == '\n')) {
            if (have) out.push_back(cur);
            cur.clear();
            have = false;
            continue;
        }
        cur.push_back(c);
        have = true;
    }
    if (have) out.push_back(cur);
    return out;
}

std::optional<RootSpec> parse_root_spec(std::string_view cmdline) {
    constexpr std::string_view key = "rd.lazyroot=";
    std::optional<std::string> value;
    for (const auto& p : split_kernel_cmdline(cmdline))
        if (p.rfind(key, 0) == 0) value = p.substr(key.size());
    if (!value) return std::nullopt;
    // A quoted value may hold anything. Control characters (a newline above
    // all) would end up in the generated unit, the journal and the console:
    // refuse them before any of the value is printed back.
    for (unsigned char c : *value)
        if (c < 0x20 || c == 0x7f)
            throw CmdlineError("rd.lazyroot=: a control character (byte " + byte_hex(c) + ") in the value");

    RootSpec spec;
    std::string_view rest = *value;
    const size_t comma = rest.find(',');
    spec.source = std::string(rest.substr(0, comma));
    if (spec.source.empty()) throw CmdlineError("rd.lazyroot=: the image SOURCE is missing");
    // SOURCE is written into the unit's Description=, where a trailing
    // backslash continues the line and trailing blanks are dropped; a URL has
    // neither, nor bytes outside printable ASCII (it percent-encodes them).
    for (unsigned char c : spec.source)
        if (c <= 0x20 || c >= 0x7f || c == '\\')
            throw CmdlineError("rd.lazyroot=: SOURCE holds byte " + byte_hex(c) +
                               " (a URL is printable ASCII without spaces or backslashes: percent-encode it)");
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);

    while (!rest.empty()) {
        const size_t next = rest.find(',');
        std::string_view item = rest.substr(0, next);
        rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
        if (item.empty()) throw CmdlineError("rd.lazyroot=: empty option (two commas in a row?)");
        const size_t eq = item.find('=');
        const std::string_view name = item.substr(0, eq);
        if (eq == std::string_view::npos) {
            if (name == "bootorigin") {
                spec.bootorigin = true;
            } else if (name == "handoff") {
                spec.args.push_back("--handoff=yes");
            } else if (is_one_of(name, kFlags)) {
                spec.args.push_back("--" + std::string(name));
            } else if (is_one_of(name, kValued)) {
                throw CmdlineError("rd.lazyroot=: " + std::string(name) + " needs a value (" + std::string(name) +
                                   "=…)");
            } else {
                throw CmdlineError("rd.lazyroot=: unknown option " + std::string(name));
            }
            continue;
        }
        const std::string_view val = item.substr(eq + 1);
        if (name == "handoff") {
            // handoff, handoff=yes or handoff=no (each mode has its default).
            if (val != "yes" && val != "no") throw CmdlineError("rd.lazyroot=: handoff= takes yes or no");
            spec.args.push_back("--handoff=" + std::string(val));
            continue;
        }
        if (!is_one_of(name, kValued)) {
            if (is_one_of(name, kFlags) || name == "bootorigin")
                throw CmdlineError("rd.lazyroot=: " + std::string(name) + " takes no value");
            throw CmdlineError("rd.lazyroot=: unknown option " + std::string(name));
        }
        if (val.empty()) throw CmdlineError("rd.lazyroot=: " + std::string(name) + "= has no value");
        spec.args.push_back("--" + std::string(name) + "=" + std::string(val));
    }
    const bool absolute = spec.source.find("://") != std::string::npos;
    if (spec.bootorigin && absolute)
        throw CmdlineError("rd.lazyroot=: bootorigin needs a relative SOURCE, not " + spec.source);
    if (!spec.bootorigin && !absolute)
        throw CmdlineError("rd.lazyroot=: SOURCE must be a URL (or add bootorigin): " + spec.source);
    return spec;
}

}  // namespace lazyroot::initrd
