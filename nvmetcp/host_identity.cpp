#include "nvmetcp/host_identity.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>

namespace lazyroot::nvmetcp {
namespace {

std::string first_line(const char* path) {
    std::ifstream f(path);
    std::string line;
    if (f) std::getline(f, line);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) line.pop_back();
    return line;
}

std::optional<std::array<uint8_t, 16>> parse_uuid(const std::string& s) {
    std::array<uint8_t, 16> out{};
    size_t n = 0;
    for (size_t i = 0; i < s.size() && n < 32; ++i) {
        const char c = s[i];
        if (c == '-') continue;
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return std::nullopt;
        out[n / 2] = static_cast<uint8_t>(out[n / 2] | (v << (n % 2 ? 0 : 4)));
        ++n;
    }
    if (n != 32) return std::nullopt;
    return out;
}

std::string format_uuid(const std::array<uint8_t, 16>& u) {
    char b[37];
    std::snprintf(b, sizeof b, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
                  u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    return b;
}

}  // namespace

void check_nqn(const std::string& nqn, const char* what) {
    // Printed before it is checked: keep the message one line.
    auto shown = [&] {
        std::string s;
        for (unsigned char c : nqn) s += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
        return s;
    };
    if (nqn.empty() || nqn.size() > 223 || nqn.rfind("nqn.", 0) != 0)
        throw std::invalid_argument(std::string(what) + ": not an NQN (nqn.…, at most 223 bytes): " + shown());
    // The kernel transport writes it into the comma-separated key=value line
    // of /dev/nvme-fabrics, which also splits at newlines: any of these would
    // add options of the NQN's choosing. No NQN form uses them.
    for (unsigned char c : nqn)
        if (c < 0x20 || c == 0x7f || c == ',' || c == '=')
            throw std::invalid_argument(std::string(what) +
                                        ": a comma, '=' or control character in the NQN: " + shown());
}

HostIdentity host_identity(const std::string& hostnqn) {
    HostIdentity h;
    h.hostnqn = hostnqn.empty() ? first_line("/etc/nvme/hostnqn") : hostnqn;
    std::optional<std::array<uint8_t, 16>> id = parse_uuid(first_line("/etc/nvme/hostid"));
    if (!id) {
        const auto pos = h.hostnqn.find(":uuid:");
        if (pos != std::string::npos) id = parse_uuid(h.hostnqn.substr(pos + 6));
    }
    if (!id) {
        std::array<uint8_t, 16> r{};
        // An identifier, not a secret: never wait for the CRNG early in boot.
        ssize_t n = ::getrandom(r.data(), r.size(), GRND_INSECURE);
        if (n < 0 && errno == EINVAL) n = ::getrandom(r.data(), r.size(), GRND_NONBLOCK);
        if (n != static_cast<ssize_t>(r.size())) throw std::runtime_error("getrandom failed for the host ID");
        r[6] = static_cast<uint8_t>((r[6] & 0x0f) | 0x40);  // version 4
        r[8] = static_cast<uint8_t>((r[8] & 0x3f) | 0x80);  // RFC 4122 variant
        id = r;
    }
    h.hostid = *id;
    if (h.hostnqn.empty()) h.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:" + format_uuid(h.hostid);
    check_nqn(h.hostnqn, "host NQN");
    return h;
}

}  // namespace lazyroot::nvmetcp
