#include "http/s3_url.h"

#include <cctype>
#include <stdexcept>

namespace lazyroot::http {

S3Location parse_s3_url(const std::string& text) {
    constexpr std::string_view scheme = "s3://";
    if (text.rfind(scheme, 0) != 0) throw std::invalid_argument("not an s3:// URL: " + text);
    const std::string rest = text.substr(scheme.size());
    const size_t slash = rest.find('/');
    S3Location loc;
    loc.bucket = rest.substr(0, slash);
    if (loc.bucket.empty()) throw std::invalid_argument("s3:// URL without a bucket: " + text);
    // S3's rules for bucket names (3-63 of a-z 0-9 . -, starting and ending
    // with a letter or digit); they also keep the name out of the URL's syntax.
    bool ok = loc.bucket.size() >= 3 && loc.bucket.size() <= 63 && std::isalnum((unsigned char)loc.bucket.front()) &&
              std::isalnum((unsigned char)loc.bucket.back());
    for (char c : loc.bucket)
        ok &= std::islower((unsigned char)c) || std::isdigit((unsigned char)c) || c == '.' || c == '-';
    if (!ok) throw std::invalid_argument("s3://: not a valid bucket name (3-63 of a-z 0-9 . -): " + loc.bucket);
    if (slash == std::string::npos || slash + 1 == rest.size())
        throw std::invalid_argument("s3:// URL without an object key (s3://BUCKET/KEY): " + text);
    loc.key = rest.substr(slash + 1);
    for (unsigned char c : loc.key)
        if (c < 0x20 || c == 0x7f) throw std::invalid_argument("s3://: a control character in the object key");
    if (loc.key.find_first_of("?#") != std::string::npos)
        throw std::invalid_argument("s3://: '?' or '#' in the object key (s3:// takes no query): " + text);
    return loc;
}

std::string s3_object_url(const std::string& endpoint, const S3Location& loc) {
    std::string url = endpoint;
    while (!url.empty() && url.back() == '/') url.pop_back();
    url += "/" + loc.bucket + "/";
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : loc.key) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
            url += static_cast<char>(c);
        } else {
            url += '%';
            url += kHex[c >> 4];
            url += kHex[c & 15];
        }
    }
    return url;
}

std::string default_s3_endpoint(const std::string& region) { return "https://s3." + region + ".amazonaws.com"; }

bool valid_s3_region(const std::string& region) {
    if (region.empty() || region.size() > 32) return false;
    for (char c : region)
        if (!std::islower((unsigned char)c) && !std::isdigit((unsigned char)c) && c != '-') return false;
    return true;
}

}  // namespace lazyroot::http
