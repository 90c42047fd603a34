#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// IMAGE.manifest.json: what a client needs to set up dm-verity over an image
// it fetches, written by `lazyroot prepare` next to the image. JSON object:
//
//   rootHash        hex, 64 characters (SHA-256)
//   dataSize        bytes of filesystem data at the start of the image; a
//                   multiple of dataBlockSize
//   hashOffset      byte offset of the verity superblock (veritysetup's
//                   --hash-offset); a multiple of 512. With the tree appended
//                   to the image it is >= dataSize; with hashFile, an offset in that file
//   dataBlockSize   4096 (any power of two 512 B .. 512 KiB is accepted)
//   hashBlockSize   4096 (likewise)
//   salt            hex, at most 256 bytes, may be ""
//   algorithm       "sha256"
//   imageSize       bytes of the image file as prepared (data + tree when appended)
//   hashType        1
//   uuid            the superblock's UUID, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
//   hashFile        optional: the tree is in this file (as given to --hash-out), not in the image
//   signature       optional, the DDI verity-sig shape:
//     rootHash                the same hex as above
//     certificateFingerprint  SHA-256 of the signer's DER certificate, hex
//     signature               base64 of the DER PKCS#7 detached signature over rootHash
//   compression     optional: the image is published zstd-seekable (see ManifestCompression)
//   profile         optional, `lazyroot prepare --profile FILE`: the image's prefetch profile
//                   (cache/prefetch_profile.h), embedded so that one fetch and one
//                   signature bring it (no second file to publish, fetch or keep in step):
//     text          the profile file as prepare read it; its identity must be
//                   "verity:" + rootHash and its size imageSize
//     sha256        hex SHA-256 of text (names the profile in logs; must match)
//     signature     optional, written when prepare signs: base64 of a DER PKCS#7
//                   detached signature over text, by the same key and certificate
//                   as signature.signature. A signed manifest then covers the
//                   profile too; the root hash's signature alone does not.
//
// A malformed profile field (a text that is no valid profile of this image,
// a sha256 that does not match) makes the manifest malformed, as any other
// field does. Whether profile.signature verifies is the attach's concern
// (cli/verity_plan.cpp): an unsigned or badly signed profile is ignored there,
// never used, and never fails the attach (dm-verity guards the data; a
// profile only steers prefetch).
//
// Unknown fields are ignored, so later versions can add some.
namespace lazyroot::verity {

struct ManifestSignature {
    std::string root_hash;                // lowercase hex
    std::string certificate_fingerprint;  // lowercase hex
    std::vector<uint8_t> signature;       // DER PKCS#7

    bool operator==(const ManifestSignature&) const = default;
};

// The image as published is the zstd seekable format (lazyroot prepare
// --compress); every other field describes the decompressed image.
struct ManifestCompression {
    std::string format = "zstd-seekable";
    uint32_t frame_size = 0;       // decompressed bytes per frame
    uint64_t compressed_size = 0;  // of the published file

    bool operator==(const ManifestCompression&) const = default;
};

// The embedded prefetch profile (`profile`).
struct ManifestProfile {
    std::string text;                // the profile file, byte for byte
    std::string sha256;              // lowercase hex of text
    std::vector<uint8_t> signature;  // DER PKCS#7 over text; empty: unsigned

    bool operator==(const ManifestProfile&) const = default;
};

struct Manifest {
    std::string root_hash;  // lowercase hex
    uint64_t data_size = 0;
    uint64_t hash_offset = 0;
    uint32_t data_block_size = 4096;
    uint32_t hash_block_size = 4096;
    std::vector<uint8_t> salt;
    std::string algorithm = "sha256";
    uint64_t image_size = 0;
    uint32_t hash_type = 1;
    std::string uuid;
    std::optional<std::string> hash_file;
    std::optional<ManifestSignature> signature;
    std::optional<ManifestCompression> compression;
    std::optional<ManifestProfile> profile;

    bool operator==(const Manifest&) const = default;
};

// A manifest that can't be used; what() is one line naming the field.
struct ManifestError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Lowercase hex SHA-256 of `text` (profile.sha256).
std::string sha256_hex(std::string_view text);

// "IMAGE.manifest.json".
std::string manifest_path(const std::string& image_path);

// Pretty JSON (two-space indent) ending in a newline, fields in the order above.
std::string format_manifest(const Manifest& m);

// Throws ManifestError ("manifest: <field>: <why>") for anything but a
// manifest format_manifest could have written: missing or mistyped fields,
// bad hex/base64/UUID, sizes that aren't whole blocks, an image too small for
// the tree it claims to carry, a signature over another root hash, a profile
// that is not this image's or whose sha256 differs. Hex is
// accepted in either case and stored lowercase.
Manifest parse_manifest(std::string_view text);

}  // namespace lazyroot::verity
