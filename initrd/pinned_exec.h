#pragma once
#include <string>

namespace lazyroot::initrd {

// Where the initrd leaves a copy of lazyroot, its shared libraries and its
// dynamic loader, so that a daemon restarted after switch_root loads nothing
// from the root it serves (while it is dead, reading the root would hang).
inline constexpr const char* kPinnedExecDir = "/run/lazyroot/exec";

// Copies this process's executable (/proc/self/exe) to DIR/lazyroot, every
// shared object loaded in it (under the name the loader found it by, i.e. its
// soname) and its ELF interpreter to DIR, and an OpenSSL configuration (the
// initrd's, or an empty one) to DIR/openssl.cnf. Returns the interpreter's
// file name in DIR ("ld-linux-x86-64.so.2"), or an empty string with `error`
// set.
std::string pin_executable(const std::string& dir, std::string& error);

// The systemd ExecStart= value that runs the copy in DIR: "@LOADER ARGV0
// --library-path DIR --argv0 ARGV0 DIR/lazyroot ARGS" (with '@', the second
// word is the process's argv[0], so the loader's own starts with '@' too).
std::string pinned_exec_command(const std::string& dir, const std::string& loader, const std::string& argv0,
                                const std::string& args);

}  // namespace lazyroot::initrd
