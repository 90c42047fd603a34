#!/bin/bash
# make-test-images.sh OUTDIR — the images the ublk VM tests read, built on the
# host (fast, no TCG) and reused between runs:
#   ext4.img      256 MiB ext4 holding 200 files of random sizes and contents
#   files.sha256  their checksums, relative to the filesystem root
#   fio.img       128 MiB written by fio with crc32c verify headers every 4 KiB,
#                 so a read-only fio job can check every block it reads
set -euo pipefail
out=${1:?usage: make-test-images.sh OUTDIR}
mkdir -p "$out"
[[ -s $out/ext4.img && -s $out/files.sha256 && -s $out/fio.img ]] && exit 0

tree=$out/tree
rm -rf "$tree"
mkdir -p "$tree"
for i in $(seq 1 200); do
    dir=$tree/d$((i % 7))/s$((i % 3))
    mkdir -p "$dir"
    # Mostly small files, some up to 2 MiB: both inline extents and long runs.
    if ((i % 10 == 0)); then max=2097152; else max=262144; fi
    size=$(( (RANDOM * 32768 + RANDOM) % max ))
    head -c "$size" /dev/urandom >"$dir/f$i.bin"
done
(cd "$tree" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$out/files.sha256.tmp"
[[ $(wc -l <"$out/files.sha256.tmp") -eq 200 ]]
rm -f "$out/ext4.img"
mkfs.ext4 -q -F -b 4096 -E root_owner=0:0 -L lazyroot-test -d "$tree" "$out/ext4.img" 256M
mv "$out/files.sha256.tmp" "$out/files.sha256"

rm -f "$out/fio.img"
fio --name=fill --filename="$out/fio.img.tmp" --size=128M --rw=write --bs=1M --ioengine=psync \
    --verify=crc32c --verify_interval=4096 --do_verify=0 --verify_state_save=0 --output=/dev/null
mv "$out/fio.img.tmp" "$out/fio.img"
rm -rf "$tree"
