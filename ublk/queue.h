#pragma once
#include "ublk/uapi.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "io/event_loop.h"
#include "io/mapping.h"
#include "io/memory_budget.h"
#include "io/source.h"

namespace lazyroot::ublk {

struct QueueConfig {
    unsigned q_id = 0;
    unsigned depth = 0;
    uint32_t max_io_bytes = 0;
    int cdev_fd = -1;
    int exit_fd = -1;  // an eventfd; readable means "leave now, without STOP_DEV"
    bool ioctl_encode = false;
    // The device was created with AUTO_BUF_REG | USER_COPY: the kernel
    // registers each request's pages in the ring's buffer table at the tag's
    // index, reads that can go straight there do (QueueReader::read_fixed),
    // and the rest are copied in with a write to /dev/ublkcN.
    bool zero_copy = false;
    std::atomic<uint64_t>* zero_copy_reads = nullptr;  // counted when not null
    // IO buffers of all queues together (--memory-budget). Each queue has
    // one buffer outside it, so it always makes progress; null: one per tag.
    std::shared_ptr<io::MemoryBudget> io_budget;
};

// One ublk hardware queue: its ring, its descriptor array, its IO buffers,
// and the event loop that serves it. A tag holds a buffer only while it
// serves a read (the kernel copies the data out at the commit), so a deep
// queue needs buffers for the reads in flight, not for every tag. Everything here runs on the queue's own
// thread, because the kernel accepts a queue's commands only from one task.
class Queue {
public:
    Queue(const QueueConfig& cfg, io::Source& source);
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;
    ~Queue();

    // Maps the descriptors, opens the source reader and posts FETCH_REQ for
    // every tag. Returns 0 or -errno; on success the kernel owns every tag.
    int prepare();

    // Serves requests until the kernel aborts every tag (after STOP_DEV).
    // Returns 0, or -errno when the ring itself failed.
    int run();

private:
    class Tag;
    class ExitWatch;
    void fetch(Tag& t, bool commit, int result);
    std::byte* take_buffer();
    void buffer_committed(std::byte* b);
    void recycle_buffers();

    QueueConfig cfg_;
    io::Source& source_;
    io::EventLoop loop_;
    io::Mapping descriptors_;
    io::Mapping buffers_;                   // depth + 1 slots, touched only when used
    std::byte* parking_ = nullptr;          // the last slot: an idle tag's address, never written by us
    size_t carved_ = 0;                     // slots handed out so far
    std::vector<std::byte*> free_buffers_;  // ready for the next read
    std::vector<std::byte*> committing_;    // in commits not yet submitted
    std::vector<std::byte*> submitted_;     // in commits the last run_once submitted
    std::deque<Tag*> waiting_;              // reads waiting for a buffer, oldest first
    std::unique_ptr<io::QueueReader> reader_;
    std::vector<std::unique_ptr<Tag>> tags_;
    std::unique_ptr<ExitWatch> exit_watch_;
    unsigned live_tags_ = 0;  // tags the kernel may still hand us
    bool exit_requested_ = false;
};

}  // namespace lazyroot::ublk
