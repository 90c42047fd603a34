#include "compress/seekable_source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <thread>
#include <vector>

#include "io/event_loop.h"
#include "io/log.h"
#include "io/range_source.h"

namespace lazyroot::compress {

namespace {

// Decoded frames a queue keeps: a reader of 4 KiB blocks inside one frame
// fetches it once, and two frames' worth covers a read that straddles them.
constexpr size_t kKeptFrames = 4;

struct DecodedFrame {
    size_t index;
    std::shared_ptr<std::vector<std::byte>> bytes;
};

}  // namespace

class SeekableReader final : public io::QueueReader {
public:
    SeekableReader(SeekableSource& src, io::EventLoop& loop, std::unique_ptr<io::QueueReader> inner)
        : src_(src), loop_(loop), inner_(std::move(inner)), alive_(std::make_shared<bool>(true)) {}
    ~SeekableReader() override { *alive_ = false; }

    void read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) override;
    void prefer_another_source() override {
        kept_.clear();
        inner_->prefer_another_source();
    }
    std::string current_source() const override { return inner_->current_source(); }

private:
    // One read: the frames [first, last], fetched as one compressed range.
    struct Op final : io::ReadCallback {
        SeekableReader* r;
        std::shared_ptr<bool> alive;
        uint64_t offset;
        std::span<std::byte> dst;
        io::ReadCallback* cb;
        size_t first, last;
        std::vector<std::byte> compressed;
        std::vector<DecodedFrame> frames;
        int result = 0;
        std::string why;
        size_t bad_frame = 0;
        void on_read_done(int res) override { r->fetched(this, res); }
    };

    const DecodedFrame* kept(size_t index) const {
        for (const auto& f : kept_)
            if (f.index == index) return &f;
        return nullptr;
    }
    void keep(const DecodedFrame& f) {
        if (kept(f.index)) return;
        if (kept_.size() == kKeptFrames) kept_.pop_front();
        kept_.push_back(f);
    }
    void fetched(Op* op, int res);
    void decoded(Op* op);
    void copy_out(Op* op);

    SeekableSource& src_;
    io::EventLoop& loop_;
    std::unique_ptr<io::QueueReader> inner_;
    std::shared_ptr<bool> alive_;  // read on this loop only: a decode finishing after the reader is gone
    std::deque<DecodedFrame> kept_;
};

void SeekableReader::read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) {
    const auto& t = src_.table_;
    auto* op = new Op;
    op->r = this;
    op->alive = alive_;
    op->offset = offset;
    op->dst = dst;
    op->cb = &cb;
    if (dst.empty()) {
        loop_.post([op] { op->cb->on_read_done(0), delete op; });
        return;
    }
    op->first = t.frame_at(offset);
    op->last = t.frame_at(offset + dst.size() - 1);
    // The kept frames this read uses are held by the op itself: other reads
    // completing before it would otherwise evict them from kept_ (a queue has
    // many reads in flight), and it would find neither them nor its own.
    for (size_t i = op->first; i <= op->last; ++i)
        if (const DecodedFrame* k = kept(i)) op->frames.push_back(*k);
    // Only the frames this queue doesn't hold are fetched: trim kept ones off both ends.
    size_t lo = op->first, hi = op->last;
    while (lo <= hi && kept(lo)) ++lo;
    while (hi >= lo && hi > 0 && kept(hi)) --hi;
    if (lo > hi) {
        loop_.post([this, op] { copy_out(op); });
        return;
    }
    op->first = lo;
    op->last = hi;
    const auto& a = t.frames()[lo];
    const auto& b = t.frames()[hi];
    op->compressed.resize(b.compressed_offset + b.compressed_size - a.compressed_offset);
    inner_->read(a.compressed_offset, op->compressed, *op);
}

void SeekableReader::fetched(Op* op, int res) {
    if (res < 0) {
        op->result = res;
        copy_out(op);
        return;
    }
    src_.wire_bytes_.fetch_add(op->compressed.size(), std::memory_order_relaxed);
    // Off the loop: decompression time is not spent while other tags wait.
    src_.pool_.submit([this, op, &loop = loop_, &t = src_.table_] {
        const uint64_t base = t.frames()[op->first].compressed_offset;
        for (size_t i = op->first; i <= op->last; ++i) {
            const Frame& f = t.frames()[i];
            auto bytes = std::make_shared<std::vector<std::byte>>(f.size);
            std::span<const std::byte> in(op->compressed.data() + (f.compressed_offset - base), f.compressed_size);
            if (int r = decode_frame(in, *bytes, &op->why); r < 0) {
                op->result = r;
                op->bad_frame = i;
                break;
            }
            op->frames.push_back({i, std::move(bytes)});
        }
        loop.post([this, op] {
            if (!*op->alive) {
                delete op;  // the queue is gone; nobody waits for this read
                return;
            }
            decoded(op);
        });
    });
}

