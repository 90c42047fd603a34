#include "cli/handoff_boot.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "cache/cache_format.h"
#include "cli/handoff.h"
#include "dm/loop_device.h"
#include "io/log.h"
#include "io/unique_fd.h"
#include "verity/activate.h"
#include "verity/superblock.h"

namespace lazyroot::cli {
namespace {

bool read_at(int fd, uint64_t off, std::vector<uint8_t>& buf) {
    return ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off)) == static_cast<ssize_t>(buf.size());
}

// The cache's header, from the sidecar (a file) or the 4 KiB-aligned area at
// the end of a block device (found by its magic, then checked by the CRC).
std::optional<cache::CacheHeader> read_header(const std::string& path, int data_fd, bool block, int& meta_fd,
                                              uint64_t& meta_off, io::UniqueFd& sidecar) {
    std::vector<uint8_t> head(cache::kHeaderBytes);
    if (!block) {
        sidecar = io::UniqueFd(::open((path + ".lzmeta").c_str(), O_RDONLY | O_CLOEXEC));
        if (!sidecar || !read_at(sidecar.get(), 0, head)) return std::nullopt;
        meta_fd = sidecar.get();
        meta_off = 0;
        return cache::decode_header(head);
    }
    uint64_t size = 0;
    if (::ioctl(data_fd, BLKGETSIZE64, &size) != 0 || size < cache::kHeaderBytes) return std::nullopt;
    // The metadata is at most a few MiB (one bit per chunk).
    const uint64_t floor = size > (64ull << 20) ? size - (64ull << 20) : 0;
    std::vector<uint8_t> magic(sizeof cache::kCacheMagic);
    for (uint64_t off = (size - cache::kHeaderBytes) & ~uint64_t{4095};; off -= 4096) {
        if (read_at(data_fd, off, magic) && std::equal(magic.begin(), magic.end(), cache::kCacheMagic) &&
            read_at(data_fd, off, head)) {
            auto h = cache::decode_header(head);
            if (h && ((size - cache::metadata_bytes(h->chunk_count)) & ~uint64_t{4095}) == off) {
                meta_fd = data_fd;
                meta_off = off;
                return h;
            }
        }
        if (off < floor + 4096) return std::nullopt;
    }
}

bool bitmap_complete(int meta_fd, uint64_t meta_off, const cache::CacheHeader& h) {
    std::vector<uint8_t> bits(h.bitmap_bytes);
    if (!read_at(meta_fd, meta_off + h.bitmap_offset, bits)) return false;
    for (uint64_t i = 0; i < h.chunk_count; ++i)
        if (!(bits[i / 8] & (1u << (i % 8)))) return false;
    return true;
}

// Where the verity superblock is: --hash-offset, else the last 4 KiB block
// holding one within the image (the tree follows the data, `prepare` and
// --hash-source alike). dm-verity then checks it all against the root hash.
std::optional<uint64_t> find_superblock(int fd, uint64_t image_size, const AttachOptions& o) {
    if (o.hash_offset) return o.hash_offset;
    std::vector<uint8_t> sb(verity::kSuperblockBytes);
    const uint64_t floor = image_size - std::min<uint64_t>(image_size, image_size / 32 + (uint64_t{1} << 20));
    for (uint64_t off = (image_size - 4096) & ~uint64_t{4095}; off >= floor && off < image_size; off -= 4096) {
        if (read_at(fd, off, sb))
            if (auto s = verity::decode_superblock(sb); s && s->data_blocks * s->data_block_size <= off) return off;
        if (off == 0) break;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> attach_from_complete_cache(const AttachOptions& o) {
    if (o.verity != VerityKind::RootHash || o.root_hash.size() != 64 || o.cache.empty() || !handoff_wanted(o, true)) return std::nullopt;
    io::UniqueFd data(::open(o.cache.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st{};
    if (!data || ::fstat(data.get(), &st) != 0) return std::nullopt;
    const bool block = S_ISBLK(st.st_mode);
    int meta_fd = -1;
    uint64_t meta_off = 0;
    io::UniqueFd sidecar;
    auto h = read_header(o.cache, data.get(), block, meta_fd, meta_off, sidecar);
    if (!h || !bitmap_complete(meta_fd, meta_off, *h) || h->image_size % 512) return std::nullopt;
    const auto hash_offset = find_superblock(data.get(), h->image_size, o);
    if (!hash_offset) return std::nullopt;
    try {
        dm::LoopDevice loop;
        std::string lower = o.cache;
        if (!block) {
            loop = dm::make_loop_device(o.cache, 0, h->image_size);
            lower = loop.path;
        }
        verity::ActivateOptions va;
        va.data_device = va.hash_device = lower;
        va.hash_offset = *hash_offset;
        va.root_hash_hex = o.root_hash;
        va.name = o.name;
        const std::string path = verity::activate(va);
        nlohmann::json state = {{"source", o.source}, {"mode", to_string(o.mode)}, {"cache", o.cache},
                                {"root_hash", o.root_hash}, {"origin", o.from_kernel_cmdline ? "cmdline" : "cli"}};
        record_handoff(o.name, state, lower);
        log::info("%s holds the whole image with root hash %s: %s reads it in the kernel (%s), without the "
                  "network or a daemon",
                  o.cache.c_str(), o.root_hash.c_str(), path.c_str(), lower.c_str());
        return path;
    } catch (const std::exception& e) {
        log::warn("the complete cache %s cannot be used on its own (%s); attaching through the server",
                  o.cache.c_str(), e.what());
        return std::nullopt;
    }
}

}  // namespace lazyroot::cli
