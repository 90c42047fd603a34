#include "http/content_range.h"

#include "io/ascii.h"

#include <cctype>
#include <charconv>

namespace lazyroot::http {
namespace {

using io::iequals;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

// Digits only: from_chars alone would accept a leading '-' for signed types
// and we must not accept "+5" or " 5" either.
std::optional<uint64_t> parse_u64(std::string_view s) {
    if (s.empty() || s.size() > 19) return std::nullopt;
    for (char c : s)
        if (c < '0' || c > '9') return std::nullopt;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

std::optional<ContentRange> parse_content_range(std::string_view value) {
    value = trim(value);
    constexpr std::string_view unit = "bytes ";
    if (value.size() < unit.size() || !iequals(value.substr(0, unit.size()), unit)) return std::nullopt;
    value.remove_prefix(unit.size());
    value = trim(value);
    size_t slash = value.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    std::string_view range = value.substr(0, slash);
    std::string_view total = value.substr(slash + 1);

    ContentRange cr;
    if (total != "*") {
        cr.size = parse_u64(total);
        if (!cr.size) return std::nullopt;
    }
    if (range == "*") {
        if (!cr.size) return std::nullopt;  // "*/*" says nothing
        cr.unsatisfied = true;
        return cr;
    }
    size_t dash = range.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto first = parse_u64(range.substr(0, dash));
    auto last = parse_u64(range.substr(dash + 1));
    if (!first || !last || *last < *first) return std::nullopt;
    if (cr.size && *last >= *cr.size) return std::nullopt;
    cr.first = *first;
    cr.last = *last;
    return cr;
}

std::optional<std::string_view> header_value(std::string_view line, std::string_view name) {
    if (line.size() <= name.size() || line[name.size()] != ':') return std::nullopt;
    if (!iequals(line.substr(0, name.size()), name)) return std::nullopt;
    return trim(line.substr(name.size() + 1));
}

std::optional<int> parse_status_line(std::string_view line) {
    if (line.substr(0, 5) != "HTTP/") return std::nullopt;
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos || line.size() < sp + 4) return std::nullopt;
    auto code = parse_u64(line.substr(sp + 1, 3));
    if (!code || *code < 100 || *code > 999) return std::nullopt;
    if (line.size() > sp + 4 && line[sp + 4] != ' ' && line[sp + 4] != '\r') return std::nullopt;
    return static_cast<int>(*code);
}

}  // namespace lazyroot::http
