#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace lazyroot::initrd {

// UEFI variables as efivarfs shows them: 4 bytes of attributes, then the
// value. Pure parsers (unit-tested on variables captured from OVMF, fuzzed):
// they never read past the span and reject anything that does not add up.

// BootCurrent (EFI global GUID): the number of the Boot#### option the
// firmware started this boot from. nullopt when not exactly a UINT16.
std::optional<uint16_t> decode_boot_current(std::span<const uint8_t> efivar);

// What a Boot#### load option (EFI_LOAD_OPTION, UEFI 2.10 §3.1.3) says.
struct LoadOption {
    std::string description;  // printable ASCII; anything else shown as '?'
    // The text of the first URI device-path node (type 3 messaging, subtype
    // 24, UEFI §10.3.4.29) in the option's file path list: the URL the
    // firmware HTTP-booted this option from. Empty when there is no URI node,
    // or an empty one (the firmware takes the URL from DHCP then and does not
    // write it back into the option).
    std::string uri;
};

// nullopt when the option is malformed: a truncated header or description,
// a device-path node shorter than its 4-byte header or past the list, a
// list without its end node, or a URI that is not printable ASCII.
std::optional<LoadOption> parse_load_option(std::span<const uint8_t> efivar);

}  // namespace lazyroot::initrd
