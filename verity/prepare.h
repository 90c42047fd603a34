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
// the old tree is replaced. Otherwise the whole file is data. Nothing depends
// on the old salt: a new one is drawn unless --salt is given.
//
// Crash safety follows from the order of the writes: the tree is built in an
// unlinked temporary file next to the image, then the manifest is replaced
// atomically, then the superblock is written into the image and synced, then
// the tree. Whenever the image has grown, its superblock and the manifest
// already describe it, so a rerun finds the right data size.
namespace lazyroot::verity {

struct PrepareOptions {
    std::string image;
    std::string salt_hex;   // empty: 32 random bytes
    std::string sign_key;   // PEM private key, with sign_cert; both or neither
    std::string sign_cert;  // PEM certificate
    std::string hash_out;   // empty: append the tree to the image
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
