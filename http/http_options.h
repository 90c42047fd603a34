#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "io/timeout.h"

namespace lazyroot::http {

// Which HTTP the requests speak. Negotiate: HTTP/2 over TLS when the server
// offers it through ALPN, HTTP/1.1 otherwise. Http11: HTTP/1.1 always (a
// tier whose HTTP/2 misbehaves). No h2c: bookworm's libcurl 7.88 breaks
// reused prior-knowledge connections ("Error in the HTTP2 framing layer",
// curl issue #10634, fixed in 8.0).
enum class HttpVersion { Negotiate, Http11 };

struct HttpOptions {
    std::vector<std::string> urls;  // the source first, then --mirror URLs in order
    unsigned connections = 8;       // in total, spread over the queues
    // With HTTP/2 every connection carries many requests at once: the
    // queues' reads are not bound by the connection count.
    HttpVersion http_version = HttpVersion::Negotiate;
    // One block IO, retries included; nullopt: retry for ever (a root device).
    io::IoTimeout io_timeout = std::chrono::milliseconds(30000);
    // No byte for this long: abandon the connection and retry. Always finite,
    // and never longer than io_timeout (applied where curl is set up).
    std::chrono::milliseconds stall_timeout{10000};
    uint32_t max_request_bytes = 1u << 20;  // adjacent reads merge up to this
    std::string ca_file;
    std::string cert_file;
    std::string key_file;
    // Read the TLS files and resolve every host once, at attach, and never
    // again: a daemon serving the root must not open files (or resolver
    // configuration) from the device it serves after switch_root. Set in the
    // initrd.
    bool pin_at_attach = false;
    // "HOST:PORT:ADDRS" entries used instead of the resolver (--resolve).
    std::vector<std::string> resolve;
    // Extra request headers ("Name: value", from --header-file), sent with
    // every request to every URL. Secrets: never logged, never persisted
    // (the state file records the file's path).
    std::vector<std::string> headers;
    // S3 (s3:// SOURCE): CURLOPT_AWS_SIGV4 ("aws:amz:REGION:s3") and the key
    // pair it signs with; empty: requests are not signed. Secrets as above.
    std::string aws_sigv4;
    std::string aws_access_key;
    std::string aws_secret_key;
};

}  // namespace lazyroot::http
