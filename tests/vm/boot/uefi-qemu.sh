#!/bin/bash
# Boots a machine through real UEFI firmware (Debian's OVMF, TCG) until it
# powers off: the firmware HTTP-boots a UKI from --uri (a boot entry written
# into a fresh copy of OVMF's variable store with virt-fw-vars, as a user
# would), or boots it from a local disk (--esp DIR: a FAT disk made of DIR,
# which holds EFI/BOOT/BOOTX64.EFI).
#   uefi-qemu.sh --console LOG (--uri URL | --esp DIR) [--disk RAW]... [--mem MiB]
#                [--timeout S] --fwd GUESTPORT:HOSTPORT...
# LOG.times gets every console line with the seconds since the firmware started.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
uri='' esp='' console='' mem=2048 timeout_s=900
disks=() fwds=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --uri) uri=$2; shift 2 ;;
    --esp) esp=$2; shift 2 ;;
    --console) console=$2; shift 2 ;;
    --disk) disks+=("$2"); shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --fwd) fwds+=("$2"); shift 2 ;;
    *) echo "uefi-qemu: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -n $console && -n $uri$esp ]] || { echo "uefi-qemu: --console and --uri or --esp are required" >&2; exit 2; }
code=/usr/share/OVMF/OVMF_CODE_4M.fd
[[ -r $code ]] || { echo "uefi-qemu: no $code (Debian package ovmf)" >&2; exit 1; }

netdev="user,id=n0,restrict=on"
for f in "${fwds[@]}"; do
    [[ $f =~ ^([0-9]+):([0-9]+)$ ]] || { echo "uefi-qemu: bad --fwd $f" >&2; exit 2; }
    netdev+=",guestfwd=tcp:10.0.2.100:${BASH_REMATCH[1]}-cmd:socat -b 262144 - TCP:127.0.0.1:${BASH_REMATCH[2]}"
done
# A fresh variable store each boot: no entry left over from an earlier one.
vars=$console.vars.fd
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$vars"
drives=()
if [[ -n $uri ]]; then
    # The firmware's own HTTP boot: BootNext names a new entry whose device
    # path ends in a URI node with this URL.
    virt-fw-vars --inplace "$vars" --set-boot-uri "$uri" >"$console.virt-fw-vars.log" 2>&1 ||
        { cat "$console.virt-fw-vars.log" >&2; exit 1; }
else
    # qemu's virtual FAT of a directory: the removable-media path the firmware
    # boots without any entry (read-only, so nothing is written back).
    drives+=(-drive "file=fat:$esp,if=virtio,format=raw,readonly=on")
fi
for d in "${disks[@]}"; do drives+=(-drive "file=$d,if=virtio,format=raw,cache=unsafe"); done

start=$(date +%s.%N)
set +e
# KVM cannot run this on these hosts (see boot-qemu.sh): TCG, as the other boots there.
timeout -k 10 "$timeout_s" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m "$mem" -smp 2 \
    -machine q35 -nographic -no-reboot \
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=$code" \
    -drive "if=pflash,format=raw,unit=1,file=$vars" \
    -netdev "$netdev" -device virtio-net-pci,netdev=n0,romfile= \
    "${drives[@]}" </dev/null 2>&1 | python3 "$here/console-times.py" "$console" "$console.times"
rc=${PIPESTATUS[0]}
set -e
end=$(date +%s.%N)
echo "uefi-qemu: qemu exited $rc after $(python3 -c "print(f'{$end-$start:.1f}')") s" >&2
exit $rc
