#!/bin/bash
# make-verity-images.sh BUILD_DIR — images for the verity VM tests, made with
# the lazyroot under test (`lazyroot prepare`), next to the other test images:
#   verity.img (+ .manifest.json, .roothash)   ext4.img with its tree appended
#   signed.img (+ .manifest.json)              the same, manifest signed by a test CA
#   trust.pem / wrong-trust.pem                the signer's certificate / an unrelated one
#   tampered.img (+ .manifest.json)            verity.img with one byte flipped in a file's
#                                              block; tampered.file names the file, .block the block
#   separate.img, separate.img.verity (+ .roothash)   ext4.img as is, its tree in a file of its own
#                                              (`prepare --hash-out`)
#   ddi.img                                    a DDI built with sfdisk and veritysetup: GPT with
#                                              x86-64 root (ext4.img), root-verity and root-verity-sig
#                                              (signed by trust.pem, with openssl smime)
#   ddi-tampered.img                           ddi.img with tampered.img's flipped byte
#   compressed.img.zst (+ .manifest.json, compressed.img.roothash, compressed.img)
#                                              ext4.img prepared with --compress: the zstd seekable
#                                              form of compressed.img (ext4 + tree)
#   cut.img.zst                                compressed.img.zst without its last 100 bytes
#   badframe.img.zst                           compressed.img.zst with bytes of one frame overwritten;
#                                              badframe.offset: an image offset in that frame
set -euo pipefail
build=$(cd "${1:?usage: make-verity-images.sh BUILD_DIR}" && pwd)
out=$build/vmtests/images
lazyroot=$build/cli/lazyroot
[[ -s $out/tampered.img && -s $out/badframe.img.zst && -s $out/signed.img.manifest.json && -s $out/ddi-tampered.img && -s $out/separate.img.verity &&
    $out/verity.img -nt $lazyroot ]] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cp "$out/ext4.img" "$tmp/verity.img"
"$lazyroot" prepare "$tmp/verity.img" >"$tmp/verity.img.roothash"

for who in trust wrong-trust; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=lazyroot test $who" \
        -keyout "$tmp/$who.key" -out "$tmp/$who.pem" 2>/dev/null
done
cp "$out/ext4.img" "$tmp/signed.img"
"$lazyroot" prepare "$tmp/signed.img" --sign-key "$tmp/trust.key" --sign-cert "$tmp/trust.pem" >/dev/null

# Flip one byte in the first block of some file with data.
for f in $(awk '{print substr($2, 2)}' "$out/files.sha256"); do
    blk=$(debugfs -R "bmap $f 0" "$out/ext4.img" 2>/dev/null | tail -1)
    [[ $blk =~ ^[0-9]+$ && $blk -gt 0 ]] && break
done
cp "$tmp/verity.img" "$tmp/tampered.img"
cp "$tmp/verity.img.manifest.json" "$tmp/tampered.img.manifest.json"
byte=$(dd if="$tmp/tampered.img" bs=1 skip=$((blk * 4096 + 100)) count=1 status=none | od -An -tu1 | tr -d ' ')
printf "\\$(printf '%03o' $(( (byte + 1) % 256 )))" |
    dd of="$tmp/tampered.img" bs=1 seek=$((blk * 4096 + 100)) conv=notrunc status=none
echo "${f#/}" >"$tmp/tampered.file"
echo "$blk" >"$tmp/tampered.block"
cmp -s "$tmp/verity.img" "$tmp/tampered.img" && { echo "tampering did not change the image" >&2; exit 1; }

cp "$out/ext4.img" "$tmp/compressed.img"
"$lazyroot" prepare "$tmp/compressed.img" --compress >"$tmp/compressed.img.roothash"
head -c -100 "$tmp/compressed.img.zst" >"$tmp/cut.img.zst"
# Frame 5 (image bytes 320 KiB + 64 KiB): 64 bytes of its compressed bytes replaced.
frame_at=$(python3 - "$tmp/compressed.img.zst" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
n = struct.unpack('<I', d[-9:-5])[0]
table = d[len(d) - (8 + 8 * n + 9):]
off = 0
for i in range(5):
    off += struct.unpack('<I', table[8 + 8 * i:12 + 8 * i])[0]
print(off)
PY
)
cp "$tmp/compressed.img.zst" "$tmp/badframe.img.zst"
head -c 64 /dev/urandom | dd of="$tmp/badframe.img.zst" bs=1 seek=$((frame_at + 20)) conv=notrunc status=none
echo $((5 * 65536 + 4096)) >"$tmp/badframe.offset"

