#include "cli/attach_interrupt.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <filesystem>

#include "io/log.h"
#include "io/thread_name.h"

namespace lazyroot::cli {
namespace {

// Long enough for a download loop to notice and unwind by itself, short
// enough that the whole stop takes under 2 s.
constexpr int kGraceMs = 1500;

}  // namespace

AttachInterrupt::AttachInterrupt(int sigfd)
    : sigfd_(sigfd), stop_(::eventfd(0, EFD_CLOEXEC)), thread_([this] {
          io::name_this_thread("lr-signals");
          watch();
      }) {}

AttachInterrupt::~AttachInterrupt() { disarm(); }

void AttachInterrupt::remove_if_cut_short(const std::string& path) {
    std::lock_guard lock(mu_);
    created_.push_back(path);
}

void AttachInterrupt::disarm() {
    if (!thread_.joinable()) return;
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_.get(), &one, sizeof one);
    thread_.join();
}

void AttachInterrupt::watch() {
    pollfd fds[2] = {{sigfd_, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0) {}
    if (!(fds[0].revents & POLLIN)) return;
    signalfd_siginfo si{};
    [[maybe_unused]] ssize_t n = ::read(sigfd_, &si, sizeof si);
    interrupted_ = true;
    pollfd stop{stop_.get(), POLLIN, 0};
    if (::poll(&stop, 1, kGraceMs) > 0) return;
    // Still blocked in setup: nothing the kernel holds exists yet.
    std::lock_guard lock(mu_);
    for (const auto& p : created_) {
        std::error_code ec;
        ::umount2(p.c_str(), MNT_DETACH);  // the RAM cache's own tmpfs, if it is one
        std::filesystem::remove_all(p, ec);
    }
    log::error("interrupted by signal %u during attach; nothing was attached", si.ssi_signo);
    log::flush();
    ::_exit(1);
}

}  // namespace lazyroot::cli
