#!/bin/bash
# vm.nvme_cache — the cache and the modes over NVMe/TCP, with the checks of
# vm.cache_persist and vm.modes: a second attach with the same cache fetches
# nothing from the target; full and hydrate modes serve every file with the
# target gone.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/nvmet-lib.sh"
img=$(nvme_image "$images/ext4.img")
nvmet_up "$img"
src="nvme+tcp://127.0.0.1:4420/$nqn"
mkdir -p /mnt/c

# lazy + persistent cache
dev=$("$lazyroot" attach --insecure "$src" --cache /tmp/cache.img --daemon)
dd if="$dev" of=/dev/null bs=1M status=none
[[ $(status_field 'd["bytes_fetched"] > 0') == True ]] || vm_die "the first pass fetched nothing"
"$lazyroot" detach "$dev"
dev=$("$lazyroot" attach --insecure "$src" --cache /tmp/cache.img --daemon)
mount -o ro "$dev" /mnt/c
check_files /mnt/c "$images/files.sha256"
dd if="$dev" of=/dev/null bs=1M status=none
fetched=$(status_field 'd["bytes_fetched"]')
umount /mnt/c
"$lazyroot" detach "$dev"
echo "cache: second pass fetched $fetched bytes"
[[ $fetched -eq 0 ]] || vm_die "second pass with the cache fetched $fetched bytes"

# full, in RAM: the target goes away once attach returns
dev=$("$lazyroot" attach --insecure "$src" --mode full --daemon)
nvmet_unlink
mount -o ro "$dev" /mnt/c
check_files /mnt/c "$images/files.sha256"
umount /mnt/c
"$lazyroot" detach "$dev"
nvmet_link
echo "full: OK"

# hydrate, with a cache file: wait for the fill, then take the target away
dev=$("$lazyroot" attach --insecure "$src" --mode hydrate --cache /tmp/h.img --daemon)
complete=False
for _ in $(seq 1 1200); do
    complete=$(status_field 'd["hydration"]["complete"]')
    [[ $complete == True ]] && break
    sleep 0.1
done
[[ $complete == True ]] || vm_die "hydration did not complete"
nvmet_unlink
mount -o ro "$dev" /mnt/c
check_files /mnt/c "$images/files.sha256"
umount /mnt/c
"$lazyroot" detach "$dev"
echo "nvme_cache: OK"
