#!/bin/bash
# fetch-kernel.sh OUTDIR
#
# Fetches the newest Debian bookworm-backports linux-image-6.12.N+deb12-amd64
# (the host kernel has no ublk/dm/nvme; the guest kernel does) and unpacks it
# into OUTDIR without installing it:
#   OUTDIR/root/...        dpkg -x of the package, with modules.dep (depmod)
#   OUTDIR/vmlinuz         symlink to root/boot/vmlinuz-KVER
#   OUTDIR/kver            the kernel release string (written last = "done")
# Idempotent: exits at once if OUTDIR/kver and OUTDIR/vmlinuz exist.
# LAZYROOT_VM_KERNEL_PKG=linux-image-6.12.N+deb12-amd64 pins a package.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)

done_already() { [[ -s $out/kver && -e $out/vmlinuz ]]; }
done_already && exit 0

# Serialise concurrent callers (parallel ctest / several builds sharing a cache).
exec 9>"$out/.lock"
flock 9
done_already && exit 0

# Only the signed flavour "linux-image-6.12.N+deb12-amd64" (not -cloud/-rt/-dbg/-unsigned).
pattern='^linux-image-6\.12\.[0-9]+\+deb12-amd64$'
newest_pkg() {
    apt-cache search --names-only "$pattern" | awk '{print $1}' | sort -V | tail -n 1
}

pkg=${LAZYROOT_VM_KERNEL_PKG:-}
updated=0
if [[ -z $pkg ]]; then
    pkg=$(newest_pkg)
    if [[ -z $pkg ]]; then
        # Fresh machine: package lists may never have been fetched.
        echo "fetch-kernel: no $pattern in apt lists; running apt-get update" >&2
        apt-get update -qq
        updated=1
        pkg=$(newest_pkg)
    fi
fi
if [[ -z $pkg ]]; then
    echo "fetch-kernel: no linux-image-6.12.*+deb12-amd64 found; is bookworm-backports configured?" >&2
    exit 1
fi
kver=${pkg#linux-image-}

# Start from a clean staging dir so an interrupted earlier run cannot leave a
# half-unpacked tree behind.
rm -rf "$out/root" "$out/deb" "$out/vmlinuz" "$out/kver"
mkdir -p "$out/deb"
download() {
    # The _apt sandbox user may not be able to write into $out; download as
    # the current user instead (silences a warning, no functional change).
    (cd "$out/deb" && apt-get -q -o APT::Sandbox::User="$(id -un)" download "$pkg")
}
if ! download; then
    if [[ $updated -eq 1 ]]; then
        exit 1
    fi
    # Stale lists can name a version the mirror no longer has.
    echo "fetch-kernel: download of $pkg failed; running apt-get update and retrying" >&2
    apt-get update -qq
    download
fi

deb=$(ls "$out"/deb/*.deb)
dpkg -x "$deb" "$out/root"
# The package ships no modules.dep; kmod's modprobe -d needs it.
depmod -b "$out/root" "$kver"
rm -rf "$out/deb"

[[ -f $out/root/boot/vmlinuz-$kver ]] || { echo "fetch-kernel: no vmlinuz-$kver in $pkg" >&2; exit 1; }
ln -sfn "root/boot/vmlinuz-$kver" "$out/vmlinuz"
# kver is the completion marker: write it last, atomically.
echo "$kver" >"$out/kver.tmp"
mv "$out/kver.tmp" "$out/kver"
echo "fetch-kernel: $kver ready in $out" >&2
