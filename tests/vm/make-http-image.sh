#!/bin/bash
# make-http-image.sh OUTDIR — the image the HTTP VM tests serve with nginx,
# built on the host and reused between runs:
#   http1g.img      1 GiB ext4: 120 random files up to 4 MiB, one.bin (exactly
#                   1 MiB, for the laziness check) and big.bin (64 MiB, read
#                   while the server is taken down)
#   http1g.sha256   checksums, relative to the filesystem root
set -euo pipefail
out=${1:?usage: make-http-image.sh OUTDIR}
mkdir -p "$out"
[[ -s $out/http1g.img && -s $out/http1g.sha256 ]] && exit 0

tree=$out/http-tree
rm -rf "$tree"
mkdir -p "$tree/files"
for i in $(seq 1 120); do
    head -c $(( (RANDOM * 32768 + RANDOM) % 4194304 )) /dev/urandom >"$tree/files/f$i.bin"
done
head -c 1M /dev/urandom >"$tree/one.bin"
head -c 64M /dev/urandom >"$tree/big.bin"
(cd "$tree" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$out/http1g.sha256.tmp"
rm -f "$out/http1g.img"
mkfs.ext4 -q -F -b 4096 -E root_owner=0:0 -L lazyroot-http -d "$tree" "$out/http1g.img" 1G
mv "$out/http1g.sha256.tmp" "$out/http1g.sha256"
rm -rf "$tree"
