#!/bin/bash
# vm.nvme_kernel — --nvme-transport=kernel: the kernel's nvme-tcp initiator
# connects through libnvme, /dev/ublkbN serves its namespace, every file
# checks out, and detach disconnects the controller.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/nvmet-lib.sh"
img=$(nvme_image "$images/ext4.img")
nvmet_up "$img"
src="nvme+tcp://127.0.0.1:4420/$nqn?digest=header"
mkdir -p /mnt/k

rc=0
"$lazyroot" attach --insecure "$src" --nvme-transport=kernel --daemon 2>/tmp/err || rc=$?
[[ $rc -eq 1 && $(wc -l </tmp/err) -eq 1 ]] || vm_die "without nvme-tcp: rc $rc, $(cat /tmp/err)"
grep -q "nvme-tcp loaded" /tmp/err || vm_die "unclear error: $(cat /tmp/err)"

load_module nvme-tcp
dev=$("$lazyroot" attach --insecure "$src" --nvme-transport=kernel --daemon)
ls /sys/class/nvme/ | grep -q nvme || vm_die "no kernel controller while attached"
mount -o ro "$dev" /mnt/k
echo 3 >/proc/sys/vm/drop_caches
check_files /mnt/k "$images/files.sha256"
umount /mnt/k
"$lazyroot" detach "$dev"
[[ -z $(ls /sys/class/nvme/) ]] || vm_die "controller left connected: $(ls /sys/class/nvme/)"
echo "nvme_kernel: OK"
