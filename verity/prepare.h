#pragma once
#include <string>

// `lazyroot prepare IMAGE`: makes an image servable with dm-verity. Hashes the
// image, writes the veritysetup superblock and tree (appended to the image, or
// to --hash-out), writes IMAGE.manifest.json, optionally signs the root hash,
// and prints the root hash on stdout.
//
// Appended layout (what `veritysetup verify --hash-offset=DATA IMAGE IMAGE ROOT` checks):
//
//   [0, D)                  data, D = dataSize, a multiple of 4096
//   [D, D + 4096)           verity superblock (hashOffset = D)
//   [D + 4096, imageSize)   the tree, top level first
//
// Preparing an image twice must not hash the old tree as data. The rule: if
// IMAGE.manifest.json parses and the image holds, at the manifest's hashOffset
// (or at its dataSize), a verity superblock whose data_blocks * data_block_size
// equals the manifest's dataSize, then the data is the first dataSize bytes and
// the old tree is replaced. Otherwise the whole file is data, unless the file
// ends in a tree (a superblock at D saying D bytes of data, and exactly the
// hash area for D after it): that is refused, as hashing it would make the
// old tree part of the device. A new salt is drawn unless --salt is given
// (hex, none, or keep: the replaced manifest's), so a plain rerun changes the
// root hash; a fixed salt makes the root hash a function of the data alone.
//
// Crash safety follows from the order of the writes: the tree is built in an
// unlinked temporary file next to the image, then the manifest is replaced
// atomically, then the superblock is written into the image and synced, then
// the tree. Whenever the image has grown, its superblock and the manifest
// already describe it, so a rerun finds the right data size.
namespace lazyroot::verity {

struct PrepareOptions {
    std::string image;
    std::string salt_hex;   // empty: 32 random bytes; "-"/"none": no salt; "keep": the replaced manifest's
    std::string sign_key;   // PEM private key, with sign_cert; both or neither
    std::string sign_cert;  // PEM certificate
    std::string hash_out;   // empty: append the tree to the image
    // A prefetch profile to embed in the manifest (its `profile` field; signed
    // with the root hash when sign_key is given). It must be a valid profile
    // of this image as prepared: identity "verity:" + the root hash this run
    // computes (record it on the image as published and rerun with
    // --salt=keep), size the image's with its tree.
    std::string profile;
    // cli's: with compress_level > 0, `prepare` then writes IMAGE.zst (the
    // zstd seekable format, frames of frame_kib) and IMAGE.zst.manifest.json.
    int compress_level = 0;
    uint32_t frame_kib = 64;
};

// Written to a temporary name, synced, then renamed over the old one. Throws.
void write_manifest_file(const std::string& path, const std::string& text);

// Returns the exit status. Setup errors are thrown as std::runtime_error (one line).
int run_prepare(const PrepareOptions& opts);

}  // namespace lazyroot::verity
