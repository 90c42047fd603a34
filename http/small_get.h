#pragma once
#include <curl/curl.h>

#include <cstddef>
#include <string>

#include "http/http_options.h"
#include "http/response_head.h"

namespace lazyroot::http {

// What a blocking GET came back with.
struct GetResult {
    CURLcode rc = CURLE_FAILED_INIT;
    std::string failure;  // one line when rc != CURLE_OK (describe_failure)
    ResponseHead head;    // capped at kMaxResponseHead: see head_too_big()
    bool head_too_big() const;
};

// One GET of `url` on this thread, set up as every request is
// (apply_common_options, set_url), with the response head capped and the
// whole transfer bounded by --io-timeout. `range` ("0-0") or null; the body
// goes to `on_body(…, body)`, which may stop it by returning less. Blocking:
// attach time only, never on a queue thread.
GetResult blocking_get(const std::string& url, const HttpOptions& opts, const char* range, curl_write_callback on_body,
                       void* body);

// GETs a small document (a manifest next to the image) whole. Throws
// std::runtime_error with a one-line reason, including for a body larger
// than `max_bytes`.
std::string small_get(const std::string& url, const HttpOptions& opts, size_t max_bytes = 1 << 20);

}  // namespace lazyroot::http
