#include "verity/verifying_source.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>

#include <unistd.h>

#include "io/buffer_pool.h"
#include "io/event_loop.h"
#include "io/log.h"
#include "io/object_pool.h"
#include "io/range_source.h"
#include "verity/encoding.h"
#include "verity/superblock.h"

namespace lazyroot::verity {
namespace {

constexpr unsigned kAttempts = 3;  // first source, another one, then once more

class VerifyingReader;

// One device read: up to three segments (verified data, the in-memory tree,
// anything else passed through) that complete independently.
struct Request final {
    VerifyingReader* owner = nullptr;
    io::ReadCallback* cb = nullptr;
    unsigned pending = 1;
    int error = 0;
};

// The data-area part of a read, widened to whole blocks when it is not aligned.
struct DataRead final : io::ReadCallback {
    VerifyingReader* owner = nullptr;
    Request* req = nullptr;
    uint64_t offset = 0;            // aligned
    std::span<std::byte> target;    // where it goes: dst itself, or bounce
    io::BufferPool::Buffer bounce;  // when dst was not block-aligned; from the reader's bounces_
    std::span<std::byte> dst;       // the caller's part
    uint64_t dst_offset = 0;
    unsigned attempt = 0;
    void on_read_done(int result) override;
};

struct PassThrough final : io::ReadCallback {
    Request* req = nullptr;
    VerifyingReader* owner = nullptr;
    void on_read_done(int result) override;
};

class VerifyingReader final : public io::QueueReader {
public:
    VerifyingReader(const VerifyingSource& src, std::unique_ptr<io::QueueReader> inner, io::EventLoop& loop)
        : src_(src), inner_(std::move(inner)), loop_(loop) {}

    void read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) override {
        Request* req = &requests_.take();
        req->owner = this;
        req->cb = &cb;
        const uint64_t end = offset + dst.size();
        const uint64_t data_end = src_.data_bytes();
        const uint64_t hash_begin = src_.hash_offset();
        const uint64_t hash_end = hash_begin + src_.hash_area().size();
        uint64_t pos = offset;
        while (pos < end) {
            std::span<std::byte> part;
            if (pos < data_end) {
                const uint64_t stop = std::min(end, data_end);
                part = dst.subspan(pos - offset, stop - pos);
                start_data(*req, pos, part);
                pos = stop;
            } else if (pos >= hash_begin && pos < hash_end) {
                // Served from the verified copy: dm-verity reads its tree here.
                const uint64_t stop = std::min(end, hash_end);
                std::memcpy(dst.data() + (pos - offset), src_.hash_area().data() + (pos - hash_begin), stop - pos);
                pos = stop;
            } else if (src_.separate_tree()) {
                // Between the data and the tree we append: padding the image never had.
                const uint64_t stop = std::min(end, pos < hash_begin ? hash_begin : end);
                std::memset(dst.data() + (pos - offset), 0, stop - pos);
                pos = stop;
            } else {
                const uint64_t stop = std::min(end, pos < hash_begin ? hash_begin : end);
                ++req->pending;
                PassThrough* p = &pass_throughs_.take();
                p->req = req;
                p->owner = this;
                inner_->read(pos, dst.subspan(pos - offset, stop - pos), *p);
                pos = stop;
            }
        }
        if (req->pending == 1) {
            // Nothing asynchronous was started (all from memory): callbacks
            // still run from the loop, never inside read().
            ++req->pending;
            loop_.post([req] { req->owner->part_done(*req, 0); });
        }
        part_done(*req, 0);
    }

    void prefer_another_source() override { inner_->prefer_another_source(); }
    std::string current_source() const override { return inner_->current_source(); }

    void start_data(Request& req, uint64_t pos, std::span<std::byte> part) {
        ++req.pending;
        const uint64_t bs = src_.params().data_block_size;
        DataRead* d = &data_reads_.take();
        d->owner = this;
        d->req = &req;
        d->dst = part;
        d->dst_offset = pos;
        d->offset = pos / bs * bs;
        const uint64_t aligned_end = (pos + part.size() + bs - 1) / bs * bs;
        if (d->offset == pos && aligned_end == pos + part.size()) {
            d->target = part;
        } else {
            d->bounce = bounces_.take(aligned_end - d->offset);
            d->target = {d->bounce.get(), aligned_end - d->offset};
        }
        issue(*d);
    }

    void issue(DataRead& d) { inner_->read(d.offset, d.target, d); }

