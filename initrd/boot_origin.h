#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lazyroot::initrd {

// systemd's StubDeviceURL / LoaderDeviceURL EFI variables (vendor GUID
// 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f) as efivarfs shows them: 4 bytes of
// attributes, then a UTF-16LE string (NUL-terminated or not). nullopt when
// malformed or not printable ASCII.
std::optional<std::string> decode_stub_device_url(std::span<const uint8_t> efivar);

inline constexpr const char* kEfivarfsDir = "/sys/firmware/efi/efivars";
inline constexpr const char* kStubDeviceUrlVar = "StubDeviceURL-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";
inline constexpr const char* kLoaderDeviceUrlVar = "LoaderDeviceURL-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";
inline constexpr const char* kBootCurrentVar = "BootCurrent-8be4df61-93ca-11d2-aa0d-00e098032b8c";
// "Boot0099-8be4df61-…": the load option BootCurrent names (upper-case hex, as the spec spells it).
std::string boot_option_var(uint16_t number);

// Reads one EFI variable by its efivarfs name; nullopt when it does not exist.
using EfiVarReader = std::function<std::optional<std::vector<uint8_t>>(std::string_view name)>;

// The URL this boot came from, and where it was found; `url` empty when no
// source gives one, and `why` then says what each source held, in one line.
struct BootUrl {
    std::string url;
    std::string from;  // "StubDeviceURL", "LoaderDeviceURL", "Boot0099 (BootCurrent)"
    std::string why;
};

// Tries, in this order, the first that gives a URL counting:
//  1. StubDeviceURL: systemd-stub's own record of the URL of this very UKI
//     (what lazyroot's bootorigin was specified against).
//  2. LoaderDeviceURL: what systemd ≥ 258 sets (the stub for a UKI fetched
//     over HTTP, systemd-boot for itself): the URL the loaded image came from,
//     also when the firmware got it from DHCP.
//  3. The URI device-path node of the load option BootCurrent names: the URL
//     of a boot entry the firmware HTTP-booted (virt-fw-vars --set-boot-uri,
//     efibootmgr, kernel-bootcfg). Older stubs (Debian's 252/254) set neither
//     variable, so this is what works there. A DHCP-configured HTTP boot
//     entry has an empty URI node (the firmware keeps the DHCP URL to itself):
//     then there is no URL at all.
BootUrl find_boot_url(const EfiVarReader& read);

// Reads from efivarfs (kEfivarfsDir).
BootUrl find_boot_url_efivarfs();

// The URL the UKI was booted from with its last path component replaced by
// `relative` (which may itself contain '/'). nullopt when `boot_url` has no path.
std::optional<std::string> resolve_boot_origin(const std::string& boot_url, const std::string& relative);

}  // namespace lazyroot::initrd
