#!/bin/bash
# vm.cache_identity — the image is replaced on the server between two
# attaches: the old cache is reset and only the new image's bytes are served.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up

[[ $(nginx_ctl link swap.img ext4.img) == ok ]] || vm_die "cannot link swap.img"
dev=$("$lazyroot" attach "$primary/swap.img" --insecure --cache /tmp/id-cache.img --daemon)
dd if="$dev" of=/dev/null bs=1M status=none
"$lazyroot" detach "$dev"

[[ $(nginx_ctl link swap.img fio.img) == ok ]] || vm_die "cannot re-link swap.img"
dev=$("$lazyroot" attach "$primary/swap.img" --insecure --cache /tmp/id-cache.img --daemon 2>/tmp/attach.err)
cat /tmp/attach.err
grep -q "identity changed" /tmp/attach.err || vm_die "the cache reset was not logged"
want=$(sha256sum <"$images/fio.img" | awk '{print $1}')
got=$(sha256sum <"$dev" | awk '{print $1}')
[[ $got == "$want" ]] || vm_die "the device does not hold the new image"
"$lazyroot" detach "$dev"
echo "cache_identity: OK"
