#pragma once

namespace lazyroot::log {

// One line per message on stderr, prefixed with "lazyroot: ".
void error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

void set_verbose(bool on);

}  // namespace lazyroot::log
