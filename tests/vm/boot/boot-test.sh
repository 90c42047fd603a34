#!/bin/bash
# A real boot: qemu boots the 6.12 kernel with the `dracut --add lazyroot`
# initrd and rd.lazyroot= pointing at nginx on the host loopback; the Debian
# root's boot-check unit reads a 96 MiB file nothing read in the initrd
# (proving the daemon survived switch_root), prints its sha256 and powers off.
#   boot-test.sh MODE BUILD_DIR
#   MODE: lazy | cache | full | verity | compressed | nvme | errors | survive | handoff | local
# local boots the same image as a virtio disk (the baseline); compressed boots
# root.img.zst (the zstd seekable form) with dm-verity. Prints one
# "boot-test: MODE/BOOT: LAZYROOT_BOOT_MARKER … fetched X of Y MiB (P %); N bytes"
# line per boot (X, N: what nginx sent; Y: the image); exit 0 when every check
# holds. LAZYROOT_BOOT_DELAY_MS delays every byte to and from nginx that long
# each way, LAZYROOT_BOOT_RATE_MBIT caps the link at that rate (host side);
# LAZYROOT_BOOT_TIMEOUT: seconds one boot may take (600).
set -euo pipefail
mode=$1
build=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
vmdir=$(cd "$here/.." && pwd)
boot=$build/vm/boot
work=$build/vm/boot-work/$mode
rm -rf "$work" "$work".*
mkdir -p "$work"
export LAZYROOT_VM_CACHE=$build/vm

fail() { echo "boot-test: $mode: $*" >&2; exit 1; }
expected=$(cut -d' ' -f1 "$boot/big.sha256")
image_bytes=$(stat -c %s "$boot/www/root.img")
root_hash=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rootHash"])' \
    "$boot/www/root.img.manifest.json")
url=http://10.0.2.100/root.img
net="ip=dhcp rd.neednet=1"

fetched=0
# boot NAME "KERNEL CMDLINE" [boot-qemu.sh options]: one boot, all checks.
boot() {
    local name=$1 append=$2
    shift 2
    local console=$work/$name.console
    local rc=0
    LAZYROOT_VM_WORKDIR=$work/$name NGINX_ROOT=$boot/www "$vmdir/nginx-host.sh" \
        "$here/boot-qemu.sh" --initrd "$boot/initrd.img" --console "$console" \
        --append "$append" --delay-ms "${LAZYROOT_BOOT_DELAY_MS:-0}" --rate-mbit "${LAZYROOT_BOOT_RATE_MBIT:-0}" \
        --timeout "${LAZYROOT_BOOT_TIMEOUT:-600}" "$@" || rc=$?
    fetched=$(awk '{s += $NF} END {print s + 0}' "$work/$name.nginx/primary/access.log" 2>/dev/null || echo 0)
    local marker
    marker=$(grep -a -o "LAZYROOT_BOOT_MARKER .*" "$console" | tr -d '\r' | tail -1 || true)
    if [[ $rc -ne 0 || -z $marker ]]; then
        tail -60 "$console" >&2
        fail "$name: qemu exited $rc, marker: ${marker:-none} (console: $console)"
    fi
    [[ $marker == *"sha256=$expected"* ]] || fail "$name: wrong checksum after switch_root: $marker"
    grep -a -q "reboot: Power down" "$console" || fail "$name: no clean power-off (console: $console)"
    # File systems must all come off. (With root=/dev/mapper/…, systemd-shutdown
    # also reports that it cannot remove the root's own dm-verity mapping and
    # goes on: that needs a pivot back into the initrd, which only tears down.)
    local unmount='Failed to unmount|Could not unmount|Unable to unmount|Not all file ?systems unmounted'
    if grep -a -E -q "$unmount" "$console"; then
        fail "$name: shutdown could not unmount: $(grep -a -E -m1 "$unmount" "$console")"
    fi
    grep -a -q "All filesystems unmounted" "$console" || fail "$name: file systems not all unmounted at shutdown"
    echo "boot-test: $mode/$name: $marker; fetched $((fetched >> 20)) of $((image_bytes >> 20)) MiB" \
        "($(python3 -c "print(f'{100*$fetched/$image_bytes:.1f}')") %); $fetched bytes"
}

