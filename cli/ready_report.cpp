#include "cli/ready_report.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "io/log.h"

namespace lazyroot::cli {

void ReadyReport::ready(const std::string& dev_path) {
    if (!fd_) {
        std::printf("%s\n", dev_path.c_str());
        std::fflush(stdout);
        return;
    }
    send("OK " + dev_path + "\n");
    fd_.reset();
    detach_stdio();
}

void ReadyReport::send(const std::string& s) { [[maybe_unused]] ssize_t n = ::write(fd_.get(), s.data(), s.size()); }

void ReadyReport::detach_stdio() {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) return;
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::close(null);
}

int wait_for_daemon(int read_fd, pid_t child) {
    std::string msg;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(read_fd, buf, sizeof buf);
        if (n > 0) {
            msg.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;
    }
    ::close(read_fd);
    if (!msg.empty() && msg.back() == '\n') msg.pop_back();
    if (msg.rfind("OK ", 0) == 0) {
        std::printf("%s\n", msg.c_str() + 3);
        return 0;
    }
    ::waitpid(child, nullptr, 0);
    if (msg.rfind("ERR ", 0) == 0)
        log::error("%s", msg.c_str() + 4);
    else
        log::error("the daemon exited before the device was ready");
    return 1;
}

}  // namespace lazyroot::cli
