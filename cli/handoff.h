#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/options.h"

// The hand-off: once every chunk of the image is durably in the cache, the
// mapping on top (dm-verity, or the dm-linear lazyroot puts there for it) is
// moved from /dev/ublkbN to the cache itself, by a device-mapper suspend,
// reload and resume, and the daemon leaves the data path: the ublk device is
// deleted and the daemon exits 0. See README "Hand-off".
//
// Crash safety: every step leaves either the old table or the new one.
//   before the suspend     old table live; the loop device (if any) is only
//                          held by the daemon, so autoclear removes it
//   suspended, no reload   a successor resumes: old table live
//   reloaded, not resumed  a successor resumes: the loaded table goes live
//   resumed                the ublk device has no user; a successor sees the
//                          table off it and finishes (deletes it, exits 0)
namespace lazyroot::ublk {
class Device;
}

namespace lazyroot::cli {

// --handoff=yes|no, else the mode's default: on for full and hydrate when
// dm-verity gives a table to swap, off otherwise (lazy never completes; an
// unverified device keeps its /dev/ublkbN path unless asked).
bool handoff_wanted(const AttachOptions& o, bool verity);

// Without verity: /dev/mapper/NAME, a read-only dm-linear over the whole
// device, so that there is a table to swap. Throws std::runtime_error.
std::string create_linear_top(const std::string& name, const std::string& lower_block_device, uint64_t bytes);
// Removes it; 0 or -errno.
int remove_top(const std::string& name);

struct HandoffTarget {
    std::string where;  // "/dev/loop0", or the cache's block device
    std::string kind;   // "loop" or "block"
};

// Swaps the top mapping NAME from `ublk_block` to the cache at `cache_path`
// (image bytes at [0, image_size)). On failure the old table is live again
// and it throws std::runtime_error (one line). The caller must have made the
// cache's completeness durable first.
HandoffTarget swap_to_cache(const std::string& name, const std::string& ublk_block, const std::string& cache_path,
                            uint64_t image_size);

class SourceStack;

// The daemon's hand-off once its cache is complete (`state`: what it wrote in
// /run/lazyroot/<id>.json). True: the mapping NAME now reads the cache, the
// ublk device is gone and the caller exits 0. False: it keeps serving (why is
// logged once).
bool hand_off(const std::string& name, ublk::Device& dev, SourceStack& stack, const nlohmann::json& state);

// A successor's first step, before it builds anything (the network may be
// down): resumes a mapping left suspended, and when the live table already
// reads the cache, deletes the ublk device, records where the root is and
// returns true (nothing left to serve).
bool finish_handoff_of_dead_daemon(unsigned dev_id, const nlohmann::json& state);

// A successor's first step: a mapping its predecessor left suspended (killed
// between suspend and resume) is resumed, with whichever table is loaded.
void resume_if_left_suspended(const std::string& name);
// True when NAME's live table no longer names the ublk device (dev_id):
// the hand-off happened and only the ublk device remains to go.
bool table_left_ublk(const std::string& name, unsigned dev_id);

// /run/lazyroot/NAME.handoff: where the root lives now, for `status` and a
// restarted boot unit (which then has nothing to do).
void record_handoff(const std::string& name, const nlohmann::json& state, const std::string& where);
// The record of a hand-off of a kernel-command-line device whose mapping
// still exists, if any.
std::optional<nlohmann::json> cmdline_handoff_record();

// Test hook: LAZYROOT_HANDOFF_STOP_AT=STEP (suspend, reload, resume, delete)
// stops the daemon (SIGSTOP) just before STEP, so a test can kill it there.
void handoff_stop_point(const char* step);

}  // namespace lazyroot::cli
