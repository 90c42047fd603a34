#!/bin/bash
# vm.compressed — an image published in the zstd seekable format
# (`lazyroot prepare --compress`), served lazily from nginx and from a file:
# with dm-verity every file checks out, nginx sends fewer bytes than the
# image bytes fetched (and than the compressed file), and a second attach with
# the cache fetches no data; without verity the device is the image byte for byte
# in lazy, full and hydrate modes (full and hydrate fetching the compressed
# file once, not the image); a cut-off file fails attach in one line;
# a frame with broken bytes is EIO for its range only.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
load_module dm-verity
mkdir -p /mnt/z
root=$(cat "$images/compressed.img.roothash")
image=$images/compressed.img  # the decompressed form, tree included

nothing_left() {
    compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left: $1"
    [[ ! -e /dev/mapper/lazyroot ]] || vm_die "/dev/mapper/lazyroot left: $1"
}

# 1. Lazy with verity and a cache: every file; the wire carries less than the image bytes fetched.
before=$(nginx_ctl bytes primary)
# (--readahead 0: what nginx sends is then what the reads needed.)
dev=$("$lazyroot" attach "$primary/compressed.img.zst" --verity "$root" --cache /tmp/z-cache.img --readahead 0 \
    --daemon)
mount -o ro "$dev" /mnt/z
check_files /mnt/z "$images/files.sha256"
"$lazyroot" status
"$lazyroot" status --json >/tmp/status.json
umount /mnt/z
"$lazyroot" detach "$dev"
nothing_left "after detach"
sent=$(($(nginx_ctl bytes primary) - before))
python3 -c '
import json; j = json.load(open("/tmp/status.json"))[0]
print(j["bytes_fetched"], j["compression"]["wire_bytes"])' >/tmp/figures
read -r fetched wire </tmp/figures
echo "verity over zstd seekable: every file checks out; image bytes fetched $fetched, wire $wire, nginx sent $sent"
((wire > 0 && wire < fetched)) || vm_die "wire bytes $wire not below image bytes $fetched"
((sent < fetched)) || vm_die "nginx sent $sent bytes for $fetched image bytes"
zsize=$(stat -c %s "$images/compressed.img.zst")
((sent <= zsize)) || vm_die "nginx sent $sent bytes, more than the compressed file's $zsize"

# 1b. The second attach with the cache fetches no data: what nginx sends is at
# most the seek table, the frames holding the verity tree (loaded from the
# network at each attach), the probe and a few metadata frames.
python3 - "$images/compressed.img.zst" "$(stat -c %s "$images/ext4.img")" >/tmp/allowed <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
data_end = int(sys.argv[2])
n = struct.unpack('<I', d[-9:-5])[0]
table = 8 + 8 * n + 9
t = d[len(d) - table:]
# Slack for a few file-system metadata frames the second mount reads and the
# first didn't (the journal); file contents are megabytes.
allowed, out = table + (256 << 10), 0
for i in range(n):
    c, u = struct.unpack('<II', t[8 + 8 * i:16 + 8 * i])
    if out + u > data_end:
        allowed += c
    out += u
print(allowed)
PY
before=$(nginx_ctl bytes primary)
dev=$("$lazyroot" attach "$primary/compressed.img.zst" --verity "$root" --cache /tmp/z-cache.img --readahead 0 \
    --daemon)
mount -o ro "$dev" /mnt/z
check_files /mnt/z "$images/files.sha256"
umount /mnt/z
"$lazyroot" detach "$dev"
again=$(($(nginx_ctl bytes primary) - before))
echo "second attach with the cache: nginx sent $again bytes (the table and the tree's frames: $(cat /tmp/allowed))"
((again <= $(cat /tmp/allowed))) || vm_die "the second attach fetched data: $again bytes"

# 2. Without verity: the whole device is the image, in each mode, from nginx and from a file.
# full and hydrate download the compressed file once, not the image: nginx
# sends its size plus the attach's format check (seen: 14 and 38 bytes more;
# 4 KiB allowed). The image is about 6x the compressed file.
for mode in lazy full hydrate; do
    rm -f /tmp/m-cache.img /tmp/m-cache.img.lzmeta
    before=$(nginx_ctl bytes primary)
    dev=$("$lazyroot" attach "$primary/compressed.img.zst" --insecure --mode "$mode" --cache /tmp/m-cache.img --daemon)
    if [[ $mode == hydrate ]]; then
        # The fill to its end first (as vm.modes waits for it): every frame then came from the fill.
        complete=False
        for _ in $(seq 1 1200); do
            complete=$("$lazyroot" status --json |
                python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["hydration"]["complete"])')
            [[ $complete == True ]] && break
            sleep 0.1
        done
        [[ $complete == True ]] || vm_die "hydration did not complete"
    fi
    cmp "$dev" "$image" || vm_die "$mode: the device differs from the image"
    "$lazyroot" detach "$dev"
    sent=$(($(nginx_ctl bytes primary) - before))
    echo "$mode: the device is the image byte for byte; nginx sent $sent bytes for $(stat -c %s "$image") of image" \
        "(compressed file: $zsize)"
    if [[ $mode != lazy ]]; then
        ((sent <= zsize + 4096)) || vm_die "$mode: nginx sent $sent bytes for a $zsize-byte compressed file"
    fi
done
dev=$("$lazyroot" attach "file://$images/compressed.img.zst" --daemon)
cmp "$dev" "$image" || vm_die "file://: the device differs from the image"
"$lazyroot" detach "$dev"
echo "file://: the device is the image byte for byte"
nothing_left "after the modes"

# 3. A cut-off file: one line, nothing left.
rc=0
"$lazyroot" attach "$primary/cut.img.zst" --insecure --daemon >/tmp/out 2>/tmp/err || rc=$?
((rc != 0)) || vm_die "attach of a cut-off file succeeded"
[[ $(wc -l </tmp/err) -eq 1 ]] || vm_die "not one line: $(cat /tmp/err)"
grep -q "without a seek table" /tmp/err || vm_die "unexpected error: $(cat /tmp/err)"
nothing_left "cut-off file"
echo "ok: $(cat /tmp/err)"

# 4. A frame with broken bytes: EIO there, the right bytes elsewhere.
bad=$(cat "$images/badframe.offset")
dev=$("$lazyroot" attach "$primary/badframe.img.zst" --insecure --io-timeout 5 --daemon 2>/tmp/bad.log)
if dd if="$dev" of=/tmp/badread bs=4096 skip=$((bad / 4096)) count=1 iflag=direct status=none 2>/dev/null; then
    vm_die "reading the broken frame succeeded"
fi
dd if="$dev" of=/tmp/goodread bs=4096 count=16 iflag=direct status=none
head -c 65536 "$image" | cmp - /tmp/goodread || vm_die "the frame before the broken one differs"
"$lazyroot" detach "$dev"
grep "zstd frame 5" /tmp/bad.log || vm_die "the broken frame was not logged: $(cat /tmp/bad.log)"
echo "ok: the broken frame is EIO, its neighbours are served"
nothing_left "at the end"
