#include "nvmetcp/io_queue.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/log.h"

namespace lazyroot::nvmetcp {

IoQueue::IoQueue(io::EventLoop& loop, IoQueueConfig cfg, unsigned depth)
    : cfg_(std::move(cfg)),
      command_timeout_(io::at_most(cfg_.controller.command_timeout, cfg_.io_timeout)),
      dispatch_timer_(loop, [this] { dispatch(); }),
      reconnect_timer_(loop, [this] { ctrl_.start(); }),
      watchdog_timer_(loop, [this] { watchdog(); }),
      ctrl_(
          loop,
          [&] {
              ControllerConfig c = cfg_.controller;
              // One command per read piece: room for the whole ublk queue.
              c.io_entries = static_cast<uint16_t>(std::clamp(depth + 1, 2u, 1024u));
              c.max_data = cfg_.ns.max_transfer;
              c.command_timeout = io::at_most(c.command_timeout, cfg_.io_timeout);
              return c;
          }(),
          *this) {
    if (!cfg_.outage) cfg_.outage = std::make_shared<io::OutageMonitor>(cfg_.controller.endpoint.text);
    // Connect now, so the first read does not wait for the whole bring-up.
    reconnect_timer_.arm_in({});
}

IoQueue::~IoQueue() {
    ctrl_.stop();
    // Reads still waiting when the queue goes away wait no more.
    for (; waiting_reads_ > 0; --waiting_reads_) cfg_.outage->wait_end();
}

void IoQueue::mark_waiting(Read& r) {
    if (r.waiting) return;
    r.waiting = true;
    ++waiting_reads_;
    cfg_.outage->wait_begin();
}

IoQueue::Read* IoQueue::start_read(io::ReadCallback& cb) {
    Read* r = &reads_.take();
    r->cb = &cb;
    r->dst = {};
    r->deadline = io::deadline_after(cfg_.io_timeout);
    // Arriving while the association is down: it waits for the target.
    if (failing_) mark_waiting(*r);
    return r;
}

void IoQueue::read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) {
    Read* r = start_read(cb);
    r->dst = dst;
    // The namespace is addressed in LBAs; the ublk device in 512-byte sectors.
    const uint64_t lba = cfg_.ns.lba_bytes;
    const uint64_t start = offset / lba * lba;
    const uint64_t end = std::min((offset + dst.size() + lba - 1) / lba * lba, cfg_.ns.size_bytes);
    std::span<std::byte> target = dst;
    if (start != offset || end != offset + dst.size()) {
        r->bounce = bounces_.take(end - start);
        r->bounce_skip = offset - start;
        target = {r->bounce.get(), end - start};
    }
    queue_pieces(r, start, target.size(), target, nullptr);
}

bool IoQueue::read_fixed(uint64_t offset, uint32_t len, io::FixedBuffer buf, io::ReadCallback& cb) {
    const uint64_t lba = cfg_.ns.lba_bytes;
    // A digest is checked over bytes the daemon never sees; a partial LBA
    // needs the bounce buffer.
    if (cfg_.controller.digests.data || len == 0 || offset % lba != 0 || len % lba != 0 ||
        offset + len > cfg_.ns.size_bytes)
        return false;
    queue_pieces(start_read(cb), offset, len, {}, &buf);
    return true;
}

void IoQueue::queue_pieces(Read* r, uint64_t start, uint64_t len, std::span<std::byte> target,
                           const io::FixedBuffer* fixed) {
    const uint64_t lba = cfg_.ns.lba_bytes;
    const uint64_t step = std::max<uint64_t>(cfg_.ns.max_transfer / lba * lba, lba);
    // Queued straight away (no per-read vector): dispatch runs from the loop,
    // after `outstanding` is set below.
    unsigned made = 0;
    for (uint64_t at = 0; at < len || (len == 0 && made == 0); at += step) {
        Piece* p = &pieces_.take();
        const uint64_t n = std::min<uint64_t>(step, len - at);
        p->read = r;
        p->slba = (start + at) / lba;
        p->nlb = static_cast<uint32_t>(n / lba);
        if (fixed) {
            p->in = {};
            p->fixed_index = fixed->index;
            p->fixed_addr = fixed->base + at;
            p->fixed_len = static_cast<uint32_t>(n);
        } else {
            p->in = {reinterpret_cast<uint8_t*>(target.data()) + at, n};
            p->fixed_index = -1;
        }
        pending_.push_back(p);
        ++made;
        if (len == 0) break;
    }
    r->outstanding = made;
    // Commands go out from the loop: the callback never runs inside read(),
    // and reads queued in one pass share one send.
    if (!dispatch_timer_.armed()) dispatch_timer_.arm_in({});
    arm_watchdog();
}

