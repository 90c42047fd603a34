#include "verity/activate.h"

#include <fcntl.h>
#include <libcryptsetup.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace lazyroot::verity {
namespace {

struct CryptDeleter {
    void operator()(crypt_device* cd) const { crypt_free(cd); }
};
using Crypt = std::unique_ptr<crypt_device, CryptDeleter>;

std::vector<char> parse_hex(const std::string& hex) {
    if (hex.empty() || hex.size() % 2) throw std::runtime_error("--verity: root hash must be hex: " + hex);
    std::vector<char> out(hex.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        unsigned v = 0;
        if (std::sscanf(hex.c_str() + 2 * i, "%2x", &v) != 1)
            throw std::runtime_error("--verity: root hash must be hex: " + hex);
        out[i] = static_cast<char>(v);
    }
    return out;
}

std::string fail_text(const char* what, int r) { return std::string(what) + ": " + std::strerror(-r); }

// libcryptsetup prints its errors on stderr by default; the contract is one
// line, so keep its last error to quote instead.
void keep_last_error(int level, const char* msg, void* usrptr) {
    if (level != CRYPT_LOG_ERROR || !msg) return;
    auto* last = static_cast<std::string*>(usrptr);
    *last = msg;
    for (char& c : *last)
        if (c == '\n' || c == '\r') c = ' ';
    while (!last->empty() && last->back() == ' ') last->pop_back();
}

}  // namespace

std::string activate(const ActivateOptions& o) {
    const std::vector<char> root = parse_hex(o.root_hash_hex);
    std::string last_error;
    crypt_set_log_callback(nullptr, keep_last_error, &last_error);
    struct Restore {
        ~Restore() { crypt_set_log_callback(nullptr, nullptr, nullptr); }
    } restore;
    crypt_device* raw = nullptr;
    if (int r = crypt_init_data_device(&raw, o.hash_device.c_str(), o.data_device.c_str()); r < 0)
        throw std::runtime_error(fail_text("cannot open the verity devices", r));
    Crypt cd(raw);
    crypt_set_log_callback(cd.get(), keep_last_error, &last_error);

    crypt_params_verity params{};
    params.hash_area_offset = o.hash_offset;
    if (int r = crypt_load(cd.get(), CRYPT_VERITY, &params); r < 0)
        throw std::runtime_error(fail_text(
            ("no verity superblock at offset " + std::to_string(o.hash_offset) + " of " + o.hash_device).c_str(), r));

    int r;
    // With a signature the kernel checks it against its trusted keyrings
    // (.builtin_trusted_keys, .secondary_trusted_keys, .platform): what
    // dm_verity.require_signatures=1 demands.
    if (!o.signature.empty())
        r = crypt_activate_by_signed_key(cd.get(), o.name.c_str(), root.data(), root.size(),
                                         reinterpret_cast<const char*>(o.signature.data()), o.signature.size(),
                                         CRYPT_ACTIVATE_READONLY);
    else
        r = crypt_activate_by_volume_key(cd.get(), o.name.c_str(), root.data(), root.size(), CRYPT_ACTIVATE_READONLY);
    if (r == -EEXIST) throw std::runtime_error("/dev/mapper/" + o.name + " already exists (--name)");
    if (r < 0 && !o.signature.empty())
        throw std::runtime_error(fail_text("the kernel refused the root-hash signature (is its signer in the kernel's "
                                           "trusted keyrings?)",
                                           r) +
                                 (last_error.empty() ? "" : " (" + last_error + ")"));
    if (r < 0)
        throw std::runtime_error(fail_text("dm-verity activation failed", r) +
                                 (last_error.empty() ? "" : " (" + last_error + ")"));

    // The kernel checks a block against the root hash when it is read; read
    // one now so a wrong root hash is an attach error, not a mount error.
    const std::string path = "/dev/mapper/" + o.name;
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    bool ok = false;
    if (fd >= 0) {
        void* buf = nullptr;
        if (::posix_memalign(&buf, 4096, 4096) == 0) {
            ok = ::pread(fd, buf, 4096, 0) == 4096;
            std::free(buf);
        }
        ::close(fd);
    }
    if (!ok) {
        deactivate(o.name);
        throw std::runtime_error("the image does not match root hash " + o.root_hash_hex +
                                 " (dm-verity refused its first block)");
    }
    return path;
}

int deactivate(const std::string& name) {
    int r = crypt_deactivate(nullptr, name.c_str());
    return r == -ENODEV ? 0 : r;
}

}  // namespace lazyroot::verity
