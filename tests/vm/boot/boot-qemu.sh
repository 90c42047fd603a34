#!/bin/bash
# Boots the lazyroot initrd under qemu (KVM when usable, else TCG) with the
# kernel command line given, until the guest powers off.
#   boot-qemu.sh --initrd IMG --append "CMDLINE" --console LOG [--disk RAW]...
#                [--mem MiB] [--timeout S] [--delay-ms N] [--rate-mbit N] --fwd GUESTPORT:HOSTPORT...
# --delay-ms adds N ms each way to every forwarded connection, --rate-mbit
# caps them together at N Mbit/s each way (host side, delay-proxy.py: the
# guest's own netem cannot run before the initrd's network is up).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vmdir=$(cd "$here/.." && pwd)
cache=${LAZYROOT_VM_CACHE:-$(cd "$here/../../.." && pwd)/build/vm}
# LAZYROOT_VM_KERNEL=k2: the second kernel (run-vm.sh --kernel k2).
case ${LAZYROOT_VM_KERNEL:-main} in
main) kdir=$cache/kernel verdict=$cache/boot-kvm-probe ;;
k2) kdir=$cache/kernel-k2 verdict=$cache/boot-kvm-probe-k2 ;;
*) echo "boot-qemu: LAZYROOT_VM_KERNEL must be main or k2" >&2; exit 2 ;;
esac
initrd='' append='' console='' mem=2048 timeout_s=600 delay_ms=0 rate_mbit=0
disks=() fwds=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --initrd) initrd=$2; shift 2 ;;
    --append) append=$2; shift 2 ;;
    --console) console=$2; shift 2 ;;
    --disk) disks+=("$2"); shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --delay-ms) delay_ms=$2; shift 2 ;;
    --rate-mbit) rate_mbit=$2; shift 2 ;;
    --fwd) fwds+=("$2"); shift 2 ;;
    *) echo "boot-qemu: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -n $initrd && -n $console ]] || { echo "boot-qemu: --initrd and --console are required" >&2; exit 2; }

netdev="user,id=n0,restrict=on"
# The link all of this boot's connections share (delay-proxy.py's state).
link=$(mktemp -d)
trap 'rm -rf "$link"' EXIT
for f in "${fwds[@]}"; do
    [[ $f =~ ^([0-9]+):([0-9]+)$ ]] || { echo "boot-qemu: bad --fwd $f" >&2; exit 2; }
    if ((delay_ms > 0)) || [[ $rate_mbit != 0 ]]; then
        netdev+=",guestfwd=tcp:10.0.2.100:${BASH_REMATCH[1]}-cmd:python3 $here/delay-proxy.py $delay_ms 127.0.0.1 ${BASH_REMATCH[2]} $rate_mbit $link/link"
    else
        netdev+=",guestfwd=tcp:10.0.2.100:${BASH_REMATCH[1]}-cmd:socat -b 262144 - TCP:127.0.0.1:${BASH_REMATCH[2]}"
    fi
done
drives=()
for d in "${disks[@]}"; do drives+=(-drive "file=$d,if=virtio,format=raw,cache=unsafe"); done

# KVM only when it can run this stock kernel: some hosts' /dev/kvm (kvm_pvm)
# fails in the decompressor. The probe boots the kernel to its "no root" panic.
kvm_works() {
    [[ -w /dev/kvm && -z ${LAZYROOT_BOOT_NO_KVM:-} ]] || return 1
    if [[ ! -s $verdict ]]; then
        local log
        log=$(timeout 30 qemu-system-x86_64 -accel kvm -cpu host -m 256 -nographic -no-reboot \
            -kernel "$kdir/vmlinuz" -append "console=ttyS0 panic=-1" </dev/null 2>&1 || true)
        if grep -q "Kernel panic" <<<"$log"; then echo yes >"$verdict"; else echo no >"$verdict"; fi
    fi
    [[ $(cat "$verdict") == yes ]]
}
accel=(-accel tcg,thread=multi -cpu max)
accel_name=TCG
if kvm_works; then
    accel=(-accel kvm -cpu host)
    accel_name=KVM
fi
echo "boot-qemu: $accel_name" >&2

# TCG now and then faults the kernel while it patches its own code early in
# boot (an int3 oops, before any userspace ran: see run-vm.sh). Nothing has
# touched the disks then, so booting again is safe.
early_tcg_oops() {
    # The kernel's own "Command line: … rd.lazyroot=…" is not userspace.
    [[ $accel_name == TCG ]] && awk 'tolower($0) ~ /command line:/ { next } /lazyroot|systemd|dracut|Run \/init/ { exit 1 }
        /Oops: int3/ { found = 1; exit 0 }
        END { exit !found }' "$console"
}
start=$(date +%s.%N)
for attempt in 1 2 3; do
    set +e
    timeout -k 10 "$timeout_s" qemu-system-x86_64 "${accel[@]}" -m "$mem" -smp 2 \
        -nographic -no-reboot \
        -kernel "$kdir/vmlinuz" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1 $append" \
        -netdev "$netdev" -device virtio-net-pci,netdev=n0,romfile= \
        "${drives[@]}" </dev/null >"$console" 2>&1
    rc=$?
    set -e
    if ((attempt < 3)) && early_tcg_oops; then
        mv "$console" "$console.early-oops-$attempt"
        echo "boot-qemu: the kernel faulted in early boot under TCG (see $console.early-oops-$attempt); booting again" >&2
        continue
    fi
    break
done
end=$(date +%s.%N)
echo "boot-qemu: qemu exited $rc after $(python3 -c "print(f'{$end-$start:.1f}')") s" >&2
exit $rc
