#include "cache/cache_inspect.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "io/unique_fd.h"

namespace lazyroot::cache {
namespace {

bool read_at(int fd, uint64_t off, std::vector<uint8_t>& buf) {
    return ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off)) == static_cast<ssize_t>(buf.size());
}

// The header at the end of a block device: the 4 KiB-aligned area that holds
// the magic, decodes, and sits exactly where its own size says it should.
std::optional<CacheHeader> trailing_header(int fd, uint64_t& meta_off) {
    uint64_t size = 0;
    if (::ioctl(fd, BLKGETSIZE64, &size) != 0 || size < kHeaderBytes) return std::nullopt;
    // The metadata is at most a few MiB (one bit per chunk).
    const uint64_t floor = size > (64ull << 20) ? size - (64ull << 20) : 0;
    std::vector<uint8_t> magic(sizeof kCacheMagic);
    std::vector<uint8_t> head(kHeaderBytes);
    for (uint64_t off = (size - kHeaderBytes) & ~uint64_t{4095};; off -= 4096) {
        if (read_at(fd, off, magic) && std::equal(magic.begin(), magic.end(), kCacheMagic) && read_at(fd, off, head))
            if (auto h = decode_header(head); h && ((size - metadata_bytes(h->chunk_count)) & ~uint64_t{4095}) == off) {
                meta_off = off;
                return h;
            }
        if (off < floor + 4096) return std::nullopt;
    }
}

}  // namespace

std::optional<CacheSummary> inspect_cache(const std::string& path) {
    io::UniqueFd data(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!data || ::fstat(data.get(), &st) != 0) return std::nullopt;
    CacheSummary out;
    out.block_device = S_ISBLK(st.st_mode);
    io::UniqueFd sidecar;
    int meta_fd = data.get();
    uint64_t meta_off = 0;
    std::optional<CacheHeader> h;
    if (out.block_device) {
        h = trailing_header(data.get(), meta_off);
    } else {
        sidecar = io::UniqueFd(::open((path + ".lzmeta").c_str(), O_RDONLY | O_CLOEXEC));
        std::vector<uint8_t> head(kHeaderBytes);
        if (sidecar && read_at(sidecar.get(), 0, head)) h = decode_header(head);
        meta_fd = sidecar.get();
    }
    if (!h) return std::nullopt;
    out.header = *h;
    std::vector<uint8_t> bits(h->bitmap_bytes);
    if (!read_at(meta_fd, meta_off + h->bitmap_offset, bits)) return std::nullopt;
    out.complete = true;
    for (uint64_t i = 0; i < h->chunk_count && out.complete; ++i) out.complete = bits[i / 8] & (1u << (i % 8));
    return out;
}

}  // namespace lazyroot::cache
