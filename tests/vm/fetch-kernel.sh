#!/bin/bash
# fetch-kernel.sh [--suite SUITE] OUTDIR
#
# Fetches the newest Debian guest kernel of SUITE (the host kernel has no
# ublk/dm/nvme; the guest kernel does) and unpacks it into OUTDIR without
# installing it (apt-get download, dpkg -x):
#   bookworm-backports (default)  linux-image-6.12.N+deb12-amd64, the main VM kernel
#   trixie-backports              linux-image-X.Y.N+deb13-amd64, the second VM
#                                 kernel (./run setup adds the source, pinned
#                                 at -1 so nothing from it is ever installed)
#   OUTDIR/root/...        dpkg -x of the package(s), with modules.dep (depmod)
#   OUTDIR/vmlinuz         symlink to the kernel image in root/
#   OUTDIR/kver            the kernel release string (written last = "done")
# Newer Debian kernels split linux-image-KVER into linux-{base,binary,modules}-KVER
# and ship the modules under /usr/lib/modules: every part is unpacked and
# root/lib/modules is made to point there, where kmod (modprobe -d, depmod -b) looks.
# Idempotent: exits at once if OUTDIR/kver and OUTDIR/vmlinuz exist.
# LAZYROOT_VM_KERNEL_PKG=linux-image-KVER pins a package.
set -euo pipefail

suite=bookworm-backports
if [[ ${1:-} == --suite ]]; then
    suite=${2:?}
    shift 2
fi
if [[ $# -ne 1 ]]; then
    echo "usage: $0 [--suite bookworm-backports|trixie-backports] OUTDIR" >&2
    exit 2
fi
case $suite in
# Only the signed generic flavour (not -cloud/-rt/-dbg/-unsigned).
bookworm-backports) pattern='^linux-image-6\.12\.[0-9]+\+deb12-amd64$' ;;
trixie-backports) pattern='^linux-image-[0-9]+\.[0-9]+\.[0-9]+\+deb13-amd64$' ;;
*) echo "fetch-kernel: unknown suite $suite (bookworm-backports or trixie-backports)" >&2; exit 2 ;;
esac
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)

done_already() { [[ -s $out/kver && -e $out/vmlinuz ]]; }
done_already && exit 0

# Serialise concurrent callers (parallel ctest / several builds sharing a cache).
exec 9>"$out/.lock"
flock 9
done_already && exit 0

# The version SUITE has of package $1 (empty if none). madison lists every
# source regardless of pinning (the trixie-backports pin of -1 hides it from
# apt-cache search and from candidate selection).
suite_version() {
    apt-cache madison "$1" 2>/dev/null | awk -F' *[|] *' -v s=" $suite/" 'index($3, s) {print $2; exit}'
}
# pkgnames also lists names that are only referenced; keep those SUITE has.
# Prints nothing (status 0) when there is none: the caller updates the lists then.
newest_pkg() {
    local p names
    names=$(apt-cache pkgnames linux-image- | grep -E "$pattern" | sort -rV) || true
    for p in $names; do
        if [[ -n $(suite_version "$p") ]]; then
            echo "$p"
            return 0
        fi
    done
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
    echo "fetch-kernel: no $pattern found; is $suite configured (./run setup)?" >&2
    exit 1
fi
kver=${pkg#linux-image-}

# Start from a clean staging dir so an interrupted earlier run cannot leave a
# half-unpacked tree behind.
rm -rf "$out/root" "$out/deb" "$out/vmlinuz" "$out/kver"
mkdir -p "$out/deb"
# The package itself, and the parts it depends on where it is split.
parts() {
    local p v
    for p in "$pkg" "linux-base-$kver" "linux-binary-$kver" "linux-modules-$kver"; do
        v=$(suite_version "$p")
        [[ -n $v ]] && echo "$p=$v"
    done
}
download() {
    local want
    mapfile -t want < <(parts)
    ((${#want[@]})) || { echo "fetch-kernel: $suite has no $pkg" >&2; return 1; }
    # The _apt sandbox user may not be able to write into $out; download as
    # the current user instead (silences a warning, no functional change).
    # PKG=VERSION: the pinned suite has no candidate version otherwise.
    (cd "$out/deb" && apt-get -q -o APT::Sandbox::User="$(id -un)" download "${want[@]}")
}
if ! download; then
    if [[ $updated -eq 1 ]]; then
        exit 1
    fi
    # Stale lists can name a version the mirror no longer has.
    echo "fetch-kernel: download of $pkg failed; running apt-get update and retrying" >&2
    apt-get update -qq
    rm -f "$out"/deb/*.deb
    download
fi

for deb in "$out"/deb/*.deb; do
    dpkg -x "$deb" "$out/root"
done
# Merged /usr: modules in usr/lib/modules; kmod's -d/-b look in lib/modules.
if [[ -d $out/root/usr/lib/modules/$kver && ! -e $out/root/lib/modules/$kver ]]; then
    mkdir -p "$out/root/lib/modules"
    ln -s "../../usr/lib/modules/$kver" "$out/root/lib/modules/$kver"
fi
# The package ships no modules.dep; kmod's modprobe -d needs it.
depmod -b "$out/root" "$kver"
rm -rf "$out/deb"

# boot/vmlinuz-KVER, or (split packages) usr/lib/modules/KVER/vmlinuz.
vmlinuz=""
for f in "boot/vmlinuz-$kver" "usr/lib/modules/$kver/vmlinuz"; do
    [[ -f $out/root/$f ]] && { vmlinuz=$f; break; }
done
[[ -n $vmlinuz ]] || { echo "fetch-kernel: no vmlinuz for $kver in $pkg" >&2; exit 1; }
ln -sfn "root/$vmlinuz" "$out/vmlinuz"
# kver is the completion marker: write it last, atomically.
echo "$kver" >"$out/kver.tmp"
mv "$out/kver.tmp" "$out/kver"
echo "fetch-kernel: $kver ready in $out" >&2
