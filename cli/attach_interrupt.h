#pragma once
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/unique_fd.h"

namespace lazyroot::cli {

// SIGTERM/SIGINT/SIGHUP during attach-time work (the probe, the tree, a full
// download). Work that polls interrupted() stops by itself; work that cannot
// (a blocking request) is cut short: after a grace period the watcher removes
// what the attach created and ends the process. Before the device is created
// the caller disarms it, so that no half-made device is ever left behind.
class AttachInterrupt {
public:
    // `sigfd` is a signalfd for the termination signals, which are blocked.
    explicit AttachInterrupt(int sigfd);
    ~AttachInterrupt();
    AttachInterrupt(const AttachInterrupt&) = delete;
    AttachInterrupt& operator=(const AttachInterrupt&) = delete;

    bool interrupted() const { return interrupted_.load(); }
    // A file or directory this attach created, removed if it is cut short.
    void remove_if_cut_short(const std::string& path);
    // From here on the caller handles signals itself (checking interrupted()
    // once, since the watcher consumed any signal that came before).
    void disarm();

private:
    void watch();

    int sigfd_;
    io::UniqueFd stop_;
    std::atomic<bool> interrupted_{false};
    std::mutex mu_;
    std::vector<std::string> created_;
    std::thread thread_;
};

}  // namespace lazyroot::cli
