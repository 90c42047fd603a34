#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace lazyroot::cli {

// `lazyroot status` reads each daemon's /run/lazyroot/<id>.status.json and adds
// what it finds out itself:
//   daemon_running  the recorded pid still runs lazyroot
//   device_present  /dev/ublkbN still exists
//   age_s           seconds since the device was attached (first attach, not
//                   the last recovery)
//   updated_s_ago   seconds since the daemon last rewrote the file (each second)
// A file whose daemon and device are both gone is stale (a daemon killed
// without cleaning up, then `detach --force`, or a reboot with a persistent
// run directory): status leaves it out.
bool is_stale_status(const nlohmann::json& entry);

// "42 s", "3 min 5 s", "2 h 10 min", "3 d 4 h".
std::string format_duration(double seconds);

// The human-readable listing of the entries (a JSON array, stale ones already
// left out); "no devices\n" when there are none.
std::string format_status_text(const nlohmann::json& entries);

}  // namespace lazyroot::cli
