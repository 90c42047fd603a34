#!/bin/bash
# shellcheck disable=SC2054 # commas inside qemu option values are intended
# run-vm.sh [options] GUEST_SCRIPT WORKDIR
#
# Boots the Debian 6.12 test kernel (or the second kernel, see --kernel) under qemu TCG (the host kernel lacks
# ublk/dm/nvme, and its /dev/kvm cannot run a stock kernel), with the host's
# / as the guest's root (read-only 9p + tmpfs overlay) and WORKDIR shared
# read-write at the same path, runs `bash GUEST_SCRIPT` in WORKDIR as root,
# and exits with the script's exit status.
#
# Options (may appear anywhere; "--" ends them):
#   --timeout SECS      hard host-side limit for the whole VM (default 600)
#   --mem MB            guest RAM (default 2048)
#   --smp N             guest vCPUs (default 2)
#   --fwd GPORT:HPORT   guest tcp 10.0.2.100:GPORT -> host 127.0.0.1:HPORT (repeatable)
#   --hostfwd HPORT:GPORT  host 127.0.0.1:HPORT -> guest tcp GPORT (repeatable): the
#                       guest serves something (the NVMe/TCP target for the boot test)
#   --env NAME=VALUE    extra variable for the guest script (repeatable)
#   --clean             empty WORKDIR first (refuses / and git checkouts)
#   --verbose           also stream the console to stdout
#   --prepare           only fetch the kernel and build the initramfs; no args needed
#   --disk FILE         a raw virtio disk (/dev/vda, then vdb, …); repeatable
#   --kernel K          main (default): bookworm-backports 6.12 in CACHE/kernel;
#                       k2: the newest trixie-backports kernel in CACHE/kernel-k2
# Environment: LAZYROOT_VM_CACHE (default <repo>/build/vm), LAZYROOT_VM_KERNEL
# (default for --kernel), LAZYROOT_VM_APPEND
# (extra kernel command line), LAZYROOT_VM_VERBOSE=1 (same as --verbose).
#
# Outputs in WORKDIR: console.log (serial console), guest.rc (written by the
# guest), .lazyroot-vm.env (variables for the guest script).
# Exit status: the guest script's; 99 if the guest never reported one; 124 on
# host timeout; 2 on usage errors.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${LAZYROOT_VM_CACHE:-$repo/build/vm}

usage() {
    sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
die() { echo "run-vm: $*" >&2; exit 2; }

timeout_s=600 mem=2048 smp=2 clean=0 prepare=0 kernel=${LAZYROOT_VM_KERNEL:-main}
verbose=${LAZYROOT_VM_VERBOSE:-0}
fwds=() hostfwds=() envs=() pos=() disks=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --timeout) timeout_s=${2:?}; shift 2 ;;
    --mem) mem=${2:?}; shift 2 ;;
    --smp) smp=${2:?}; shift 2 ;;
    --fwd) fwds+=("${2:?}"); shift 2 ;;
    --hostfwd) hostfwds+=("${2:?}"); shift 2 ;;
    --env) envs+=("${2:?}"); shift 2 ;;
    --clean) clean=1; shift ;;
    --verbose) verbose=1; shift ;;
    --prepare) prepare=1; shift ;;
    --kernel) kernel=${2:?}; shift 2 ;;
    --disk) disks+=(-drive "file=${2:?},if=virtio,format=raw,cache=unsafe"); shift 2 ;;
    -h | --help) usage ;;
    --) shift; pos+=("$@"); break ;;
    -*) die "unknown option $1" ;;
    *) pos+=("$1"); shift ;;
    esac
done
for n in "$timeout_s" "$mem" "$smp"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive number: $n"
done

