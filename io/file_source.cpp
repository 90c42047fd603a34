#include "io/file_source.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <vector>

#include "io/event_loop.h"

namespace lazyroot::io {
namespace {

class FileReader;

// The largest read of a file in tmpfs copied on the loop's thread.
constexpr size_t kInlineCopyMax = 128 * 1024;

// One read in flight. Preallocated and recycled so the IO path never allocates.
struct FileRead final : Completion {
    FileReader* owner = nullptr;
    uint64_t offset = 0;
    std::span<std::byte> rest;
    // Zero copy: the ring's registered buffer read into, and the address there.
    int buf_index = -1;
    uint64_t buf_offset = 0;
    size_t fixed_left = 0;
    ReadCallback* cb = nullptr;
    int error = 0;           // set when the read fails before reaching the kernel
    bool direct = false;     // this submission went through the O_DIRECT descriptor
    bool no_direct = false;  // the O_DIRECT descriptor refused it: the page cache then

    size_t left() const { return buf_index >= 0 ? fixed_left : rest.size(); }
    void advance(size_t n) {
        offset += n;
        if (buf_index < 0) {
            rest = rest.subspan(n);
        } else {
            buf_offset += n;
            fixed_left -= n;
        }
    }

    void complete(int res, uint32_t) override;
};

class FileReader final : public QueueReader {
public:
    FileReader(EventLoop& loop, int fd, int direct_fd, unsigned align, unsigned depth, bool in_memory)
        : loop_(loop), fd_(fd), direct_fd_(direct_fd), align_(align), in_memory_(in_memory) {
        for (unsigned i = 0; i < depth; ++i) free_.push_back(&pool_.emplace_back());
    }

    void read(uint64_t offset, std::span<std::byte> dst, ReadCallback& cb) override {
        FileRead* op = take();
        op->owner = this;
        op->offset = offset;
        op->rest = dst;
        op->buf_index = -1;
        op->cb = &cb;
        op->error = 0;
        op->no_direct = false;
        submit(op);
    }

    bool read_fixed(uint64_t offset, uint32_t len, FixedBuffer buf, ReadCallback& cb) override {
        if (len == 0) return false;
        FileRead* op = take();
        op->owner = this;
        op->offset = offset;
        op->rest = {};
        op->buf_index = buf.index;
        op->buf_offset = buf.base;
        op->fixed_left = len;
        op->cb = &cb;
        op->error = 0;
        op->no_direct = false;
        submit(op);
        return true;
    }

    // Aligned reads skip the page cache: a cache on a disk is read straight
    // into the daemon's (or, zero copy, the request's) buffer, not copied
    // through a second cached copy of the same bytes. Under TCG, a boot from a
    // warm cache spent 17.5 s of its queue threads' CPU in buffered reads.
    bool go_direct(const FileRead* op) const {
        if (direct_fd_ < 0 || op->no_direct) return false;
        const uint64_t addr = op->buf_index >= 0 ? op->buf_offset : reinterpret_cast<uintptr_t>(op->rest.data());
        return (op->offset | op->left() | addr) % align_ == 0;
    }

    void submit(FileRead* op) {
        io_uring_sqe* sqe = loop_.sqe_for(op);
        if (op->left() == 0) {
            // Zero-length read: complete through the loop to keep callbacks asynchronous.
            io_uring_prep_nop(sqe);
            return;
        }
        op->direct = go_direct(op);
        const int fd = op->direct ? direct_fd_ : fd_;
        if (op->buf_index >= 0) {
            io_uring_prep_read_fixed(sqe, fd, reinterpret_cast<void*>(static_cast<uintptr_t>(op->buf_offset)),
                                     static_cast<unsigned>(op->fixed_left), op->offset, op->buf_index);
            return;
        }
        if (in_memory_ && op->left() <= kInlineCopyMax) {
            // tmpfs offers io_uring no non-blocking read, so io_uring would
            // hand every read to a worker thread: a wakeup and two context
            // switches for a copy from memory (measured in a 6.12 guest:
            // 520 us a 4 KiB cache hit against 295 us from a block device).
            // The copy here touches tmpfs pages as the daemon touches its own
            // heap; the nop keeps the callback asynchronous. Larger reads
            // still go to the workers, which copy several side by side (1 MiB
            // reads at QD 8 ran at 0.63x when copied here).
            copy_now(op);
            io_uring_prep_nop(sqe);
            return;
        }
        io_uring_prep_read(sqe, fd, op->rest.data(), static_cast<unsigned>(op->rest.size()), op->offset);
    }

