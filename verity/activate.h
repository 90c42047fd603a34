#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lazyroot::verity {

struct ActivateOptions {
    std::string data_device;   // /dev/ublkbN
    std::string hash_device;   // the same device when the tree follows the data
    uint64_t hash_offset = 0;  // bytes into hash_device where the verity superblock is
    std::string root_hash_hex;
    std::string name = "lazyroot";
    std::vector<uint8_t> signature;  // DER PKCS#7 over the hex root hash; kernel keyring checks it
};

// Maps /dev/mapper/NAME over the data device with libcryptsetup, then reads
// the first block through it so that a wrong root hash fails here, with no
// device left behind, instead of at mount. Returns "/dev/mapper/NAME".
// Throws std::runtime_error with a one-line reason.
std::string activate(const ActivateOptions& opts);

// Removes the mapping; 0 or -errno. Safe to call when it does not exist.
int deactivate(const std::string& name);

}  // namespace lazyroot::verity
