#!/bin/bash
# vm.http_ext4 — a 1 GiB ext4 image served by a real nginx on the host, read
# lazily through /dev/ublkbN: every file's sha256 must match, and attach +
# mount + reading one 1 MiB file must fetch at most 2 % of the image
# (counted in nginx's access log).
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up

image_bytes=$((1024 * 1024 * 1024))
before=$(nginx_ctl bytes primary)
dev=$("$lazyroot" attach "$primary/http1g.img" --insecure --queues 2 --daemon)
echo "attached: $dev"
[[ $(blockdev --getsize64 "$dev") -eq $image_bytes ]] || vm_die "device size is not 1 GiB"
mkdir -p /mnt/http
mount -o ro "$dev" /mnt/http
sha256sum /mnt/http/one.bin >/dev/null
after=$(nginx_ctl bytes primary)
fetched=$((after - before))
pct=$(awk -v f="$fetched" -v s="$image_bytes" 'BEGIN {printf "%.2f", 100 * f / s}')
echo "LAZINESS: attach + mount + read 1 MiB fetched $fetched bytes = $pct % of the image"
echo "$fetched $pct" >laziness.txt
[[ $fetched -le $((image_bytes / 50)) ]] || vm_die "fetched $fetched bytes, more than 2 % of the image"

(cd /mnt/http && sha256sum --quiet -c "$images/http1g.sha256") || vm_die "checksum mismatch"
echo "all $(wc -l <"$images/http1g.sha256") files match"
echo "nginx connections used: $(nginx_ctl connections primary)"
umount /mnt/http
"$lazyroot" detach "$dev"
compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left"
echo "http_ext4: OK"
