#pragma once
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/http_fixtures/scoped_fd.h"

namespace lazyroot::fixtures {

// A child started with fork/exec, reaped exactly once; a still-running child is
// killed (SIGKILL) and reaped when the object goes away.
class ChildProcess {
public:
    ChildProcess() = default;
    ~ChildProcess();
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Starts argv (argv[0] is looked up in PATH when it has no '/'). stdin is
    // /dev/null; stdout and stderr go to output_fd, or /dev/null when it is -1.
    // Other descriptors are closed in the child. The child gets SIGKILL when the
    // thread that spawned it exits, so a crashed test leaves no server behind.
    // Throws std::runtime_error when the program can't be executed.
    static ChildProcess spawn(const std::vector<std::string>& argv, int output_fd = -1);

    pid_t pid() const { return pid_; }
    // True from spawn until the child has been reaped.
    bool running() const { return pid_ > 0 && !status_; }
    // Wait status (as from waitpid) once reaped.
    std::optional<int> status() const { return status_; }

    // Sends `sig`; does nothing once the child has been reaped.
    void signal(int sig) const;
    // Waits at most `timeout` for the child to exit; returns its wait status
    // once it has been reaped, nullopt if it is still running.
    std::optional<int> wait_for(std::chrono::milliseconds timeout);
    // Polls without waiting: reaps the child if it has exited.
    std::optional<int> try_reap() { return wait_for(std::chrono::milliseconds(0)); }
    // SIGKILL, then reap. Returns the wait status.
    int kill_hard();

private:
    pid_t pid_ = -1;
    ScopedFd pidfd_;  // readable once the child exits: lets waits be bounded without sleeps
    std::optional<int> status_;
};

struct CommandResult {
    int exit_code = -1;  // -1 when killed by a signal (including the timeout)
    std::string output;  // stdout and stderr, interleaved
};

// Runs argv to completion, capturing its output; kills it after `timeout`.
// Throws std::runtime_error when it can't be started.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Describes a wait status for error messages: "exit 1", "signal 9".
std::string describe_wait_status(int status);

}  // namespace lazyroot::fixtures
