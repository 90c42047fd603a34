#!/bin/bash
# The boot tests' fixture: the Debian root (make-root.sh, cached), the initrd
# from `dracut --add lazyroot` (rebuilt when lazyroot or its module changes),
# and OUT/www/root.img: ext4 of that root with its dm-verity tree appended and
# root.img.manifest.json beside it (`lazyroot prepare`).
#   make-boot-image.sh BUILD_DIR [OUT]
set -euo pipefail
build=$(realpath "$1")
out=${2:-$build/vm/boot}
here=$(cd "$(dirname "$0")" && pwd)
lazyroot=$build/cli/lazyroot
kdir=$build/vm/kernel
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

"$here/make-root.sh" "$out"
if [[ ! -s $out/initrd.img || $lazyroot -nt $out/initrd.img || $here/make-initrd.sh -nt $out/initrd.img ||
      -n $(find "$here/../../../initrd/dracut" "$here/dracut" -newer "$out/initrd.img" -print -quit) ]]; then
    echo "building the initrd with dracut --add lazyroot"
    "$here/make-initrd.sh" "$out/rootfs" "$kdir" "$lazyroot" "$out/initrd.img.tmp"
    mv "$out/initrd.img.tmp" "$out/initrd.img"
fi
if [[ ! -s $out/www/root.img || $out/rootfs.stamp -nt $out/www/root.img ]]; then
    echo "building root.img"
    mkdir -p "$out/www"
    rm -f "$out/www/root.img"*
    mib=$(( $(du -sm "$out/rootfs" | cut -f1) * 5 / 4 + 64 ))
    # 4 KiB blocks, as real root images have (and dm-verity needs: mke2fs picks
    # 1 KiB for small file systems).
    mkfs.ext4 -q -F -b 4096 -L lazyroot-root -d "$out/rootfs" "$out/www/root.img.tmp" "${mib}M"
    "$lazyroot" prepare "$out/www/root.img.tmp" >/dev/null
    mv "$out/www/root.img.tmp.manifest.json" "$out/www/root.img.manifest.json"
    mv "$out/www/root.img.tmp" "$out/www/root.img"
fi
