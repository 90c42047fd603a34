#include "cache/metered_source.h"

#include <deque>
#include <vector>

namespace lazyroot::cache {
namespace {

class MeteredReader;

struct Timed final : io::ReadCallback {
    MeteredReader* owner = nullptr;
    io::ReadCallback* cb = nullptr;
    size_t bytes = 0;
    std::chrono::steady_clock::time_point start;
    void on_read_done(int result) override;
};

class MeteredReader final : public io::QueueReader {
public:
    MeteredReader(std::unique_ptr<io::QueueReader> inner, IoStats& stats, bool counts_served)
        : inner_(std::move(inner)), stats_(stats), counts_served_(counts_served) {}

    void read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) override {
        inner_->read(offset, dst, start(dst.size(), cb));
    }

    bool read_fixed(uint64_t offset, uint32_t len, io::FixedBuffer buf, io::ReadCallback& cb) override {
        Timed& t = start(len, cb);
        if (inner_->read_fixed(offset, len, buf, t)) return true;
        free_.push_back(&t);
        return false;
    }

    void done(Timed& t, int result) {
        stats_.record_fetch(t.bytes, std::chrono::steady_clock::now() - t.start, result == 0);
        if (counts_served_ && result == 0) {
            stats_.reads.fetch_add(1, std::memory_order_relaxed);
            stats_.bytes_served.fetch_add(t.bytes, std::memory_order_relaxed);
        }
        io::ReadCallback* cb = t.cb;
        free_.push_back(&t);
        cb->on_read_done(result);
    }

private:
    Timed& start(size_t bytes, io::ReadCallback& cb) {
        if (free_.empty()) free_.push_back(&pool_.emplace_back());
        Timed* t = free_.back();
        free_.pop_back();
        t->owner = this;
        t->cb = &cb;
        t->bytes = bytes;
        t->start = std::chrono::steady_clock::now();
        return *t;
    }

    std::unique_ptr<io::QueueReader> inner_;
    IoStats& stats_;
    bool counts_served_;
    std::deque<Timed> pool_;
    std::vector<Timed*> free_;
};

void Timed::on_read_done(int result) { owner->done(*this, result); }

}  // namespace

std::unique_ptr<io::QueueReader> MeteredSource::open_queue(io::EventLoop& loop, unsigned depth) {
    return std::make_unique<MeteredReader>(inner_->open_queue(loop, depth), stats_, counts_served_);
}

std::unique_ptr<io::QueueReader> MeteredSource::open_fill_queue(io::EventLoop& loop, unsigned depth) {
    return std::make_unique<MeteredReader>(inner_->open_fill_queue(loop, depth), stats_, counts_served_);
}

}  // namespace lazyroot::cache
