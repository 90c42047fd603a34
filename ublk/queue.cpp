#include "ublk/queue.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "io/log.h"
#include "ublk/params.h"

namespace lazyroot::ublk {

// One tag's life: wait in the kernel for a request, serve it, commit and wait again.
class Queue::Tag final : public io::Completion, public io::ReadCallback {
public:
    Tag(Queue& q, uint16_t tag) : q_(q), tag_(tag) {}

    uint16_t tag() const { return tag_; }
    // The address the next command carries: the read's buffer at its commit
    // (the kernel copies from it then); otherwise a slot nothing writes to.
    std::byte* buffer() const { return buf_ ? buf_ : q_.parking_; }

    // The FETCH / COMMIT_AND_FETCH command completed: a request is ready, or
    // the device is going away. Or, with zero copy, a copy into the request did.
    void complete(int res, uint32_t) override {
        if (copying_) return copied(res);
        if (res == UBLK_IO_RES_OK) return serve();
        if (res != UBLK_IO_RES_ABORT)
            log::error("queue %u tag %u: ublk command failed: %s", q_.cfg_.q_id, tag_, std::strerror(-res));
        --q_.live_tags_;
    }

    void on_read_done(int result) override {
        if (fixed_) {
            fixed_ = false;
            if (result == 0) {
                if (q_.cfg_.zero_copy_reads) q_.cfg_.zero_copy_reads->fetch_add(1, std::memory_order_relaxed);
                return commit(static_cast<int>(len_));
            }
            // Through the layers' own buffers, where a failed local read is refetched.
            return read_copied();
        }
        // The block layer knows EIO; lower layers' finer codes (ETIMEDOUT,
        // io::kFailedVerification, …) stop here.
        if (result < 0 && result != -EIO && result != -ENOMEM) result = -EIO;
        if (result < 0) return commit(result);
        if (q_.cfg_.zero_copy) return copy_in(0);
        commit(static_cast<int>(len_));
    }

    // A buffer is free for this waiting read.
    void start(std::byte* buf) {
        buf_ = buf;
        const uint64_t size = q_.source_.size();
        // The device is rounded up to whole sectors; the bytes past the image are zeros.
        uint64_t in_image = offset_ >= size ? 0 : std::min<uint64_t>(len_, size - offset_);
        if (in_image < len_) std::memset(buf_ + in_image, 0, len_ - in_image);
        if (in_image == 0) return on_read_done(0);
        q_.reader_->read(offset_, {buf_, static_cast<size_t>(in_image)}, *this);
    }

private:
    void serve() {
        const auto* descs = static_cast<const ublksrv_io_desc*>(q_.descriptors_.get());
        const ublksrv_io_desc& iod = descs[tag_];
        switch (ublksrv_get_op(&iod)) {
            case UBLK_IO_OP_READ:
                return read(iod.start_sector << 9, iod.nr_sectors << 9);
            case UBLK_IO_OP_FLUSH:
                return commit(0);
            case UBLK_IO_OP_WRITE:
            case UBLK_IO_OP_WRITE_ZEROES:
            case UBLK_IO_OP_DISCARD:
                return commit(-EROFS);
            default:
                return commit(-EOPNOTSUPP);
        }
    }

    void read(uint64_t offset, uint32_t len) {
        offset_ = offset;
        len_ = len;
        if (len > q_.cfg_.max_io_bytes) return commit(-EINVAL);
        // The tag's index holds this request's pages (see Queue::fetch).
        if (q_.cfg_.zero_copy && offset < q_.source_.size() && len <= q_.source_.size() - offset &&
            q_.reader_->read_fixed(offset, len, io::FixedBuffer{tag_, 0}, *this)) {
            fixed_ = true;
            return;
        }
        read_copied();
    }

    void read_copied() {
        if (std::byte* b = q_.take_buffer()) return start(b);
        q_.waiting_.push_back(this);  // started by recycle_buffers()
    }

    // Zero copy is on, but these bytes are in our buffer: written into the
    // request through /dev/ublkcN (USER_COPY), then committed.
    void copy_in(uint32_t done) {
        copying_ = true;
        copied_ = done;
        const uint64_t pos =
            UBLKSRV_IO_BUF_OFFSET + (uint64_t{q_.cfg_.q_id} << UBLK_QID_OFF) + (uint64_t{tag_} << UBLK_TAG_OFF) + done;
        io_uring_prep_write(q_.loop_.sqe_for(this), q_.cfg_.cdev_fd, buf_ + done, len_ - done, pos);
    }

    void copied(int res) {
        copying_ = false;
        if (res <= 0) {
            log::error("queue %u tag %u: copying a read into the request failed: %s", q_.cfg_.q_id, tag_,
                       std::strerror(res < 0 ? -res : EIO));
            return commit(-EIO);
        }
        copied_ += static_cast<uint32_t>(res);
        if (copied_ < len_) return copy_in(copied_);
        commit(static_cast<int>(len_));
    }

    void commit(int result) {
        q_.fetch(*this, true, result);
        if (buf_) q_.buffer_committed(std::exchange(buf_, nullptr));
    }