cp "$out/ext4.img" "$tmp/separate.img"
"$lazyroot" prepare "$tmp/separate.img" --hash-out "$tmp/separate.img.verity" >"$tmp/separate.img.roothash"
rm "$tmp/separate.img.manifest.json"  # it names the tree by its path here; the test passes --hash-source
cmp -s "$out/ext4.img" "$tmp/separate.img" || { echo "prepare --hash-out changed the image" >&2; exit 1; }

# The DDI, the way the Discoverable Partitions Specification lays it out; the
# tools are the real ones (sfdisk, veritysetup, openssl), not lazyroot.
PATH=$PATH:/usr/sbin:/sbin
cp "$out/ext4.img" "$tmp/root.part"
: >"$tmp/verity.part"
veritysetup format "$tmp/root.part" "$tmp/verity.part" >"$tmp/format.out"
ddi_root=$(awk '/^Root hash:/ {print $3}' "$tmp/format.out")
[[ $ddi_root =~ ^[0-9a-f]{64}$ ]] || { echo "no root hash from veritysetup" >&2; exit 1; }
printf %s "$ddi_root" >"$tmp/roothash.txt"
openssl smime -sign -binary -noattr -outform DER -in "$tmp/roothash.txt" \
    -signer "$tmp/trust.pem" -inkey "$tmp/trust.key" -out "$tmp/roothash.p7s"
fpr=$(openssl x509 -in "$tmp/trust.pem" -outform DER | sha256sum | cut -d' ' -f1)
printf '{"rootHash":"%s","certificateFingerprint":"%s","signature":"%s"}' \
    "$ddi_root" "$fpr" "$(base64 -w0 "$tmp/roothash.p7s")" >"$tmp/sig.part"
# Whole MiB: sfdisk starts each partition on a 1 MiB boundary.
sectors() { echo $(( ($(stat -c %s "$1") + 1048575) / 1048576 * 2048 )); }
root_s=$(sectors "$tmp/root.part") verity_s=$(sectors "$tmp/verity.part") sig_s=2048
# The spec's convention: the root and verity partition UUIDs are the halves of the root hash.
uuid() { echo "${1:0:8}-${1:8:4}-${1:12:4}-${1:16:4}-${1:20:12}"; }
truncate -s $(( (2048 + root_s + verity_s + sig_s + 2048) * 512 )) "$tmp/ddi.img"
sfdisk -q "$tmp/ddi.img" <<SFDISK
label: gpt
start=2048, size=$root_s, type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, uuid=$(uuid "${ddi_root:0:32}"), name=root-x86-64
size=$verity_s, type=2c7357ed-ebd2-46d9-aec1-23d437ec2bf5, uuid=$(uuid "${ddi_root:32:32}"), name=root-x86-64-verity
size=$sig_s, type=41092b05-9fc8-4523-994f-2def0408b176, name=root-x86-64-verity-sig
SFDISK
dd if="$tmp/root.part" of="$tmp/ddi.img" bs=512 seek=2048 conv=notrunc status=none
dd if="$tmp/verity.part" of="$tmp/ddi.img" bs=512 seek=$((2048 + root_s)) conv=notrunc status=none
dd if="$tmp/sig.part" of="$tmp/ddi.img" bs=512 seek=$((2048 + root_s + verity_s)) conv=notrunc status=none
echo "$ddi_root" >"$tmp/ddi.img.roothash"
# The same byte as in tampered.img, flipped inside the DDI's root partition.
cp "$tmp/ddi.img" "$tmp/ddi-tampered.img"
dd if="$tmp/tampered.img" bs=1 skip=$((blk * 4096 + 100)) count=1 status=none |
    dd of="$tmp/ddi-tampered.img" bs=1 seek=$((2048 * 512 + blk * 4096 + 100)) conv=notrunc status=none
cmp -s "$tmp/ddi.img" "$tmp/ddi-tampered.img" && { echo "tampering did not change the DDI" >&2; exit 1; }

mv "$tmp"/verity.img* "$tmp"/signed.img* "$tmp"/compressed.img* "$tmp/cut.img.zst" "$tmp"/badframe.* "$tmp"/tampered.* "$tmp"/separate.img* "$tmp"/ddi.img* "$tmp/ddi-tampered.img" \
    "$tmp/trust.pem" "$tmp/wrong-trust.pem" "$out/"
