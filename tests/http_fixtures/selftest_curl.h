#pragma once
#include <curl/curl.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

// A thin libcurl easy-handle wrapper for the fixtures' self-test (not part of
// the fixtures library: the code under test brings its own HTTP client).
namespace lazyroot::fixtures::selftest {

struct CurlRequest {
    std::string url{};
    std::string range{};                 // CURLOPT_RANGE, e.g. "0-99"; empty: no Range header
    std::vector<std::string> headers{};  // extra "Name: value" lines
    bool head = false;
    bool follow_redirects = false;
    bool http2 = false;     // offer h2 via ALPN; otherwise HTTP/1.1 only
    std::string ca_file{};  // trust this CA (CURLOPT_CAINFO); empty: the system store
    std::string client_cert{}, client_key{};
    long timeout_ms = 10000;
};

struct CurlResponse {
    CURLcode code = CURLE_OK;
    std::string error;  // libcurl's error buffer
    long status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // of the last response only
    long new_connections = 0;  // CURLINFO_NUM_CONNECTS: 0 when a kept-alive connection was reused
    long http_version = 0;     // CURL_HTTP_VERSION_*
    std::string effective_url;

    // Value of the first header with this name (case-insensitive), or "".
    std::string header(std::string_view name) const;
};

// One easy handle: successive perform() calls reuse its connection.
class CurlClient {
public:
    CurlClient();
    ~CurlClient();
    CurlClient(const CurlClient&) = delete;
    CurlClient& operator=(const CurlClient&) = delete;

    CurlResponse perform(const CurlRequest& req);

private:
    CURL* easy_;
};

// A one-off request on a fresh handle.
CurlResponse fetch(const CurlRequest& req);

}  // namespace lazyroot::fixtures::selftest
