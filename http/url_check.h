#pragma once
#include <optional>
#include <string>

namespace lazyroot::http {

// Why libcurl would refuse `url` as an http(s):// URL (no host, a bad port,
// an unclosed IPv6 bracket…), as one line; nullopt when it is usable.
// Pure: no network, no resolver.
std::optional<std::string> url_error(const std::string& url);

}  // namespace lazyroot::http
