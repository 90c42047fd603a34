#pragma once
#include <string>

#include "cli/options.h"

namespace lazyroot::cli {

struct ProfileRecording;

// `lazyroot profile stop [DEV]` ends a running device's --profile-record
// window now and has the daemon write the profile: what the boot's
// multi-user.target unit runs (initrd/generator.cpp), so a boot's profile
// covers the boot and no more. The same meeting place as update-source:
// <id>.profile-stop in state_dir() and SIGUSR2, answered in
// <id>.profile-stop.result. Without DEV: the device rd.lazyroot= made.
int run_profile_stop(const ProfileStopOptions& o);

// Daemon side, on SIGUSR2: when a stop is pending, finishes `rec` into
// `path` and answers. Does nothing for a stray signal.
void answer_profile_stop(unsigned dev_id, ProfileRecording& rec, const std::string& path);

// --profile=record: where the profile goes, <state_dir()>/NAME.profile for
// SOURCE's last path element NAME (the query dropped).
std::string default_profile_record_path(const std::string& source);

}  // namespace lazyroot::cli
