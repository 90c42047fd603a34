#!/bin/bash
# vm.cache_crash — kill -9 the daemon at random moments while it fills the
# cache, CRASH_RUNS times (20; fewer in ./run test); after each, re-attach with the same cache and check every
# file's sha256. The cache may lose recent chunks but never claims one it
# doesn't hold.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
runs=${CRASH_RUNS:-20}
guest_up
mkdir -p /mnt/c
mismatches=0
for i in $(seq 1 "$runs"); do
    dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --cache /tmp/crash-cache.img \
        --chunk-size 64 --daemon)
    pid=$("$lazyroot" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])')
    dd if="$dev" of=/dev/null bs=256k iflag=direct status=none 2>/dev/null &
    reader=$!
    # A random moment within the fill: choosing the moment is the point.
    sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
    kill -9 "$pid"
    # The device outlives its daemon (user recovery) and dd's reads wait for
    # a successor; --force removes it instead, failing them.
    "$lazyroot" detach --force "$dev" || vm_die "detach after kill -9 failed"
    wait "$reader" || true

    dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --cache /tmp/crash-cache.img \
        --chunk-size 64 --daemon)
    present=$("$lazyroot" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["cache"]["chunks_present"])')
    mount -o ro "$dev" /mnt/c
    if ! (cd /mnt/c && sha256sum --quiet -c "$images/files.sha256"); then
        mismatches=$((mismatches + 1))
    fi
    umount /mnt/c
    "$lazyroot" detach "$dev"
    echo "crash run $i: $present chunks were present after the kill; files checked"
    # Start some runs from an empty cache so kills also land early in a fill.
    if ((i % 5 == 0)); then rm -f /tmp/crash-cache.img /tmp/crash-cache.img.lzmeta; fi
done
echo "CRASH RUNS: $runs, mismatches: $mismatches"
[[ $mismatches -eq 0 ]] || vm_die "$mismatches runs served wrong data"
echo "cache_crash: OK"
