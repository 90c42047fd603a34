#include "tests/http_fixtures/http_parse.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <strings.h>

namespace lazyroot::fixtures {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// A digits-only number (no sign, no spaces); nullopt otherwise or on overflow.
std::optional<uint64_t> parse_u64(std::string_view s) {
    if (s.empty()) return std::nullopt;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// Whether `list` (comma-separated entity tags) holds `etag` under strong comparison.
bool list_has_strong(std::string_view list, std::string_view etag) {
    if (etag.starts_with("W/")) return false;
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view item = trim(list.substr(0, comma));
        if (item == etag) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return &v;
    return nullptr;
}

std::string_view HttpRequest::path() const {
    std::string_view t = target;
    return t.substr(0, t.find('?'));
}

bool HttpRequest::keep_alive() const {
    const std::string* c = header("Connection");
    if (version == "HTTP/1.0") return c && iequals(trim(*c), "keep-alive");
    return !(c && iequals(trim(*c), "close"));
}

std::optional<uint64_t> HttpRequest::content_length() const {
    const std::string* cl = header("Content-Length");
    if (!cl) return 0;
    return parse_u64(*cl);
}

std::optional<HttpRequest> parse_request_head(std::string_view head) {
    HttpRequest req;
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return std::nullopt;
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    req.version = line.substr(sp2 + 1);
    if (req.method.empty() || req.target.empty() || !req.version.starts_with("HTTP/1.")) return std::nullopt;

    while (eol != std::string_view::npos) {
        head.remove_prefix(eol + 2);
        eol = head.find("\r\n");
        line = head.substr(0, eol);
        if (line.empty()) break;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return std::nullopt;
        req.headers.emplace_back(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
    }
    return req;
}

RangeDecision resolve_range(std::string_view header, uint64_t size) {
    RangeDecision d;
    header = trim(header);
    if (header.size() < 6 || !iequals(header.substr(0, 6), "bytes=")) return d;
    std::string_view spec = trim(header.substr(6));
    if (spec.find(',') != std::string_view::npos) return d;  // several ranges: send it all
    size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return d;
    std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));

    if (a.empty()) {  // suffix: the last n bytes
        auto n = parse_u64(b);
        if (!n) return d;
        if (*n == 0 || size == 0) {
            d.kind = RangeDecision::Unsatisfiable;
            return d;
        }
        d.kind = RangeDecision::Satisfiable;
        d.range = {size - std::min(*n, size), size - 1};
        return d;
    }
    auto first = parse_u64(a);
    if (!first) return d;
    std::optional<uint64_t> last = size == 0 ? 0 : size - 1;
    if (!b.empty()) {
        last = parse_u64(b);
        if (!last || *last < *first) return d;  // invalid: ignored, not 416
    }
    if (*first >= size) {
        d.kind = RangeDecision::Unsatisfiable;
        return d;
    }
    d.kind = RangeDecision::Satisfiable;
    d.range = {*first, std::min(*last, size - 1)};
    return d;
}

bool if_match_passes(std::string_view if_match, std::string_view etag) {
    if (trim(if_match) == "*") return true;
    return list_has_strong(if_match, etag);
}

bool if_range_passes(std::string_view if_range, std::string_view etag, std::string_view last_modified) {
    if_range = trim(if_range);
    if (if_range.starts_with("\"")) return !etag.starts_with("W/") && if_range == etag;
    if (if_range.starts_with("W/")) return false;  // weak tags never validate a range
    return if_range == last_modified;
}

std::string http_date(int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[64];
    // Names spelled out: strftime's %a and %b follow the locale.
    static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                  months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

}  // namespace lazyroot::fixtures
