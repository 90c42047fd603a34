#include "verity/hash_tree.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "io/unique_fd.h"
#include "io/file_io.h"
#include "verity/superblock.h"

namespace lazyroot::verity {
namespace {

// Input per work item. Big enough that reads stay sequential and the per-item
// bookkeeping vanishes, small enough that two threads share the tail evenly.
constexpr uint64_t kChunkBytes = 4u << 20;

struct MdFree {
    void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// One thread's SHA-256. The algorithm is fetched once: OpenSSL 3 otherwise
// looks it up (under a lock) on every EVP_DigestInit_ex(EVP_sha256()).
class Hasher {
public:
    Hasher() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
        if (!md_ || !ctx_) throw std::runtime_error("OpenSSL has no SHA-256");
    }

    void hash(std::span<const uint8_t> salt, std::span<const uint8_t> block, uint8_t* out) {
        unsigned len = 0;
        if (EVP_DigestInit_ex2(ctx_.get(), md_.get(), nullptr) != 1 ||
            EVP_DigestUpdate(ctx_.get(), salt.data(), salt.size()) != 1 ||
            EVP_DigestUpdate(ctx_.get(), block.data(), block.size()) != 1 ||
            EVP_DigestFinal_ex(ctx_.get(), out, &len) != 1 || len != kDigestBytes)
            throw std::runtime_error("SHA-256 failed");
    }

private:
    std::unique_ptr<EVP_MD, MdFree> md_;
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx_;
};

uint64_t div_round_up(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

// Where one hash sits in a level laid out as hash blocks.
uint64_t slot_offset(uint64_t index, uint32_t hashes_per_block, uint32_t hash_block_size) {
    return index / hashes_per_block * hash_block_size + index % hashes_per_block * kDigestBytes;
}

std::string errno_text(int neg_errno) { return neg_errno == -ENODATA ? "file ends early" : std::strerror(-neg_errno); }

struct Source {
    int fd;
    std::string_view name;  // for error messages
};

// Reads `blocks` blocks of `block_size` from src at src_offset and writes one
// level: ceil(blocks / hashes_per_block) zero-padded hash blocks at dst_offset.
// Work items are whole output blocks, so threads never share one.

void hash_level(Source src, uint64_t src_offset, uint64_t blocks, uint32_t block_size, int dst_fd, uint64_t dst_offset,
                const VerityParams& p, uint32_t hashes_per_block, unsigned threads) {
    const uint64_t out_per_item = std::max<uint64_t>(1, kChunkBytes / block_size / hashes_per_block);
    const uint64_t in_per_item = out_per_item * hashes_per_block;
    const uint64_t items = div_round_up(blocks, in_per_item);
    threads = static_cast<unsigned>(std::min<uint64_t>(threads, items));

    std::atomic<uint64_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex error_mu;
    std::string error;
    auto fail = [&](std::string what) {
        std::lock_guard lock(error_mu);
        if (!failed.exchange(true)) error = std::move(what);
    };

    auto worker = [&] {
        try {
            Hasher hasher;
            std::vector<uint8_t> in(in_per_item * block_size);
            std::vector<uint8_t> out(out_per_item * p.hash_block_size);
            while (!failed.load(std::memory_order_relaxed)) {
                const uint64_t item = next.fetch_add(1, std::memory_order_relaxed);
                if (item >= items) return;
                const uint64_t first = item * in_per_item;
                const uint64_t n = std::min(in_per_item, blocks - first);
                const uint64_t from = src_offset + first * block_size;
                if (int r = io::pread_full(src.fd, {in.data(), n * block_size}, from); r < 0)
                    return fail(std::string(src.name) + ": reading at byte " + std::to_string(from) + ": " +
                                errno_text(r));
                const uint64_t n_out = div_round_up(n, hashes_per_block);
                std::memset(out.data(), 0, n_out * p.hash_block_size);
                for (uint64_t k = 0; k < n; ++k)
                    hasher.hash(p.salt, {in.data() + k * block_size, block_size},
                                out.data() + slot_offset(k, hashes_per_block, p.hash_block_size));
                const uint64_t at = dst_offset + item * out_per_item * p.hash_block_size;
                if (int r = io::pwrite_full(dst_fd, {out.data(), n_out * p.hash_block_size}, at); r < 0)
                    return fail("the hash tree: writing at byte " + std::to_string(at) + ": " + errno_text(r));
            }
        } catch (const std::exception& e) {
            fail(e.what());
        }
    };

    std::vector<std::thread> pool;
    try {
        for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
    } catch (const std::system_error&) {
        // Fewer threads still finish the job.
    }
    worker();  // the calling thread is one of them
    for (auto& t : pool) t.join();
    if (failed) throw std::runtime_error(error);
}

}  // namespace

TreeLayout tree_layout(const VerityParams& p) {
    if (!valid_block_size(p.data_block_size) || !valid_block_size(p.hash_block_size))
        throw std::invalid_argument("verity: block sizes must be powers of two from 512 B to 512 KiB");
    if (p.salt.size() > kMaxSaltBytes) throw std::invalid_argument("verity: salt longer than 256 bytes");
    if (p.data_blocks == 0) throw std::invalid_argument("verity: no data blocks");
    // The parameters may come from an unauthenticated superblock: every size
    // below is checked, so that no caller sees a wrapped one. Offsets stay
    // under 2^63 (off_t), as no device is larger.
    constexpr uint64_t kMaxBytes = uint64_t{INT64_MAX};
    uint64_t data_bytes = 0;
    if (__builtin_mul_overflow(p.data_blocks, uint64_t{p.data_block_size}, &data_bytes) || data_bytes > kMaxBytes)
        throw std::invalid_argument("verity: " + std::to_string(p.data_blocks) + " data blocks of " +
                                    std::to_string(p.data_block_size) + " bytes are more than 2^63 bytes");

    TreeLayout l;
    l.hashes_per_block = p.hash_block_size / static_cast<uint32_t>(kDigestBytes);
    l.tree_offset = div_round_up(kSuperblockBytes, p.hash_block_size) * p.hash_block_size;
    // Level sizes bottom-up, until one block covers everything. At most 64
    // levels: each divides by at least 16.
    std::vector<uint64_t> sizes;
    for (uint64_t n = p.data_blocks; n > 1;) {
        n = div_round_up(n, l.hashes_per_block);
        sizes.push_back(n);
    }
    // On disk the top level comes first.
    l.levels.resize(sizes.size());
    uint64_t at = l.tree_offset;
    for (size_t i = sizes.size(); i-- > 0;) {
        l.levels[i] = {at, sizes[i]};
        uint64_t level_bytes = 0;
        if (__builtin_mul_overflow(sizes[i], uint64_t{p.hash_block_size}, &level_bytes) ||
            __builtin_add_overflow(at, level_bytes, &at) || at > kMaxBytes)
            throw std::invalid_argument("verity: the hash tree for " + std::to_string(p.data_blocks) +
                                        " data blocks is more than 2^63 bytes");
        l.tree_blocks += sizes[i];
    }
    l.hash_area_bytes = at;
    return l;
}

std::array<uint8_t, kDigestBytes> hash_block(std::span<const uint8_t> salt, std::span<const uint8_t> block) {
    thread_local Hasher hasher;  // verify_block runs once per fetched block: fetch SHA-256 once per thread
    std::array<uint8_t, kDigestBytes> out{};
    hasher.hash(salt, block, out.data());
    return out;
}

std::vector<uint8_t> build_hash_tree(const std::string& image_path, uint64_t data_bytes, const VerityParams& p,
                                     int out_fd, uint64_t out_offset, unsigned threads) {
    const TreeLayout layout = tree_layout(p);
    if (data_bytes / p.data_block_size != p.data_blocks || data_bytes % p.data_block_size != 0)
        throw std::invalid_argument("verity: data size is not data_blocks whole blocks");
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());

