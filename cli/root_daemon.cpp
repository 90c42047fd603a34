#include "cli/root_daemon.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "io/log.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

namespace lazyroot::cli {

bool in_initrd() { return ::access("/etc/initrd-release", F_OK) == 0; }

void become_root_storage_daemon(char* argv0) {
    if (argv0 && argv0[0]) argv0[0] = '@';
    // ONFAULT: lock what is touched, not every thread stack's full reservation.
    if (::mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0)
        log::warn("mlockall: %s", std::strerror(errno));
    if (::prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0)
        log::warn("PR_SET_IO_FLUSHER: %s", std::strerror(errno));
}

std::vector<std::string> pin_attach_files(const std::vector<std::string>& attach_args) {
    return attach_args;
}

void notify_ready(const char* status) {
    std::string msg = std::string("READY=1\nSTATUS=") + status;
    ::sd_notify(0, msg.c_str());
}

void notify_status(const char* status) {
    std::string msg = std::string("STATUS=") + status;
    ::sd_notify(0, msg.c_str());
}

}  // namespace lazyroot::cli
