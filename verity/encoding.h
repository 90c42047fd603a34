#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Text encodings of the bytes verity deals in: hashes and salts as hex,
// signatures as base64. Pure: no IO.
namespace lazyroot::verity {

// Lowercase hex, two characters per byte.
std::string to_hex(std::span<const uint8_t> bytes);

// Either case; nullopt for an odd length or a non-hex character.
std::optional<std::vector<uint8_t>> from_hex(std::string_view text);

// Standard alphabet with '=' padding, no line breaks.
std::string to_base64(std::span<const uint8_t> bytes);

// nullopt unless the text is canonical padded base64 (no whitespace).
std::optional<std::vector<uint8_t>> from_base64(std::string_view text);

}  // namespace lazyroot::verity
