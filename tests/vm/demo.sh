#!/bin/bash
# The README's demo, run in the guest: serve an ext4 image through ublk with
# `lazyroot attach file://`, mount it, read from it, detach. The transcript
# goes to demo.out in the work dir, which ./run demo prints.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
lazyroot=$LAZYROOT_BUILD_DIR/cli/lazyroot
images=$LAZYROOT_BUILD_DIR/vmtests/images
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
