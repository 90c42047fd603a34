#include "tests/http_fixtures/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace lazyroot::fixtures {
namespace {

using Clock = std::chrono::steady_clock;

std::string find_program(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    size_t start = 0;
    while (start <= dirs.size()) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        std::string candidate = dirs.substr(start, end - start) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return name;  // execv reports ENOENT
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

ChildProcess::~ChildProcess() {
    if (running()) kill_hard();
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        if (running()) kill_hard();
        pid_ = std::exchange(other.pid_, -1);
        pidfd_ = std::move(other.pidfd_);
        status_ = std::exchange(other.status_, std::nullopt);
    }
    return *this;
}

ChildProcess ChildProcess::spawn(const std::vector<std::string>& argv, int output_fd) {
    if (argv.empty()) throw std::runtime_error("spawn: empty argv");
    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls are allowed (the test may have threads).
    const std::string program = find_program(argv[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    ScopedFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!devnull) throw std::runtime_error(errno_text("open /dev/null"));
    const int out = output_fd >= 0 ? output_fd : devnull.get();

    // The child writes its exec errno here; a clean exec closes it (CLOEXEC).
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error(errno_text("pipe2"));
    ScopedFd err_read(pipefd[0]), err_write(pipefd[1]);

    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(errno_text("fork"));
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // parent already gone
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int sig : {SIGPIPE, SIGTERM, SIGQUIT, SIGINT, SIGHUP}) ::signal(sig, SIG_DFL);
        // dup2 onto a descriptor whose number already matches would keep CLOEXEC.
        int fds[3] = {devnull.get(), out, out};
        for (int i = 0; i < 3; ++i) {
            if (fds[i] == i) {
                ::fcntl(i, F_SETFD, 0);
            } else if (::dup2(fds[i], i) < 0) {
                int e = errno;
                (void)!::write(err_write.get(), &e, sizeof e);
                ::_exit(127);
            }
        }
        // Keep the report pipe; close whatever else the test process had open.
        const int keep = err_write.get();
        if (keep > 3) ::close_range(3, keep - 1, 0);
        ::close_range(keep + 1, ~0U, 0);
        ::execv(program.c_str(), args.data());
        int e = errno;
        (void)!::write(keep, &e, sizeof e);
        ::_exit(127);
    }

    err_write.reset();
    ChildProcess child;
    child.pid_ = pid;
    // Raw syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C" and won't link from C++.
    child.pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!child.pidfd_) {
        std::string msg = errno_text("pidfd_open");
        child.kill_hard();
        throw std::runtime_error(msg);
    }
    int child_errno = 0;
    ssize_t n;
    do n = ::read(err_read.get(), &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        child.wait_for(std::chrono::seconds(5));
        throw std::runtime_error("exec " + program + ": " + std::strerror(child_errno));
    }
    return child;
}

void ChildProcess::signal(int sig) const {
    if (running()) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
    if (pid_ <= 0 || status_) return status_;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        int st = 0;
        pid_t r = ::waitpid(pid_, &st, WNOHANG);
        if (r == pid_) {
            status_ = st;
            pidfd_.reset();
            return status_;
        }
        if (r < 0 && errno != EINTR) throw std::runtime_error(errno_text("waitpid"));
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd p{pidfd_.get(), POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left.count()) + 1);  // wakes when the child exits
    }
}

int ChildProcess::kill_hard() {
    if (!running()) return status_.value_or(0);
    ::kill(pid_, SIGKILL);
    // SIGKILL can't be ignored; only an uninterruptible sleep delays it.
    while (!wait_for(std::chrono::seconds(60))) {}
    return *status_;
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
    // A memfd collects the output without a temp file or a reader thread.
    ScopedFd out(::memfd_create("run_command", MFD_CLOEXEC));
    if (!out) throw std::runtime_error(errno_text("memfd_create"));
    ChildProcess child = ChildProcess::spawn(argv, out.get());
    CommandResult result;
    auto st = child.wait_for(timeout);
    if (!st) st = child.kill_hard();
    if (WIFEXITED(*st)) result.exit_code = WEXITSTATUS(*st);

    char buf[4096];
    off_t off = 0;
    ssize_t n;
    while ((n = ::pread(out.get(), buf, sizeof buf, off)) > 0) {
        result.output.append(buf, static_cast<size_t>(n));
        off += n;
    }
    return result;
}

}  // namespace lazyroot::fixtures
