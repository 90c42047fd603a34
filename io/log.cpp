#include "io/log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace lazyroot::log {
namespace {

std::atomic<bool> verbose{false};

void emit(const char* level, const char* fmt, va_list ap) {
    // Format into one buffer so lines from different queue threads never interleave.
    char line[1024];
    int n = std::snprintf(line, sizeof line, "lazyroot: %s", level);
    if (n < 0) return;
    std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n), fmt, ap);
    std::fprintf(stderr, "%s\n", line);
}

}  // namespace

void set_verbose(bool on) { verbose = on; }

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
