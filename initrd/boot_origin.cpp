#include "initrd/boot_origin.h"

#include <cstdio>
#include <fstream>
#include <iterator>

#include "initrd/efi_load_option.h"

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

std::string boot_option_var(uint16_t number) {
    char name[64];
    std::snprintf(name, sizeof name, "Boot%04X-8be4df61-93ca-11d2-aa0d-00e098032b8c", number);
    return name;
}

BootUrl find_boot_url(const EfiVarReader& read) {
    BootUrl out;
    std::string why;
    for (const char* var : {kStubDeviceUrlVar, kLoaderDeviceUrlVar}) {
        const std::string name(var, std::string_view(var).find('-'));
        auto v = read(var);
        if (!v) {
            why += "no " + name + ", ";
            continue;
        }
        if (auto url = decode_stub_device_url(*v)) {
            out.url = *url;
            out.from = name;
            return out;
        }
        why += name + " malformed, ";
    }
    auto current = read(kBootCurrentVar);
    auto number = current ? decode_boot_current(*current) : std::nullopt;
    if (!number) {
        out.why = why + (current ? "BootCurrent malformed" : "no BootCurrent") + " (not booted through UEFI?)";
        return out;
    }
    const std::string option = boot_option_var(*number).substr(0, 8);
    auto raw = read(boot_option_var(*number));
    auto parsed = raw ? parse_load_option(*raw) : std::nullopt;
    if (!raw) {
        out.why = why + "no " + option + " (which BootCurrent names)";
    } else if (!parsed) {
        out.why = why + option + " (BootCurrent) is malformed";
    } else if (parsed->uri.empty()) {
        out.why = why + "and BootCurrent's " + option + " (\"" + parsed->description +
                  "\") has no URI in its device path: not booted over HTTP, or the URL came from DHCP";
    } else {
        out.url = parsed->uri;
        out.from = option + " (BootCurrent)";
    }
    return out;
}

BootUrl find_boot_url_efivarfs() {
    return find_boot_url([](std::string_view name) -> std::optional<std::vector<uint8_t>> {
        std::ifstream in(std::string(kEfivarfsDir) + "/" + std::string(name), std::ios::binary);
        if (!in) return std::nullopt;
        return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    });
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