# --- kernel + initramfs (shared cache, built once) ---------------------------
case $kernel in
main) kdir=$cache/kernel initrd=$cache/initramfs.cpio.gz lock=$cache/.initramfs.lock suite=bookworm-backports ;;
k2) kdir=$cache/kernel-k2 initrd=$cache/initramfs-k2.cpio.gz lock=$cache/.initramfs-k2.lock suite=trixie-backports ;;
*) die "--kernel wants main or k2, got $kernel" ;;
esac
mkdir -p "$cache"
"$here/fetch-kernel.sh" --suite "$suite" "$kdir"
# Resolved: the guest init looks for it below its new root, where an absolute
# symlink (a kernel dir linked from another build tree) would lead elsewhere.
kdir=$(realpath -e "$kdir")
kver=$(cat "$kdir/kver")
kmoddir=$kdir/root
(
    # One builder at a time; rebuild when the init or the builder changed.
    flock 9
    if [[ ! -s $initrd || $here/guest-init.sh -nt $initrd || $here/make-initramfs.sh -nt $initrd ||
        $kdir/kver -nt $initrd ]]; then
        "$here/make-initramfs.sh" "$kdir" "$initrd"
    fi
) 9>"$lock"
if [[ $prepare -eq 1 ]]; then
    echo "run-vm: kernel $kver and initramfs ready in $cache"
    exit 0
fi