# boot_fails NAME "KERNEL CMDLINE" REGEX: the boot must stop in the initrd with
# lazyroot's one-line reason (REGEX) on the console, then the emergency action
# (rd.emergency=poweroff) must power the machine off.
boot_fails() {
    local name=$1 append=$2 want=$3
    local console=$work/$name.console rc=0
    LAZYROOT_VM_WORKDIR=$work/$name NGINX_ROOT=$boot/www "$vmdir/nginx-host.sh" \
        "$here/boot-qemu.sh" --initrd "$boot/initrd.img" --console "$console" \
        --append "$append rd.shell=0 rd.emergency=poweroff" --timeout 600 || rc=$?
    [[ $rc -eq 0 ]] || { tail -40 "$console" >&2; fail "$name: qemu exited $rc (console: $console)"; }
    local line
    line=$(grep -a -E -m1 "$want" "$console" | tr -d '\r' || true)
    [[ -n $line ]] || { tail -40 "$console" >&2; fail "$name: no console line matching: $want"; }
    grep -a -q "Boot has failed" "$console" || fail "$name: did not go to the emergency target"
    ! grep -a -q "LAZYROOT_BOOT_MARKER" "$console" || fail "$name: booted although it should not have"
    echo "boot-test: $mode/$name: stopped in the initrd with: ${line#*]: }"
}

case $mode in
errors)
    boot_fails missing "rd.lazyroot=http://10.0.2.100/missing.img,insecure root=/dev/ublkb0 ro $net" \
        "lazyroot: error: .*missing.img.*404"
    boot_fails malformed "rd.lazyroot=http://10.0.2.100/root.img,no-such-option=1 root=/dev/ublkb0 ro $net" \
        "lazyroot: error: rd.lazyroot=.*no-such-option"
    boot_fails wrong_hash "rd.lazyroot=$url,verity=$(printf '%064d' 0) root=/dev/mapper/lazyroot ro $net" \
        "lazyroot: error: .*does not match root hash"
    ;;
lazy)
    boot lazy "rd.lazyroot=$url,insecure root=/dev/ublkb0 ro $net"
    # The boot reads the check's 96 MiB file plus what systemd touches: far
    # from the whole image.
    ((fetched * 2 < image_bytes)) || fail "lazy boot fetched $fetched of $image_bytes bytes"
    ;;
cache)
    truncate -s 1G "$work/cache.raw"
    boot first "rd.lazyroot=$url,insecure,cache=/dev/vda root=/dev/ublkb0 ro $net" --disk "$work/cache.raw"
    first=$fetched
    boot second "rd.lazyroot=$url,insecure,cache=/dev/vda root=/dev/ublkb0 ro $net" --disk "$work/cache.raw"
    # The second boot reads (nearly) the same blocks from the cache: what goes
    # out is the probe and the few blocks this boot reads differently.
    ((fetched * 50 < image_bytes && fetched * 20 < first)) ||
        fail "second boot fetched $fetched bytes (first: $first, image: $image_bytes)"
    ;;
full)
    boot full "rd.lazyroot=$url,insecure,mode=full root=/dev/ublkb0 ro $net"
    ((fetched >= image_bytes)) || fail "full mode fetched only $fetched of $image_bytes bytes"
    ;;
verity)
    boot verity "rd.lazyroot=$url,verity=$root_hash root=/dev/mapper/lazyroot ro $net"
    ;;
compressed)
    # Issue 18, test 3: the same root published as root.img.zst (`prepare
    # --compress`), served decompressed with dm-verity over the decompressed
    # bytes (the root hash is root.img's). nginx must have sent at most the
    # compressed file: frames, not the image.
    zst_bytes=$(stat -c %s "$boot/www/root.img.zst")
    boot compressed "rd.lazyroot=$url.zst,verity=$root_hash root=/dev/mapper/lazyroot ro $net"
    ((fetched <= zst_bytes)) || fail "nginx sent $fetched bytes, more than root.img.zst's $zst_bytes"
    echo "boot-test: $mode: nginx sent $((fetched >> 20)) MiB; root.img.zst is $((zst_bytes >> 20)) MiB," \
        "root.img $((image_bytes >> 20)) MiB"
    ;;
