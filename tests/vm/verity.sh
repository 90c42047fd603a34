#!/bin/bash
# vm.verity — dm-verity over the lazily fetched device: mount
# /dev/mapper/lazyroot and check every file; a wrong root hash, an untrusted
# signature or an unsigned manifest fail attach cleanly with nothing left.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
lazyroot=$LAZYROOT_BUILD_DIR/cli/lazyroot
images=$LAZYROOT_BUILD_DIR/vmtests/images
net_up
load_module ublk_drv
load_module dm-verity
mkdir -p /mnt/v
root=$(cat "$images/verity.img.roothash")

nothing_left() {
    compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left: $1"
    [[ ! -e /dev/mapper/lazyroot ]] || vm_die "/dev/mapper/lazyroot left: $1"
}

# 1. Plain http is fine with verity (no --insecure), root hash on the command line.
dev=$("$lazyroot" attach "$primary/verity.img" --verity "$root" --cache /tmp/v-cache.img --daemon)
[[ $dev == /dev/mapper/lazyroot ]] || vm_die "attach printed $dev"
mount -o ro "$dev" /mnt/v
check_files /mnt/v "$images/files.sha256"
umount /mnt/v
"$lazyroot" detach "$dev"
nothing_left "after detach"
echo "verity: every file verified through /dev/mapper/lazyroot"

# expect_attach_failure PATTERN ARGS...
expect_attach_failure() {
    local pattern=$1 rc=0
    shift
    "$lazyroot" attach "$@" --daemon >/tmp/out 2>/tmp/err || rc=$?
    [[ $rc -ne 0 ]] || vm_die "attach $* succeeded"
    [[ ! -s /tmp/out ]] || vm_die "attach $* printed $(cat /tmp/out)"
    [[ $(wc -l </tmp/err) -eq 1 ]] || vm_die "not one line: $(cat /tmp/err)"
    grep -q "$pattern" /tmp/err || vm_die "stderr lacks '$pattern': $(cat /tmp/err)"
    nothing_left "$*"
    echo "ok: $(cat /tmp/err)"
}

# 2. A wrong root hash.
wrong=$(echo "$root" | tr '0-9a-f' '1-9a-f0')
expect_attach_failure "does not match root hash" "$primary/verity.img" --verity "$wrong"

# 3. Signed manifests: the right certificate works, another one does not;
#    an unsigned manifest can't stand in for a root hash.
dev=$("$lazyroot" attach "$primary/signed.img" --verity manifest --trust "$images/trust.pem" --daemon)
mount -o ro "$dev" /mnt/v
check_files /mnt/v "$images/files.sha256"
umount /mnt/v
"$lazyroot" detach "$dev"
nothing_left "after the signed attach"
expect_attach_failure "untrusted signature" "$primary/signed.img" --verity manifest --trust "$images/wrong-trust.pem"
expect_attach_failure "not signed" "$primary/verity.img" --verity manifest --trust "$images/trust.pem"
echo "verity: OK"
