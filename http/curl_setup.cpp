#include "http/curl_setup.h"

#include "http/pinned_resources.h"

#include <algorithm>
#include <mutex>
#include <new>
#include <stdexcept>

namespace lazyroot::http {

void ensure_curl_global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw std::runtime_error("libcurl initialisation failed");
    });
}

long curl_http_version(HttpVersion v) {
    switch (v) {
        case HttpVersion::Http11:
            return CURL_HTTP_VERSION_1_1;
        case HttpVersion::Negotiate:
            break;
    }
    return CURL_HTTP_VERSION_2TLS;
}

void apply_common_options(CURL* e, const HttpOptions& o) {
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");  // set_url widens it for an http:// URL
    curl_easy_setopt(e, CURLOPT_USERAGENT, "lazyroot/0.1");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, curl_http_version(o.http_version));
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    const long connect_ms = std::max<long>(100, static_cast<long>(io::at_most(o.stall_timeout, o.io_timeout).count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    // A connection that delivers nothing for the stall timeout is abandoned
    // and the request retried, rather than waiting out the whole IO timeout.
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     std::max<long>(1, static_cast<long>(io::at_most(o.stall_timeout, o.io_timeout).count() / 1000)));
    if (!o.ca_file.empty()) {
        // --ca pins that CA alone: no CA directory (Debian's libcurl has
        // /etc/ssl/certs compiled in) and no other bundle may validate.
        curl_easy_setopt(e, CURLOPT_CAINFO, o.ca_file.c_str());
        curl_easy_setopt(e, CURLOPT_CAPATH, nullptr);
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, nullptr);  // apply_pinned_resources may set its copy
    }
    if (!o.cert_file.empty()) curl_easy_setopt(e, CURLOPT_SSLCERT, o.cert_file.c_str());
    if (!o.key_file.empty()) curl_easy_setopt(e, CURLOPT_SSLKEY, o.key_file.c_str());
    if (!o.aws_sigv4.empty()) {
        // libcurl signs each request itself (SigV4, the date and the
        // payload hash included); the key pair never leaves this process
        // other than as that signature.
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, o.aws_sigv4.c_str());
        curl_easy_setopt(e, CURLOPT_USERNAME, o.aws_access_key.c_str());
        curl_easy_setopt(e, CURLOPT_PASSWORD, o.aws_secret_key.c_str());
    }
    apply_pinned_resources(e, o);
}

HeaderList request_headers(const HttpOptions& o, const std::string& extra) {
    HeaderList list;
    auto add = [&](const std::string& h) {
        curl_slist* l = curl_slist_append(list.get(), h.c_str());
        if (!l) throw std::bad_alloc();
        (void)list.release();
        list.reset(l);
    };
    for (const auto& h : o.headers) add(h);
    if (!extra.empty()) add(extra);
    return list;
}

bool is_https(const std::string& url) { return url.size() >= 8 && curl_strnequal(url.c_str(), "https://", 8); }

void set_url(CURL* e, const std::string& url) {
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, is_https(url) ? "https" : "http,https");
}

std::string describe_failure(const std::string& url, CURLcode rc, const char* errbuf) {
    if (rc == CURLE_UNSUPPORTED_PROTOCOL && is_https(url))
        return "refused a redirect from https:// to clear text (a redirect never downgrades the scheme)";
    if (rc == CURLE_TOO_MANY_REDIRECTS) return "too many redirects (a redirect loop?)";
    return errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
}

}  // namespace lazyroot::http