nvme)
    # The target is the kernel's nvmet-tcp in a second guest (the host kernel
    # has none), reached host loopback → hostfwd; the booting guest's initrd
    # connects with lazyroot's userspace initiator, no nvme modules.
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$work/target"
    "$vmdir/run-vm.sh" --timeout 1500 --hostfwd "$port:4420" --env "BOOT_IMAGE=$boot/www/root.img" \
        --env "LAZYROOT_BUILD_DIR=$build" "$here/nvme-target.sh" "$work/target" >"$work/target.log" 2>&1 &
    target_pid=$!
    trap 'touch "$work/target/target.stop"; wait "$target_pid" || true' EXIT
    until [[ -s $work/target/target.ready ]]; do
        kill -0 "$target_pid" 2>/dev/null || { tail -30 "$work/target/console.log" >&2; fail "the nvmet target guest exited"; }
        sleep 0.5
    done
    nqn=$(cat "$work/target/target.ready")
    boot nvme "rd.lazyroot=nvme+tcp://10.0.2.100:4420/$nqn,insecure root=/dev/ublkb0 ro $net" --fwd "4420:$port"
    ;;
survive)
    # Issue 11, tests 2 and 4: lazyroot.test=survive makes the test initrd's
    # pre-pivot hook kill -9 the daemon once /sysroot is mounted, and the
    # root's boot-check kill it again after switch_root and then try
    # `systemctl stop lazyroot`; systemd restarts it each time through the
    # recovery path. The marker's checksum is of a file read after both kills.
    boot survive "rd.lazyroot=$url,insecure root=/dev/ublkb0 ro $net lazyroot.test=survive"
    console=$work/survive.console
    if grep -a -q "LAZYROOT_SURVIVE .*FAIL" "$console"; then
        fail "survive: $(grep -a -m1 "LAZYROOT_SURVIVE .*FAIL" "$console" | tr -d '\r')"
    fi
    for what in "initrd: ok" "root: ok" "stop: refused"; do
        line=$(grep -a -o "LAZYROOT_SURVIVE $what.*" "$console" | tr -d '\r' | head -1 || true)
        [[ -n $line ]] || fail "survive: no \"LAZYROOT_SURVIVE $what\" line (console: $console)"
        echo "boot-test: $mode: $line"
        # systemd's own reason, not any failure of systemctl.
        [[ $what != stop* || $line == *"refuse manual"* ]] || fail "survive: stop failed, but not refused: $line"
        if [[ $line =~ killed\ ([0-9]+)\ at\ ([0-9.]+),\ restarted\ as\ ([0-9]+)\ at\ ([0-9.]+) ]]; then
            echo "boot-test: $mode: ${what%%:*}: back $(python3 -c "print(f'{${BASH_REMATCH[4]}-${BASH_REMATCH[2]}:.2f}')") s after kill -9"
        fi
    done
    ;;
handoff)
    # Issue 14, tests 2 and 3: hydrate with a cache disk and verity hands the
    # root off after the fill (lazyroot.test=handoff makes the boot check wait
    # for it, then read its file through the kernel alone); the next boot of
    # the complete cache needs no server at all: nginx is not even started.
    truncate -s 1G "$work/cache.raw"
    append="rd.lazyroot=$url,verity=$root_hash,mode=hydrate,cache=/dev/vda root=/dev/mapper/lazyroot ro $net"
    boot first "$append lazyroot.test=handoff" --disk "$work/cache.raw"
    line=$(grep -a -o "LAZYROOT_HANDOFF .*" "$work/first.console" | tr -d '\r' | head -1 || true)
    [[ $line == "LAZYROOT_HANDOFF ok: handed off to /dev/vda; unit inactive exit 0; table reads vda "* ]] ||
        fail "first: ${line:-no LAZYROOT_HANDOFF line} (console: $work/first.console)"
    echo "boot-test: $mode: $line"
    NGINX_STOPPED=primary boot second "$append" --disk "$work/cache.raw"
    ((fetched == 0)) || fail "the cache-only boot fetched $fetched bytes"
    grep -a -q "holds the whole image with root hash $root_hash" "$work/second.console" ||
        fail "second: not attached from the cache alone (console: $work/second.console)"
    ;;
local)
    # The baseline: no lazyroot, the image as a local disk (a copy: qemu locks it).
    cp --sparse=always "$boot/www/root.img" "$work/root.raw"
    boot local "root=/dev/vda ro" --disk "$work/root.raw"
    ;;
*) fail "unknown mode" ;;
esac
