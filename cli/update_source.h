#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace lazyroot::cli {

class SourceStack;

// `lazyroot update-source DEV URL` talks to the device's running daemon
// through two files in state_dir() and a signal: the command writes
// <id>.update-source (mode 0600: the URL may be presigned) and sends the
// daemon SIGUSR2; the daemon answers in <id>.update-source.result, which
// the command waits for. Files rather than a socket: the state directory is
// already where a daemon and the command meet (state, status), and is
// root's alone.
std::string update_request_path(unsigned dev_id);
std::string update_result_path(unsigned dev_id);

// Daemon side, on SIGUSR2: takes the pending request, if any, and answers
// it. A URL of the same image replaces the source URL for every queue; the
// state file (`state`, rewritten) then records it, so a restarted daemon
// (`lazyroot recover`) starts from the URL that works. Blocking (a probe of
// the URL): called from the daemon's main loop, never a queue thread.
void answer_update_request(unsigned dev_id, SourceStack& stack, nlohmann::json& state);

}  // namespace lazyroot::cli
