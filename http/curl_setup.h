#pragma once
#include <curl/curl.h>

#include <memory>
#include <string>

#include "http/http_options.h"

namespace lazyroot::http {

// Once per process, before any thread uses libcurl.
void ensure_curl_global_init();

// Options every request shares: redirects, protocols, TLS, connect and stall
// timeouts, HTTP/2 over TLS when offered.
void apply_common_options(CURL* easy, const HttpOptions& opts);
// CURLOPT_HTTP_VERSION for `v`.
long curl_http_version(HttpVersion v);

// Sets the URL and what its redirects may lead to: from https:// only
// https://, so a server (or whoever answers for it) can't downgrade the
// transport to clear text by redirecting; from http:// also https://.
void set_url(CURL* easy, const std::string& url);

bool is_https(const std::string& url);

// One line for a failed transfer of `url`: a refused downgrading redirect
// is named as such rather than as curl's "unsupported protocol".
std::string describe_failure(const std::string& url, CURLcode rc, const char* errbuf);

// Header lines past this many bytes end the response: a server that sends
// headers for ever must not grow memory or hold the transfer until the
// IO timeout.
inline constexpr size_t kMaxResponseHead = 64 * 1024;

struct EasyDeleter {
    void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

// CURLOPT_HTTPHEADER for a request: the --header-file headers, then `extra`
// (a precondition) when not empty. Null when there are none.
HeaderList request_headers(const HttpOptions& opts, const std::string& extra = {});

}  // namespace lazyroot::http
