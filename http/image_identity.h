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
    // gave no validator (then only the size is checked).
    // A strong ETag gives If-Match (412 on change); otherwise If-Range with
    // the date (a full 200 on change, which is refused).
    std::string precondition_header() const;

    // True when a response's validators contradict this identity.
    bool contradicts(const std::string& resp_etag, const std::string& resp_last_modified) const;

    std::string describe() const;
};

}  // namespace lazyroot::http
