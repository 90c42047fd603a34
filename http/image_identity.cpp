#include "http/image_identity.h"

namespace lazyroot::http {

std::string ImageIdentity::precondition_header() const {
    if (has_strong_etag()) return "If-Match: " + etag;
    if (!last_modified.empty()) return "If-Range: " + last_modified;
    return {};
}

bool ImageIdentity::contradicts(const std::string& resp_etag, const std::string& resp_last_modified) const {
    if (!etag.empty() && !resp_etag.empty() && resp_etag != etag) return true;
    if (!last_modified.empty() && !resp_last_modified.empty() && resp_last_modified != last_modified) return true;
    return false;
}

const char* ImageIdentity::missing_validator(const std::string& resp_etag,
                                             const std::string& resp_last_modified) const {
    if (!etag.empty()) return resp_etag.empty() ? "ETag" : "";
    if (!last_modified.empty()) return resp_last_modified.empty() ? "Last-Modified" : "";
    return "";
}

std::string ImageIdentity::describe() const {
    std::string s = "size " + std::to_string(size);
    if (!etag.empty()) s += ", ETag " + etag;
    if (!last_modified.empty()) s += ", Last-Modified " + last_modified;
    return s;
}

}  // namespace lazyroot::http
