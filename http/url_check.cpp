#include "http/url_check.h"

#include <curl/curl.h>

#include <memory>

namespace lazyroot::http {

std::optional<std::string> url_error(const std::string& url) {
    std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
    if (!u) return "out of memory";
    // The same parser the transfers use: what passes here, libcurl accepts later.
    if (CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0); rc != CURLUE_OK)
        return std::string(curl_url_strerror(rc));
    char* scheme = nullptr;
    std::optional<std::string> why;
    if (curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (std::string(scheme) != "http" && std::string(scheme) != "https"))
        why = "not an http(s):// URL";
    curl_free(scheme);
    char* host = nullptr;
    if (!why && (curl_url_get(u.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host)) why = "no host";
    curl_free(host);
    return why;
}

}  // namespace lazyroot::http
