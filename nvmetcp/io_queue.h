#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/buffer_pool.h"
#include "io/backoff.h"
#include "io/object_pool.h"
#include "io/outage.h"
#include "io/source.h"
#include "io/timeout.h"
#include "io/timer.h"
#include "nvmetcp/controller.h"

namespace lazyroot::nvmetcp {

// What the attach-time probe learned about the namespace.
struct NamespaceInfo {
    uint32_t nsid = 1;
    uint32_t lba_bytes = 512;
    uint64_t size_bytes = 0;
    uint32_t max_transfer = 1u << 20;  // bytes per Read: MDTS, capped
};

struct IoQueueConfig {
    ControllerConfig controller;
    NamespaceInfo ns;
    // One read, retries included; nullopt (infinity): reconnect for ever.
    io::IoTimeout io_timeout = std::chrono::milliseconds(30000);
    // Shared by the source's queues; made per queue when null.
    std::shared_ptr<io::OutageMonitor> outage;
};

// The per-queue half of NvmeTcpSource: one controller association (its own
// admin queue and one IO queue, i.e. one TCP connection for data) on the
// queue's loop. Reads are split at MDTS into commands, submitted to the IO
// connection, whose table (by command id) receives their data straight into
// the read's buffer and completes them here. On any socket
// or protocol error the commands in flight are requeued, the association is
// redone with backoff, and they are reissued; a read that cannot finish
// within --io-timeout fails with EIO, as does one the target refuses with DNR;
// with --io-timeout=infinity a read waits out any outage.
class IoQueue final : public io::QueueReader, private Controller::Owner, private Command::Target {
public:
    IoQueue(io::EventLoop& loop, IoQueueConfig cfg, unsigned depth);
    ~IoQueue() override;

    void read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) override;
    // Whole LBAs without a data digest: C2H payloads go from the socket
    // straight into the registered buffer (READ_FIXED). Otherwise false.
    bool read_fixed(uint64_t offset, uint32_t len, io::FixedBuffer buf, io::ReadCallback& cb) override;
    std::string current_source() const override { return cfg_.controller.endpoint.text; }

private:
    struct Read;
    // One Read command; Command::in is its share of the read's buffer.
    struct Piece : Command {
        Read* read = nullptr;
        uint64_t slba = 0;
        uint32_t nlb = 0;
        io::Clock::time_point sent{};
    };
    struct Read {
        io::ReadCallback* cb = nullptr;
        std::span<std::byte> dst;
        io::BufferPool::Buffer bounce;  // LBA-aligned copy for unaligned reads, from bounces_
        size_t bounce_skip = 0;
        unsigned outstanding = 0;
        int error = 0;
        bool waiting = false;  // counted in the outage monitor
        io::Clock::time_point deadline{};
    };

    Read* start_read(io::ReadCallback& cb);
    void queue_pieces(Read* r, uint64_t start, uint64_t len, std::span<std::byte> target, const io::FixedBuffer* fixed);
    void dispatch();
    void piece_done(Piece& p, int error);
    void requeue_in_flight();
    void fail_all_pending(int error);
    void watchdog();
    void arm_watchdog();
    void schedule_reconnect();
    void mark_waiting(Read& r);
    void redo(Piece& p);

    // Controller::Owner
    void on_live() override;
    void on_down(const std::string& why, bool permanent) override;
    // Command::Target
    void on_completion(Command& c, const Cqe& cqe) override;

    IoQueueConfig cfg_;
    io::ObjectPool<Read> reads_;
    io::ObjectPool<Piece> pieces_;
    io::BufferPool bounces_{4096, 1u << 20};
    unsigned waiting_reads_ = 0;  // reads counted in the outage monitor
    std::deque<Piece*> pending_;  // waiting for a command slot or a connection
    std::chrono::milliseconds command_timeout_;
    io::Timer dispatch_timer_;
    io::Timer reconnect_timer_;
    io::Timer watchdog_timer_;
    unsigned attempts_ = 0;  // failed bring-ups in this episode
    bool failing_ = false;   // an episode is logged once
    io::Clock::time_point down_since_{};
    io::Backoff backoff_;
    Controller ctrl_;  // last: its teardown may still call back
};

}  // namespace lazyroot::nvmetcp
