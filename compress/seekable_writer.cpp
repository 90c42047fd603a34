#include "compress/seekable_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "compress/seek_table.h"
#include "io/file_io.h"
#include "io/unique_fd.h"

namespace lazyroot::compress {

namespace {

[[noreturn]] void fail(const std::string& what, int err) { throw std::runtime_error(what + ": " + std::strerror(err)); }

struct CCtxDeleter {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
using CCtx = std::unique_ptr<ZSTD_CCtx, CCtxDeleter>;

CCtx make_cctx(int level) {
    CCtx c(ZSTD_createCCtx());
    if (!c) throw std::runtime_error("zstd: out of memory");
    // Each frame says its size and carries a checksum that `zstd -d` and our reader check.
    ZSTD_CCtx_setParameter(c.get(), ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(c.get(), ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(c.get(), ZSTD_c_contentSizeFlag, 1);
    return c;
}

// The output file until it is complete: removed unless committed.
class TempOutput {
public:
    explicit TempOutput(const std::string& final_path) : final_(final_path) {
        path_ = final_path + ".tmp-XXXXXX";
        fd_ = io::UniqueFd(::mkstemp(path_.data()));
        if (!fd_) fail("cannot create " + path_, errno);
        ::fchmod(fd_.get(), 0644);
    }
    ~TempOutput() {
        if (!committed_) ::unlink(path_.c_str());
    }
    int fd() const { return fd_.get(); }
    void commit() {
        if (::fsync(fd_.get()) != 0) fail("cannot sync " + path_, errno);
        if (::rename(path_.c_str(), final_.c_str()) != 0) fail("cannot rename " + path_ + " to " + final_, errno);
        committed_ = true;
        io::fsync_parent_dir(final_);
    }

private:
    std::string final_;
    std::string path_;
    io::UniqueFd fd_;
    bool committed_ = false;
};

}  // namespace

CompressResult compress_seekable(const CompressOptions& o) {
    if (o.frame_bytes == 0 || o.frame_bytes % 4096 != 0 || o.frame_bytes > kMaxFrameBytes)
        throw std::runtime_error("the frame size must be a multiple of 4 KiB up to " +
                                 std::to_string(kMaxFrameBytes >> 20) + " MiB");
    if (o.level < 1 || o.level > ZSTD_maxCLevel())
        throw std::runtime_error("the compression level must be 1 to " + std::to_string(ZSTD_maxCLevel()));
    io::UniqueFd in(::open(o.input.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) fail("cannot open " + o.input, errno);
    struct stat st {};
    if (::fstat(in.get(), &st) != 0) fail("cannot stat " + o.input, errno);
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size == 0) throw std::runtime_error(o.input + " is empty");
    const uint64_t frames = (size + o.frame_bytes - 1) / o.frame_bytes;
    if (frames > (kMaxTableBytes - kSkippableHeaderSize - kFooterSize) / 8)
        throw std::runtime_error(o.input + " needs more frames than a seek table holds; use a larger frame size");

    TempOutput out(o.output);
    const unsigned threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
    // Batches of frames compressed in parallel, then written in order.
    const uint64_t batch = uint64_t{threads} * 8;
    std::vector<std::vector<uint8_t>> done(batch);
    std::vector<FrameSizes> sizes;
    sizes.reserve(frames);
    std::vector<CCtx> cctx;
    for (unsigned t = 0; t < threads; ++t) cctx.push_back(make_cctx(o.level));
    uint64_t written = 0;
    for (uint64_t first = 0; first < frames; first += batch) {
        const uint64_t n = std::min(batch, frames - first);
        std::atomic<uint64_t> next{0};
        std::atomic<int> error{0};
        auto work = [&](unsigned t) {
            std::vector<uint8_t> raw(o.frame_bytes);
            for (uint64_t i; (i = next++) < n && !error;) {
                const uint64_t off = (first + i) * o.frame_bytes;
                const size_t len = static_cast<size_t>(std::min<uint64_t>(o.frame_bytes, size - off));
                if (int r = io::pread_full(in.get(), std::span(raw.data(), len), off); r < 0) {
                    error = r;
                    return;
                }
                auto& dst = done[i];
                dst.resize(ZSTD_compressBound(len));
                const size_t c = ZSTD_compress2(cctx[t].get(), dst.data(), dst.size(), raw.data(), len);
                if (ZSTD_isError(c)) {
                    error = -ENOMEM;
                    return;
                }
                dst.resize(c);
            }
        };
        std::vector<std::thread> pool;
        for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
        work(0);
        for (auto& th : pool) th.join();
        if (error) fail("cannot compress " + o.input, -error);
        for (uint64_t i = 0; i < n; ++i) {
            const uint64_t off = (first + i) * o.frame_bytes;
            const auto len = static_cast<uint32_t>(std::min<uint64_t>(o.frame_bytes, size - off));
            if (int r = io::pwrite_full(out.fd(), done[i], written); r < 0) fail("cannot write " + o.output, -r);
            sizes.push_back({static_cast<uint32_t>(done[i].size()), len});
            written += done[i].size();
        }
    }
    const auto table = encode_seek_table(sizes);
    if (int r = io::pwrite_full(out.fd(), table, written); r < 0) fail("cannot write " + o.output, -r);
    written += table.size();
    out.commit();
    return {size, written, frames};
}

}  // namespace lazyroot::compress
