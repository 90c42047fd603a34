#include "nvmetcp/target_uri.h"

#include "nvmetcp/host_identity.h"

#include <charconv>
#include <stdexcept>

namespace lazyroot::nvmetcp {
namespace {

[[noreturn]] void bad(std::string text, const std::string& why) {
    for (char& c : text)  // one line, whatever the URL holds
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    throw std::invalid_argument("bad nvme+tcp SOURCE " + text + ": " + why +
                                " (expected nvme+tcp://HOST[:PORT]/SUBSYSNQN[?nsid=N&digest=header,data])");
}

template <typename T>
bool to_uint(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

TargetUri parse_target_uri(const std::string& text) {
    constexpr std::string_view scheme = "nvme+tcp://";
    if (text.rfind(scheme, 0) != 0) bad(text, "not an nvme+tcp:// URL");
    TargetUri u;
    u.text = text;
    std::string_view rest = std::string_view(text).substr(scheme.size());
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) bad(text, "no subsystem NQN");
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = rest.substr(slash + 1);
    std::string_view query;
    if (size_t q = path.find('?'); q != std::string_view::npos) {
        query = path.substr(q + 1);
        path = path.substr(0, q);
    }
    bool have_port = false;
    std::string_view port;
    if (!authority.empty() && authority[0] == '[') {
        const size_t close = authority.find(']');
        if (close == std::string_view::npos) bad(text, "unterminated [IPv6 address]");
        u.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') bad(text, "junk after ]");
            port = after.substr(1);
            have_port = true;
        }
    } else {
        const size_t colon = authority.rfind(':');
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            have_port = true;
            authority = authority.substr(0, colon);
        }
        u.host = std::string(authority);
    }
    if (u.host.empty()) bad(text, "no host");
    if (have_port) {
        unsigned p = 0;
        if (!to_uint(port, p) || p == 0 || p > 65535) bad(text, "bad port '" + std::string(port) + "'");
        u.port = static_cast<uint16_t>(p);
    }
    if (path.empty()) bad(text, "no subsystem NQN");
    if (path.size() > 223) bad(text, "the NQN is longer than 223 bytes");
    if (path.rfind("nqn.", 0) != 0) bad(text, "the subsystem NQN must start with 'nqn.'");
    u.subnqn = std::string(path);
    try {
        check_nqn(u.subnqn, "subsystem NQN");
    } catch (const std::invalid_argument& e) {
        bad(text, e.what());
    }

    while (!query.empty()) {
        const size_t amp = query.find('&');
        std::string_view kv = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const size_t eq = kv.find('=');
        std::string_view key = kv.substr(0, eq);
        std::string_view val = eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1);
        if (key == "nsid") {
            if (!to_uint(val, u.nsid) || u.nsid == 0 || u.nsid == 0xffffffffu)
                bad(text, "bad nsid '" + std::string(val) + "'");
        } else if (key == "digest") {
            // '+' too: rd.lazyroot= values cannot hold commas.
            while (!val.empty()) {
                const size_t comma = val.find_first_of(",+");
                std::string_view d = val.substr(0, comma);
                val = comma == std::string_view::npos ? std::string_view() : val.substr(comma + 1);
                if (d == "header")
                    u.digests.header = true;
                else if (d == "data")
                    u.digests.data = true;
                else if (d == "none") {
                } else
                    bad(text, "unknown digest '" + std::string(d) + "' (header, data or none, joined by , or +)");
            }
        } else if (key == "discover") {
            if (eq != std::string_view::npos) bad(text, "discover takes no value");
            u.discover = true;
        } else {
            bad(text, "unknown parameter '" + std::string(key) + "'");
        }
    }
    if (u.subnqn == kDiscoveryNqn) u.discover = true;
    if (!have_port && u.discover) u.port = kDiscoveryPort;
    return u;
}

}  // namespace lazyroot::nvmetcp
