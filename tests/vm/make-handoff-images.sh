#!/bin/bash
# make-handoff-images.sh BUILD_DIR — the images the hand-off tests read, next
# to the other test images:
#   fiofs.img            96 MiB ext4 holding fio.dat, 64 MiB written by fio with
#                        crc32c verify headers every 4 KiB (fio verifies it read-only
#                        through the mounted filesystem)
#   fiofs-verity.img     the same with its tree appended (`lazyroot prepare`),
#                        + .manifest.json and .roothash
#   fio.dat.sha256       fio.dat's sha256
set -euo pipefail
build=$(cd "${1:?usage: make-handoff-images.sh BUILD_DIR}" && pwd)
out=$build/vmtests/images
lazyroot=$build/cli/lazyroot
[[ -s $out/fiofs-verity.img.roothash && $out/fiofs-verity.img -nt $lazyroot ]] && exit 0
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/tree"
fio --name=fill --filename="$tmp/tree/fio.dat" --size=64M --rw=write --bs=1M --ioengine=psync \
    --verify=crc32c --verify_interval=4096 --do_verify=0 --output=/dev/null
(cd "$tmp/tree" && sha256sum fio.dat) >"$tmp/fio.dat.sha256"
PATH=$PATH:/usr/sbin:/sbin
mkfs.ext4 -q -F -b 4096 -E root_owner=0:0 -L handoff -d "$tmp/tree" "$tmp/fiofs.img" 96M
cp "$tmp/fiofs.img" "$tmp/fiofs-verity.img"
"$lazyroot" prepare "$tmp/fiofs-verity.img" >"$tmp/fiofs-verity.img.roothash"
mv "$tmp/fio.dat.sha256" "$tmp/fiofs.img" "$tmp/fiofs-verity.img.manifest.json" "$tmp/fiofs-verity.img.roothash" "$out/"
mv "$tmp/fiofs-verity.img" "$out/"
