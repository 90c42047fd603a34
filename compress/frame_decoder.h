#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <span>
#include <thread>
#include <vector>

namespace lazyroot::compress {

// Decompresses one frame: 0 when `src` is exactly one zstd frame whose
// content is exactly dst.size() bytes (its checksum checked), else -EIO and
// `why` says what was wrong. Runs on any thread.
int decode_frame(std::span<const std::byte> src, std::span<std::byte> dst, std::string* why = nullptr);

// Threads that decompress frames off the queue loops, so that a loop whose
// other tags are waiting never spends a frame's decompression time.
class DecodePool {
public:
    explicit DecodePool(unsigned threads);
    ~DecodePool();
    DecodePool(const DecodePool&) = delete;
    DecodePool& operator=(const DecodePool&) = delete;

    // `job` runs on a pool thread; it posts its own completion where it must go.
    void submit(std::function<void()> job);

private:
    void run();
    std::mutex mu_;
    std::condition_variable cv_;
    std::queue<std::function<void()>> jobs_;
    bool stop_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace lazyroot::compress
