#!/bin/bash
# vm.cache_persist — lazy mode with --cache: after one full read, a second
# attach with the same cache makes no data requests to nginx (only the
# 1-byte probe and the 4-byte format check), and every file
# still checks out. Once with a cache file, once with a block device (a loop
# device in the guest) as the cache.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
modprobe loop
mkdir -p /mnt/c

truncate -s 300M /tmp/cachedev.img
loopdev=$(losetup -f --show /tmp/cachedev.img)

for cache in /tmp/cache.img "$loopdev"; do
    dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --cache "$cache" --daemon)
    dd if="$dev" of=/dev/null bs=1M status=none
    "$lazyroot" status
    "$lazyroot" detach "$dev"

    before=$(nginx_ctl requests primary)
    dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --cache "$cache" --daemon)
    mount -o ro "$dev" /mnt/c
    check_files /mnt/c "$images/files.sha256"
    dd if="$dev" of=/dev/null bs=1M status=none
    hits=$("$lazyroot" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["cache_hit_ratio"])')
    umount /mnt/c
    "$lazyroot" detach "$dev"
    after=$(nginx_ctl requests primary)
    # The second attach may probe the image (one request), but reads nothing.
    echo "cache $cache: second pass made $((after - before)) requests (hit ratio $hits)"
    [[ $((after - before)) -le 2 ]] || vm_die "second pass with cache $cache made $((after - before)) requests"
done
losetup -d "$loopdev"
echo "cache_persist: OK"