void SeekableReader::decoded(Op* op) {
    if (op->result < 0) {
        log::error("%s: zstd frame %zu (image bytes %llu+%u): %s", src_.describe().c_str(), op->bad_frame,
                   static_cast<unsigned long long>(src_.table_.frames()[op->bad_frame].offset),
                   src_.table_.frames()[op->bad_frame].size, op->why.c_str());
    }
    copy_out(op);
}

void SeekableReader::copy_out(Op* op) {
    int res = op->result;
    if (res == 0) {
        const auto& t = src_.table_;
        const uint64_t end = op->offset + op->dst.size();
        size_t first = t.frame_at(op->offset), last = t.frame_at(end - 1);
        for (size_t i = first; i <= last && res == 0; ++i) {
            const Frame& f = t.frames()[i];
            const DecodedFrame* d = nullptr;
            for (const auto& g : op->frames)
                if (g.index == i) d = &g;
            if (!d) d = kept(i);
            if (!d) {
                res = -EIO;  // cannot happen: every frame of the read is fetched or held by the op
                log::error("%s: zstd frame %zu missing for a read (a bug)", src_.describe().c_str(), i);
                break;
            }
            const uint64_t from = std::max(op->offset, f.offset), to = std::min(end, f.offset + f.size);
            std::memcpy(op->dst.data() + (from - op->offset), d->bytes->data() + (from - f.offset), to - from);
        }
    }
    // Kept only now: keeping them earlier could evict a kept frame this read still needed.
    for (const auto& f : op->frames) keep(f);
    io::ReadCallback* cb = op->cb;
    delete op;
    cb->on_read_done(res);
}

SeekableSource::SeekableSource(std::unique_ptr<io::Source> inner, SeekTable table)
    : inner_(std::move(inner)),
      table_(std::move(table)),
      pool_(std::clamp(std::thread::hardware_concurrency(), 1u, 4u)) {}

std::unique_ptr<io::QueueReader> SeekableSource::open_queue(io::EventLoop& loop, unsigned depth) {
    return std::make_unique<SeekableReader>(*this, loop, inner_->open_queue(loop, depth));
}

std::unique_ptr<io::Source> SeekableSource::wrap_if_seekable(std::unique_ptr<io::Source> inner) {
    const uint64_t size = inner->size();
    if (size < kSkippableHeaderSize + kFooterSize) return inner;
    // The first frame's magic first: a disk image never starts with it, so a
    // plain image costs one 4-byte read at attach, not a look at its end too.
    std::vector<uint8_t> head(4);
    if (int r = io::read_blocking(*inner, 0, std::as_writable_bytes(std::span(head))); r < 0)
        throw std::runtime_error(inner->describe() + ": cannot read its first bytes: " + std::strerror(-r));
    if (!(head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)) return inner;
    std::vector<uint8_t> last(kFooterSize);
    if (int r = io::read_blocking(*inner, size - kFooterSize, std::as_writable_bytes(std::span(last))); r < 0)
        throw std::runtime_error(inner->describe() + ": cannot read its last bytes: " + std::strerror(-r));
    std::optional<Footer> footer;
    try {
        footer = parse_footer(last, size);
    } catch (const SeekTableError& e) {
        throw SeekTableError(inner->describe() + ": " + e.what());
    }
    if (!footer)
        // A cut-off download or a plain `zstd` file, never a disk image to serve raw.
        throw SeekTableError(inner->describe() +
                             ": zstd data without a seek table at its end (truncated, or not written by "
                             "`lazyroot prepare --compress`)");
    std::vector<uint8_t> table(footer->table_bytes);
    if (int r = io::read_blocking(*inner, size - table.size(), std::as_writable_bytes(std::span(table))); r < 0)
        throw std::runtime_error(inner->describe() + ": cannot read the zstd seek table: " + std::strerror(-r));
    try {
        return std::make_unique<SeekableSource>(std::move(inner), SeekTable::parse(table, *footer, size));
    } catch (const SeekTableError& e) {
        throw SeekTableError(inner->describe() + ": " + e.what());
    }
}

}  // namespace lazyroot::compress