    io::UniqueFd image(::open(image_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!image) throw std::runtime_error(image_path + ": " + std::strerror(errno));
    // Doubles the kernel's readahead window on a cold image.
    ::posix_fadvise(image.get(), 0, static_cast<off_t>(data_bytes), POSIX_FADV_SEQUENTIAL);

    for (size_t i = 0; i < layout.levels.size(); ++i) {
        const uint64_t dst = out_offset + layout.levels[i].offset;
        if (i == 0)
            hash_level({image.get(), image_path}, 0, p.data_blocks, p.data_block_size, out_fd, dst, p,
                       layout.hashes_per_block, threads);
        else
            hash_level({out_fd, "the hash tree"}, out_offset + layout.levels[i - 1].offset, layout.levels[i - 1].blocks,
                       p.hash_block_size, out_fd, dst, p, layout.hashes_per_block, threads);
    }

    // The root is the hash of the top block, or of the only data block.
    const bool no_tree = layout.levels.empty();
    std::vector<uint8_t> top(no_tree ? p.data_block_size : p.hash_block_size);
    const int top_fd = no_tree ? image.get() : out_fd;
    const uint64_t top_at = no_tree ? 0 : out_offset + layout.levels.back().offset;
    if (int r = io::pread_full(top_fd, top, top_at); r < 0)
        throw std::runtime_error((no_tree ? image_path : std::string("the hash tree")) +
                                 ": reading back: " + errno_text(r));
    const auto root = hash_block(p.salt, top);
    return {root.begin(), root.end()};
}

bool verify_block(uint64_t block_index, std::span<const uint8_t> block, std::span<const uint8_t> leaf_hashes,
                  const VerityParams& p) {
    if (block_index >= p.data_blocks || block.size() != p.data_block_size || !valid_block_size(p.hash_block_size))
        return false;
    const uint64_t at = slot_offset(block_index, p.hash_block_size / kDigestBytes, p.hash_block_size);
    if (at + kDigestBytes > leaf_hashes.size()) return false;
    const auto h = hash_block(p.salt, block);
    return CRYPTO_memcmp(h.data(), leaf_hashes.data() + at, kDigestBytes) == 0;
}

bool verify_tree(std::span<const uint8_t> hash_area, const VerityParams& p, std::span<const uint8_t> root_hash) {
    TreeLayout l;
    try {
        l = tree_layout(p);
    } catch (const std::invalid_argument&) {
        return false;  // no tree of that shape fits in any hash area
    }
    if (root_hash.size() != kDigestBytes || hash_area.size() < l.hash_area_bytes) return false;
    if (l.levels.empty()) return true;
    Hasher hasher;
    uint8_t h[kDigestBytes];
    auto block_of = [&](const TreeLevel& level, uint64_t j) {
        return hash_area.subspan(level.offset + j * p.hash_block_size, p.hash_block_size);
    };
    hasher.hash(p.salt, block_of(l.levels.back(), 0), h);
    if (CRYPTO_memcmp(h, root_hash.data(), kDigestBytes) != 0) return false;
    for (size_t i = l.levels.size() - 1; i-- > 0;) {
        const TreeLevel& parent = l.levels[i + 1];
        for (uint64_t j = 0; j < l.levels[i].blocks; ++j) {
            hasher.hash(p.salt, block_of(l.levels[i], j), h);
            const uint64_t at = parent.offset + slot_offset(j, l.hashes_per_block, p.hash_block_size);
            if (CRYPTO_memcmp(h, hash_area.data() + at, kDigestBytes) != 0) return false;
        }
    }
    return true;
}

}  // namespace lazyroot::verity