void IoQueue::dispatch() {
    if (!ctrl_.live()) {
        if (ctrl_.phase() == Controller::Phase::Idle && !reconnect_timer_.armed() && !pending_.empty()) ctrl_.start();
        return;
    }
    const auto now = io::Clock::now();
    bool sent = false;
    while (!pending_.empty()) {
        Piece* p = pending_.front();
        if (p->read->error || p->nlb == 0) {
            pending_.pop_front();
            piece_done(*p, p->read->error);
            continue;
        }
        if (now >= p->read->deadline) {
            pending_.pop_front();
            log::error("%s: read at LBA %llu failed: no answer within --io-timeout (%lld ms)",
                       cfg_.controller.name.c_str(), static_cast<unsigned long long>(p->slba),
                       static_cast<long long>(cfg_.io_timeout ? cfg_.io_timeout->count() : 0));
            piece_done(*p, -ETIMEDOUT);
            continue;
        }
        p->target = this;
        p->sent = now;
        // The connection's table full (SQSIZE): the rest waits for completions.
        if (!ctrl_.io().submit(make_read(0, cfg_.ns.nsid, p->slba, p->nlb, p->nlb * cfg_.ns.lba_bytes), *p)) break;
        pending_.pop_front();
        sent = true;
    }
    if (sent) ctrl_.io().flush();
}

void IoQueue::piece_done(Piece& p, int error) {
    Read* r = p.read;
    if (error && !r->error) r->error = error;
    pieces_.release(p);
    if (--r->outstanding > 0) return;
    if (!r->error && r->bounce) std::memcpy(r->dst.data(), r->bounce.get() + r->bounce_skip, r->dst.size());
    bounces_.give(std::move(r->bounce));
    io::ReadCallback* cb = r->cb;
    if (r->waiting) {
        cfg_.outage->wait_end();
        --waiting_reads_;
    }
    // Nothing is served wrong: whatever failed, the kernel sees EIO.
    const int result = r->error ? -EIO : 0;
    reads_.release(*r);
    cb->on_read_done(result);
}

void IoQueue::on_completion(Command& c, const Cqe& cqe) {
    auto* p = static_cast<Piece*>(&c);
    if (!dispatch_timer_.armed()) dispatch_timer_.arm_in({});
    if (cqe.ok()) {
        if (!p->data_ok) return redo(*p);
        if (p->received == p->length()) return piece_done(*p, 0);
        pending_.push_front(p);
        return ctrl_.io().fail("read completed with " + std::to_string(p->received) + " of " +
                               std::to_string(p->length()) + " bytes");
    }
    const bool expired = io::Clock::now() >= p->read->deadline;
    log::warn("%s: read of %u blocks at LBA %llu: %s%s", cfg_.controller.name.c_str(), p->nlb,
              static_cast<unsigned long long>(p->slba), describe_status(cqe.status, false).c_str(),
              cqe.dnr() ? "; not retrying"
              : expired ? "; out of time"
                        : "; retrying");
    if (cqe.dnr() || expired) return piece_done(*p, -EIO);
    // Retry after a pause, not in a tight loop against a failing target.
    pending_.push_back(p);
    dispatch_timer_.arm_in(std::chrono::milliseconds(100));
}

// The command's data failed its digest (a bit flipped on the way, past TCP's
// checksum): its bytes are not served; it is sent again, on the same
// connection, which is still in step.
void IoQueue::redo(Piece& p) {
    log::warn("%s: data digest mismatch in the read of %u blocks at LBA %llu; reading it again",
              cfg_.controller.name.c_str(), p.nlb, static_cast<unsigned long long>(p.slba));
    pending_.push_front(&p);
    if (!dispatch_timer_.armed()) dispatch_timer_.arm_in({});
}

