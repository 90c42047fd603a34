#include "http/small_get.h"

#include <stdexcept>

#include "http/curl_setup.h"

namespace lazyroot::http {
namespace {

struct Body {
    std::string data;
    size_t max;
    bool too_big = false;
};

size_t on_small_body(char* p, size_t size, size_t n, void* user) {
    auto* b = static_cast<Body*>(user);
    if (b->data.size() + size * n > b->max) {
        b->too_big = true;
        return 0;
    }
    b->data.append(p, size * n);
    return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* head = static_cast<ResponseHead*>(user);
    head->feed_line({data, size * n});
    return head->bytes > kMaxResponseHead ? 0 : size * n;
}

}  // namespace

bool GetResult::head_too_big() const { return head.bytes > kMaxResponseHead; }

GetResult blocking_get(const std::string& url, const HttpOptions& opts, const char* range, curl_write_callback on_body,
                       void* body) {
    ensure_curl_global_init();
    GetResult r;
    EasyHandle easy(curl_easy_init());
    if (!easy) {
        r.failure = "cannot create a libcurl handle";
        return r;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    apply_common_options(easy.get(), opts);
    set_url(easy.get(), url);
    if (range) curl_easy_setopt(easy.get(), CURLOPT_RANGE, range);
    const HeaderList headers = request_headers(opts);
    curl_easy_setopt(easy.get(), CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(easy.get(), CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy.get(), CURLOPT_HEADERDATA, &r.head);
    curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, body);
    curl_easy_setopt(easy.get(), CURLOPT_ERRORBUFFER, errbuf);
    // With --io-timeout=infinity no overall limit (0): the connect and stall
    // timeouts still end an attempt against a server that is down.
    curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS,
                     opts.io_timeout ? static_cast<long>(opts.io_timeout->count()) : 0L);
    r.rc = curl_easy_perform(easy.get());
    if (r.rc != CURLE_OK) r.failure = describe_failure(url, r.rc, errbuf);
    return r;
}

std::string small_get(const std::string& url, const HttpOptions& opts, size_t max_bytes) {
    Body body{{}, max_bytes};
    const GetResult r = blocking_get(url, opts, nullptr, on_small_body, &body);
    if (r.head_too_big())
        throw std::runtime_error(url + ": the response head is larger than " + std::to_string(kMaxResponseHead) +
                                 " bytes");
    if (body.too_big) throw std::runtime_error(url + ": larger than " + std::to_string(max_bytes) + " bytes");
    if (r.rc != CURLE_OK) throw std::runtime_error(url + ": " + r.failure);
    // The status line this GET ended on (after any redirects).
    if (r.head.status != 200) throw std::runtime_error(url + ": HTTP " + std::to_string(r.head.status));
    return body.data;
}

}  // namespace lazyroot::http
