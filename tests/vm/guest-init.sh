#!/bin/sh
# /init of the test VM's initramfs (busybox sh, PID 1). Copied in by
# make-initramfs.sh; parameters come from the kernel command line:
#   lazyroot.script=PATH    guest script (host path; runs with bash in the host root)
#   lazyroot.workdir=PATH   host dir shared read-write as 9p tag "work", mounted at the same path
#   lazyroot.kmoddir=PATH   unpacked guest kernel package (fetch-kernel.sh OUTDIR/root)
#   lazyroot.timeout=SECS   soft timeout: dump blocked tasks, then rc=124 (0 = none)
#
# The guest's / is the host's / (9p, read-only) under a tmpfs overlay, so every
# host binary and the build tree are available and everything is writable, but
# only writes under WORKDIR reach the host. Whatever happens, the guest ends
# with a "LAZYROOT-VM-RESULT rc=N" console line, WORKDIR/guest.rc (if the
# share is mounted) and poweroff -f; the host's hard timeout covers the rest.

export PATH=/sbin:/bin
/bin/busybox --install -s /bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

exec </dev/null >/dev/console 2>&1

NEWROOT=/newroot
work_mounted=0

log() { echo "lazyroot-init: $*"; }

finish() {
    rc=$1
    if [ "$work_mounted" = 1 ]; then
        echo "$rc" >"$NEWROOT$workdir/guest.rc.tmp" && mv "$NEWROOT$workdir/guest.rc.tmp" "$NEWROOT$workdir/guest.rc"
    fi
    echo "LAZYROOT-VM-RESULT rc=$rc"
    sync
    poweroff -f
    # poweroff -f does not return; if it somehow does, a panic (panic=-1 plus
    # qemu -no-reboot) still ends the VM.
    sleep 5
    echo o >/proc/sysrq-trigger
    exit "$rc"
}

# For hangs (e.g. ublk teardown waiting on the server): every user process
# with its state and kernel stack, then the kernel's list of blocked tasks.
dump_state() {
    for d in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)
        [ -n "$cmd" ] || continue # kernel thread
        echo "--- pid ${d#/proc/} $(grep '^State:' "$d/status" 2>/dev/null): $cmd"
        cat "$d/stack" 2>/dev/null
    done
    echo 8 >/proc/sys/kernel/printk
    echo w >/proc/sysrq-trigger
    sleep 1
}

die() {
    log "FATAL: $*"
    finish 98
}