    void copy_now(FileRead* op) {
        while (op->left() > 0) {
            const ssize_t n = ::pread(fd_, op->rest.data(), op->rest.size(), static_cast<off_t>(op->offset));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                op->error = n < 0 ? -errno : -EIO;  // 0: the file shrank under us
                return;
            }
            op->advance(static_cast<size_t>(n));
        }
    }

    void finish(FileRead* op, int result) {
        ReadCallback* cb = op->cb;
        free_.push_back(op);
        cb->on_read_done(result);
    }

private:
    FileRead* take() {
        if (free_.empty()) free_.push_back(&pool_.emplace_back());
        FileRead* op = free_.back();
        free_.pop_back();
        return op;
    }

    EventLoop& loop_;
    int fd_;
    int direct_fd_;
    unsigned align_;
    bool in_memory_;
    std::deque<FileRead> pool_;  // deque: growth never moves an op in flight
    std::vector<FileRead*> free_;
};

void FileRead::complete(int res, uint32_t) {
    if (error) return owner->finish(this, error);
    if (left() == 0) return owner->finish(this, 0);
    if (res == -EINTR || res == -EAGAIN) return owner->submit(this);
    // A buffer or range O_DIRECT turned down after all (the filesystem's own
    // rules): this read, again, through the page cache.
    if (res == -EINVAL && direct) {
        no_direct = true;
        return owner->submit(this);
    }
    if (res < 0) return owner->finish(this, res);
    // The file shrank under us: the missing tail must not be served as zeros.
    if (res == 0) return owner->finish(this, -EIO);
    advance(static_cast<size_t>(res));
    if (left() == 0) return owner->finish(this, 0);
    owner->submit(this);
}

}  // namespace

std::unique_ptr<FileSource> FileSource::open(const std::string& path, bool direct) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw std::runtime_error("cannot stat " + path + ": " + std::strerror(errno));
    uint64_t size = 0;
    if (S_ISREG(st.st_mode)) {
        size = static_cast<uint64_t>(st.st_size);
    } else if (S_ISBLK(st.st_mode)) {
        if (::ioctl(fd.get(), BLKGETSIZE64, &size) != 0)
            throw std::runtime_error("cannot size " + path + ": " + std::strerror(errno));
    } else {
        throw std::runtime_error(path + " is not a regular file or block device");
    }
    if (size == 0) throw std::runtime_error(path + " is empty");
    const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    struct statfs fs {};
    const bool in_memory = S_ISREG(st.st_mode) && ::fstatfs(fd.get(), &fs) == 0 && fs.f_type == TMPFS_MAGIC;
    std::unique_ptr<FileSource> src(new FileSource(path, std::move(fd), size, mtime_ns, in_memory));
    if (direct && !in_memory) src->open_direct();
    return src;
}

// The alignment comes from the kernel (a block device's logical block size, a
// file's statx DIOALIGN); where it says nothing, the page cache it is.
void FileSource::open_direct() {
    UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
    if (!fd) return;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return;
    unsigned align = 0;
    if (S_ISBLK(st.st_mode)) {
        int lbs = 0;
        if (::ioctl(fd.get(), BLKSSZGET, &lbs) == 0 && lbs > 0) align = static_cast<unsigned>(lbs);
    } else {
        struct statx sx {};
        if (::statx(fd.get(), "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN))
            align = std::max(sx.stx_dio_mem_align, sx.stx_dio_offset_align);
    }
    if (align == 0 || (align & (align - 1)) != 0) return;
    direct_fd_ = std::move(fd);
    direct_align_ = align;
}

std::string FileSource::identity() const {
    return "file=" + path_ + ";size=" + std::to_string(size_) + ";mtime_ns=" + std::to_string(mtime_ns_);
}

std::unique_ptr<QueueReader> FileSource::open_queue(EventLoop& loop, unsigned depth) {
    return std::make_unique<FileReader>(loop, fd_.get(), direct_fd_ ? direct_fd_.get() : -1, direct_align_, depth,
                                        in_memory_);
}

}  // namespace lazyroot::io
