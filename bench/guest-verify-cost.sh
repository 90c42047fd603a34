#!/bin/bash
# Guest half of bench/run-verify-bench.sh: a cold sequential read of the
# 256 MiB data area with fetch-time verification (and dm-verity above it)
# against the same read without verity, in one boot, three rounds each.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
load_module dm-verity
root=$(cat "$images/verity.img.roothash")
: >results.txt
for round in 1 2 3; do
    for kind in plain verity; do
        if [[ $kind == verity ]]; then
            dev=$("$lazyroot" attach "$primary/verity.img" --verity "$root" --daemon)
        else
            dev=$("$lazyroot" attach "$primary/verity.img" --insecure --daemon)
        fi
        t0=$(date +%s.%N)
        dd if="$dev" of=/dev/null bs=1M count=256 iflag=direct status=none
        t1=$(date +%s.%N)
        "$lazyroot" detach "$dev"
        echo "verify round=$round kind=$kind MBps=$(awk -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", 256 * 1.048576 / (z - a)}')" | tee -a results.txt
    done
done
