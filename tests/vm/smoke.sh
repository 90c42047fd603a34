#!/bin/bash
# vm.smoke — guest-side self-test of the VM rig: right kernel, modules load
# (explicitly and via the kernel's autoloader), ublk control node appears,
# root is writable, the work share reaches the host.
set -euo pipefail
# shellcheck source=tests/vm/guest-lib.sh
. "$LAZYROOT_GUEST_LIB"

echo "smoke: kernel $(uname -r), $(nproc) cpus, cwd $PWD"
[[ $(uname -r) == "$KVER" ]] || vm_die "uname -r is $(uname -r), expected $KVER"
[[ $PWD == "$LAZYROOT_WORKDIR" ]] || vm_die "cwd $PWD is not the work dir $LAZYROOT_WORKDIR"
[[ -n ${LAZYROOT_SOURCE_DIR:-} && -d $LAZYROOT_SOURCE_DIR/tests/vm ]] || vm_die "LAZYROOT_SOURCE_DIR not usable: ${LAZYROOT_SOURCE_DIR:-unset}"
if [[ -n ${LAZYROOT_BUILD_DIR:-} ]]; then
    [[ -d $LAZYROOT_BUILD_DIR ]] || vm_die "LAZYROOT_BUILD_DIR $LAZYROOT_BUILD_DIR not visible in the guest"
fi
env | grep -E '^(LAZYROOT_|KVER=)' | sort | sed 's/^/smoke: env /'

# ublk: the reason this VM exists.
load_module ublk_drv
wait_for_path /dev/ublk-control 5 || vm_die "/dev/ublk-control did not appear"
grep -qw ublk_drv /proc/modules || vm_die "ublk_drv not in /proc/modules"

# Plain modprobe through the /lib/modules link, and request_module() from the
# kernel (mount -t ext4 loads ext4 via /proc/sys/kernel/modprobe).
modprobe loop
img=$(mktemp /tmp/smoke.XXXXXX.img)
truncate -s 16M "$img"
mkfs.ext4 -q -F "$img"
mkdir -p /mnt/smoke
mount -o loop "$img" /mnt/smoke || vm_die "loop+ext4 mount failed (module autoload?)"
echo hello >/mnt/smoke/hello
umount /mnt/smoke
grep -qw ext4 /proc/modules || vm_die "ext4 was not autoloaded"

# configfs for nvmet (mounted by the init).
mountpoint -q /sys/kernel/config || vm_die "configfs not mounted"

# The host's /dev/kvm is a paravirtual kvm that cannot run this kernel; the
# guest runs under TCG and has no nested kvm either. Just record it.
echo "smoke: /dev/kvm in guest: $([[ -e /dev/kvm ]] && echo present || echo absent)"

# Root is the host root under a tmpfs overlay: writable, changes stay in RAM.
echo x >/etc/lazyroot-smoke || vm_die "overlay root not writable"

# The work share is read-write and visible on the host.
echo "ok $(uname -r)" >smoke.out
sync

echo "smoke: OK"
