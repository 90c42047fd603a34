#include "io/range_source.h"

#include <stdexcept>

#include "io/event_loop.h"

namespace lazyroot::io {
namespace {

// Reads of the range, shifted to where it lies in the whole source.
class OffsetReader final : public QueueReader {
public:
    OffsetReader(std::unique_ptr<QueueReader> inner, uint64_t offset) : inner_(std::move(inner)), offset_(offset) {}
    void read(uint64_t offset, std::span<std::byte> dst, ReadCallback& cb) override {
        inner_->read(offset_ + offset, dst, cb);
    }
    bool read_fixed(uint64_t offset, uint32_t len, FixedBuffer buf, ReadCallback& cb) override {
        return inner_->read_fixed(offset_ + offset, len, buf, cb);
    }
    void prefer_another_source() override { inner_->prefer_another_source(); }
    std::string current_source() const override { return inner_->current_source(); }

private:
    std::unique_ptr<QueueReader> inner_;
    uint64_t offset_;
};

}  // namespace

RangeSource::RangeSource(std::shared_ptr<Source> inner, uint64_t offset, uint64_t length)
    : inner_(std::move(inner)), offset_(offset), length_(length) {
    if (offset > inner_->size() || length > inner_->size() - offset)
        throw std::invalid_argument("range " + std::to_string(offset) + "+" + std::to_string(length) +
                                    " is past the end of " + inner_->describe());
}

std::string RangeSource::identity() const {
    return inner_->identity() + ";range=" + std::to_string(offset_) + "+" + std::to_string(length_);
}

std::unique_ptr<QueueReader> RangeSource::open_queue(EventLoop& loop, unsigned depth) {
    return std::make_unique<OffsetReader>(inner_->open_queue(loop, depth), offset_);
}

std::unique_ptr<QueueReader> RangeSource::open_fill_queue(EventLoop& loop, unsigned depth) {
    return std::make_unique<OffsetReader>(inner_->open_fill_queue(loop, depth), offset_);
}

int read_blocking(Source& src, uint64_t offset, std::span<std::byte> dst) {
    struct Done final : ReadCallback {
        int result = 1;
        void on_read_done(int r) override { result = r; }
    } done;
    EventLoop loop;
    if (int r = loop.init(16); r < 0) return r;
    auto reader = src.open_queue(loop, 4);
    reader->read(offset, dst, done);
    while (done.result == 1)
        if (int r = loop.run_once(); r < 0) return r;
    // What the reader left to finish on its own (a cache write that follows
    // the answer) lands before the loop goes, rather than being abandoned.
    reader.reset();
    while (loop.settling())
        if (loop.run_once() < 0) break;
    return done.result;
}

}  // namespace lazyroot::io
