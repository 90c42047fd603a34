#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "io/memory_budget.h"
#include "io/slice_pool.h"
#include "io/source.h"
#include "io/stream_detector.h"
#include "io/timer.h"

namespace lazyroot::io {

struct ReadaheadOptions {
    uint32_t slice_bytes = 1u << 20;        // one prefetch request (a "slice"; "chunk" is the cache's unit)
    uint32_t max_window_bytes = 16u << 20;  // prefetched ahead of one stream
    // Sequential reads in a row, and the bytes they span, before
    // prefetching (io::StreamOptions): a boot reads many short files in a
    // few requests each; prefetching those is waste.
    unsigned trigger = 8;
    uint64_t trigger_bytes = 2u << 20;
    // Slice buffers of all queues together (--memory-budget): when it is
    // spent, a window stops where it is until slices are consumed. Null:
    // twice max_window_bytes.
    std::shared_ptr<MemoryBudget> budget;
};

// Wraps a (network) source without a cache below it: when the device reads
// sequentially (on any queue: io::StreamDetector), fetch ahead of it in
// parallel slices into a RAM pool shared by every queue (io::SlicePool),
// bounded by the budget. A high-latency link then runs at its bandwidth
// instead of one request per RTT. Prefetched bytes are only ever bytes the
// inner source returned as good.
class ReadaheadSource final : public io::Source {
public:
    ReadaheadSource(std::unique_ptr<io::Source> inner, ReadaheadOptions opts);
    ~ReadaheadSource() override;

    uint64_t size() const override { return inner_->size(); }
    std::string describe() const override { return inner_->describe(); }
    std::string identity() const override { return inner_->identity(); }
    std::unique_ptr<io::QueueReader> open_queue(io::EventLoop& loop, unsigned depth) override;
    std::unique_ptr<io::QueueReader> open_fill_queue(io::EventLoop& loop, unsigned depth) override {
        return inner_->open_fill_queue(loop, depth);
    }

    io::Source& inner() { return *inner_; }
    SlicePool& pool() { return *pool_; }
    StreamDetector& streams() { return *streams_; }

private:
    std::unique_ptr<io::Source> inner_;
    ReadaheadOptions opts_;
    std::unique_ptr<StreamDetector> streams_;
    std::unique_ptr<SlicePool> pool_;
};

class ReadaheadReader final : public io::QueueReader {
public:
    ReadaheadReader(std::unique_ptr<io::QueueReader> inner, io::EventLoop& loop, StreamDetector& streams,
                    SlicePool& pool);
    ~ReadaheadReader() override;

    void read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) override;
    // Zero copy when no slice holds the range and the inner reader can;
    // prefetch follows as for read().
    bool read_fixed(uint64_t offset, uint32_t len, io::FixedBuffer buf, io::ReadCallback& cb) override;
    void prefer_another_source() override {
        pool_.drop_settled();  // they came from the source being abandoned
        inner_->prefer_another_source();
    }
    std::string current_source() const override { return inner_->current_source(); }

    // For tests and status: bytes this queue requested from the inner source as prefetch.
    uint64_t prefetched_bytes() const { return prefetched_bytes_; }
    // Slice buffers the pool (all queues) holds: within opts.budget.
    uint64_t held_bytes() const { return pool_.held_bytes(); }

private:
    struct Fetch;
    struct Waiter;
    void serve_from_slices(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb,
                           std::vector<std::shared_ptr<SlicePool::Slice>> slices);
    void waiter_progress(Waiter& w, int slice_result);
    void fetch_done(Fetch& f, int result);
    void prefetch(StreamDetector::Prefetch ahead);
    void flush_deferred();

    std::unique_ptr<io::QueueReader> inner_;
    io::EventLoop& loop_;
    StreamDetector& streams_;
    SlicePool& pool_;
    std::deque<Waiter> waiter_pool_;
    std::vector<Waiter*> free_waiters_;
    std::deque<Fetch> fetch_pool_;
    std::vector<Fetch*> free_fetches_;
    std::vector<Waiter*> deferred_;  // satisfied at once; completed from the loop
    io::Timer deferred_timer_;
    uint64_t prefetched_bytes_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace lazyroot::io
