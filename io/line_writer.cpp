#include "io/line_writer.h"
#include "io/thread_name.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

namespace lazyroot::io {

bool RateLimiter::allow(Clock::time_point now) {
    if (last_ != Clock::time_point{}) {
        const double secs = std::chrono::duration<double>(now - last_).count();
        tokens_ = std::min(burst_, tokens_ + std::max(0.0, secs) * rate_);
    }
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
}

LineWriter::LineWriter(int fd, Options o)
    : fd_(fd),
      opts_(o),
      slots_(std::max<size_t>(1, o.capacity) * kMaxLine),
      lens_(std::max<size_t>(1, o.capacity)),
      limiter_(o.per_second, o.burst),
      thread_([this] {
          name_this_thread("lr-log");
          run();
      }) {}

LineWriter::~LineWriter() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void LineWriter::post(std::string_view line) {
    const auto now = RateLimiter::Clock::now();
    {
        std::lock_guard lock(mu_);
        if (count_ == lens_.size()) {
            ++stats_.dropped_full;
        } else if (!limiter_.allow(now)) {
            ++stats_.dropped_rate;
        } else {
            const size_t slot = (head_ + count_) % lens_.size();
            const size_t n = std::min(line.size(), kMaxLine - 1);
            char* dst = &slots_[slot * kMaxLine];
            std::memcpy(dst, line.data(), n);
            dst[n] = '\n';
            lens_[slot] = static_cast<uint16_t>(n + 1);
            ++count_;
            ++posted_;
        }
    }
    // A drop wakes the thread too, for the note that counts it.
    wake_.notify_one();
}

bool LineWriter::flush(std::chrono::milliseconds max_wait) {
    std::unique_lock lock(mu_);
    const uint64_t target = posted_;
    return idle_.wait_for(lock, max_wait, [&] { return done_ >= target; });
}

LineWriter::Stats LineWriter::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

void LineWriter::write_all(const char* p, size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd_, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;  // a closed or broken fd: the lines are lost, nothing else is
        p += w;
        n -= static_cast<size_t>(w);
    }
}

void LineWriter::run() {
    // Signals belong to the main thread; a reader that went away (EPIPE)
    // must cost log lines, never the process (SIGPIPE goes to the writer).
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::vector<char> batch;
    batch.reserve(16 * kMaxLine);
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait(lock,
                   [&] { return stop_ || count_ > 0 || stats_.dropped_full + stats_.dropped_rate != drops_reported_; });
        if (count_ == 0 && stop_) return;
        // A note alone (drops, no lines) waits for the next second: a flood
        // of drops makes one note a second, not one per drop.
        if (count_ == 0 && RateLimiter::Clock::now() < last_note_ + std::chrono::seconds(1)) {
            wake_.wait_until(lock, last_note_ + std::chrono::seconds(1), [&] { return stop_ || count_ > 0; });
            if (count_ == 0 && stop_) return;
        }
        const uint64_t dropped = stats_.dropped_full + stats_.dropped_rate;
        batch.clear();
        if (dropped != drops_reported_) {
            char note[128];
            int n = std::snprintf(note, sizeof note,
                                  "lazyroot: warning: %llu log lines dropped (logging too fast, or output stalled)\n",
                                  static_cast<unsigned long long>(dropped - drops_reported_));
            batch.insert(batch.end(), note, note + n);
            drops_reported_ = dropped;
            last_note_ = RateLimiter::Clock::now();
        }
        size_t lines = 0;
        while (count_ > 0 && lines < 16) {
            const char* src = &slots_[head_ * kMaxLine];
            batch.insert(batch.end(), src, src + lens_[head_]);
            head_ = (head_ + 1) % lens_.size();
            --count_;
            ++lines;
        }
        // The blocking write happens without the lock: post() never waits on it.
        lock.unlock();
        write_all(batch.data(), batch.size());
        lock.lock();
        done_ += lines;
        stats_.written += lines;
        idle_.notify_all();
    }
}

}  // namespace lazyroot::io
