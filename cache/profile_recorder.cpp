#include "cache/profile_recorder.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>

#include "io/file_io.h"
#include "io/unique_fd.h"

namespace lazyroot::cache {

ProfileRecorder::ProfileRecorder(std::string image, uint64_t image_size, uint32_t chunk_size)
    : image_(std::move(image)),
      image_size_(image_size),
      chunk_size_(chunk_size),
      seen_(new std::atomic<uint64_t>[((image_size + chunk_size - 1) / chunk_size + 63) / 64]()),
      blocks_seen_(new std::atomic<uint64_t>[((image_size + kBlock - 1) / kBlock + 63) / 64]()) {}

void ProfileRecorder::note_blocks(uint64_t offset, uint64_t last) {
    for (uint64_t b = offset / kBlock; b <= last / kBlock; ++b) {
        const uint64_t bit = uint64_t{1} << (b % 64);
        if (blocks_seen_[b / 64].load(std::memory_order_relaxed) & bit) continue;
        if (!(blocks_seen_[b / 64].fetch_or(bit, std::memory_order_relaxed) & bit))
            distinct_blocks_.fetch_add(1, std::memory_order_relaxed);
    }
}

void ProfileRecorder::note(uint64_t offset, uint64_t length) {
    if (length == 0 || stopped()) return;
    if (offset >= image_size_) return;
    const uint64_t last = std::min(offset + length, image_size_) - 1;
    note_blocks(offset, last);
    for (uint64_t c = offset / chunk_size_; c <= last / chunk_size_; ++c) {
        auto& word = seen_[c / 64];
        const uint64_t bit = uint64_t{1} << (c % 64);
        if (word.load(std::memory_order_relaxed) & bit) continue;
        if (word.fetch_or(bit, std::memory_order_relaxed) & bit) continue;  // another queue was first
        std::lock_guard lock(mu_);
        order_.push_back(c);
    }
}

PrefetchProfile ProfileRecorder::snapshot() const {
    PrefetchProfile p;
    p.image = image_;
    p.image_size = image_size_;
    p.chunk_size = chunk_size_;
    std::lock_guard lock(mu_);
    p.chunks = order_;
    return p;
}

namespace {

class RecordingReader final : public io::QueueReader {
public:
    RecordingReader(std::unique_ptr<io::QueueReader> inner, ProfileRecorder& recorder)
        : inner_(std::move(inner)), recorder_(recorder) {}

    void read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) override {
        recorder_.note(offset, dst.size());
        inner_->read(offset, dst, cb);
    }
    void prefer_another_source() override { inner_->prefer_another_source(); }
    std::string current_source() const override { return inner_->current_source(); }

private:
    std::unique_ptr<io::QueueReader> inner_;
    ProfileRecorder& recorder_;
};

}  // namespace

std::unique_ptr<io::QueueReader> RecordingSource::open_queue(io::EventLoop& loop, unsigned depth) {
    return std::make_unique<RecordingReader>(inner_.open_queue(loop, depth), recorder_);
}

int write_profile_file(const std::string& path, const PrefetchProfile& p) {
    const std::string text = encode_profile(p);
    const std::string tmp = path + ".tmp";
    io::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return -errno;
    if (int r = io::pwrite_full(fd.get(), {reinterpret_cast<const uint8_t*>(text.data()), text.size()}, 0); r < 0) {
        ::unlink(tmp.c_str());
        return r;
    }
    if (::fsync(fd.get()) < 0 || ::rename(tmp.c_str(), path.c_str()) < 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return -e;
    }
    return io::fsync_parent_dir(path);
}

}  // namespace lazyroot::cache