[[ ${#pos[@]} -eq 2 ]] || usage
script=$(realpath -e "${pos[0]}") || die "no such guest script: ${pos[0]}"
mkdir -p "${pos[1]}"
workdir=$(realpath -e "${pos[1]}")
# These go on the kernel command line (split at spaces) and into qemu -virtfs
# options (split at commas).
for p in "$script" "$workdir" "$kmoddir"; do
    [[ $p =~ ^[A-Za-z0-9_./+@:=-]+$ ]] || die "path has characters the VM plumbing cannot carry: $p"
done
[[ $workdir != / ]] || die "WORKDIR must not be /"

if [[ $clean -eq 1 ]]; then
    [[ ! -e $workdir/.git ]] || die "refusing to --clean a git checkout: $workdir"
    find "$workdir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
fi
rm -f "$workdir/guest.rc" "$workdir/console.log"

# --- variables for the guest script ------------------------------------------
envfile=$workdir/.lazyroot-vm.env
{
    printf '# written by run-vm.sh; sourced by the guest init before the script\n'
    printf 'LAZYROOT_VM_DIR=%q\n' "$here"
    printf 'LAZYROOT_GUEST_LIB=%q\n' "$here/guest-lib.sh"
    printf 'LAZYROOT_SOURCE_DIR=%q\n' "${LAZYROOT_SOURCE_DIR:-$repo}"
    if [[ -n ${LAZYROOT_BUILD_DIR:-} ]]; then
        printf 'LAZYROOT_BUILD_DIR=%q\n' "$LAZYROOT_BUILD_DIR"
    fi
} >"$envfile"

# --- networking: loopback-only forwards, or none at all ----------------------
net=(-nic none)
if [[ ${#fwds[@]} -gt 0 || ${#hostfwds[@]} -gt 0 ]]; then
    netdev="user,id=n0,restrict=on"
    for f in "${hostfwds[@]}"; do
        [[ $f =~ ^([0-9]+):([0-9]+)$ ]] || die "--hostfwd wants HOSTPORT:GUESTPORT, got $f"
        netdev+=",hostfwd=tcp:127.0.0.1:${BASH_REMATCH[1]}-:${BASH_REMATCH[2]}"
    done
    gports=()
    for f in "${fwds[@]}"; do
        [[ $f =~ ^([0-9]+):([0-9]+)$ ]] || die "--fwd wants GUESTPORT:HOSTPORT, got $f"
        g=${BASH_REMATCH[1]} h=${BASH_REMATCH[2]}
        ((g >= 1 && g <= 65535 && h >= 1 && h <= 65535)) || die "bad port in --fwd $f"
        # Each guest connection becomes a fresh socat to the host loopback; the
        # target address is fixed to 127.0.0.1 here on purpose. socat's default
        # 8 KiB buffer made every 32–64 KiB HTTP answer take ~45 ms through
        # slirp (3 ms with 256 KiB; 4 KiB and 1 MiB answers were not slowed).
        netdev+=",guestfwd=tcp:10.0.2.100:$g-cmd:socat -b 262144 - TCP:127.0.0.1:$h"
        gports+=("$g")
    done
    # romfile= drops the iPXE option ROM (saves ~1 s of firmware time).
    net=(-netdev "$netdev" -device virtio-net-pci,netdev=n0,romfile=)
    printf 'LAZYROOT_FWD_ADDR=10.0.2.100\nLAZYROOT_FWD_PORTS=%q\n' "${gports[*]}" >>"$envfile"
fi
for e in "${envs[@]}"; do
    [[ $e =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || die "--env wants NAME=VALUE, got $e"
    printf '%s=%q\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" >>"$envfile"
done

# Guest-side soft timeout fires first so the console gets a dump of blocked
# tasks (sysrq-w) — useful for hangs in ublk teardown — before the host kills
# qemu. Boot takes ~5-10 s of the budget.
if ((timeout_s >= 90)); then soft=$((timeout_s - 30)); else soft=$((timeout_s * 2 / 3)); fi

append="console=ttyS0 quiet panic=-1 lazyroot.script=$script lazyroot.workdir=$workdir"
append+=" lazyroot.kmoddir=$kmoddir lazyroot.timeout=$soft ${LAZYROOT_VM_APPEND:-}"

qemu=(
    qemu-system-x86_64
    -accel tcg,thread=multi -cpu max -m "$mem" -smp "$smp"
    -nographic -no-reboot
    -kernel "$kdir/vmlinuz" -initrd "$initrd" -append "$append"
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
    -virtfs "local,path=$workdir,mount_tag=work,security_model=none"
    "${net[@]}" "${disks[@]}"
)

console=$workdir/console.log
start=$(date +%s.%N)
# TCG now and then faults the guest kernel while it boots (an oops in early
# code patching, before init). The test script has not run then, so booting
# again is safe; a panic after "boot done" is the test's and is reported.
# On a loaded host it can strike twice in a row (stop 30's CI), so up to 4 boots.
for attempt in 1 2 3 4; do
    set +e
    if [[ $verbose == 1 ]]; then
        timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null 2>&1 | tee "$console"
        qrc=${PIPESTATUS[0]}
    else
        timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null >"$console" 2>&1
        qrc=$?
    fi
    set -e
    if ((attempt < 4)) && [[ ! -f $workdir/guest.rc ]] && ! grep -q "lazyroot-init: boot done" "$console" &&
        grep -q "Kernel panic" "$console"; then
        mv "$console" "$workdir/console.boot-panic-$attempt.log"
        echo "run-vm: the guest kernel panicked while booting, before the test (see console.boot-panic-$attempt.log); booting again"
        continue
    fi
    break
done
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
boot=$(sed -n 's/.*lazyroot-init: boot done at \([0-9.]*\)s uptime.*/\1/p' "$console" | head -n 1)

show_console() {
    if [[ $verbose != 1 ]]; then
        echo "----- last 200 lines of $console -----"
        # Drop CRs and the firmware's terminal escape sequences.
        tail -n 200 "$console" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g'
        echo "----- end of console -----"
    fi
}

if [[ $qrc -eq 124 || $qrc -eq 137 ]]; then
    show_console
    echo "run-vm: FAIL: host timeout after ${timeout_s}s; qemu killed ($script)"
    exit 124
fi
if [[ ! -f $workdir/guest.rc ]]; then
    show_console
    echo "run-vm: FAIL: guest reported no result (no $workdir/guest.rc; qemu exit $qrc) for $script"
    exit 99
fi
rc=$(cat "$workdir/guest.rc")
if [[ ! $rc =~ ^[0-9]+$ ]]; then
    show_console
    echo "run-vm: FAIL: garbage in $workdir/guest.rc: $rc"
    exit 99
fi
if [[ $rc -ne 0 ]]; then
    show_console
    echo "run-vm: FAIL: $script exited rc=$rc (boot ${boot:-?}s guest uptime, total ${elapsed}s)"
    exit "$rc"
fi
echo "run-vm: PASS: $script (boot ${boot:-?}s guest uptime, total ${elapsed}s; console: $console)"
