#!/bin/bash
# vm.cache_small — the cache on a tmpfs smaller than the image (issue 11, test 5).
# Lazy mode: every file and every byte of the device are right, caching goes
# off with one log line, `status` says degraded, and the exit codes are 0.
# Full and hydrate modes: attach refuses with one line before downloading,
# creating no device and no cache file. Full mode without --cache keeps the
# image in a tmpfs of its own, and refuses an image larger than MemAvailable.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
mkdir -p /mnt/small /mnt/c
mount -t tmpfs -o size=16M tmpfs /mnt/small

nothing_left() {
    compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left: $1"
    return 0
}

# 1. lazy: the cache fills up at 16 MiB; reads go on from the server.
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --cache /mnt/small/cache.img --daemon 2>/tmp/attach.log)
mount -o ro "$dev" /mnt/c
check_files /mnt/c "$images/files.sha256"
umount /mnt/c
want=$(sha256sum <"$images/ext4.img")
got=$(sha256sum <"$dev")
[[ $got == "$want" ]] || vm_die "the device's bytes differ from the image"
"$lazyroot" status | tee /tmp/status.txt
grep -q "^  cache degraded: a chunk write failed: No space left on device$" /tmp/status.txt ||
    vm_die "status does not say degraded"
reason=$("$lazyroot" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["cache"]["degraded"])')
[[ $reason == "a chunk write failed: No space left on device" ]] || vm_die "status --json: degraded is '$reason'"
rc=0
"$lazyroot" detach "$dev" || rc=$?
[[ $rc -eq 0 ]] || vm_die "detach exited $rc"
nothing_left "after detach"
cat /tmp/attach.log
[[ $(grep -c "caching is off" /tmp/attach.log) -eq 1 ]] || vm_die "not one 'caching is off' line"
[[ $(grep -vc "caching is off" /tmp/attach.log) -eq 0 ]] || vm_die "other lines in the log"
echo "lazy: every file right with a 16 MiB cache; status: cache degraded: $reason"

# 2. full and hydrate: refused before anything is downloaded.
rm -f /mnt/small/cache.img /mnt/small/cache.img.lzmeta
for mode in full hydrate; do
    before=$(nginx_ctl bytes primary)
    rc=0
    "$lazyroot" attach "$primary/ext4.img" --insecure --mode "$mode" --cache /mnt/small/m.img --daemon \
        >/tmp/out 2>/tmp/err || rc=$?
    after=$(nginx_ctl bytes primary)
    cat /tmp/err
    [[ $rc -eq 1 ]] || vm_die "$mode attach exited $rc"
    [[ ! -s /tmp/out ]] || vm_die "$mode attach printed $(cat /tmp/out)"
    [[ $(wc -l </tmp/err) -eq 1 ]] || vm_die "$mode: not one line"
    grep -q "cache /mnt/small/m.img cannot hold the image (--mode=$mode keeps all of it): it needs 256.0 MiB more" /tmp/err ||
        vm_die "$mode: unexpected error"
    nothing_left "$mode"
    [[ -z $(ls -A /mnt/small) ]] || vm_die "$mode left files: $(ls -A /mnt/small)"
    # The probe (size and identity) may read a little; the image is not downloaded.
    echo "$mode: refused; the server sent $((after - before)) bytes"
    [[ $((after - before)) -le 4096 ]] || vm_die "$mode: $((after - before)) bytes fetched before refusing"
done
umount /mnt/small

# 3. full without --cache: a tmpfs of its own, sized to the image, gone after detach.
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --mode full --daemon)
ram=$(awk '$2 ~ "^/dev/shm/lazyroot-ram-" {print $2}' /proc/mounts)
[[ -n $ram ]] || vm_die "full mode in RAM: no tmpfs of its own"
size=$(df -B1 --output=size "$ram" | tail -1 | tr -d ' ')
image=$(stat -c %s "$images/ext4.img")
echo "full in RAM: $ram, a tmpfs of $size bytes for a $image-byte image"
((size >= image && size <= image + 2 * 1048576)) || vm_die "the RAM tmpfs is $size bytes"
mount -o ro "$dev" /mnt/c
check_files /mnt/c "$images/files.sha256"
umount /mnt/c
"$lazyroot" detach "$dev"
! grep -q lazyroot-ram /proc/mounts || vm_die "the RAM tmpfs stayed mounted"
! compgen -G '/dev/shm/lazyroot-ram-*' >/dev/null || vm_die "the RAM cache directory stayed"

# ... and an image RAM cannot hold is refused before downloading (a sparse 64 GiB file).
truncate -s 64G /tmp/huge.img
rc=0
"$lazyroot" attach file:///tmp/huge.img --mode full --daemon >/tmp/out 2>/tmp/err || rc=$?
cat /tmp/err
[[ $rc -eq 1 && ! -s /tmp/out && $(wc -l </tmp/err) -eq 1 ]] || vm_die "huge full attach: rc $rc"
grep -q "the image (64.0 GiB) does not fit in RAM (.* available); give --cache=PATH on a disk" /tmp/err ||
    vm_die "huge full attach: unexpected error"
nothing_left "huge"
! compgen -G '/dev/shm/lazyroot-ram-*' >/dev/null || vm_die "the refused attach left a RAM cache directory"
echo "cache_small: OK"
