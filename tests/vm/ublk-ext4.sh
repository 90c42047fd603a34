#!/bin/bash
# vm.ublk_ext4 — a real ext4 image served by `lazyroot attach file://` through
# /dev/ublkbN: mount it read-only and check every file's sha256.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
lazyroot=$LAZYROOT_BUILD_DIR/cli/lazyroot
images=$LAZYROOT_BUILD_DIR/vmtests/images

load_module ublk_drv
# The image lives on guest tmpfs so that the test measures ublk, not 9p.
cp "$images/ext4.img" /tmp/ext4.img

dev=$("$lazyroot" attach file:///tmp/ext4.img --queues 2 --daemon)
echo "attached: $dev"
[[ $dev =~ ^/dev/ublkb[0-9]+$ ]] || vm_die "attach printed '$dev'"
[[ -b $dev ]] || vm_die "$dev is not a block device"
[[ $(blockdev --getro "$dev") == 1 ]] || vm_die "$dev is not read-only"
[[ $(blockdev --getss "$dev") == 512 ]] || vm_die "logical block size is not 512"
[[ $(blockdev --getpbsz "$dev") == 4096 ]] || vm_die "physical block size is not 4096"
[[ $(blockdev --getsize64 "$dev") == $(stat -c %s /tmp/ext4.img) ]] || vm_die "size mismatch"
"$lazyroot" list | grep -q "^$dev" || vm_die "lazyroot list does not show $dev"

mkdir -p /mnt/lazyroot
mount -o ro "$dev" /mnt/lazyroot
# Drop caches so every byte is read through the device, not the page cache.
echo 3 >/proc/sys/vm/drop_caches
(cd /mnt/lazyroot && sha256sum --quiet -c "$images/files.sha256") || vm_die "checksum mismatch"
checked=$(wc -l <"$images/files.sha256")
[[ $checked -eq 200 ]] || vm_die "expected 200 files, list has $checked"
echo "all $checked files match"
umount /mnt/lazyroot

"$lazyroot" detach "$dev"
[[ ! -e $dev ]] || vm_die "$dev still exists after detach"
compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left: $(ls /dev/ublk[bc]*)"
echo "ublk_ext4: OK"
