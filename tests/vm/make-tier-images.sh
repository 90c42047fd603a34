#!/bin/bash
# make-tier-images.sh OUTDIR — the images vm.http_cache_tier and
# vm.http_fleet16 add to make-test-images.sh's, built on the host once:
#   ext4-v2.img        "the next version" of ext4.img: the same size, label and
#                      file names, other contents (a tier mixing the two
#                      would show as wrong bytes)
#   fleet.img          64 MiB of random bytes, read whole by every device of the fleet
#   fleet.img.sha256   its sha256 alone
set -euo pipefail
out=${1:?usage: make-tier-images.sh OUTDIR}
[[ -s $out/files.sha256 ]] || { echo "make-tier-images: run make-test-images.sh first" >&2; exit 1; }
[[ -s $out/ext4-v2.img && -s $out/fleet.img.sha256 ]] && exit 0

tree=$out/tree-v2
rm -rf "$tree"
while read -r _ name; do
    mkdir -p "$tree/$(dirname "$name")"
    head -c $(( (RANDOM * 32768 + RANDOM) % 262144 + 1 )) /dev/urandom >"$tree/$name"
done <"$out/files.sha256"
mkfs.ext4 -q -F -b 4096 -E root_owner=0:0 -L lazyroot-test -d "$tree" "$out/ext4-v2.img.tmp" 256M >/dev/null
[[ $(stat -c %s "$out/ext4-v2.img.tmp") -eq $(stat -c %s "$out/ext4.img") ]]
mv "$out/ext4-v2.img.tmp" "$out/ext4-v2.img"
rm -rf "$tree"

head -c 64M /dev/urandom >"$out/fleet.img.tmp"
sha256sum <"$out/fleet.img.tmp" | cut -d' ' -f1 >"$out/fleet.img.sha256.tmp"
mv "$out/fleet.img.tmp" "$out/fleet.img"
mv "$out/fleet.img.sha256.tmp" "$out/fleet.img.sha256"
