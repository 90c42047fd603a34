#pragma once
#include <memory>

#include "cache/io_stats.h"
#include "io/source.h"

namespace lazyroot::cache {

// Counts and times every read that reaches the network source. With
// `counts_served`, it is also the top of the stack (no cache above it).
class MeteredSource final : public io::Source {
public:
    MeteredSource(std::unique_ptr<io::Source> inner, IoStats& stats, bool counts_served)
        : inner_(std::move(inner)), stats_(stats), counts_served_(counts_served) {}

    uint64_t size() const override { return inner_->size(); }
    std::string describe() const override { return inner_->describe(); }
    std::string identity() const override { return inner_->identity(); }
    std::unique_ptr<io::QueueReader> open_queue(io::EventLoop& loop, unsigned depth) override;
    std::unique_ptr<io::QueueReader> open_fill_queue(io::EventLoop& loop, unsigned depth) override;

private:
    std::unique_ptr<io::Source> inner_;
    IoStats& stats_;
    bool counts_served_;
};

}  // namespace lazyroot::cache
