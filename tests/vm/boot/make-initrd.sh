#!/bin/bash
# Builds the lazyroot initrd the way a user would: `dracut --add lazyroot`, run
# inside the Debian root the tests boot (so the initrd matches that OS), for
# the guest kernel in KERNEL_DIR (fetch-kernel.sh's OUTDIR). The kernel's
# modules are copied into the root for dracut; --transient-modules removes them
# afterwards (the second kernel's: root.img is built from this root).
#   make-initrd.sh [--transient-modules] ROOTFS KERNEL_DIR LAZYROOT.deb OUT.img
set -euo pipefail
transient=0
if [[ $1 == --transient-modules ]]; then
    transient=1
    shift
fi
rootfs=$1 kdir=$2 deb=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
kver=$(cat "$kdir/kver")

# As a fleet would: the package, whose dependencies the root must satisfy
# (dpkg refuses otherwise), puts the binary, the dracut module, the man page
# and the completion in place.
cp "$deb" "$rootfs/tmp/lazyroot.deb"
chroot "$rootfs" dpkg -i /tmp/lazyroot.deb >"$out.dpkg.log" 2>&1 || { cat "$out.dpkg.log"; exit 1; }
rm -f "$rootfs/tmp/lazyroot.deb"
for f in /usr/bin/lazyroot /usr/lib/dracut/modules.d/90lazyroot/module-setup.sh \
    /usr/share/man/man8/lazyroot.8 /usr/share/bash-completion/completions/lazyroot; do
    chroot "$rootfs" dpkg -S "$f" >/dev/null || { echo "make-initrd: the package did not install $f" >&2; exit 1; }
done
# The tests' own module: kills the daemon before switch_root when the kernel
# command line has lazyroot.test=survive (nothing otherwise).
rm -rf "$rootfs/usr/lib/dracut/modules.d/99lazyroot-test"
cp -r "$here/dracut/99lazyroot-test" "$rootfs/usr/lib/dracut/modules.d/"
if [[ ! -e $rootfs/lib/modules/$kver/modules.dep ]]; then
    mkdir -p "$rootfs/lib/modules"
    # -L: in split kernel packages lib/modules/KVER links to usr/lib/modules/KVER.
    cp -aL "$kdir/root/lib/modules/$kver" "$rootfs/lib/modules/"
fi
if ((transient)); then
    trap 'rm -rf "$rootfs/lib/modules/$kver"' EXIT
fi

# Only the drivers a virtio guest needs (--drivers is exclusive): a small
# initrd unpacks fast under TCG. No microcode, no host probing.
chroot "$rootfs" dracut --force --no-hostonly --no-early-microcode --kver "$kver" \
    --add "lazyroot lazyroot-test" --omit "plymouth resume crypt lvm mdraid multipath nvmf iscsi nbd nfs" \
    --drivers "virtio_pci virtio_net virtio_blk ext4 ublk_drv dm_verity af_packet" \
    /tmp/lazyroot-initrd.img >"$out.log" 2>&1 || { tail -30 "$out.log"; exit 1; }
mv "$rootfs/tmp/lazyroot-initrd.img" "$out"
