#pragma once
#include <string>
#include <vector>

namespace lazyroot::cli {

// True when running from an initrd (systemd's test: /etc/initrd-release).
bool in_initrd();
// Tests: 1 or 0 forces in_initrd()'s answer, -1 asks the file system again.
void set_in_initrd_for_testing(int in);

// systemd's rules for a daemon that serves the root file system from the
// initrd (https://systemd.io/ROOT_STORAGE_DAEMONS/): argv[0][0] = '@' so the
// switch_root and shutdown killing sprees pass it by; oom_score_adj -1000 (for
// starts outside systemd, whose unit sets OOMScoreAdjust=); memory locked so that
// serving the root never waits on paging from the root; PR_SET_IO_FLUSHER so
// that reclaim does not recurse into the device being served. Failures are
// logged, not fatal.
void become_root_storage_daemon(char* argv0);

// After switch_root, a daemon started in the initrd is left behind in the
// emptied initramfs: /proc, /dev and /run moved to the new root without it,
// so state files, /dev/mapper/control and /dev/loop-control are out of reach.
// become_root_storage_daemon keeps /proc open in the initrd; with it,
// follow_switch_root() moves the daemon into PID 1's root once PID 1 has
// moved. 1 when it moved now, 0 when there is nothing to do, -errno.
int follow_switch_root();

// In the initrd: copies every file an attach option names (--ca, --cert,
// --key, --trust, a file:// --hash-source) to <state_dir()>/pinned/ and
// returns `attach_args` with those paths rewritten, so that a daemon
// restarted after switch_root still finds them (the initrd's files are gone
// then). An https:// SOURCE without --ca gets libcurl's default CA bundle
// pinned the same way, as an explicit --ca. Outside the initrd:
// `attach_args` unchanged. A file that cannot be copied keeps its path.
std::vector<std::string> pin_attach_files(const std::vector<std::string>& attach_args);

// sd_notify(3) for a Type=notify service; no-op outside systemd.
void notify_ready(const char* status);
void notify_status(const char* status);

}  // namespace lazyroot::cli
