#include "compress/frame_decoder.h"
#include "io/thread_name.h"

#include <zstd.h>

#include <cerrno>
#include <memory>
#include <string>

namespace lazyroot::compress {

namespace {

struct DCtxDeleter {
    void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

ZSTD_DCtx* thread_dctx() {
    thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> d(ZSTD_createDCtx());
    return d.get();
}

int bad(std::string* why, std::string what) {
    if (why) *why = std::move(what);
    return -EIO;
}

}  // namespace

int decode_frame(std::span<const std::byte> src, std::span<std::byte> dst, std::string* why) {
    const size_t frame = ZSTD_findFrameCompressedSize(src.data(), src.size());
    if (ZSTD_isError(frame)) return bad(why, std::string("not a zstd frame: ") + ZSTD_getErrorName(frame));
    if (frame != src.size()) return bad(why, "the frame's bytes are not exactly one zstd frame");
    const unsigned long long content = ZSTD_getFrameContentSize(src.data(), src.size());
    if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != dst.size())
        return bad(why, "the frame says it holds " + std::to_string(content) + " bytes, the seek table " +
                            std::to_string(dst.size()));
    ZSTD_DCtx* d = thread_dctx();
    if (!d) return bad(why, "out of memory");
    const size_t n = ZSTD_decompressDCtx(d, dst.data(), dst.size(), src.data(), src.size());
    if (ZSTD_isError(n)) return bad(why, std::string("cannot decompress: ") + ZSTD_getErrorName(n));
    if (n != dst.size())
        return bad(
            why, "decompressed to " + std::to_string(n) + " bytes, the seek table says " + std::to_string(dst.size()));
    return 0;
}

DecodePool::DecodePool(unsigned threads) {
    for (unsigned i = 0; i < std::max(1u, threads); ++i)
        threads_.emplace_back([this] {
            io::name_this_thread("lr-decode");
            run();
        });
}

DecodePool::~DecodePool() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void DecodePool::submit(std::function<void()> job) {
    {
        std::lock_guard lk(mu_);
        jobs_.push(std::move(job));
    }
    cv_.notify_one();
}

void DecodePool::run() {
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [this] { return stop_ || !jobs_.empty(); });
            if (jobs_.empty()) return;
            job = std::move(jobs_.front());
            jobs_.pop();
        }
        job();
    }
}

}  // namespace lazyroot::compress
