#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The bits of HTTP/1.1 request parsing FaultServer needs (RFC 9110/9112),
// kept apart so the server file is only about connections and faults.
namespace lazyroot::fixtures {

struct HttpRequest {
    std::string method;
    std::string target;                                        // as sent, with any query
    std::string version;                                       // "HTTP/1.1"
    std::vector<std::pair<std::string, std::string>> headers;  // values trimmed

    // First header with this name (case-insensitive), or nullptr.
    const std::string* header(std::string_view name) const;
    // The path part of the target (before '?').
    std::string_view path() const;
    // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
    bool keep_alive() const;
    // Content-Length of a request body, 0 when absent; nullopt when invalid.
    std::optional<uint64_t> content_length() const;
};

// Parses a request head: request line and headers, up to (not including) the
// blank line. nullopt when malformed.
std::optional<HttpRequest> parse_request_head(std::string_view head);

struct ByteRange {
    uint64_t first = 0;
    uint64_t last = 0;  // inclusive
    uint64_t length() const { return last - first + 1; }
};

struct RangeDecision {
    enum Kind {
        Ignore,         // no Range, or one the server may ignore (bad syntax, several ranges): 200
        Satisfiable,    // 206 with `range`
        Unsatisfiable,  // 416
    } kind = Ignore;
    ByteRange range;
};

// Resolves one "bytes=a-b", "bytes=a-" or "bytes=-n" against a resource of
// `size` bytes, clamping the end as RFC 9110 14.1.2 says.
RangeDecision resolve_range(std::string_view range_header, uint64_t size);

// If-Match: true for "*" or when the list holds `etag` (strong comparison:
// weak tags never match).
bool if_match_passes(std::string_view if_match, std::string_view etag);

// If-Range: true when the value is `etag` (strong comparison) or exactly
// `last_modified`.
bool if_range_passes(std::string_view if_range, std::string_view etag, std::string_view last_modified);

// RFC 9110 IMF-fixdate for a time_t, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(int64_t unix_seconds);

}  // namespace lazyroot::fixtures