script='' workdir='' kmoddir='' timeout=0
# shellcheck disable=SC2013 # the command line is space-separated words
for arg in $(cat /proc/cmdline); do
    case $arg in
    lazyroot.script=*) script=${arg#*=} ;;
    lazyroot.workdir=*) workdir=${arg#*=} ;;
    lazyroot.kmoddir=*) kmoddir=${arg#*=} ;;
    lazyroot.timeout=*) timeout=${arg#*=} ;;
    esac
done
kver=$(cat /etc/kver)
[ "$(uname -r)" = "$kver" ] || die "initramfs built for $kver but running $(uname -r)"
{ [ -n "$script" ] && [ -n "$workdir" ] && [ -n "$kmoddir" ]; } || die "missing lazyroot.script/workdir/kmoddir on the kernel command line"

while read -r m; do
    insmod "/lib/modules/$m" || die "insmod $m failed"
done </lib/modules/load-order

# msize 512000 is the largest the virtio transport takes in one request;
# cache=loose lets the guest cache pages and metadata of the read-only host
# root (nothing changes it from inside the guest), which makes exec/ld.so fast.
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /host ||
    die "cannot mount the host root (9p tag hostroot)"
mount -t tmpfs -o mode=0755 rw /rw || die "tmpfs /rw"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay "$NEWROOT" ||
    die "cannot mount the overlay root"

mount -t proc proc "$NEWROOT/proc" || die "proc"
mount -t sysfs sysfs "$NEWROOT/sys" || die "sysfs"
mount -t devtmpfs devtmpfs "$NEWROOT/dev" || die "devtmpfs"
mkdir -p "$NEWROOT/dev/pts" "$NEWROOT/dev/shm"
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts "$NEWROOT/dev/pts"
mount -t tmpfs -o mode=1777 shm "$NEWROOT/dev/shm"
# Fresh /run: the host's pid files and sockets mean nothing here. /tmp is left
# as the overlay (writable, in RAM) so a build or work dir under /tmp stays visible.
case $workdir/ in
/run/*) ;;
*) mount -t tmpfs -o mode=0755 run "$NEWROOT/run" ;;
esac
mount -t debugfs debugfs "$NEWROOT/sys/kernel/debug" 2>/dev/null
mount -t tracefs tracefs "$NEWROOT/sys/kernel/tracing" 2>/dev/null
mount -t cgroup2 cgroup2 "$NEWROOT/sys/fs/cgroup" 2>/dev/null

# Let plain "modprobe NAME" and the kernel's own request_module() find the
# guest kernel's modules: link them where kmod looks, inside the overlay.
[ -d "$NEWROOT$kmoddir/lib/modules/$kver" ] || die "no modules at $kmoddir/lib/modules/$kver"
mkdir -p "$NEWROOT/lib/modules"
ln -sfn "$kmoddir/lib/modules/$kver" "$NEWROOT/lib/modules/$kver"
echo /sbin/modprobe-host >/proc/sys/kernel/modprobe

# configfs is a module in Debian's kernel and /sys/kernel/config only appears
# once it is loaded; nvmet and null_blk need it mounted.
if chroot "$NEWROOT" /sbin/modprobe configfs; then
    mount -t configfs configfs "$NEWROOT/sys/kernel/config"
fi

# The writable share, at the same absolute path as on the host. The overlay
# makes it possible to create the mount point if it is hidden (e.g. by /run).
# cache=mmap: no guest-side caching, so the host sees writes at once.
mkdir -p "$NEWROOT$workdir"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap work "$NEWROOT$workdir" ||
    die "cannot mount the work share at $workdir"
work_mounted=1
rm -f "$NEWROOT$workdir/guest.rc"

# No DNS in here: resolve our own name locally and make every other lookup
# fail at once (the host's resolver is unreachable under restrict=on, and
# glibc would wait 2x5 s for it, e.g. in curl's startup).
hostname lazyroot-vm
rm -f "$NEWROOT/etc/hosts" "$NEWROOT/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tlazyroot-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$NEWROOT/etc/hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$NEWROOT/etc/resolv.conf"
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
    # qemu user networking (restrict=on): only the guestfwd addresses
    # (10.0.2.100:PORT -> host 127.0.0.1) lead anywhere.
    ip addr add 10.0.2.15/24 dev eth0
    ip link set eth0 up
    ip route add default via 10.0.2.2
fi

up=$(cut -d' ' -f1 /proc/uptime)
log "boot done at ${up}s uptime; running $script (timeout ${timeout}s)"

# shellcheck disable=SC2016 # expanded by the bash inside the chroot
chroot "$NEWROOT" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root TERM=dumb LANG=C.UTF-8 \
    LAZYROOT_VM=1 KVER="$kver" LAZYROOT_KVER="$kver" \
    LAZYROOT_KMOD_DIR="$kmoddir" LAZYROOT_WORKDIR="$workdir" LAZYROOT_SCRIPT="$script" \
    /bin/bash -c '
        cd "$LAZYROOT_WORKDIR" || exit 97
        # Extra variables from run-vm.sh (--env, LAZYROOT_BUILD_DIR, ...).
        if [ -f .lazyroot-vm.env ]; then set -a; . ./.lazyroot-vm.env; set +a; fi
        exec /bin/bash "$LAZYROOT_SCRIPT"' &
spid=$!

wpid=
if [ "$timeout" -gt 0 ] 2>/dev/null; then
    (
        sleep "$timeout"
        log "TIMEOUT: guest script still running after ${timeout}s"
        dump_state
        finish 124
    ) &
    wpid=$!
fi

wait "$spid"
rc=$?
[ -n "$wpid" ] && kill "$wpid" 2>/dev/null
up=$(cut -d' ' -f1 /proc/uptime)
log "guest script exited rc=$rc at ${up}s uptime"
finish "$rc"
