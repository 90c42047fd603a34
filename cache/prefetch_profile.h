#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace lazyroot::cache {

// A boot's working set (issue 16): the chunks of one image that a boot read,
// in the order it first read them. Fetched in that order at a later attach,
// they arrive before the boot asks. Bound to the image it was recorded on:
// `image` is that image's identity (its root hash when verity has one).
//
// On disk, text, one item a line:
//   lazyroot-profile 1
//   image IDENTITY
//   size IMAGE-BYTES
//   chunk-size BYTES
//   chunks N
//   INDEX          (N lines, first read first)
struct PrefetchProfile {
    std::string image;
    uint64_t image_size = 0;
    uint32_t chunk_size = 0;
    std::vector<uint64_t> chunks;

    uint64_t chunk_count() const { return (image_size + chunk_size - 1) / chunk_size; }
};

// Larger files are not profiles of any image lazyroot serves (16 MiB holds
// a million chunk lines).
inline constexpr size_t kMaxProfileBytes = 16u << 20;

std::string encode_profile(const PrefetchProfile& p);

// The profile, or why `text` is not one (one line). Strict: a profile with
// a chunk past the image, a chunk twice, a chunk size that is no power of
// two in [4 KiB, 64 MiB], a count that disagrees or any unknown line is
// refused whole, never used in part.
std::variant<PrefetchProfile, std::string> parse_profile(std::string_view text);

}  // namespace lazyroot::cache
