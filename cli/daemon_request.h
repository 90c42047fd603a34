#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace lazyroot::cli {

// A command asking a device's running daemon to do something (update-source,
// profile stop): REQUEST (mode 0600) in state_dir(), SIGUSR2 to the daemon,
// and its answer in RESULT, matched by a nonce. Files rather than a socket:
// the state directory is already where a daemon and the command meet.

// The JSON object in `path`, or nullopt.
std::optional<nlohmann::json> read_json_file(const std::string& path);

// Sends `request` (a "nonce" is added) to the daemon of /dev/ublkb`dev_id`
// and waits up to `timeout_s` for its answer, which it returns. Throws
// std::runtime_error (one line) when there is no daemon to ask, it cannot
// be asked, it exits, or it does not answer in time.
nlohmann::json ask_daemon(unsigned dev_id, const std::string& request_path, const std::string& result_path,
                          nlohmann::json request, unsigned timeout_s);

// Daemon side: the pending request in `request_path` (removed), or nullopt.
std::optional<nlohmann::json> take_request(const std::string& request_path);

// Daemon side: answers `request` with `answer` (its nonce added).
void answer_request(const std::string& result_path, const nlohmann::json& request, nlohmann::json answer);

}  // namespace lazyroot::cli
