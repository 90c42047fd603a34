#include "initrd/efi_load_option.h"

namespace lazyroot::initrd {
namespace {

constexpr size_t kAttrBytes = 4;  // efivarfs prefixes every value with its attributes

uint16_t le16(std::span<const uint8_t> b, size_t at) { return static_cast<uint16_t>(b[at] | (b[at + 1] << 8)); }

bool printable(uint32_t c) { return c >= 0x21 && c <= 0x7e; }

// Device-path node types (UEFI 2.10 §10.3.1).
constexpr uint8_t kMessaging = 0x03;
constexpr uint8_t kMessagingUri = 0x18;
constexpr uint8_t kEnd = 0x7f;
constexpr uint8_t kEndEntire = 0xff;

}  // namespace

std::optional<uint16_t> decode_boot_current(std::span<const uint8_t> v) {
    if (v.size() != kAttrBytes + 2) return std::nullopt;
    return le16(v, kAttrBytes);
}

std::optional<LoadOption> parse_load_option(std::span<const uint8_t> v) {
    // UINT32 Attributes, UINT16 FilePathListLength, CHAR16 Description[] (NUL-
    // terminated), then FilePathListLength bytes of device path; optional data after.
    if (v.size() < kAttrBytes + 6) return std::nullopt;
    const auto opt = v.subspan(kAttrBytes);
    const size_t path_len = le16(opt, 4);
    LoadOption out;
    size_t at = 6;
    for (;; at += 2) {
        if (at + 2 > opt.size()) return std::nullopt;  // no NUL before the end
        const uint16_t c = le16(opt, at);
        if (c == 0) break;
        out.description.push_back(c == ' ' || printable(c) ? static_cast<char>(c) : '?');
    }
    at += 2;
    if (path_len > opt.size() - at) return std::nullopt;
    const auto path = opt.subspan(at, path_len);
    for (size_t n = 0;;) {
        if (n + 4 > path.size()) return std::nullopt;  // the list must end with its end node
        const uint8_t type = path[n], subtype = path[n + 1];
        const size_t len = le16(path, n + 2);
        if (len < 4 || len > path.size() - n) return std::nullopt;
        if (type == kEnd && subtype == kEndEntire) break;
        if (type == kMessaging && subtype == kMessagingUri && out.uri.empty()) {
            // The URI is not NUL-terminated: the node's length bounds it. Some
            // firmware pads with a NUL anyway; stop there.
            for (size_t i = n + 4; i < n + len && path[i] != 0; ++i) {
                if (!printable(path[i])) return std::nullopt;
                out.uri.push_back(static_cast<char>(path[i]));
            }
        }
        n += len;
    }
    return out;
}

}  // namespace lazyroot::initrd
