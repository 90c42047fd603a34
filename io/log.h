#pragma once
#include <chrono>

#include "io/line_writer.h"

namespace lazyroot::log {

// One line per message on stderr, prefixed with "lazyroot: ".
//
// The main thread writes synchronously, so a setup error is on stderr before
// the process exits. Every other thread (the queue threads above all) hands
// its lines to a bounded ring that a logger thread writes out, rate-limited:
// a stalled journald or console (a full stderr pipe) never blocks a queue
// thread, and lines that don't fit are dropped and counted.
void error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

void set_verbose(bool on);

// Waits up to `max_wait` for lines from other threads to reach stderr (before
// _exit, which skips the atexit hook that does the same).
void flush(std::chrono::milliseconds max_wait = std::chrono::seconds(1));

// What the ring has written and dropped so far in this process.
io::LineWriter::Stats async_stats();

}  // namespace lazyroot::log
