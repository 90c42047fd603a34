#!/bin/bash
# The boot tests' fixture: the Debian root (make-root.sh, cached), lazyroot's
# Debian package (cpack) installed into it with dpkg, the initrd from
# `dracut --add lazyroot` there (rebuilt when the package changes),
# and OUT/www/root.img: ext4 of that root with its dm-verity tree appended and
# root.img.manifest.json beside it (`lazyroot prepare`), and root.img.zst, the
# same bytes in the zstd seekable format, with root.img.zst.manifest.json
# (`prepare --compress`: same root hash).
# With LAZYROOT_VM_KERNEL=k2, also OUT/initrd-k2.img: the same dracut run for
# the second kernel (BUILD_DIR/vm/kernel-k2), whose modules are in the root only
# while dracut runs (root.img stays the one the 6.12 boots use).
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
# The Debian package a fleet would install (`./run package`), from the same
# install rules: the initrd is built from the root it is installed in.
deb=$out/lazyroot.deb
if [[ ! -s $deb || $lazyroot -nt $deb ||
      -n $(find "$here/../../../initrd/dracut" "$here/../../../docs" "$here/../../../cli/lazyroot-completion.bash" \
            "$here/../../../cmake/Package.cmake" -newer "$deb" -print -quit) ]]; then
    echo "building the Debian package (cpack -G DEB)"
    cmake --build "$build" --target manpage >/dev/null
    rm -rf "$out/package"
    (cd "$build" && cpack -G DEB -B "$out/package" >"$out/cpack.log" 2>&1) || { tail -30 "$out/cpack.log"; exit 1; }
    mv "$(ls "$out"/package/lazyroot_*.deb)" "$deb.tmp"
    mv "$deb.tmp" "$deb"
fi
if [[ ! -s $out/initrd.img || $deb -nt $out/initrd.img || $here/make-initrd.sh -nt $out/initrd.img ||
      -n $(find "$here/dracut" -newer "$out/initrd.img" -print -quit) ]]; then
    echo "building the initrd with dracut --add lazyroot"
    "$here/make-initrd.sh" "$out/rootfs" "$kdir" "$deb" "$out/initrd.img.tmp"
    mv "$out/initrd.img.tmp" "$out/initrd.img"
fi
if [[ ${LAZYROOT_VM_KERNEL:-main} == k2 ]]; then
    k2=$build/vm/kernel-k2
    "$here/../fetch-kernel.sh" --suite trixie-backports "$k2"
    if [[ ! -s $out/initrd-k2.img || $deb -nt $out/initrd-k2.img || $here/make-initrd.sh -nt $out/initrd-k2.img ||
          $k2/kver -nt $out/initrd-k2.img || -n $(find "$here/dracut" -newer "$out/initrd-k2.img" -print -quit) ]]; then
        echo "building the initrd for $(cat "$k2/kver") with dracut --add lazyroot"
        "$here/make-initrd.sh" --transient-modules "$out/rootfs" "$k2" "$deb" "$out/initrd-k2.img.tmp"
        mv "$out/initrd-k2.img.tmp" "$out/initrd-k2.img"
    fi
fi
if [[ ! -s $out/www/root.img || ! -s $out/www/root.img.zst || $out/rootfs.stamp -nt $out/www/root.img ]]; then
    echo "building root.img"
    mkdir -p "$out/www"
    rm -f "$out/www/root.img"*
    mib=$(( $(du -sm "$out/rootfs" | cut -f1) * 5 / 4 + 64 ))
    # 4 KiB blocks, as real root images have (and dm-verity needs: mke2fs picks
    # 1 KiB for small file systems).
    mkfs.ext4 -q -F -b 4096 -L lazyroot-root -d "$out/rootfs" "$out/www/root.img.tmp" "${mib}M"
    "$lazyroot" prepare --compress "$out/www/root.img.tmp" >/dev/null
    mv "$out/www/root.img.tmp.zst.manifest.json" "$out/www/root.img.zst.manifest.json"
    mv "$out/www/root.img.tmp.zst" "$out/www/root.img.zst"
    mv "$out/www/root.img.tmp.manifest.json" "$out/www/root.img.manifest.json"
    mv "$out/www/root.img.tmp" "$out/www/root.img"
fi