    void data_done(DataRead& d, int result) {
        if (result == 0) {
            const uint64_t bs = src_.params().data_block_size;
            uint64_t bad = UINT64_MAX;
            for (uint64_t off = 0; off < d.target.size(); off += bs) {
                auto block = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(d.target.data()) + off, bs);
                const uint64_t index = (d.offset + off) / bs;
                if (!verify_block(index, block, src_.leaf_hashes(), src_.params())) {
                    bad = index;
                    break;
                }
            }
            if (bad == UINT64_MAX) {
                if (d.bounce) std::memcpy(d.dst.data(), d.bounce.get() + (d.dst_offset - d.offset), d.dst.size());
                Request* req = d.req;
                bounces_.give(std::move(d.bounce));
                data_reads_.release(d);
                return part_done(*req, 0);
            }
            const std::string from = inner_->current_source();
            log::error("block %llu from %s failed verification%s", static_cast<unsigned long long>(bad),
                       from.empty() ? src_.describe().c_str() : from.c_str(),
                       d.attempt + 1 < kAttempts ? "; trying another source" : "; failing the read");
            // Not EIO: a cache above may still serve the good blocks around
            // this one by reading them on their own.
            result = io::kFailedVerification;
            if (++d.attempt < kAttempts) {
                inner_->prefer_another_source();
                return issue(d);
            }
        }
        Request* req = d.req;
        bounces_.give(std::move(d.bounce));
        data_reads_.release(d);
        part_done(*req, result);
    }

    void part_done(Request& req, int result) {
        if (result < 0) req.error = result;
        if (--req.pending > 0) return;
        io::ReadCallback* cb = req.cb;
        int e = req.error;
        requests_.release(req);
        cb->on_read_done(e);
    }

    void pass_through_done(PassThrough& p, int result) {
        Request* r = p.req;
        pass_throughs_.release(p);
        part_done(*r, result);
    }

private:
    const VerifyingSource& src_;
    // Before inner_: freed after it, whatever it still completes.
    io::ObjectPool<Request> requests_;
    io::ObjectPool<DataRead> data_reads_;
    io::BufferPool bounces_{4096, 1u << 20};  // unaligned reads' blocks, reused
    io::ObjectPool<PassThrough> pass_throughs_;
    std::unique_ptr<io::QueueReader> inner_;
    io::EventLoop& loop_;
};

void DataRead::on_read_done(int result) { owner->data_done(*this, result); }

void PassThrough::on_read_done(int result) { owner->pass_through_done(*this, result); }

}  // namespace

