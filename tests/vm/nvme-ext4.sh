#!/bin/bash
# vm.nvme_ext4 — the ext4 test image served by the kernel's nvmet-tcp target
# in the guest, read through our userspace initiator and /dev/ublkbN: every
# file's sha256 matches with digests off and with header+data digests on, and
# through the discovery controller the whole device equals the image.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/nvmet-lib.sh"
img=$(nvme_image "$images/ext4.img")
nvmet_up "$img"
mkdir -p /mnt/n

for query in "" "?digest=header,data"; do
    src="nvme+tcp://127.0.0.1:4420/$nqn$query"
    dev=$("$lazyroot" attach --insecure "$src" --queues 2 --daemon)
    echo "attached $src: $dev"
    [[ $(blockdev --getsize64 "$dev") == $(stat -c %s "$img") ]] || vm_die "size mismatch"
    mount -o ro "$dev" /mnt/n
    echo 3 >/proc/sys/vm/drop_caches
    check_files /mnt/n "$images/files.sha256"
    echo "all $(wc -l <"$images/files.sha256") files match ($src)"
    umount /mnt/n
    "$lazyroot" detach "$dev"
done

# Discovery: the discovery controller on the same port lists the subsystem.
src="nvme+tcp://127.0.0.1:4420/nqn.2014-08.org.nvmexpress.discovery"
dev=$("$lazyroot" attach --insecure "$src" --daemon)
cmp "$dev" "$img" || vm_die "device read through discovery differs from the image"
"$lazyroot" detach "$dev"
echo "discovery: whole device matches"
# ?discover with the subsystem's NQN picks that one.
dev=$("$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4420/$nqn?discover&digest=header" --daemon)
cmp "$dev" "$img" || vm_die "device read through ?discover differs from the image"
"$lazyroot" detach "$dev"
compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left"
echo "nvme_ext4: OK"