    Queue& q_;
    uint16_t tag_;
    std::byte* buf_ = nullptr;
    uint64_t offset_ = 0;
    uint32_t len_ = 0;
    bool fixed_ = false;    // the read goes straight into the request's pages
    bool copying_ = false;  // a write into the request is in flight
    uint32_t copied_ = 0;
};

// Used before START_DEV succeeds, when STOP_DEV would not abort the fetches:
// leaving the loop and closing the ring makes the kernel cancel them.
class Queue::ExitWatch final : public io::Completion {
public:
    explicit ExitWatch(Queue& q) : q_(q) {}
    void arm() { io_uring_prep_poll_add(q_.loop_.sqe_for(this), q_.cfg_.exit_fd, POLLIN); }
    void complete(int res, uint32_t) override {
        if (res == -ECANCELED) return;
        q_.exit_requested_ = true;
    }

private:
    Queue& q_;
};

Queue::Queue(const QueueConfig& cfg, io::Source& source) : cfg_(cfg), source_(source) {}

Queue::~Queue() {
    // The reader may still queue cancellations, so it goes while the ring is
    // open; closing the ring then waits out in-flight IO, whose buffers are
    // still mapped and whose completions are never dispatched.
    reader_.reset();
    loop_.close();
    if (carved_ > 1 && cfg_.io_budget) cfg_.io_budget->give((carved_ - 1) * uint64_t{cfg_.max_io_bytes});
}

int Queue::prepare() {
    // Each tag has a command outstanding, plus room for the source's IO.
    if (int r = loop_.init(std::max(2 * cfg_.depth, 8u), io::EventLoop::kSqe128); r < 0) return r;

    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const size_t dlen = descriptor_length(cfg_.depth, page);
    void* d =
        ::mmap(nullptr, dlen, PROT_READ, MAP_SHARED | MAP_POPULATE, cfg_.cdev_fd, descriptor_offset(cfg_.q_id, page));
    if (d == MAP_FAILED) return -errno;
    descriptors_ = io::Mapping(d, dlen);

    // Address space for a buffer per tag and the parking slot; pages are
    // only touched (and counted in the RSS) for the buffers the budget grants.
    buffers_ = io::Mapping::anonymous((static_cast<size_t>(cfg_.depth) + 1) * cfg_.max_io_bytes);
    if (!buffers_) return -ENOMEM;
    parking_ = static_cast<std::byte*>(buffers_.get()) + static_cast<size_t>(cfg_.depth) * cfg_.max_io_bytes;

    // Where the kernel registers each request's pages: one slot per tag.
    if (cfg_.zero_copy)
        if (int r = io_uring_register_buffers_sparse(loop_.raw(), cfg_.depth); r < 0) return r;

    reader_ = source_.open_queue(loop_, cfg_.depth);
    tags_.reserve(cfg_.depth);
    for (unsigned t = 0; t < cfg_.depth; ++t) tags_.push_back(std::make_unique<Tag>(*this, static_cast<uint16_t>(t)));
    if (cfg_.exit_fd >= 0) {
        exit_watch_ = std::make_unique<ExitWatch>(*this);
        exit_watch_->arm();
    }
    for (auto& t : tags_) fetch(*t, false, 0);
    live_tags_ = cfg_.depth;
    int r = loop_.flush();
    return r < 0 ? r : 0;
}

void Queue::fetch(Tag& t, bool commit, int result) {
    io_uring_sqe* sqe = loop_.sqe_for(&t);
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, cfg_.cdev_fd, nullptr, 0, 0);
    unsigned op;
    if (cfg_.ioctl_encode)
        op = commit ? UBLK_U_IO_COMMIT_AND_FETCH_REQ : UBLK_U_IO_FETCH_REQ;
    else
        op = commit ? UBLK_IO_COMMIT_AND_FETCH_REQ : UBLK_IO_FETCH_REQ;
    sqe->cmd_op = op;
    ublksrv_io_cmd cmd{};
    cmd.q_id = static_cast<__u16>(cfg_.q_id);
    cmd.tag = t.tag();
    cmd.result = result;
    if (cfg_.zero_copy) {
        // No buffer address: the kernel registers the next request's pages
        // at the tag's index (struct ublk_auto_buf_reg in sqe->addr, flags 0).
        cmd.addr = 0;
        sqe->addr = t.tag();
    } else {
        cmd.addr = reinterpret_cast<uintptr_t>(t.buffer());
    }
    std::memcpy(sqe->cmd, &cmd, sizeof(cmd));
}

// A free buffer, a new one the budget allows (the first is outside it), or null.
std::byte* Queue::take_buffer() {
    if (!free_buffers_.empty()) {
        std::byte* b = free_buffers_.back();
        free_buffers_.pop_back();
        return b;
    }
    if (carved_ == cfg_.depth) return nullptr;
    if (carved_ > 0 && cfg_.io_budget && !cfg_.io_budget->try_take(cfg_.max_io_bytes)) return nullptr;
    return static_cast<std::byte*>(buffers_.get()) + carved_++ * static_cast<size_t>(cfg_.max_io_bytes);
}

// The kernel copies a read's data out of its buffer while it takes the
// commit, in io_uring_submit; until then the buffer is not free.
void Queue::buffer_committed(std::byte* b) { committing_.push_back(b); }

// After a run_once: the commits it submitted have been copied out. With reads
// waiting, submit the newer ones now rather than wait for more IO to wake us.
void Queue::recycle_buffers() {
    free_buffers_.insert(free_buffers_.end(), submitted_.begin(), submitted_.end());
    submitted_.clear();
    for (;;) {
        while (!waiting_.empty()) {
            std::byte* b = take_buffer();
            if (!b) break;
            Tag* t = waiting_.front();
            waiting_.pop_front();
            t->start(b);
        }
        if (waiting_.empty() || committing_.empty() || loop_.flush() < 0) break;
        free_buffers_.insert(free_buffers_.end(), committing_.begin(), committing_.end());
        committing_.clear();
    }
    submitted_.swap(committing_);
}

int Queue::run() {
    while (live_tags_ > 0 && !exit_requested_) {
        int r = loop_.run_once();
        if (r < 0) {
            log::error("queue %u: io_uring wait failed: %s", cfg_.q_id, std::strerror(-r));
            return r;
        }
        recycle_buffers();
    }
    return 0;
}

}  // namespace lazyroot::ublk
