#!/bin/bash
# vm.verity_sources — where the tree comes from: a separate tree (--hash-source,
# over http and file://) and a DDI (--verity=ddi: GPT root, root-verity and
# root-verity-sig partitions made by sfdisk/veritysetup/openssl). Every file
# is checked through /dev/mapper/NAME; a missing tree, a wrong --trust and a
# signature the kernel's keyrings don't know fail attach cleanly.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
load_module dm-verity
mkdir -p /mnt/v

nothing_left() {
    compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left: $1"
    compgen -G '/dev/mapper/*' | grep -v /dev/mapper/control && vm_die "a mapping left: $1"
    return 0
}

# attach_and_check NAME ARGS... — attach, mount, every file by sha256, detach.
attach_and_check() {
    local name=$1 dev
    shift
    dev=$("$lazyroot" attach "$@" --name "$name" --daemon)
    [[ $dev == /dev/mapper/$name ]] || vm_die "attach $* printed $dev"
    mount -o ro "$dev" /mnt/v
    check_files /mnt/v "$images/files.sha256"
    umount /mnt/v
    "$lazyroot" detach "$dev"
    nothing_left "after detaching $dev"
}

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

# 1. A separate tree, served by nginx next to the image, with a cache.
root=$(cat "$images/separate.img.roothash")
attach_and_check sep "$primary/separate.img" --verity "$root" --hash-source "$primary/separate.img.verity" \
    --cache /tmp/sep-cache.img
echo "hash-source over http: every file verified"
# The same tree from a file, the image still over http.
attach_and_check sepf "$primary/separate.img" --verity "$root" --hash-source "file://$images/separate.img.verity"
echo "hash-source file://: every file verified"
# A tree that isn't there, a tree of another image, a wrong root hash.
expect_attach_failure "hash-source: .*missing.verity: HTTP 404" "$primary/separate.img" --verity "$root" \
    --hash-source "$primary/missing.verity"
expect_attach_failure "hash-source" "$primary/separate.img" --verity "$root" --hash-source "file:///nonexistent.verity"
expect_attach_failure "no verity superblock" "$primary/separate.img" --verity "$root" \
    --hash-source "$primary/files.sha256"
wrong=$(echo "$root" | tr '0-9a-f' '1-9a-f0')
expect_attach_failure "does not match root hash" "$primary/separate.img" --verity "$wrong" \
    --hash-source "$primary/separate.img.verity"

# 2. A DDI: the root hash from its signed verity-sig partition, the tree from
#    its root-verity partition, the root partition as the device.
attach_and_check ddi "$primary/ddi.img" --verity=ddi --trust "$images/trust.pem" --cache /tmp/ddi-cache.img
echo "ddi: every file verified"
# Fetch-time verification inside the root partition: the file with the
# flipped byte is EIO, everything else reads, the log names the block.
bad=$(cat "$images/tampered.file")
blk=$(cat "$images/tampered.block")
dev=$("$lazyroot" attach "$primary/ddi-tampered.img" --verity=ddi --trust "$images/trust.pem" --daemon \
    2>/tmp/ddi-tamper.log)
mount -o ro "$dev" /mnt/v
if cat "/mnt/v/$bad" >/dev/null 2>/tmp/cat.err; then vm_die "the tampered file $bad read fine"; fi
grep -q "Input/output error" /tmp/cat.err || vm_die "reading $bad: $(cat /tmp/cat.err)"
grep -v " ./$bad\$" "$images/files.sha256" >/tmp/others.sha256
check_files /mnt/v /tmp/others.sha256
umount /mnt/v
"$lazyroot" detach "$dev"
nothing_left "after the tampered DDI"
grep -q "block $blk from http://10.0.2.100:80/ddi-tampered.img failed verification" /tmp/ddi-tamper.log ||
    vm_die "the log does not name the bad block: $(cat /tmp/ddi-tamper.log)"
echo "tampered ddi: $bad is EIO, the rest verified"
expect_attach_failure "untrusted signature" "$primary/ddi.img" --verity=ddi --trust "$images/wrong-trust.pem"
expect_attach_failure "no GPT header" "$primary/verity.img" --verity=ddi --trust "$images/trust.pem"

# 3. The kernel's own check of the signature: our test certificate can't be
#    in its trusted keyrings (they only take keys signed by Debian's built-in
#    ones), so the kernel must refuse, and nothing may be left.
expect_attach_failure "kernel refused the root-hash signature" "$primary/ddi.img" --verity=ddi \
    --trust "$images/trust.pem" --verity-sig-keyring
echo "verity sources: OK"
