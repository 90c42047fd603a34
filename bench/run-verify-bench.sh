#!/bin/bash
# bench/run-verify-bench.sh BUILD_DIR — what fetch-time verification costs on
# a cold sequential read over HTTP, with against without, in one VM run.
set -euo pipefail
build=$(cd "${1:?usage: run-verify-bench.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
"$repo/tests/vm/make-test-images.sh" "$build/vmtests/images"
"$repo/tests/vm/make-verity-images.sh" "$build" 2>/dev/null
work=$build/bench/verify-cost
rm -rf "$work" "$work.nginx"
mkdir -p "$work"
NGINX_ROOT=$build/vmtests/images LAZYROOT_VM_WORKDIR=$work \
    "$repo/tests/vm/nginx-host.sh" "$repo/tests/vm/run-vm.sh" --timeout 900 \
    --env LAZYROOT_BUILD_DIR="$build" --env LAZYROOT_SOURCE_DIR="$repo" \
    "$here/guest-verify-cost.sh" "$work" >/dev/null
awk '
    function v(k,   i, a) { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } }
    /^verify / { k = v("kind"); sum[k] += v("MBps"); n[k]++ }
    END {
        print "| cold 256 MiB dd over HTTP | MB/s (mean of 3) |"
        print "|---|---|"
        printf "| without verity | %.1f |\n| fetch-time verification + dm-verity | %.1f (%.2f of without) |\n", sum["plain"] / n["plain"], sum["verity"] / n["verity"], (sum["verity"] / n["verity"]) / (sum["plain"] / n["plain"])
    }' "$work/results.txt" | tee "$work/report.md"
