#include "tests/http_fixtures/access_log.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace lazyroot::fixtures {
namespace {

// Splits on spaces; a field starting with '"' runs to the next '"' (nginx
// escapes quotes inside values, so there is no ambiguity).
std::vector<std::string_view> fields(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        if (line[i] == ' ') {
            ++i;
            continue;
        }
        if (line[i] == '"') {
            size_t end = line.find('"', i + 1);
            if (end == std::string_view::npos) return {};
            out.push_back(line.substr(i + 1, end - i - 1));
            i = end + 1;
        } else {
            size_t end = line.find(' ', i);
            if (end == std::string_view::npos) end = line.size();
            out.push_back(line.substr(i, end - i));
            i = end;
        }
    }
    return out;
}

template <typename T>
bool number(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<AccessLogEntry> parse_access_log_line(std::string_view line) {
    auto f = fields(line);
    if (f.size() != 9) return std::nullopt;
    AccessLogEntry e;
    if (!number(f[0], e.connection) || !number(f[1], e.connection_requests) || !number(f[2], e.status) ||
        !number(f[6], e.bytes_sent) || !number(f[7], e.body_bytes_sent))
        return std::nullopt;
    e.method = f[3];
    e.uri = f[4];
    if (f[5] != "-") e.range = f[5];  // nginx logs an absent header as "-"
    e.protocol = f[8];
    return e;
}

std::vector<AccessLogEntry> read_access_log(const std::string& path, unsigned run) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();

    std::vector<AccessLogEntry> out;
    size_t start = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (auto e = parse_access_log_line(std::string_view(text).substr(start, nl - start))) {
            e->run = run;
            out.push_back(std::move(*e));
        }
    }
    return out;
}

}  // namespace lazyroot::fixtures
