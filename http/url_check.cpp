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

bool is_presigned(const std::string& url) {
    const size_t q = url.find('?');
    if (q == std::string::npos) return false;
    const size_t end = url.find('#', q);
    const std::string query = url.substr(q + 1, end == std::string::npos ? end : end - q - 1);
    // Parameter names as AWS (and radosgw, minio, GCS's XML API) spell them.
    for (const char* p : {"X-Amz-Signature=", "X-Amz-Credential="}) {
        for (size_t at = query.find(p); at != std::string::npos; at = query.find(p, at + 1))
            if (at == 0 || query[at - 1] == '&') return true;
    }
    return false;
}

std::string forbidden_hint(const std::string& url) {
    return is_presigned(url) ? "presigned URL expired or refused" : std::string();
}

}  // namespace lazyroot::http
