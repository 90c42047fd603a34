#pragma once
#include <curl/curl.h>

#include <optional>
#include <string>

#include "http/http_options.h"

namespace lazyroot::http {

// With opts.pin_at_attach: loads the CA bundle (the given one or libcurl's
// default), client certificate and key into memory, and resolves the host of
// every URL in opts. Called on the attach path; later calls are no-ops for
// what is already pinned. Resolution failures are left for the request to
// report.
void pin_resources(const HttpOptions& opts);

// "HOST:PORT:ADDR[,ADDR…]" for URL's host, resolved now; nullopt when the host
// is an address already or does not resolve.
std::optional<std::string> resolve_url_host(const std::string& url);

// Points an easy handle at the pinned copies (CURLOPT_*_BLOB, CURLOPT_RESOLVE)
// so that libcurl reads no file and asks no resolver.
void apply_pinned_resources(CURL* easy, const HttpOptions& opts);

}  // namespace lazyroot::http
