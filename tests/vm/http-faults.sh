#!/bin/bash
# vm.http_faults — the server goes away mid-read and comes back: the read
# completes with the right bytes and no EIO; and with the primary down, a
# --mirror serves everything.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
want_big=$(awk '$2 == "./big.bin" {print $1}' "$images/http1g.sha256")

# 1. nginx killed for 5 s in the middle of reading a 64 MiB file.
dev=$("$lazyroot" attach "$primary/http1g.img" --insecure --queues 2 --io-timeout 60 --daemon)
mkdir -p /mnt/http
mount -o ro "$dev" /mnt/http
sha256sum /mnt/http/big.bin >/tmp/big.sum &
reader=$!
# Take the server down once the read is under way (some of big.bin fetched).
start=$(nginx_ctl bytes primary)
for _ in $(seq 1 300); do
    [[ $(( $(nginx_ctl bytes primary) - start )) -gt $((4 * 1024 * 1024)) ]] && break
    sleep 0.05
done
[[ $(nginx_ctl stop primary) == ok ]] || vm_die "could not stop nginx"
echo "nginx stopped mid-read"
sleep 5  # the outage itself, not a synchronisation
[[ $(nginx_ctl start primary) == ok ]] || vm_die "could not restart nginx"
echo "nginx restarted"
wait "$reader" || vm_die "reading big.bin failed across the outage"
[[ $(awk '{print $1}' /tmp/big.sum) == "$want_big" ]] || vm_die "big.bin checksum mismatch after outage"
dmesg | grep -q "I/O error" && vm_die "the kernel saw I/O errors: $(dmesg | grep 'I/O error' | head -3)"
echo "outage: big.bin correct, no I/O errors"
umount /mnt/http
"$lazyroot" detach "$dev"

# 2. Primary down from before attach; --mirror serves.
[[ $(nginx_ctl stop primary) == ok ]] || vm_die "could not stop nginx"
mirror_before=$(nginx_ctl bytes mirror)
dev=$("$lazyroot" attach "$primary/http1g.img" --mirror "$mirror/http1g.img" --insecure \
    --queues 2 --daemon)
mount -o ro "$dev" /mnt/http
(cd /mnt/http && sha256sum --quiet -c "$images/http1g.sha256") || vm_die "checksum mismatch via mirror"
served=$(( $(nginx_ctl bytes mirror) - mirror_before ))
echo "mirror served $served bytes"
[[ $served -gt $((64 * 1024 * 1024)) ]] || vm_die "the mirror served only $served bytes"
umount /mnt/http
"$lazyroot" detach "$dev"
nginx_ctl start primary >/dev/null
compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left"
echo "http_faults: OK"
