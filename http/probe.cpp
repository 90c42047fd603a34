#include "http/probe.h"

#include "http/curl_setup.h"
#include "http/small_get.h"
#include "http/url_check.h"

namespace lazyroot::http {
namespace {

// At most the one byte asked for; anything else means ranges are ignored and
// the body could be the whole image, so stop reading.
size_t on_body(char*, size_t size, size_t n, void* user) {
    auto* got = static_cast<size_t*>(user);
    *got += size * n;
    return *got > 1 ? 0 : size * n;
}

}  // namespace

ProbeResult probe(const std::string& url, const HttpOptions& opts) {
    ProbeResult r;
    size_t body = 0;
    const GetResult got = blocking_get(url, opts, "0-0", on_body, &body);
    const CURLcode rc = got.rc;
    const ResponseHead& head = got.head;
    // A refused (downgrading) redirect or a loop leaves a 3xx behind: name it.
    if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_TOO_MANY_REDIRECTS) {
        r.error = url + ": " + got.failure;
        return r;
    }
    if (got.head_too_big()) {
        r.error = url + ": the response head is larger than " + std::to_string(kMaxResponseHead) + " bytes";
        return r;
    }
    if (head.status == 200) {
        r.error = url + ": the server ignores range requests (answered 200 to Range: bytes=0-0)";
        return r;
    }
    // An error page is longer than the one byte asked for, so on_body stops
    // it; name the status, not curl's "failure writing output".
    if (head.status >= 300 && head.status != 416) {
        r.error = url + ": HTTP " + std::to_string(head.status) + " to a range request";
        if (head.status == 403 && is_presigned(url)) r.error += ": " + forbidden_hint(url);
        // SigV4 signs the time too: an initrd's clock before NTP is refused.
        if (head.status == 403 && !opts.aws_sigv4.empty())
            r.error += ": the store refused the signed request (wrong keys, or this machine's clock is off)";
        return r;
    }
    if (rc != CURLE_OK) {
        r.error = url + ": " + got.failure;
        return r;
    }
    if (head.status == 416 && head.content_range && head.content_range->size == 0u) {
        r.error = url + ": the image is empty";
        return r;
    }
    if (head.status != 206) {
        r.error = url + ": HTTP " + std::to_string(head.status) + " to a range request";
        return r;
    }
    if (!head.conflict.empty()) {
        r.error = url + ": the answer to Range: bytes=0-0 carries two different " + head.conflict + " headers";
        return r;
    }
    const auto& cr = head.content_range;
    if (!cr || cr->unsatisfied || cr->first != 0 || cr->last != 0 || !cr->size || body != 1) {
        r.error = url + ": malformed answer to Range: bytes=0-0 (Content-Range must be bytes 0-0/SIZE)";
        return r;
    }
    // Without a validator a replaced image of the same size could not be told
    // from this one, and a tier could serve parts of both: refuse, whatever
    // else would check the bytes (the cache is bound to the identity too).
    if (head.etag.empty() && head.last_modified.empty()) {
        r.error = url + ": the answer carries neither ETag nor Last-Modified, so a replaced image could not be " +
                  "told apart (a caching tier that strips validators?)";
        return r;
    }
    r.identity.size = *cr->size;
    r.identity.etag = head.etag;
    r.identity.last_modified = head.last_modified;
    r.ok = true;
    return r;
}

}  // namespace lazyroot::http
