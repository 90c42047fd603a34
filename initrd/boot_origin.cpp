#include "initrd/boot_origin.h"

namespace lazyroot::initrd {

std::optional<std::string> decode_stub_device_url(std::span<const uint8_t> v) {
    if (v.size() < 4 + 2 || (v.size() - 4) % 2 != 0) return std::nullopt;
    std::string url;
    for (size_t i = 4; i + 1 < v.size(); i += 2) {
        const uint16_t c = static_cast<uint16_t>(v[i] | (v[i + 1] << 8));
        if (c == 0) break;
        // A URL is ASCII; anything else means this is not what we think it is.
        if (c < 0x21 || c > 0x7e) return std::nullopt;
        url.push_back(static_cast<char>(c));
    }
    if (url.empty()) return std::nullopt;
    return url;
}

std::optional<std::string> resolve_boot_origin(const std::string& boot_url, const std::string& relative) {
    const size_t scheme = boot_url.find("://");
    if (scheme == std::string::npos || relative.empty() || relative.find("://") != std::string::npos)
        return std::nullopt;
    const size_t path = boot_url.find('/', scheme + 3);
    if (path == std::string::npos) return std::nullopt;
    // Query and fragment belong to the UKI's URL, not to the image's.
    const size_t end = boot_url.find_first_of("?#", path);
    const std::string base = boot_url.substr(0, end);
    const size_t last = base.rfind('/');
    if (relative.front() == '/') return base.substr(0, path) + relative;
    return base.substr(0, last + 1) + relative;
}

}  // namespace lazyroot::initrd
