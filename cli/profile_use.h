#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/profile_recorder.h"
#include "cli/options.h"
#include "cli/source_stack.h"
#include "cli/source_uri.h"
#include "cli/verity_plan.h"

namespace lazyroot::cli {

// What a profile is bound to: the root hash when dm-verity has one (the same
// image on every machine and every server), else the source's identity.
std::string profile_identity(SourceStack& stack, const std::string& root_hash_hex);

// Where --profile's text comes from: FILE, an http(s) URL, or for "auto"
// SOURCE's name + ".profile" (before a query), read the way SOURCE is.
std::string profile_location(const SourceUri& uri, const AttachOptions& o);

// --profile: the profile's chunks as chunks of the stack's cache, in
// first-read order. Never fails the attach: a profile that is missing (one
// request, a 404 at most), unreadable, corrupt or made for another image is
// logged in one line and ignored (an empty list).
std::vector<uint64_t> load_profile_chunks(const SourceUri& uri, const AttachOptions& o, SourceStack& stack,
                                          const std::string& identity);

// --verity=manifest without --profile: the profile the manifest carries, if
// any, as load_profile_chunks gives it; one log line when it is not used
// (unsigned, or a signature that does not verify). Status names its source
// "manifest".
std::vector<uint64_t> manifest_profile_chunks(const VerityPlan& plan, SourceStack& stack, const std::string& identity);

// --profile-record: the recorder, and the source the device reads through.
struct ProfileRecording {
    std::unique_ptr<cache::ProfileRecorder> recorder;
    std::unique_ptr<cache::RecordingSource> source;
};
ProfileRecording start_profile_recording(SourceStack& stack, const std::string& identity);

// Writes the profile once; later calls do nothing. Logs the outcome.
void finish_profile_recording(ProfileRecording& rec, const std::string& path);

}  // namespace lazyroot::cli
