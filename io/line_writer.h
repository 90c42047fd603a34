#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace lazyroot::io {

// A token bucket: `burst` lines at once, then `per_second` on average.
class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;
    RateLimiter(double per_second, double burst) : rate_(per_second), burst_(burst), tokens_(burst) {}
    bool allow(Clock::time_point now);

private:
    double rate_;
    double burst_;
    double tokens_;
    Clock::time_point last_{};
};

// Lines for a file descriptor that may stall (a stopped journald, a console
// or pipe nobody reads): post() copies the line into a bounded ring and
// returns at once; a thread of its own does the blocking write(). Lines that
// find the ring full, or come faster than the rate limit, are dropped and
// counted, and the count is written as one line once output moves again.
class LineWriter {
public:
    struct Options {
        size_t capacity = 256;   // lines held while the fd is stalled
        double per_second = 20;  // rate limit
        double burst = 100;
    };
    static constexpr size_t kMaxLine = 1024;  // longer lines are cut

    LineWriter(int fd, Options o);
    // Waits for the thread, which ends once its write returns: destroy it
    // only when the fd can't stay stalled (the global one is never destroyed).
    ~LineWriter();
    LineWriter(const LineWriter&) = delete;
    LineWriter& operator=(const LineWriter&) = delete;

    // Never blocks on the fd. `line` has no newline; one is added.
    void post(std::string_view line);
    // Waits up to `max_wait` for what was posted so far to be written.
    bool flush(std::chrono::milliseconds max_wait);

    struct Stats {
        uint64_t written = 0;
        uint64_t dropped_full = 0;  // the ring was full: the fd is stalled
        uint64_t dropped_rate = 0;  // over the rate limit
    };
    Stats stats() const;

private:
    void run();
    void write_all(const char* p, size_t n);

    const int fd_;
    const Options opts_;
    mutable std::mutex mu_;
    std::condition_variable wake_;  // for the thread: lines, drops or stop
    std::condition_variable idle_;  // for flush(): lines written
    std::vector<char> slots_;       // capacity × kMaxLine
    std::vector<uint16_t> lens_;
    size_t head_ = 0, count_ = 0;
    uint64_t posted_ = 0;  // lines accepted into the ring
    uint64_t done_ = 0;    // lines taken out and written (or failed)
    Stats stats_;
    uint64_t drops_reported_ = 0;
    std::chrono::steady_clock::time_point last_note_{};
    RateLimiter limiter_;
    bool stop_ = false;
    std::thread thread_;  // last: starts once the rest exists
};

}  // namespace lazyroot::io
