#include "verity/prepare.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <variant>

#include "cache/prefetch_profile.h"
#include "io/log.h"
#include "io/unique_fd.h"
#include "verity/encoding.h"
#include "io/file_io.h"
#include "verity/hash_tree.h"
#include "verity/manifest.h"
#include "verity/signature.h"
#include "verity/superblock.h"

namespace lazyroot::verity {
namespace {

constexpr uint32_t kBlockSize = 4096;
constexpr size_t kDefaultSaltBytes = 32;

[[noreturn]] void fail_errno(const std::string& what, int err) {
    throw std::runtime_error(what + ": " + std::strerror(err));
}

void check(int r, const std::string& what) {
    if (r < 0) fail_errno(what, r == -ENODATA ? EIO : -r);
}

std::optional<std::string> read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return std::nullopt;
    return text.str();
}

std::string read_required(const std::string& path, const char* option) {
    auto text = read_text(path);
    if (!text) throw std::runtime_error(std::string(option) + " " + path + ": cannot read");
    return *text;
}

// The rule in prepare.h: a manifest whose data size a superblock in the image confirms.
std::optional<Manifest> previous_manifest(int fd, const std::string& image, uint64_t file_size) {
    const std::string path = manifest_path(image);
    auto text = read_text(path);
    if (!text) return std::nullopt;
    Manifest m;
    try {
        m = parse_manifest(*text);
    } catch (const ManifestError& e) {
        log::warn("ignoring %s: %s", path.c_str(), e.what());
        return std::nullopt;
    }
    std::vector<uint64_t> candidates{m.data_size};
    if (!m.hash_file) candidates.push_back(m.hash_offset);
    for (uint64_t at : candidates) {
        std::vector<uint8_t> buf(kSuperblockBytes);
        if (at > file_size || file_size - at < buf.size() || io::pread_full(fd, buf, at) < 0) continue;
        auto sb = decode_superblock(buf);
        if (sb && m.data_size % sb->data_block_size == 0 && sb->data_blocks == m.data_size / sb->data_block_size)
            return m;
    }
    return std::nullopt;
}

// Where an appended tree (this tool's or `veritysetup format --hash-offset`'s,
// 4 KiB blocks) starts if the file ends in one: the data size D with
// D + hash area(D) == file size and a superblock at D that says D. D + area(D)
// grows with D, so one binary search finds the only candidate.
std::optional<uint64_t> trailing_tree(int fd, uint64_t file_size) {
    auto end_for = [](uint64_t blocks) {
        return blocks * kBlockSize + tree_layout({kBlockSize, kBlockSize, {}, blocks}).hash_area_bytes;
    };
    uint64_t lo = 1, hi = file_size / kBlockSize;
    while (lo < hi) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (end_for(mid) < file_size)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || lo > file_size / kBlockSize || end_for(lo) != file_size) return std::nullopt;
    const uint64_t at = lo * kBlockSize;
    std::vector<uint8_t> buf(kSuperblockBytes);
    if (io::pread_full(fd, buf, at) < 0) return std::nullopt;
    auto sb = decode_superblock(buf);
    if (!sb || sb->data_block_size != kBlockSize || sb->data_blocks != lo) return std::nullopt;
    return at;
}

std::vector<uint8_t> choose_salt(const std::string& hex, const std::optional<Manifest>& previous) {
    if (hex == "-" || hex == "none") return {};  // no salt ("-" as veritysetup spells it)
    if (hex == "keep") {
        // Same data, same salt: the same root hash as the run before.
        if (!previous) throw std::runtime_error("--salt=keep: there is no earlier manifest whose salt to keep");
        return previous->salt;
    }
    if (hex.empty()) {
        std::vector<uint8_t> salt(kDefaultSaltBytes);
        if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1)
            throw std::runtime_error("cannot get random bytes for the salt");
        return salt;
    }
    auto salt = from_hex(hex);
    if (!salt || salt->size() > kMaxSaltBytes)
        throw std::runtime_error("--salt: must be hex (at most 256 bytes), none, - or keep");
    return *salt;
}

// An unlinked file in the image's directory (same filesystem, nothing left behind).
io::UniqueFd temporary_file_near(const std::string& path) {
    auto dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    io::UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (fd) return fd;
    std::string name = path + ".verity-XXXXXX";  // filesystems without O_TMPFILE
    fd.reset(::mkostemp(name.data(), O_CLOEXEC));
    if (!fd) fail_errno(dir.string() + ": cannot create a temporary file", errno);
    ::unlink(name.c_str());
    return fd;
}

