#include "http/curl_setup.h"

#include "http/pinned_resources.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace lazyroot::http {

void ensure_curl_global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw std::runtime_error("libcurl initialisation failed");
    });
}

void apply_common_options(CURL* e, const HttpOptions& o) {
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "lazyroot/0.1");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    const long connect_ms = std::max<long>(
        100, static_cast<long>(io::at_most(o.stall_timeout, o.io_timeout).count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    // A connection that delivers nothing for the stall timeout is abandoned
    // and the request retried, rather than waiting out the whole IO timeout.
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     std::max<long>(1, static_cast<long>(io::at_most(o.stall_timeout, o.io_timeout).count() / 1000)));
    if (!o.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, o.ca_file.c_str());
    if (!o.cert_file.empty()) curl_easy_setopt(e, CURLOPT_SSLCERT, o.cert_file.c_str());
    if (!o.key_file.empty()) curl_easy_setopt(e, CURLOPT_SSLKEY, o.key_file.c_str());
    apply_pinned_resources(e, o);
}

}  // namespace lazyroot::http
