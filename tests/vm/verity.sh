#!/bin/bash
# vm.verity — dm-verity over the lazily fetched device: mount
# /dev/mapper/lazyroot and check every file; a wrong root hash, an untrusted
# signature or an unsigned manifest fail attach cleanly with nothing left.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
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
# 4. A tampered block on the server: the file holding it reads as EIO,
#    every other file is right, and the bad chunk never reaches the cache.
bad=$(cat "$images/tampered.file")
blk=$(cat "$images/tampered.block")
dev=$("$lazyroot" attach "$primary/tampered.img" --verity "$root" --cache /tmp/t-cache.img \
    --daemon 2>/tmp/tamper.log)
mount -o ro "$dev" /mnt/v
if cat "/mnt/v/$bad" >/dev/null 2>/tmp/cat.err; then vm_die "the tampered file $bad read fine"; fi
grep -q "Input/output error" /tmp/cat.err || vm_die "reading $bad: $(cat /tmp/cat.err)"
grep -v " ./$bad\$" "$images/files.sha256" >/tmp/others.sha256
check_files /mnt/v /tmp/others.sha256
umount /mnt/v
"$lazyroot" detach "$dev"
grep -q "block $blk from http://10.0.2.100:80/tampered.img failed verification" /tmp/tamper.log ||
    vm_die "the log does not name the bad block and source: $(cat /tmp/tamper.log)"
cached=$(dd if=/tmp/t-cache.img bs=4096 skip="$blk" count=1 status=none | tr -d '\0' | wc -c)
[[ $cached -eq 0 ]] || vm_die "the cache holds data for the tampered block"
echo "tampered: $bad is EIO, the rest verified, nothing bad cached"

# 5. The same with a good mirror: everything reads, and the log names the bad source.
dev=$("$lazyroot" attach "$primary/tampered.img" --mirror "$mirror/verity.img" --verity "$root" \
    --daemon 2>/tmp/mirror.log)
mount -o ro "$dev" /mnt/v
check_files /mnt/v "$images/files.sha256"
umount /mnt/v
"$lazyroot" detach "$dev"
grep -q "from http://10.0.2.100:80/tampered.img failed verification" /tmp/mirror.log ||
    vm_die "the log does not name the bad source: $(cat /tmp/mirror.log)"
echo "tampered + mirror: every file right"
echo "verity: OK"
