#!/bin/bash
# vm.handoff — once the cache holds the whole image the daemon hands the root
# to the kernel and leaves (issue 14):
#  1. hydrate (file cache, dm-verity) under fio verify on the mounted
#     filesystem: the hand-off happens while fio runs; 0 fio errors, no
#     lazyroot process, no ublk device, the table on a loop device;
#  2. full, no verity, RAM cache, --handoff: the dm-linear on top moves to a
#     loop device over the RAM cache; the whole device's sha256 is the image's;
#  1b. the same attach again with the complete cache and nginx stopped: dm-verity
#     straight onto the cache, no ublk device, no daemon, no request;
#  3. hydrate with a block-device cache: the table maps onto the partition.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/handoff-lib.sh"
handoff_up
trap 'dmesg >dmesg.txt' EXIT
root=$(cat "$images/fiofs-verity.img.roothash")

# 1. Under load.
dev=$("$lazyroot" attach "$primary/fiofs-verity.img" --verity "$root" --mode hydrate --hydrate-rate 16M \
    --cache /tmp/hc.img --daemon 2>>daemon.log)
[[ $dev == /dev/mapper/lazyroot ]] || vm_die "attach printed $dev"
mount -o ro "$dev" /mnt/h
(
    n=0
    while [[ ! -e fio.done ]]; do
        n=$((n + 1))
        fio --name=verify --filename=/mnt/h/fio.dat --readonly --direct=1 --ioengine=io_uring \
            --rw=randread --bs=4k --iodepth=16 --numjobs=2 --size=32M --group_reporting \
            --verify=crc32c --verify_interval=4096 --verify_fatal=1 --loops=1 \
            --eta=never --output-format=json --output="fio.$n.json" 2>>fio.err || exit 1
    done
) &
fio_pid=$!
wait_for grep -q "handed off to /dev/loop" daemon.log || vm_die "no hand-off: $(tail -5 daemon.log)"
kill -0 "$fio_pid" 2>/dev/null || vm_die "fio was not running at the hand-off: $(cat fio.err)"
echo "$(grep -m1 'handed off' daemon.log)"
lower=$(lower_of lazyroot)
[[ $lower == loop* ]] || vm_die "the mapping reads $lower"
check_handed_off lazyroot "$lower"
# fio goes on on the kernel's device for one more whole pass.
fio_passes() { local f=(fio.*.json); echo ${#f[@]}; }
passes_at_least() { (($(fio_passes) >= $1)); }
passes_before=$(fio_passes)
wait_for passes_at_least $((passes_before + 2)) || vm_die "fio stalled after the hand-off"
touch fio.done
wait "$fio_pid" || vm_die "fio failed: $(cat fio.err)"
for f in fio.*.json; do
    python3 - "$f" <<'PY' || vm_die "fio errors in $f"
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index('{'):])["jobs"][0]
sys.exit(1 if j["error"] else 0)
PY
done
echo "fio: $(ls fio.*.json | wc -l) passes, 0 errors, across the hand-off"
umount /mnt/h
check_fs "$dev"
dmsetup table lazyroot | grep -q " $(cat /sys/block/$lower/dev) " || vm_die "verity table: $(dmsetup table lazyroot)"
teardown lazyroot
wait_for test ! -e "/sys/block/$lower/loop" || vm_die "$lower did not autoclear"

# 1b. The next attach of the complete cache with verity (a second boot):
# nginx stopped, no ublk device, no daemon, 0 bytes fetched.
requests=$(nginx_ctl requests primary)
[[ $(nginx_ctl stop primary) == ok ]] || vm_die "cannot stop nginx"
dev=$("$lazyroot" attach "$primary/fiofs-verity.img" --verity "$root" --mode hydrate --cache /tmp/hc.img \
    --daemon 2>>daemon1b.log) || vm_die "cache-only attach failed: $(cat daemon1b.log)"
[[ $dev == /dev/mapper/lazyroot ]] || vm_die "cache-only attach printed $dev"
check_handed_off lazyroot "$(lower_of lazyroot)"
check_fs "$dev"
[[ $(nginx_ctl start primary) == ok ]] || vm_die "cannot start nginx"
[[ $(nginx_ctl requests primary) == "$requests" ]] || vm_die "the cache-only attach asked the server"
echo "cache-only: $(grep -m1 'holds the whole image' daemon1b.log)"
teardown lazyroot

# 2. full, no verity, RAM cache.
dev=$("$lazyroot" attach "$primary/fiofs.img" --insecure --mode full --handoff --daemon 2>>daemon2.log)
[[ $dev == /dev/mapper/lazyroot ]] || vm_die "attach --handoff without verity printed $dev"
wait_for grep -q "handed off to /dev/loop" daemon2.log || vm_die "no hand-off: $(tail -5 daemon2.log)"
lower=$(lower_of lazyroot)
check_handed_off lazyroot "$lower"
# The RAM cache's tmpfs was detached when the daemon left: it lives as long as the loop device.
grep -q "/image$" "/sys/block/$lower/loop/backing_file" ||
    vm_die "$lower is backed by $(cat /sys/block/$lower/loop/backing_file)"
[[ $(sha256sum <"$dev" | cut -d' ' -f1) == $(sha256sum <"$images/fiofs.img" | cut -d' ' -f1) ]] ||
    vm_die "the handed-off device differs from the image"
check_fs "$dev"
echo "full/RAM: handed off to $lower ($(cat /sys/block/$lower/loop/backing_file))"
teardown lazyroot

# 3. A block-device cache (a loop device over a file stands in for a partition).
truncate -s 160M /tmp/part.img
part=$(losetup -f --show /tmp/part.img)
dev=$("$lazyroot" attach "$primary/fiofs-verity.img" --verity "$root" --mode hydrate --cache "$part" \
    --daemon 2>>daemon3.log)
wait_for grep -q "handed off to $part" daemon3.log || vm_die "no hand-off: $(tail -5 daemon3.log)"
check_handed_off lazyroot "$(basename "$part")"
check_fs "$dev"
echo "block cache: handed off to $part"
teardown lazyroot
losetup -d "$part"

echo "handoff: OK"
