#include "tests/http_fixtures/selftest_curl.h"

#include <strings.h>

#include <stdexcept>

namespace lazyroot::fixtures::selftest {
namespace {

size_t on_body(char* data, size_t size, size_t n, void* user) {
    static_cast<CurlResponse*>(user)->body.append(data, size * n);
    return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* resp = static_cast<CurlResponse*>(user);
    std::string_view line(data, size * n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.starts_with("HTTP/")) {
        resp->headers.clear();  // a new response (after a redirect or 100-continue)
    } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        resp->headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    return size * n;
}

}  // namespace

std::string CurlResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
    return "";
}

CurlClient::CurlClient() : easy_(curl_easy_init()) {
    if (!easy_) throw std::runtime_error("curl_easy_init failed");
}

CurlClient::~CurlClient() { curl_easy_cleanup(easy_); }

CurlResponse CurlClient::perform(const CurlRequest& req) {
    // reset clears options but keeps live connections: keep-alive still applies.
    curl_easy_reset(easy_);
    CurlResponse resp;
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_slist* headers = nullptr;
    for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());

    curl_easy_setopt(easy_, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, req.timeout_ms);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, &resp);
    curl_easy_setopt(easy_, CURLOPT_HTTP_VERSION, req.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    if (!req.range.empty()) curl_easy_setopt(easy_, CURLOPT_RANGE, req.range.c_str());
    if (headers) curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers);
    if (req.head) curl_easy_setopt(easy_, CURLOPT_NOBODY, 1L);
    if (req.follow_redirects) curl_easy_setopt(easy_, CURLOPT_FOLLOWLOCATION, 1L);
    if (!req.ca_file.empty()) curl_easy_setopt(easy_, CURLOPT_CAINFO, req.ca_file.c_str());
    if (!req.client_cert.empty()) curl_easy_setopt(easy_, CURLOPT_SSLCERT, req.client_cert.c_str());
    if (!req.client_key.empty()) curl_easy_setopt(easy_, CURLOPT_SSLKEY, req.client_key.c_str());

    resp.code = curl_easy_perform(easy_);
    resp.error = errbuf;
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, nullptr);  // errbuf dies with this frame
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &resp.status);
    curl_easy_getinfo(easy_, CURLINFO_NUM_CONNECTS, &resp.new_connections);
    curl_easy_getinfo(easy_, CURLINFO_HTTP_VERSION, &resp.http_version);
    char* eff = nullptr;
    if (curl_easy_getinfo(easy_, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) resp.effective_url = eff;
    curl_slist_free_all(headers);
    return resp;
}

CurlResponse fetch(const CurlRequest& req) {
    CurlClient client;
    return client.perform(req);
}

}  // namespace lazyroot::fixtures::selftest
