#!/bin/bash
# vm.cache_persist — lazy mode with --cache: after one full read, a second
# attach with the same cache makes no data requests to nginx (only the
# 1-byte probe and the 4-byte format check), and every file
# still checks out. Once with a cache file, once with a block device (a loop
# device in the guest) as the cache; the block device, and the ext4 of the
# frozen part below, are read with O_DIRECT. Then: what readahead fetched ahead of a
# sequential reader is in the cache for the next attach; and without a
# cache, a stream whose reads alternate between two queues has each byte
# fetched once (the RAM slice pool is shared by the queues).
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
modprobe loop
mkdir -p /mnt/c

truncate -s 300M /tmp/cachedev.img
loopdev=$(losetup -f --show /tmp/cachedev.img)

for cache in /tmp/cache.img "$loopdev"; do
    dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --cache "$cache" --daemon)
    dd if="$dev" of=/dev/null bs=1M status=none
    "$lazyroot" status
    "$lazyroot" detach "$dev"

    before=$(nginx_ctl requests primary)
    dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --cache "$cache" --daemon)
    mount -o ro "$dev" /mnt/c
    check_files /mnt/c "$images/files.sha256"
    dd if="$dev" of=/dev/null bs=1M status=none
    hits=$("$lazyroot" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["cache_hit_ratio"])')
    direct=$("$lazyroot" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["cache"]["direct_io"])')
    # A block device offers O_DIRECT: the second pass read the cache past the page cache.
    [[ $cache != /dev/* || $direct == True ]] || vm_die "cache $cache: not read with O_DIRECT"
    umount /mnt/c
    "$lazyroot" detach "$dev"
    after=$(nginx_ctl requests primary)
    # The second attach may probe the image (one request), but reads nothing.
    echo "cache $cache: second pass made $((after - before)) requests (hit ratio $hits, O_DIRECT $direct)"
    [[ $((after - before)) -le 2 ]] || vm_die "second pass with cache $cache made $((after - before)) requests"
done
losetup -d "$loopdev"

# Readahead fills the cache: a sequential reader's prefetched chunks are
# cached chunks, which the next attach reads without a request.
json() { "$lazyroot" status --json | python3 -c "import json,sys; c=json.load(sys.stdin)[0]['cache']; print($1)"; }
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --cache /tmp/ra-cache.img --daemon)
# 256 reads of 128 KiB, one at a time, past the kernel's own readahead.
dd if="$dev" of=/dev/null bs=128k count=256 iflag=direct status=none
for _ in $(seq 600); do [[ $(json "c['chunks_in_flight']") == 0 ]] && break; sleep 0.1; done
[[ $(json "c['chunks_in_flight']") == 0 ]] || vm_die "readahead: prefetches still in flight after 60 s"
asked=$(json "c['readahead_bytes']")
# The cache file holds the image at its own offsets, sparse: the run of data
# that the reader's 32 MiB starts goes on as far as the prefetch reached.
end=$(python3 -c "import os; f=os.open('/tmp/ra-cache.img', os.O_RDONLY); print(os.lseek(f, 32 << 20, os.SEEK_HOLE) // 65536 * 65536)")
echo "readahead: read 32 MiB; $asked bytes asked ahead; the cache's data runs on to $end"
((asked > 0 && end > 32 * 1048576)) || vm_die "readahead: nothing was prefetched past the reader"
"$lazyroot" detach "$dev"
before=$(nginx_ctl requests primary)
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --cache /tmp/ra-cache.img --readahead 0 --daemon)
got=$(dd if="$dev" bs=64k skip=512 count=$(((end - 32 * 1048576) / 65536)) iflag=direct status=none | sha256sum)
"$lazyroot" detach "$dev"
after=$(nginx_ctl requests primary)
want=$(curl -sf -r "$((32 * 1048576))-$((end - 1))" "$primary/ext4.img" | sha256sum)
echo "readahead: the next attach read the $((end - 32 * 1048576)) bytes prefetched past the reader with $((after - before)) requests"
[[ $got == "$want" ]] || vm_die "readahead: the prefetched bytes read back wrong"
[[ $((after - before)) -le 2 ]] || vm_die "readahead: the prefetched chunks were fetched again"

# A miss is answered from the fetched bytes, not read back from the cache:
# with the cache's filesystem frozen, every write to it waits, and cold reads
# still return the image's bytes. Once it thaws, the chunks are written.
truncate -s 300M /tmp/frozen.img
mkfs.ext4 -q -F /tmp/frozen.img
frozendev=$(losetup -f --show /tmp/frozen.img)
mkdir -p /mnt/frozen
mount "$frozendev" /mnt/frozen
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --cache /mnt/frozen/cache.img --readahead 0 --daemon)
# The kernel's partition scan at attach may have cached a chunk or two.
for _ in $(seq 600); do [[ $(json "c['chunks_in_flight']") == 0 ]] && break; sleep 0.1; done
before_present=$(json "c['chunks_present']")
before_served=$(json "c['misses_served_from_fetch']")
# ext4 (6.12) offers O_DIRECT with its alignment in statx: the cache uses it.
[[ $(json "c['direct_io']") == True ]] || vm_die "a cache on ext4 is not read with O_DIRECT"
fsfreeze -f /mnt/frozen
want=$(curl -sf -r 0-4194303 "$primary/ext4.img" | sha256sum)
if ! got=$(timeout 120 dd if="$dev" bs=64k count=64 iflag=direct status=none | sha256sum); then
    fsfreeze -u /mnt/frozen
    vm_die "frozen cache: the reads did not complete while the cache's writes waited"
fi
frozen_present=$(json "c['chunks_present']")
served=$(($(json "c['misses_served_from_fetch']") - before_served))
fsfreeze -u /mnt/frozen
for _ in $(seq 600); do [[ $(json "c['chunks_in_flight']") == 0 ]] && break; sleep 0.1; done
thawed_present=$(json "c['chunks_present']")
"$lazyroot" detach "$dev"
umount /mnt/frozen
losetup -d "$frozendev"
echo "frozen cache: 64 cold reads of 64 KiB answered ($served from the fetched bytes) with $frozen_present chunks" \
    "cached ($before_present before); $thawed_present after the thaw"
[[ $got == "$want" ]] || vm_die "frozen cache: the reads returned wrong bytes"
[[ $frozen_present == "$before_present" && $served -ge $((64 - before_present)) ]] || vm_die "frozen cache: reads waited for their cache writes"
[[ $thawed_present -ge 64 ]] || vm_die "frozen cache: the chunks were not written after the thaw"

# Without a cache: one stream, its reads alternating between the two
# queues (the submitting CPU picks the queue). Each byte of it is asked of
# nginx once, whichever queue's slice or demand read fetched it.
from=$(($(nginx_ctl requests primary) + 1))
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --queues 2 --daemon)
for i in $(seq 0 255); do
    taskset -c $((i % 2)) dd if="$dev" of=/dev/null bs=128k skip="$i" count=1 iflag=direct status=none
done
prefetched=$("$lazyroot" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["readahead"]["prefetched_bytes"])')
"$lazyroot" detach "$dev"
nginx_ctl ranges primary "$from" | tr ' ' '\n' >/tmp/ra-ranges
python3 - "$prefetched" /tmp/ra-ranges <<'PY' || vm_die "readahead without a cache: see above"
import sys
prefetched, path = int(sys.argv[1]), sys.argv[2]
spans = []
for line in open(path):
    a, _, b = line.strip().removeprefix("bytes=").partition("-")
    if not (a.isdigit() and b.isdigit()):
        continue  # no Range: attach's HEAD
    # The reader's 128 KiB and the slices; not attach's probes nor the
    # kernel's partition scan at add_disk (a few KiB, read again by dd).
    if int(b) - int(a) + 1 >= 128 << 10:
        spans.append((int(a), int(b) + 1))
spans.sort()
total = sum(b - a for a, b in spans)
union, end, gap = 0, 0, False
for a, b in spans:
    gap = gap or (a > end and end < 32 << 20)
    if b > end:
        union += b - max(a, end)
        end = b
print(f"readahead without a cache: 2 queues read 32 MiB; {len(spans)} ranges, {total} bytes asked, "
      f"{total - union} of them twice; {prefetched} bytes prefetched")
if total != union:
    sys.exit(f"bytes were fetched twice: {total} asked for {union} distinct")
if prefetched == 0 or gap or end < 32 << 20:
    sys.exit("the stream was not prefetched, or its ranges do not cover it")
PY
echo "cache_persist: OK"
