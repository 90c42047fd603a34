#!/bin/bash
# The README's demo, run in the guest: serve an ext4 image through ublk with
# `lazyroot attach file://`, mount it, read from it, detach; then the same
# image lazily from nginx on the host with dm-verity and a cache, showing how
# little is fetched to mount it. The transcript goes to demo.out in the work
# dir, which ./run demo prints.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
lazyroot=$LAZYROOT_BUILD_DIR/cli/lazyroot
images=$LAZYROOT_BUILD_DIR/vmtests/images
# The guest's /dev has no fd links; process substitution needs /dev/fd.
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
exec > >(tee demo.out) 2>&1

say() { printf '\n$ %s\n' "$*"; }
say "uname -r"; uname -r
say "modprobe ublk_drv"; load_module ublk_drv
cp "$images/ext4.img" /tmp/root.img
say "lazyroot attach file:///tmp/root.img --daemon"
dev=$("$lazyroot" attach file:///tmp/root.img --daemon)
echo "$dev"
say "lazyroot list"; "$lazyroot" list
say "mount -o ro $dev /mnt/demo"; mkdir -p /mnt/demo; mount -o ro "$dev" /mnt/demo
say "df -h /mnt/demo"; df -h /mnt/demo
say "ls /mnt/demo/d1/s1 | head -5"; ls -l /mnt/demo/d1/s1 | head -5
say "sha256sum -c (200 files)"
(cd /mnt/demo && sha256sum --quiet -c "$images/files.sha256") && echo "200 files OK"
say "umount /mnt/demo && lazyroot detach $dev"
umount /mnt/demo
"$lazyroot" detach "$dev"
say "ls /dev/ublk*"; ls /dev/ublk* || true

. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
net_up
load_module dm-verity
root=$(cat "$images/verity.img.roothash")
say "lazyroot attach $primary/verity.img --verity $root --cache /tmp/cache.img --daemon"
dev=$("$lazyroot" attach "$primary/verity.img" --verity "$root" --cache /tmp/cache.img --daemon)
echo "$dev"
say "mount -o ro $dev /mnt/demo && cat one file"
mount -o ro "$dev" /mnt/demo
sha256sum /mnt/demo/d1/s1/f1.bin
say "lazyroot status    # fetched so far: a sliver of the 256 MiB image"
"$lazyroot" status
say "sha256sum -c (200 files, fetched on demand, each block verified before it is cached)"
(cd /mnt/demo && sha256sum --quiet -c "$images/files.sha256") && echo "200 files OK"
"$lazyroot" status
umount /mnt/demo
"$lazyroot" detach "$dev"
