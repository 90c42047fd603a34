// libFuzzer: a verity superblock and hash area as a server or a disk hands
// them to attach (VerifyingSource::open), and the tree layout behind it. The
// superblock is not covered by the root hash, so any bytes must give a
// one-line std::runtime_error or a source that reads within its bounds; the
// layout of whatever a superblock decodes to never wraps.
//
// Input: 8 bytes of hash offset, 1 byte of flags (bit 0: the tree is a
// separate source), then the image (or the tree). The root hash given to
// open() is the hash of the top block where there is one, so that one-level
// trees verify and the read paths run too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/event_loop.h"
#include "io/range_source.h"
#include "io/source.h"
#include "verity/encoding.h"
#include "verity/hash_tree.h"
#include "verity/superblock.h"
#include "verity/verifying_source.h"

namespace {

using namespace lazyroot;
using namespace lazyroot::verity;

void check(bool ok) {
    if (!ok) std::abort();
}

// Bytes in memory; reads complete from the loop, as the QueueReader contract says.
class MemorySource final : public io::Source {
public:
    explicit MemorySource(std::span<const uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {}
    uint64_t size() const override { return bytes_.size(); }
    std::string describe() const override { return "memory"; }
    std::unique_ptr<io::QueueReader> open_queue(io::EventLoop& loop, unsigned) override {
        return std::make_unique<Reader>(*this, loop);
    }

private:
    struct Reader final : io::QueueReader {
        Reader(const MemorySource& s, io::EventLoop& l) : src(s), loop(l) {}
        void read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) override {
            check(offset <= src.bytes_.size() && dst.size() <= src.bytes_.size() - offset);
            std::memcpy(dst.data(), src.bytes_.data() + offset, dst.size());
            loop.post([&cb] { cb.on_read_done(0); });
        }
        const MemorySource& src;
        io::EventLoop& loop;
    };
    std::vector<uint8_t> bytes_;
};

// The layout's own promises, for any parameters it accepts.
void check_layout(const VerityParams& p) {
    TreeLayout l;
    try {
        l = tree_layout(p);
    } catch (const std::invalid_argument&) {
        return;
    }
    check(l.hashes_per_block == p.hash_block_size / kDigestBytes);
    check(l.tree_offset >= kSuperblockBytes && l.tree_offset % p.hash_block_size == 0);
    unsigned __int128 at = l.tree_offset, blocks = 0;
    for (size_t i = l.levels.size(); i-- > 0;) {
        check(l.levels[i].offset == at && l.levels[i].blocks > 0);
        at += static_cast<unsigned __int128>(l.levels[i].blocks) * p.hash_block_size;
        blocks += l.levels[i].blocks;
    }
    check(at == l.hash_area_bytes && blocks == l.tree_blocks && at <= INT64_MAX);
    check(l.levels.empty() ? p.data_blocks == 1 : l.levels.back().blocks == 1);
    if (!l.levels.empty())
        check(l.levels[0].blocks == p.data_blocks / l.hashes_per_block + (p.data_blocks % l.hashes_per_block != 0));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 9) return 0;
    uint64_t hash_offset = 0;
    std::memcpy(&hash_offset, data, 8);
    const bool separate = data[8] & 1;
    const std::span<const uint8_t> image(data + 9, size - 9);
    // Mostly in range, sometimes anything at all.
    if (!(data[8] & 2)) hash_offset %= image.size() + 1;

    std::string root_hex(64, '0');
    if (hash_offset <= image.size() && image.size() - hash_offset >= kSuperblockBytes) {
        if (auto sb = decode_superblock(image.subspan(hash_offset, kSuperblockBytes))) {
            check(decode_superblock(encode_superblock(*sb)) == *sb);
            const VerityParams p{sb->data_block_size, sb->hash_block_size, sb->salt, sb->data_blocks};
            check_layout(p);
            try {
                const TreeLayout l = tree_layout(p);
                const auto area = image.subspan(hash_offset);
                if (!l.levels.empty() && l.hash_area_bytes <= area.size()) {
                    const auto root = hash_block(p.salt, area.subspan(l.levels.back().offset, p.hash_block_size));
                    root_hex = to_hex(root);
                }
                verify_tree(area, p, std::vector<uint8_t>(32));
            } catch (const std::invalid_argument&) {}
        }
    }

    try {
        std::unique_ptr<io::Source> tree;
        std::unique_ptr<io::Source> inner = std::make_unique<MemorySource>(image);
        if (separate) {
            tree = std::make_unique<MemorySource>(image);
            // The data is the image itself too: sizes differ from the tree's view only in the offset.
        }
        auto v = VerifyingSource::open(std::move(inner), hash_offset, root_hex, tree.get());
        // Opened: every size it shows is within what is there.
        check(v->data_bytes() <= v->size() && v->hash_offset() + v->hash_area().size() <= v->size() + 0);
        check(v->data_bytes() <= v->hash_offset());
        std::vector<std::byte> all(std::min<uint64_t>(v->size(), 1 << 20));
        const int r = io::read_blocking(*v, 0, all);
        check(r <= 0);  // bytes, or an error (failed verification): never a crash
        v->first_bad_block(0, all);
    } catch (const std::runtime_error& e) {
        check(std::strchr(e.what(), '\n') == nullptr);
    }
    return 0;
}
