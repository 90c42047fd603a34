#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lazyroot::cli {

// /run/lazyroot/<id>.json: what a restarted daemon (or `lazyroot list`) needs
// to know about a device: its source, options and daemon pid.
std::string state_dir();
std::string state_path(unsigned dev_id);

// Creates state_dir() mode 0700 (and tightens an existing one).
bool make_state_dir();

// Writes `text` to `path` through path.tmp and a rename, mode 0600 (also
// when path.tmp was left behind with another mode): state files hold the
// full source URL, which may carry credentials. False with errno set.
bool write_private_file(const std::string& path, const std::string& text);

// Atomic (write + rename), mode 0600; returns false and logs on failure,
// since a missing state file must not take a working device down.
bool write_state(unsigned dev_id, const nlohmann::json& state);
std::optional<nlohmann::json> read_state(unsigned dev_id);
// Every readable state file (not the status files).
std::vector<nlohmann::json> read_all_states();
// /run/lazyroot/<id>.status.json, rewritten every second by the daemon (see
// README: `lazyroot status`): `status` plus the device and the daemon's pid.
void write_status(unsigned dev_id, const std::string& block_path, const nlohmann::json& status);
// Whether pid runs lazyroot. The kernel records the serving pid at START_DEV
// and the state files record it too; after a crash that pid may belong to
// someone else, so only a process whose argv[0] names lazyroot counts.
bool is_lazyroot_process(int pid);
// Removes the state and the status file.
void remove_state(unsigned dev_id);

}  // namespace lazyroot::cli
