#!/bin/bash
# make-verity-images.sh BUILD_DIR — images for the verity VM tests, made with
# the lazyroot under test (`lazyroot prepare`), next to the other test images:
#   verity.img (+ .manifest.json, .roothash)   ext4.img with its tree appended
#   signed.img (+ .manifest.json)              the same, manifest signed by a test CA
#   trust.pem / wrong-trust.pem                the signer's certificate / an unrelated one
#   tampered.img (+ .manifest.json)            verity.img with one byte flipped in a file's
#                                              block; tampered.file names the file, .block the block
set -euo pipefail
build=$(cd "${1:?usage: make-verity-images.sh BUILD_DIR}" && pwd)
out=$build/vmtests/images
lazyroot=$build/cli/lazyroot
[[ -s $out/tampered.img && -s $out/signed.img.manifest.json && $out/verity.img -nt $lazyroot ]] && exit 0
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

mv "$tmp"/verity.img* "$tmp"/signed.img* "$tmp"/tampered.* "$tmp/trust.pem" "$tmp/wrong-trust.pem" "$out/"
