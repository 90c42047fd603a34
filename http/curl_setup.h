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

struct EasyDeleter {
    void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

}  // namespace lazyroot::http
