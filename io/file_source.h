#pragma once
#include <memory>
#include <string>

#include "io/source.h"
#include "io/unique_fd.h"

namespace lazyroot::io {

// A local image file (or block device), read with io_uring on the queue's loop.
class FileSource final : public Source {
public:
    // Throws std::runtime_error with a one-line reason when the file can't be used.
    // `direct`: aligned reads bypass the page cache (O_DIRECT) where the file
    // allows it; see direct_align().
    static std::unique_ptr<FileSource> open(const std::string& path, bool direct = false);

    uint64_t size() const override { return size_; }
    std::string describe() const override { return "file://" + path_; }
    std::string identity() const override;
    std::unique_ptr<QueueReader> open_queue(EventLoop& loop, unsigned depth) override;
    // The file lives in memory (tmpfs): reads are copied on the loop's thread
    // (see FileReader), not handed to io_uring.
    bool in_memory() const { return in_memory_; }
    // The alignment of offset, length and buffer an O_DIRECT read needs; 0
    // when reads go through the page cache only.
    unsigned direct_align() const { return direct_align_; }

private:
    FileSource(std::string path, UniqueFd fd, uint64_t size, int64_t mtime_ns, bool in_memory)
        : path_(std::move(path)), fd_(std::move(fd)), size_(size), mtime_ns_(mtime_ns), in_memory_(in_memory) {}
    void open_direct();

    std::string path_;
    UniqueFd fd_;
    uint64_t size_;
    int64_t mtime_ns_;
    bool in_memory_;
    UniqueFd direct_fd_;
    unsigned direct_align_ = 0;
};

}  // namespace lazyroot::io
