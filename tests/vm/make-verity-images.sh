#!/bin/bash
# make-verity-images.sh BUILD_DIR — images for the verity VM tests, made with
# the lazyroot under test (`lazyroot prepare`), next to the other test images:
#   verity.img (+ .manifest.json, .roothash)   ext4.img with its tree appended
#   signed.img (+ .manifest.json)              the same, manifest signed by a test CA
#   trust.pem / wrong-trust.pem                the signer's certificate / an unrelated one
set -euo pipefail
build=$(cd "${1:?usage: make-verity-images.sh BUILD_DIR}" && pwd)
out=$build/vmtests/images
lazyroot=$build/cli/lazyroot
[[ -s $out/verity.img && -s $out/signed.img.manifest.json && $out/verity.img -nt $lazyroot ]] && exit 0
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

mv "$tmp"/verity.img* "$tmp"/signed.img* "$tmp/trust.pem" "$tmp/wrong-trust.pem" "$out/"
