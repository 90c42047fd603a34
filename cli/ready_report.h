#pragma once
#include <sys/types.h>

#include <string>

#include "io/unique_fd.h"

namespace lazyroot::cli {

// Where "ready" or the failure reason goes: stdout in the foreground, a pipe
// to the waiting parent with --daemon.
class ReadyReport {
public:
    explicit ReadyReport(int pipe_fd = -1) : fd_(pipe_fd) {}

    void ready(const std::string& dev_path);

    void failed(const std::string& why) {
        if (fd_) send("ERR " + why + "\n");
    }

    bool to_parent() const { return static_cast<bool>(fd_); }

private:
    void send(const std::string& s);
    // The caller of `attach --daemon` may capture stdout; let its read end.
    static void detach_stdio();

    io::UniqueFd fd_;
};

// Parent side of --daemon: relay the child's verdict, then leave it running.
int wait_for_daemon(int read_fd, pid_t child);

}  // namespace lazyroot::cli
