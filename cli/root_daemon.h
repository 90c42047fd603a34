#pragma once

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

// sd_notify(3) for a Type=notify service; no-op outside systemd.
void notify_ready(const char* status);
void notify_status(const char* status);

}  // namespace lazyroot::cli
