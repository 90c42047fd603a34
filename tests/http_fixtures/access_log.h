#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lazyroot::fixtures {

// The nginx log_format NginxServer writes; parse_access_log_line reads it back.
// Quoted fields have '"' and non-printable bytes escaped by nginx as \xNN.
inline constexpr std::string_view kAccessLogFormat =
    R"($connection $connection_requests $status $request_method "$request_uri" "$http_range" $bytes_sent $body_bytes_sent $server_protocol)";

struct AccessLogEntry {
    // Which start of the server wrote the line (0 = first). nginx numbers
    // connections per process, so $connection restarts at 1 after a restart.
    unsigned run = 0;
    uint64_t connection = 0;           // $connection: serial number of the TCP connection
    uint64_t connection_requests = 0;  // $connection_requests: 1 for the first request on it
    int status = 0;
    std::string method{};
    std::string uri{};             // $request_uri, with the query
    std::string range{};           // Range header as sent; empty when absent
    uint64_t bytes_sent = 0;       // headers + body
    uint64_t body_bytes_sent = 0;  // body only
    std::string protocol{};        // $server_protocol: "HTTP/1.1", "HTTP/2.0"
};

// nullopt when the line does not have the kAccessLogFormat shape.
std::optional<AccessLogEntry> parse_access_log_line(std::string_view line);

// Parses every complete (newline-terminated) line of the file, tagging each
// with `run`. A missing file reads as empty. Lines that don't parse are skipped.
std::vector<AccessLogEntry> read_access_log(const std::string& path, unsigned run = 0);

}  // namespace lazyroot::fixtures
