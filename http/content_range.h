#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace lazyroot::http {

// "Content-Range: bytes FIRST-LAST/SIZE" or "bytes */SIZE" (RFC 9110 §14.4).
struct ContentRange {
    bool unsatisfied = false;  // "bytes */SIZE"
    uint64_t first = 0;
    uint64_t last = 0;             // inclusive
    std::optional<uint64_t> size;  // absent for "/*"
};

// Parses the header's value (without the name). nullopt on anything malformed.
std::optional<ContentRange> parse_content_range(std::string_view value);

// The value of a header line "Name: value\r\n" if its name is `name`
// (case-insensitive), trimmed; nullopt otherwise.
std::optional<std::string_view> header_value(std::string_view line, std::string_view name);

// "HTTP/1.1 206 Partial Content" -> 206; nullopt if not a status line.
std::optional<int> parse_status_line(std::string_view line);

}  // namespace lazyroot::http
