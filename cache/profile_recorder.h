#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cache/prefetch_profile.h"
#include "io/source.h"

namespace lazyroot::cache {

// Which chunks of the device were read, in the order they were first read,
// from every queue (`lazyroot attach --profile-record`). A chunk already
// seen costs one atomic load; only a first read takes the lock.
class ProfileRecorder {
public:
    ProfileRecorder(std::string image, uint64_t image_size, uint32_t chunk_size);

    void note(uint64_t offset, uint64_t length);
    // Stops recording (later reads are not noted) and says so.
    bool stop() { return !stopped_.exchange(true); }
    bool stopped() const { return stopped_.load(std::memory_order_relaxed); }
    PrefetchProfile snapshot() const;
    // The working set: distinct bytes read while recording, in 4 KiB blocks
    // (the filesystems' block; chunks would round it up to 64 KiB).
    uint64_t distinct_read_bytes() const { return distinct_blocks_.load(std::memory_order_relaxed) * kBlock; }

private:
    std::string image_;
    uint64_t image_size_;
    uint32_t chunk_size_;
    static constexpr uint64_t kBlock = 4096;
    void note_blocks(uint64_t offset, uint64_t last);

    std::unique_ptr<std::atomic<uint64_t>[]> seen_;
    std::unique_ptr<std::atomic<uint64_t>[]> blocks_seen_;
    std::atomic<uint64_t> distinct_blocks_{0};
    std::atomic<bool> stopped_{false};
    mutable std::mutex mu_;
    std::vector<uint64_t> order_;
};

// A source that tells a recorder what the device reads, then reads on.
class RecordingSource final : public io::Source {
public:
    RecordingSource(io::Source& inner, ProfileRecorder& recorder) : inner_(inner), recorder_(recorder) {}

    uint64_t size() const override { return inner_.size(); }
    std::string describe() const override { return inner_.describe(); }
    std::string identity() const override { return inner_.identity(); }
    std::unique_ptr<io::QueueReader> open_queue(io::EventLoop& loop, unsigned depth) override;

private:
    io::Source& inner_;
    ProfileRecorder& recorder_;
};

// Writes `p` to `path` whole or not at all (a temporary file, fsync, rename).
// 0 or -errno.
int write_profile_file(const std::string& path, const PrefetchProfile& p);

}  // namespace lazyroot::cache