void copy_range(int from, uint64_t from_offset, int to, uint64_t to_offset, uint64_t len, const std::string& to_name) {
    std::vector<uint8_t> buf(1u << 20);
    while (len > 0) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(len, buf.size()));
        check(io::pread_full(from, {buf.data(), n}, from_offset), "reading back the hash tree");
        check(io::pwrite_full(to, {buf.data(), n}, to_offset), to_name + ": writing the hash tree");
        from_offset += n;
        to_offset += n;
        len -= n;
    }
}

void sync_data(int fd, const std::string& name) {
    if (::fdatasync(fd) != 0) fail_errno(name + ": fdatasync", errno);
}

}  // namespace

void write_manifest_file(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    io::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) fail_errno(tmp, errno);
    check(io::pwrite_full(fd.get(), {reinterpret_cast<const uint8_t*>(text.data()), text.size()}, 0), tmp);
    if (::fsync(fd.get()) != 0) fail_errno(tmp + ": fsync", errno);
    fd.reset();
    if (std::rename(tmp.c_str(), path.c_str()) != 0) fail_errno("renaming " + tmp, errno);
    check(io::fsync_parent_dir(path), path + ": fsync of its directory");
}

namespace {

ManifestSignature sign(const std::string& root_hex, const PrepareOptions& o) {
    const std::string key = read_required(o.sign_key, "--sign-key");
    const std::string cert = read_required(o.sign_cert, "--sign-cert");
    std::vector<uint8_t> der = sign_root_hash(root_hex, key, cert);
    // An expired or unusable certificate fails here rather than at boot.
    if (auto v = verify_signature(root_hex, der, cert, TimeCheck::Now); !v)
        throw std::runtime_error("the signature does not verify against --sign-cert: " + v.reason);
    return {root_hex, certificate_fingerprint(cert), std::move(der)};
}

// --profile, read and parsed before the image is hashed: a file that is no
// profile at all fails before the minutes of hashing.
cache::PrefetchProfile read_profile(const std::string& path, std::string& text) {
    text = read_required(path, "--profile");
    auto parsed = cache::parse_profile(text);
    if (auto* why = std::get_if<std::string>(&parsed))
        throw std::runtime_error("--profile " + path + ": not a prefetch profile: " + *why);
    return std::get<cache::PrefetchProfile>(std::move(parsed));
}

// The profile as the manifest carries it, once the root hash is known; its
// signature is the root hash's, over the profile's text instead.
ManifestProfile embed_profile(const cache::PrefetchProfile& p, std::string text, const Manifest& m,
                              const PrepareOptions& o) {
    if (p.image != "verity:" + m.root_hash)
        throw std::runtime_error("--profile " + o.profile + ": made for another image (" + p.image.substr(0, 80) +
                                 "), not verity:" + m.root_hash +
                                 " (record it on the image as published, then rerun prepare with --salt=keep)");
    if (p.image_size != m.image_size)
        throw std::runtime_error("--profile " + o.profile + ": made for an image of " + std::to_string(p.image_size) +
                                 " bytes, this one is " + std::to_string(m.image_size) + " with its tree");
    ManifestProfile mp;
    mp.sha256 = sha256_hex(text);
    mp.text = std::move(text);
    if (!o.sign_key.empty()) mp.signature = sign(mp.text, o).signature;
    return mp;
}

}  // namespace

