#!/bin/bash
# vm.cache_bitflip — a byte flipped in a cached chunk between two attaches with
# --verity (issue 11, test 6): the second attach checks each cached chunk
# against the hash tree the first time it serves it, so every file reads
# right, the bad chunk is fetched again (and written back), and exactly one
# log line names it.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
load_module dm-verity
mkdir -p /mnt/v
root=$(cat "$images/verity.img.roothash")
cache=/tmp/bf-cache.img

# 1. Read everything through a cache.
dev=$("$lazyroot" attach "$primary/verity.img" --verity "$root" --cache "$cache" --daemon)
mount -o ro "$dev" /mnt/v
check_files /mnt/v "$images/files.sha256"
umount /mnt/v
dd if="$dev" of=/dev/null bs=1M status=none
"$lazyroot" detach "$dev"

# 2. Flip one byte inside a file's block: the data area of a cache file sits
#    at the image's own offsets (cache/cache_format.h), the bitmap in PATH.lzmeta.
blk=$(cat "$images/tampered.block")  # the first block of a file (make-verity-images.sh)
file=$(cat "$images/tampered.file")
at=$((blk * 4096 + 100))
chunk=$((at / 65536))
present=$(python3 -c "
import sys
b = open('$cache.lzmeta', 'rb').read()
print((b[4096 + $chunk // 8] >> ($chunk % 8)) & 1)")
[[ $present -eq 1 ]] || vm_die "chunk $chunk is not present in the cache"
old=$(dd if="$cache" bs=1 skip="$at" count=1 status=none | od -An -tu1 | tr -d ' ')
printf "\\$(printf '%03o' $(( (old + 1) % 256 )))" | dd of="$cache" bs=1 seek="$at" conv=notrunc status=none
new=$(dd if="$cache" bs=1 skip="$at" count=1 status=none | od -An -tu1 | tr -d ' ')
[[ $new -ne $old ]] || vm_die "the byte did not change"
echo "flipped byte $at (chunk $chunk, block $blk, in $file): $old -> $new"

# 3. Attach again: every file right, one line naming the chunk.
before=$(nginx_ctl bytes primary)
dev=$("$lazyroot" attach "$primary/verity.img" --verity "$root" --cache "$cache" --daemon 2>/tmp/second.log)
mount -o ro "$dev" /mnt/v
check_files /mnt/v "$images/files.sha256"
umount /mnt/v
bad=$("$lazyroot" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["cache"]["bad_chunks"])')
"$lazyroot" detach "$dev"
after=$(nginx_ctl bytes primary)
cat /tmp/second.log
[[ $(grep -c "chunk $chunk (block $blk) failed verification" /tmp/second.log) -eq 1 ]] ||
    vm_die "not exactly one line naming chunk $chunk"
[[ $(grep -c "failed verification" /tmp/second.log) -eq 1 ]] || vm_die "more than one verification failure logged"
[[ $bad -eq 1 ]] || vm_die "status counted $bad bad chunks"
echo "second attach fetched $((after - before)) bytes"
[[ $((after - before)) -ge 65536 ]] || vm_die "the bad chunk was not fetched again"
fixed=$(dd if="$cache" bs=1 skip="$at" count=1 status=none | od -An -tu1 | tr -d ' ')
[[ $fixed -eq $old ]] || vm_die "the chunk was not written back ($fixed, want $old)"
echo "cache_bitflip: OK"
