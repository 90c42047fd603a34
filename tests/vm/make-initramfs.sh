#!/bin/bash
# make-initramfs.sh KERNELDIR OUT.cpio.gz
#
# Builds the tiny initramfs for the test VM: static busybox, the guest /init
# (guest-init.sh) and the decompressed modules needed to mount the host's /
# over virtio-9p and put a tmpfs overlay on it. Everything else (bash, kmod,
# fio, the build tree) comes from the host root inside the guest, so this
# stays ~2 MB and builds in well under a second.
# KERNELDIR is fetch-kernel.sh's OUTDIR (needs KERNELDIR/kver, KERNELDIR/root).
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 KERNELDIR OUT.cpio.gz" >&2
    exit 2
fi
kdir=$(cd "$1" && pwd)
out=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kver=$(cat "$kdir/kver")
kroot=$kdir/root

busybox=$(command -v busybox || true)
[[ -n $busybox ]] || busybox=/bin/busybox
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    echo "make-initramfs: $busybox is not static; install busybox-static" >&2
    exit 1
fi

# What the guest init needs before it can reach the host root. virtio_pci is
# built in on Debian's kernel; modprobe reports such modules as "builtin" and
# they are skipped. Order (deps first) comes from modules.dep via kmod.
wanted=(virtio_pci virtio_net 9pnet_virtio 9p overlay)

stage=$(mktemp -d "${TMPDIR:-/tmp}/lazyroot-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,host,rw,newroot,lib/modules,etc}

# The kernel opens /dev/console for init's stdio before /init can mount
# devtmpfs; without the node init starts with fds 0-2 closed. Needs root.
if [[ $(id -u) -eq 0 ]]; then
    mknod -m 600 "$stage/dev/console" c 5 1
fi

cp "$busybox" "$stage/bin/busybox"
# Applets are installed at boot (busybox --install -s); /bin/sh is needed
# before that for the #! line of /init.
ln -s busybox "$stage/bin/sh"

: >"$stage/lib/modules/load-order"
declare -A seen=()
for m in "${wanted[@]}"; do
    while read -r kind path _; do
        case $kind in
        builtin) continue ;;
        insmod) ;;
        *) echo "make-initramfs: unexpected modprobe output: $kind $path" >&2; exit 1 ;;
        esac
        name=$(basename "$path")
        name=${name%.xz}
        name=${name%.zst}
        name=${name%.gz}
        [[ -n ${seen[$name]:-} ]] && continue
        seen[$name]=1
        # busybox insmod wants plain .ko files.
        case $path in
        *.xz) xz -dc "$path" >"$stage/lib/modules/$name" ;;
        *.zst) zstd -dcq "$path" >"$stage/lib/modules/$name" ;;
        *.gz) gzip -dc "$path" >"$stage/lib/modules/$name" ;;
        *) cp "$path" "$stage/lib/modules/$name" ;;
        esac
        echo "$name" >>"$stage/lib/modules/load-order"
    done < <(modprobe -d "$kroot" -S "$kver" --show-depends "$m")
done

install -m 0755 "$here/guest-init.sh" "$stage/init"
echo "$kver" >"$stage/etc/kver"

# Kernel-triggered module autoloading (request_module: mount -t ext4, tc netem,
# loop-control, ...) runs /proc/sys/kernel/modprobe in the initramfs root.
# Forward it to kmod's modprobe inside the host root, where the guest kernel's
# modules are linked into /lib/modules/KVER by /init.
cat >"$stage/sbin/modprobe-host" <<'EOS'
#!/bin/sh
exec /bin/busybox chroot /newroot /sbin/modprobe "$@"
EOS
chmod 0755 "$stage/sbin/modprobe-host"

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
