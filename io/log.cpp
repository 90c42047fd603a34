#include "io/log.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "io/redact.h"

namespace lazyroot::log {
namespace {

std::atomic<bool> verbose{false};

// The ring for stderr, made on first use and never destroyed: its thread may
// be blocked in write() for good, and exit() must not wait for it.
std::atomic<io::LineWriter*> ring{nullptr};
std::mutex ring_mu;  // held across fork by the atfork handlers

void reset_after_fork() {
    // The child has no logger thread: the old ring (and whatever it held,
    // written by the parent) is abandoned, a new one made on first use.
    ring.store(nullptr);
    ring_mu.unlock();
}

[[maybe_unused]] const int atfork_registered = [] {
    return pthread_atfork([] { ring_mu.lock(); }, [] { ring_mu.unlock(); }, reset_after_fork);
}();

io::LineWriter& stderr_ring() {
    if (auto* r = ring.load(std::memory_order_acquire)) return *r;
    std::lock_guard lock(ring_mu);
    if (auto* r = ring.load()) return *r;
    auto* r = new io::LineWriter(STDERR_FILENO, io::LineWriter::Options{});
    ring.store(r, std::memory_order_release);
    static std::once_flag hook;
    std::call_once(hook, [] { std::atexit([] { flush(std::chrono::seconds(1)); }); });
    return *r;
}

bool on_main_thread() { return ::syscall(SYS_gettid) == ::getpid(); }

void write_line(const char* p, size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= static_cast<size_t>(w);
    }
}

void emit(const char* level, const char* fmt, va_list ap) {
    // Format into one buffer so lines from different threads never interleave.
    char line[io::LineWriter::kMaxLine];
    int n = std::snprintf(line, sizeof line, "lazyroot: %s", level);
    if (n < 0) return;
    int m = std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n), fmt, ap);
    if (m < 0) return;
    size_t len = std::min(static_cast<size_t>(n) + static_cast<size_t>(m), sizeof line - 2);
    line[len] = '\0';
    // No credentials in any log line: a URL's userinfo and presigned query
    // are cut here, whichever message carried the URL (SOURCE, a mirror, an
    // error from libcurl or from the command line).
    if (std::strstr(line, "://")) {
        const std::string safe = io::redact_urls({line, len});
        len = std::min(safe.size(), sizeof line - 2);
        std::memcpy(line, safe.data(), len);
    }
    // One line, whatever bytes a server, a cache file or a command line put
    // into the message: control characters can't end it or forge another.
    for (size_t i = 0; i < len; ++i)
        if (static_cast<unsigned char>(line[i]) < 0x20 || line[i] == 0x7f) line[i] = '?';
    if (!on_main_thread()) return stderr_ring().post({line, len});
    line[len] = '\n';
    write_line(line, len + 1);
}

}  // namespace

void set_verbose(bool on) { verbose = on; }

void flush(std::chrono::milliseconds max_wait) {
    if (auto* r = ring.load(std::memory_order_acquire)) r->flush(max_wait);
}

io::LineWriter::Stats async_stats() {
    if (auto* r = ring.load(std::memory_order_acquire)) return r->stats();
    return {};
}

#define LAZYROOT_LOG_FN(name, level, cond) \
    void name(const char* fmt, ...) {      \
        if (!(cond)) return;               \
        va_list ap;                        \
        va_start(ap, fmt);                 \
        emit(level, fmt, ap);              \
        va_end(ap);                        \
    }

LAZYROOT_LOG_FN(error, "error: ", true)
LAZYROOT_LOG_FN(warn, "warning: ", true)
LAZYROOT_LOG_FN(info, "", true)
LAZYROOT_LOG_FN(debug, "debug: ", verbose.load())

}  // namespace lazyroot::log
