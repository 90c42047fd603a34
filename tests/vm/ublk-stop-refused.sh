#!/bin/bash
# vm.ublk_stop_refused — a device that is mounted or held open is not torn
# down by SIGTERM or `lazyroot detach` (one clear line, non-zero exit), also
# when the ublk device sits under a mounted dm-verity mapping or its daemon
# is dead; `detach --force` still does it. SIGTERM during a full download
# stops it and leaves no device and no cache file behind.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
load_module dm-verity
mkdir -p /mnt/s

daemon_pid() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' /run/lazyroot/0.json; }
nothing_left() {
    compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left: $1"
    [[ ! -e /dev/mapper/lazyroot ]] || vm_die "/dev/mapper/lazyroot left: $1"
}
# wait_for_line FILE PATTERN — the daemon's answer to a signal is a log line.
wait_for_line() {
    local i
    for ((i = 0; i < 600; i++)); do
        grep -q "$2" "$1" && return 0
        sleep 0.1
    done
    vm_die "no line matching '$2' in $1: $(tail -3 "$1")"
}
# refused DEV PATTERN — detach must fail with one line matching PATTERN.
refused() {
    local rc=0
    "$lazyroot" detach "$1" 2>err.txt || rc=$?
    [[ $rc -eq 1 ]] || vm_die "detach $1 exited $rc: $(cat err.txt)"
    [[ $(wc -l <err.txt) -eq 1 ]] && grep -q "$2" err.txt || vm_die "detach $1 said: $(cat err.txt)"
    echo "refused: $(cat err.txt)"
}
still_serving() {
    kill -0 "$1" || vm_die "the daemon $1 is gone"
    echo 3 >/proc/sys/vm/drop_caches
    check_files /mnt/s "$images/files.sha256"
}

# 1. Mounted: detach and SIGTERM are refused; unmounted, detach works.
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --daemon 2>daemon.log)
mount -o ro "$dev" /mnt/s
refused "$dev" "not detaching /dev/ublkb0: mounted on /mnt/s"
pid=$(daemon_pid)
kill -TERM "$pid"
wait_for_line daemon.log "not stopping /dev/ublkb0: mounted on /mnt/s"
still_serving "$pid"
# Held open by a process, not mounted.
umount /mnt/s
exec 7<"$dev"
refused "$dev" "open in pid $$"
exec 7<&-
"$lazyroot" detach "$dev"
nothing_left "plain detach"

# 2. Under a mounted dm-verity mapping: the mapping's users count.
root=$(cat "$images/verity.img.roothash")
dev=$("$lazyroot" attach "$primary/verity.img" --verity "$root" --daemon 2>daemon.log)
[[ $dev == /dev/mapper/lazyroot ]] || vm_die "attach printed $dev"
mount -o ro "$dev" /mnt/s
refused "$dev" "/dev/mapper/lazyroot is mounted on /mnt/s"
refused /dev/ublkb0 "/dev/mapper/lazyroot is mounted on /mnt/s"
pid=$(daemon_pid)
kill -INT "$pid"
wait_for_line daemon.log "not stopping /dev/mapper/lazyroot"
still_serving "$pid"
# 3. Its daemon dead: still refused; `recover` takes it back.
kill -9 "$pid"
refused /dev/ublkb0 "mounted on /mnt/s"
[[ $("$lazyroot" recover /dev/ublkb0 --daemon 2>>daemon.log) == /dev/mapper/lazyroot ]] || vm_die "recover"
still_serving "$(daemon_pid)"
umount /mnt/s
"$lazyroot" detach "$dev"
nothing_left "verity detach"

# 4. --force means it: the mounted device goes, and reads fail rather than hang.
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --daemon 2>daemon.log)
mount -o ro "$dev" /mnt/s
"$lazyroot" detach --force "$dev" || vm_die "detach --force failed"
[[ ! -e /dev/ublkc0 ]] || vm_die "/dev/ublkc0 left after --force"
echo 3 >/proc/sys/vm/drop_caches
if cat /mnt/s/* >/dev/null 2>&1; then vm_die "reads from a forced-off device succeeded"; fi
umount -l /mnt/s
echo "force: the mounted device was removed; reads now fail"

# 5. SIGTERM during a full download (a rate-capped server): nothing is left.
"$lazyroot" attach "$capped/ext4.img" --insecure --mode=full --connections 1 --cache /tmp/full.img \
    2>full.log &
attach_pid=$!
wait_for_line full.log "fetching root"
t0=$(date +%s%N)
kill -TERM "$attach_pid"
rc=0
wait "$attach_pid" || rc=$?
t1=$(date +%s%N)
[[ $rc -ne 0 ]] || vm_die "an interrupted full attach exited 0"
[[ ! -e /tmp/full.img ]] || vm_die "the interrupted attach left its cache file"
nothing_left "interrupted full download"
echo "FIGURE interrupted_full_download_ms=$(((t1 - t0) / 1000000)) ($(tail -1 full.log))"
echo "ublk_stop_refused: OK"
