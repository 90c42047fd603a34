#pragma once
#include <string>
#include <vector>

namespace lazyroot::cli {

// True when running from an initrd (systemd's test: /etc/initrd-release).
bool in_initrd();

// systemd's rules for a daemon that serves the root file system from the
// initrd (https://systemd.io/ROOT_STORAGE_DAEMONS/): argv[0][0] = '@' so the
// switch_root and shutdown killing sprees pass it by; memory locked so that
// serving the root never waits on paging from the root; PR_SET_IO_FLUSHER so
// that reclaim does not recurse into the device being served. Failures are
// logged, not fatal.
void become_root_storage_daemon(char* argv0);

// In the initrd: copies every file an attach option names (--ca, --cert,
// --key, --trust, a file:// --hash-source) to <state_dir()>/pinned/ and
// returns `attach_args` with those paths rewritten, so that a daemon
// restarted after switch_root still finds them (the initrd's files are gone
// then). Outside the initrd: `attach_args` unchanged.
std::vector<std::string> pin_attach_files(const std::vector<std::string>& attach_args);

// sd_notify(3) for a Type=notify service; no-op outside systemd.
void notify_ready(const char* status);
void notify_status(const char* status);

}  // namespace lazyroot::cli
