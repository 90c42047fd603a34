#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "io/source.h"

namespace lazyroot::io {

// Bytes [offset, offset + length) of another source, as a source of its own:
// a partition of a disk image (DDI root and root-verity). Shares the inner
// source, so two ranges of one image use one transport.
class RangeSource final : public Source {
public:
    // Throws std::invalid_argument when the range does not fit in `inner`.
    RangeSource(std::shared_ptr<Source> inner, uint64_t offset, uint64_t length);

    uint64_t size() const override { return length_; }
    std::string describe() const override { return inner_->describe(); }
    std::string identity() const override;
    std::unique_ptr<QueueReader> open_queue(EventLoop& loop, unsigned depth) override;
    std::unique_ptr<QueueReader> open_fill_queue(EventLoop& loop, unsigned depth) override;

private:
    std::shared_ptr<Source> inner_;
    uint64_t offset_;
    uint64_t length_;
};

// Reads through a source from a thread that is no queue's (attach time):
// runs a private event loop until the read completes. 0 or -errno.
int read_blocking(Source& src, uint64_t offset, std::span<std::byte> dst);

}  // namespace lazyroot::io
