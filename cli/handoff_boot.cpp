#include "cli/handoff_boot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "cache/cache_inspect.h"
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
    if (o.verity != VerityKind::RootHash || o.root_hash.size() != 64 || o.cache.empty() || !handoff_wanted(o, true))
        return std::nullopt;
    const auto summary = cache::inspect_cache(o.cache);
    if (!summary || !summary->complete || summary->header.image_size % 512) return std::nullopt;
    const auto* h = &summary->header;
    const bool block = summary->block_device;
    io::UniqueFd data(::open(o.cache.c_str(), O_RDONLY | O_CLOEXEC));
    if (!data) return std::nullopt;
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
        nlohmann::json state = {{"source", o.source},
                                {"mode", to_string(o.mode)},
                                {"cache", o.cache},
                                {"root_hash", o.root_hash},
                                {"origin", o.from_kernel_cmdline ? "cmdline" : "cli"}};
        record_handoff(o.name, state, lower);
        log::info(
            "%s holds the whole image with root hash %s: %s reads it in the kernel (%s), without the "
            "network or a daemon",
            o.cache.c_str(), o.root_hash.c_str(), path.c_str(), lower.c_str());
        return path;
    } catch (const std::exception& e) {
        log::warn("the complete cache %s cannot be used on its own (%s); attaching through the server", o.cache.c_str(),
                  e.what());
        return std::nullopt;
    }
}

}  // namespace lazyroot::cli
