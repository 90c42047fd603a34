#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace lazyroot::http {

// Why libcurl would refuse `url` as an http(s):// URL (no host, a bad port,
// an unclosed IPv6 bracket…), as one line; nullopt when it is usable.
// Pure: no network, no resolver.
std::optional<std::string> url_error(const std::string& url);

// A presigned object-store URL (its query carries X-Amz-Signature= or
// X-Amz-Credential=): signed for GET alone, so it is only ever sent GETs
// (the probe too is a GET of bytes 0-0, never a HEAD), and passed to libcurl
// exactly as given, query and all.
bool is_presigned(const std::string& url);

// When a SigV4 presigned URL stops being valid: X-Amz-Date (the signing
// time, YYYYMMDDTHHMMSSZ) plus X-Amz-Expires (seconds), as seconds since the
// epoch. nullopt when either is missing or malformed. Pure.
std::optional<int64_t> presigned_expiry(const std::string& url);

// What a 403 from `url` most likely means, to follow "HTTP 403", with the
// clock at `now` (seconds since the epoch): for a presigned URL whose
// validity is past (or ends within 5 minutes: the store's clock may be
// ahead), "presigned URL expired at …Z"; valid for longer, or of unknown
// validity, that it was refused; otherwise empty.
std::string forbidden_hint(const std::string& url, int64_t now);
std::string forbidden_hint(const std::string& url);  // now: the system clock

}  // namespace lazyroot::http