int run_prepare(const PrepareOptions& o) {
    if (o.sign_key.empty() != o.sign_cert.empty()) throw std::runtime_error("--sign-key and --sign-cert go together");
    const bool append = o.hash_out.empty();
    std::string profile_text;
    std::optional<cache::PrefetchProfile> profile;
    if (!o.profile.empty()) profile = read_profile(o.profile, profile_text);

    io::UniqueFd image(::open(o.image.c_str(), (append ? O_RDWR : O_RDONLY) | O_CLOEXEC));
    if (!image) fail_errno(o.image, errno);
    struct stat st {};
    if (::fstat(image.get(), &st) != 0) fail_errno(o.image, errno);
    if (!S_ISREG(st.st_mode)) throw std::runtime_error(o.image + ": not a regular file");
    const uint64_t file_size = static_cast<uint64_t>(st.st_size);

    const auto previous = previous_manifest(image.get(), o.image, file_size);
    if (!previous && file_size > 0 && file_size % kBlockSize == 0) {
        // Hashing an old tree as data would give a device whose end is that
        // tree: refuse, and say how to start over.
        if (auto at = trailing_tree(image.get(), file_size))
            throw std::runtime_error(o.image + " already ends in a verity hash tree (superblock at byte " +
                                     std::to_string(*at) + ") but " + manifest_path(o.image) +
                                     " is missing or does not match it: restore the manifest, or cut the tree off "
                                     "(truncate -s " +
                                     std::to_string(*at) + " " + o.image + ")");
    }
    const uint64_t data_size = previous ? previous->data_size : file_size;
    if (data_size == 0) throw std::runtime_error(o.image + ": empty image");
    if (data_size % kBlockSize != 0)
        throw std::runtime_error(o.image + ": size " + std::to_string(data_size) +
                                 " is not a multiple of 4096 bytes (pad it: truncate -s %4096 " + o.image + ")");
    if (previous && data_size < file_size)
        log::info("%s: replacing the hash tree at %llu (data size from %s)", o.image.c_str(),
                  static_cast<unsigned long long>(data_size), manifest_path(o.image).c_str());

    const VerityParams p{kBlockSize, kBlockSize, choose_salt(o.salt_hex, previous), data_size / kBlockSize};
    const TreeLayout layout = tree_layout(p);
    Superblock sb;
    sb.uuid = random_uuid();
    sb.data_block_size = p.data_block_size;
    sb.hash_block_size = p.hash_block_size;
    sb.data_blocks = p.data_blocks;
    sb.salt = p.salt;
    std::vector<uint8_t> sb_block = encode_superblock(sb);
    sb_block.resize(layout.tree_offset, 0);

    // The hash area goes straight to --hash-out, or first to a temporary file.
    io::UniqueFd out;
    std::string out_name = o.hash_out;
    if (append) {
        out = temporary_file_near(o.image);
        out_name = "temporary hash file";
    } else {
        out.reset(::open(o.hash_out.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        if (!out) fail_errno(o.hash_out, errno);
        struct stat ost {};
        if (::fstat(out.get(), &ost) == 0 && ost.st_dev == st.st_dev && ost.st_ino == st.st_ino)
            throw std::runtime_error("--hash-out is the image itself (leave it out to append the tree)");
    }
    if (::ftruncate(out.get(), static_cast<off_t>(layout.hash_area_bytes)) != 0) fail_errno(out_name, errno);
    check(io::pwrite_full(out.get(), sb_block, 0), out_name + ": writing the superblock");

    const auto t0 = std::chrono::steady_clock::now();
    const std::string root_hex = to_hex(build_hash_tree(o.image, data_size, p, out.get(), 0));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    Manifest m;
    m.root_hash = root_hex;
    m.data_size = data_size;
    m.hash_offset = append ? data_size : 0;
    m.data_block_size = p.data_block_size;
    m.hash_block_size = p.hash_block_size;
    m.salt = p.salt;
    m.image_size = append ? data_size + layout.hash_area_bytes : file_size;
    m.uuid = format_uuid(sb.uuid);
    if (!append) m.hash_file = o.hash_out;
    if (!o.sign_key.empty()) m.signature = sign(root_hex, o);
    if (profile) m.profile = embed_profile(*profile, std::move(profile_text), m, o);

    if (!append) {
        sync_data(out.get(), out_name);
        write_manifest_file(manifest_path(o.image), format_manifest(m));
    } else {
        // Manifest, then superblock (synced), then tree: see prepare.h.
        write_manifest_file(manifest_path(o.image), format_manifest(m));
        check(io::pwrite_full(image.get(), sb_block, data_size), o.image + ": writing the superblock");
        sync_data(image.get(), o.image);
        copy_range(out.get(), layout.tree_offset, image.get(), data_size + layout.tree_offset,
                   layout.hash_area_bytes - layout.tree_offset, o.image);
        if (::ftruncate(image.get(), static_cast<off_t>(m.image_size)) != 0) fail_errno(o.image, errno);
        sync_data(image.get(), o.image);
    }

    log::info("%s: %llu blocks hashed in %.2f s (%.2f GB/s); %llu-byte hash area at %llu in %s; %s", o.image.c_str(),
              static_cast<unsigned long long>(p.data_blocks), seconds,
              seconds > 0 ? static_cast<double>(data_size) / seconds / 1e9 : 0.0,
              static_cast<unsigned long long>(layout.hash_area_bytes), static_cast<unsigned long long>(m.hash_offset),
              append ? o.image.c_str() : o.hash_out.c_str(), manifest_path(o.image).c_str());
    std::printf("%s\n", root_hex.c_str());
    std::fflush(stdout);
    return 0;
}

}  // namespace lazyroot::verity
