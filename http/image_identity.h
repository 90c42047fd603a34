#pragma once
#include <cstdint>
#include <string>

namespace lazyroot::http {

// What says "this is the same image": recorded from the first response and
// sent as a precondition with every range request, so a replaced image fails
// loudly instead of mixing old and new bytes.
struct ImageIdentity {
    uint64_t size = 0;
    std::string etag;           // as sent, quotes included; may be W/"…"
    std::string last_modified;  // HTTP-date

    bool has_strong_etag() const { return !etag.empty() && etag.rfind("W/", 0) != 0; }

    // The precondition header line for range requests, or "" when the server
    // gave no validator (an HTTP source without one is refused at attach).
    // A strong ETag gives If-Match (412 on change); otherwise If-Range with
    // the date (a full 200 on change, which is refused).
    std::string precondition_header() const;

    // True when a response's validators contradict this identity.
    bool contradicts(const std::string& resp_etag, const std::string& resp_last_modified) const;

    // The validator this identity is checked by (the ETag, else
    // Last-Modified) when a response lacks it, else "". A 206 must carry what
    // a 200 would (RFC 9110 15.3.7): without it the answer can't be shown to
    // be of this image (a tier that strips validators on some answers).
    const char* missing_validator(const std::string& resp_etag, const std::string& resp_last_modified) const;

    std::string describe() const;
};

}  // namespace lazyroot::http
