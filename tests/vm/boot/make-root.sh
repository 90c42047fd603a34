#!/bin/bash
# Builds the Debian root the boot tests boot: debootstrap minbase (bookworm) with
# systemd, the runtime libraries lazyroot needs and dracut (the initrd is built
# from this same OS, as image builders such as mkosi do), a boot-check unit and a
# large file nothing reads before it. Result: OUT/rootfs/ (a directory, reused
# while OUT/rootfs.stamp matches this script) and OUT/big.sha256.
#   make-root.sh OUT
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
stamp=$(sha256sum "$0" "$here/boot-check.sh" | sha256sum | cut -c1-16)
[[ -e $out/rootfs.stamp && $(cat "$out/rootfs.stamp") == "$stamp" ]] && exit 0

mirror=$("$here/../apt-mirror.sh")
rm -rf "$out/rootfs.tmp" "$out/rootfs" "$out/rootfs.stamp"
mkdir -p "$out"
# libisal2 … libcryptsetup12: what the lazyroot binary links; dracut-core and
# dracut-network, iproute2, dbus and dmsetup to build the initrd from this OS.
debootstrap --variant=minbase \
    --include=systemd-sysv,udev,kmod,dracut-core,dracut-network,iproute2,dbus,dmsetup,cpio,libisal2,libcurl4,liburing2,libcryptsetup12,libssl3,libsystemd0,ca-certificates \
    bookworm "$out/rootfs.tmp" "$mirror" >"$out/debootstrap.log" 2>&1 ||
    { tail -20 "$out/debootstrap.log"; exit 1; }
root=$out/rootfs.tmp
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

# The large file: random, so that no compression or dedup can hide a wrong read.
mkdir -p "$root/srv"
head -c 96M /dev/urandom >"$root/srv/big.bin"
(cd "$root/srv" && sha256sum big.bin) >"$out/big.sha256"
install -m 0755 "$here/boot-check.sh" "$root/usr/local/sbin/lazyroot-boot-check"
cat >"$root/etc/systemd/system/lazyroot-boot-check.service" <<'UNIT'
[Unit]
Description=lazyroot boot test: checksum a file, print the marker, power off
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/lazyroot-boot-check
StandardOutput=journal+console
[Install]
WantedBy=default.target
UNIT
ln -sf /etc/systemd/system/lazyroot-boot-check.service \
    "$root/etc/systemd/system/multi-user.target.wants/lazyroot-boot-check.service"
echo lazyroot-boot >"$root/etc/hostname"
# Read-only root: nothing to fsck or remount; no getty needed for the test.
: >"$root/etc/fstab"
passwd -R "$root" -d root >/dev/null 2>&1 || true

mv "$root" "$out/rootfs"
echo "$stamp" >"$out/rootfs.stamp"
