#!/bin/bash
# vm.net-smoke — guest side: fetch a file from the host's loopback server via
# the guestfwd address, check it, and check that nothing else is reachable.
set -euo pipefail
# shellcheck source=tests/vm/guest-lib.sh
. "$LAZYROOT_GUEST_LIB"

: "${NET_SMOKE_SHA256:?run through net-smoke-host.sh}"
url=http://$LAZYROOT_FWD_ADDR/blob
echo "net-smoke: forwarded ports: $LAZYROOT_FWD_PORTS"
ip -brief addr show eth0

start=$(date +%s.%N)
got=$(curl -fsS --max-time 60 "$url" | sha256sum | cut -d' ' -f1)
end=$(date +%s.%N)
[[ $got == "$NET_SMOKE_SHA256" ]] || vm_die "sha256 mismatch: $got"
awk -v s="$start" -v e="$end" -v n="$NET_SMOKE_SIZE" \
    'BEGIN { printf "net-smoke: %d bytes in %.2fs (%.1f MB/s)\n", n, e - s, n / (e - s) / 1e6 }'

# restrict=on: the slirp gateway and unforwarded ports lead nowhere.
if curl -fsS --max-time 3 -o /dev/null http://10.0.2.2/ 2>/dev/null; then
    vm_die "10.0.2.2 reachable; expected restrict=on isolation"
fi
if curl -fsS --max-time 3 -o /dev/null "http://$LAZYROOT_FWD_ADDR:81/" 2>/dev/null; then
    vm_die "unforwarded port 81 reachable"
fi
echo "net-smoke: OK"