void IoQueue::requeue_in_flight() {
    // Oldest command id first; the IO queue's Connect (the controller's) stays.
    const auto taken = ctrl_.io().take_commands();
    for (auto it = taken.rbegin(); it != taken.rend(); ++it)
        if ((*it)->target == this) pending_.push_front(static_cast<Piece*>(*it));
}

void IoQueue::fail_all_pending(int error) {
    while (!pending_.empty()) {
        Piece* p = pending_.front();
        pending_.pop_front();
        piece_done(*p, error);
    }
}

void IoQueue::on_live() {
    cfg_.outage->answered();
    if (failing_) {
        const double secs = std::chrono::duration<double>(io::Clock::now() - down_since_).count();
        log::info("%s: reconnected to %s (cntlid %u) after %.1f s", cfg_.controller.name.c_str(),
                  cfg_.controller.endpoint.text.c_str(), ctrl_.cntlid(), secs);
    }
    failing_ = false;
    attempts_ = 0;
    dispatch();
}

void IoQueue::on_down(const std::string& why, bool permanent) {
    requeue_in_flight();
    if (!permanent) {
        // Every read now pending waits for the target to come back.
        for (Piece* p : pending_) mark_waiting(*p->read);
        cfg_.outage->failed();
    }
    if (!failing_) {
        failing_ = true;
        down_since_ = io::Clock::now();
        log::warn("%s; %s", why.c_str(), permanent ? "the target says not to retry (DNR)" : "reconnecting");
    } else {
        log::debug("%s", why.c_str());
    }
    if (permanent) {
        // DNR: reads waiting now fail; a later read tries again from scratch.
        ctrl_.stop();
        failing_ = false;
        return fail_all_pending(-EIO);
    }
    if (pending_.empty()) {
        // Nobody waits: reconnect when the next read comes.
        ctrl_.stop();
        failing_ = false;
        return;
    }
    schedule_reconnect();
}

void IoQueue::schedule_reconnect() {
    reconnect_timer_.arm_in(backoff_.delay(++attempts_));
    arm_watchdog();
}

void IoQueue::arm_watchdog() {
    if (watchdog_timer_.armed()) return;
    const auto tick = cfg_.io_timeout
                          ? std::min<std::chrono::milliseconds>(std::chrono::milliseconds(250), *cfg_.io_timeout / 4)
                          : std::chrono::milliseconds(250);
    watchdog_timer_.arm_in(tick);
}

// Enforces --io-timeout on reads and the per-command timeout on commands in
// flight; runs only while something is outstanding.
void IoQueue::watchdog() {
    const auto now = io::Clock::now();
    if (failing_) cfg_.outage->tick(now);
    for (auto it = pending_.begin(); it != pending_.end();) {
        Piece* p = *it;
        if (now < p->read->deadline && !p->read->error) {
            ++it;
            continue;
        }
        it = pending_.erase(it);
        if (!p->read->error)
            log::error("%s: read at LBA %llu failed: no answer within --io-timeout (%lld ms)",
                       cfg_.controller.name.c_str(), static_cast<unsigned long long>(p->slba),
                       static_cast<long long>(cfg_.io_timeout ? cfg_.io_timeout->count() : 0));
        piece_done(*p, -ETIMEDOUT);
    }
    const Piece* late = nullptr;
    size_t in_flight = 0;
    ctrl_.io().for_each_command([&](const Command& c) {
        if (c.target != this) return;  // the controller's Connect
        const auto* p = static_cast<const Piece*>(&c);
        ++in_flight;
        if (!late && (now - p->sent > command_timeout_ || now >= p->read->deadline)) late = p;
    });
    if (late)
        ctrl_.io().fail(
            "read command " + std::to_string(late->cid) + " unanswered for " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - late->sent).count()) + " ms");
    if (in_flight > 0 || !pending_.empty()) arm_watchdog();
    // Reads that expired while the association is down leave nothing to reconnect for.
    if (pending_.empty() && in_flight == 0 && ctrl_.phase() == Controller::Phase::Down) {
        reconnect_timer_.cancel();
        ctrl_.stop();
        failing_ = false;
    }
}

}  // namespace lazyroot::nvmetcp
