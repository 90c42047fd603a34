#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace lazyroot::initrd {

// systemd-stub's StubDeviceURL EFI variable (GUID 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f)
// as efivarfs shows it: 4 bytes of attributes, then a UTF-16LE string
// (NUL-terminated or not). nullopt when malformed or not printable ASCII.
std::optional<std::string> decode_stub_device_url(std::span<const uint8_t> efivar);

inline constexpr const char* kStubDeviceUrlPath =
    "/sys/firmware/efi/efivars/StubDeviceURL-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";

// The URL the UKI was booted from with its last path component replaced by
// `relative` (which may itself contain '/'). nullopt when `boot_url` has no path.
std::optional<std::string> resolve_boot_origin(const std::string& boot_url, const std::string& relative);

}  // namespace lazyroot::initrd
