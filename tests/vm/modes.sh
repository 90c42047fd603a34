#!/bin/bash
# vm.modes — full mode: attach, then take the server away, and every file
# checks out. Hydrate mode: wait until status reports the fill complete, take
# the server away, and every file checks out.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
mkdir -p /mnt/m

# full, in RAM (no --cache)
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --mode full --daemon)
[[ $(nginx_ctl stop primary) == ok ]] || vm_die "cannot stop nginx"
mount -o ro "$dev" /mnt/m
check_files /mnt/m "$images/files.sha256"
umount /mnt/m
"$lazyroot" detach "$dev"
[[ $(nginx_ctl start primary) == ok ]] || vm_die "cannot start nginx"
echo "full: OK"

# hydrate, with a cache file
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --mode hydrate --cache /tmp/h.img --daemon)
complete=False
for _ in $(seq 1 1200); do
    complete=$("$lazyroot" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["hydration"]["complete"])')
    [[ $complete == True ]] && break
    sleep 0.1
done
[[ $complete == True ]] || vm_die "hydration did not complete"
"$lazyroot" status
[[ $(nginx_ctl stop primary) == ok ]] || vm_die "cannot stop nginx"
mount -o ro "$dev" /mnt/m
check_files /mnt/m "$images/files.sha256"
umount /mnt/m
"$lazyroot" detach "$dev"
nginx_ctl start primary >/dev/null
echo "modes: OK"