std::unique_ptr<VerifyingSource> VerifyingSource::open(std::unique_ptr<io::Source> inner, uint64_t hash_offset,
                                                       const std::string& root_hash_hex, io::Source* tree) {
    std::unique_ptr<VerifyingSource> v(new VerifyingSource(std::move(inner)));
    io::Source& from = tree ? *tree : *v->inner_;
    const std::string where = tree ? " of the hash tree " + tree->describe() : "";
    const auto root = from_hex(root_hash_hex);
    if (!root || root->size() != kDigestBytes) throw std::runtime_error("--verity: not a sha256 root hash");

    std::vector<std::byte> sb_bytes(kSuperblockBytes);
    const uint64_t from_size = from.size();
    if (hash_offset > from_size || from_size - hash_offset < sb_bytes.size())
        throw std::runtime_error("no verity superblock at offset " + std::to_string(hash_offset) + where +
                                 ": past its end");
    if (int r = io::read_blocking(from, hash_offset, sb_bytes); r < 0)
        throw std::runtime_error("cannot read the verity superblock" + where + ": " + std::strerror(-r));
    auto sb = decode_superblock({reinterpret_cast<const uint8_t*>(sb_bytes.data()), sb_bytes.size()});
    if (!sb) throw std::runtime_error("no verity superblock at offset " + std::to_string(hash_offset) + where);
    // The superblock is not covered by the root hash: each field is checked
    // against the sizes of what is really there before it sizes anything.
    const std::string bad_sb = "bad verity superblock at offset " + std::to_string(hash_offset) + where + ": ";
    if (sb->algorithm != "sha256") {
        std::string alg = sb->algorithm;  // any bytes but NUL: keep the error one line
        for (char& c : alg)
            if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
        throw std::runtime_error(bad_sb + "algorithm " + alg + " (only sha256)");
    }
    if (sb->hash_type != 1)
        throw std::runtime_error(bad_sb + "hash type " + std::to_string(sb->hash_type) + " (only 1)");
    if (sb->data_blocks == 0) throw std::runtime_error(bad_sb + "no data blocks");
    v->params_.data_block_size = sb->data_block_size;
    v->params_.hash_block_size = sb->hash_block_size;
    v->params_.salt = sb->salt;
    v->params_.data_blocks = sb->data_blocks;
    try {
        v->layout_ = tree_layout(v->params_);  // sizes checked for overflow
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(bad_sb + e.what());
    }
    const uint64_t area = v->layout_.hash_area_bytes;
    if (area > from_size - hash_offset)
        throw std::runtime_error("the verity hash area (" + std::to_string(area) + " bytes) runs past the end" +
                                 (tree ? where : " of the image"));
    if (tree) {
        if (v->data_bytes() > v->inner_->size())
            throw std::runtime_error("the hash tree " + tree->describe() + " covers " +
                                     std::to_string(v->data_bytes()) + " bytes of data, but " + v->inner_->describe() +
                                     " has only " + std::to_string(v->inner_->size()));
        // The device shows the data, then the verified tree at the next hash
        // block: dm-verity finds both on it, as with a tree that `prepare`
        // appended. No wrap: both sizes are under 2^63 (tree_layout).
        const uint64_t hb = v->params_.hash_block_size;
        v->separate_tree_ = true;
        v->hash_offset_ = (v->data_bytes() + hb - 1) / hb * hb;
    } else {
        // The data ends where the hash area begins (the superblock is no data).
        if (v->data_bytes() > hash_offset)
            throw std::runtime_error(bad_sb + std::to_string(sb->data_blocks) + " data blocks of " +
                                     std::to_string(sb->data_block_size) + " bytes run into the hash area");
        v->hash_offset_ = hash_offset;
    }

    // Bounded by the image or tree size above, but that size is the server's
    // word: refuse a tree this machine could not hold rather than die of it.
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && area / static_cast<uint64_t>(page) > static_cast<uint64_t>(pages) / 2)
        throw std::runtime_error("the verity hash area (" + std::to_string(area) +
                                 " bytes) is larger than half of this machine's memory");
    try {
        v->hash_area_.resize(area);
    } catch (const std::bad_alloc&) {
        throw std::runtime_error("cannot allocate " + std::to_string(area) + " bytes for the verity hash area");
    }
    if (int r = io::read_blocking(from, hash_offset,
                                  {reinterpret_cast<std::byte*>(v->hash_area_.data()), v->hash_area_.size()});
        r < 0)
        throw std::runtime_error("cannot read the verity hash tree" + where + ": " + std::strerror(-r));
    v->root_ = *root;
    if (!verify_tree(v->hash_area_, v->params_, *root))
        throw std::runtime_error("the image does not match root hash " + root_hash_hex +
                                 " (its hash tree does not hash to it)");
    return v;
}

std::optional<uint64_t> VerifyingSource::first_bad_block(uint64_t offset, std::span<const std::byte> bytes) const {
    const uint64_t bs = params_.data_block_size;
    const uint64_t end = offset + bytes.size();
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    // Data: whole blocks only (a chunk is a multiple of the block size, so
    // only a block cut by the end of a range is left out).
    for (uint64_t pos = (offset + bs - 1) / bs * bs; pos + bs <= std::min(end, data_bytes()); pos += bs)
        if (!verify_block(pos / bs, {p + (pos - offset), bs}, leaf_hashes(), params_)) return pos / bs;
    // The tree as served: it must be the verified copy.
    const uint64_t hash_end = hash_offset_ + hash_area_.size();
    for (uint64_t pos = std::max(offset, hash_offset_); pos < std::min(end, hash_end);) {
        const uint64_t stop = std::min({end, hash_end, (pos / bs + 1) * bs});
        if (std::memcmp(p + (pos - offset), hash_area_.data() + (pos - hash_offset_), stop - pos) != 0) return pos / bs;
        pos = stop;
    }
    // Between the data and a separate tree: zeros we made up.
    if (separate_tree_)
        for (uint64_t pos = std::max(offset, data_bytes()); pos < std::min(end, hash_offset_); ++pos)
            if (p[pos - offset] != 0) return pos / bs;
    return std::nullopt;
}

std::span<const uint8_t> VerifyingSource::leaf_hashes() const {
    // A one-block image has no tree: its block hashes to the root itself.
    if (layout_.levels.empty()) return root_;
    const TreeLevel& leaf = layout_.levels.front();
    return {hash_area_.data() + leaf.offset, leaf.blocks * params_.hash_block_size};
}

std::unique_ptr<io::QueueReader> VerifyingSource::open_queue(io::EventLoop& loop, unsigned depth) {
    return std::make_unique<VerifyingReader>(*this, inner_->open_queue(loop, depth), loop);
}

std::unique_ptr<io::QueueReader> VerifyingSource::open_fill_queue(io::EventLoop& loop, unsigned depth) {
    return std::make_unique<VerifyingReader>(*this, inner_->open_fill_queue(loop, depth), loop);
}

}  // namespace lazyroot::verity
