#pragma once

#include <pthread.h>

#include <string>

namespace lazyroot::io {

// Names the calling thread as ps, top and /proc/PID/task/*/comm show it, so
// a daemon's CPU can be told apart per role (the kernel keeps 15 bytes).
inline void name_this_thread(const std::string& name) {
    ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace lazyroot::io
