#!/bin/bash
# bench/run-chunk-bench.sh BUILD_DIR — cold random and sequential reads with
# the cache at several chunk sizes, at 0 and 20 ms RTT, in one VM run.
set -euo pipefail
build=$(cd "${1:?usage: run-chunk-bench.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
"$repo/tests/vm/make-http-image.sh" "$build/vmtests/images"
work=$build/bench/chunk-size
rm -rf "$work" "$work.nginx"
mkdir -p "$work"
NGINX_ROOT=$build/vmtests/images LAZYROOT_VM_WORKDIR=$work \
    "$repo/tests/vm/nginx-host.sh" "$repo/tests/vm/run-vm.sh" --mem 3072 --timeout 1800 \
    --env LAZYROOT_BUILD_DIR="$build" --env LAZYROOT_SOURCE_DIR="$repo" \
    "$here/guest-chunk-size.sh" "$work" >/dev/null
awk '
    function v(k,   i, a) { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } }
    BEGIN { print "| RTT | chunk KiB | 4k randread QD32 IOPS | MiB fetched by it | 64 MiB seq MB/s |"; print "|---|---|---|---|---|" }
    /^chunk / { printf "| %s ms | %s | %s | %s | %s |\n", v("rtt"), v("kib"), v("rand4k_iops"), v("fetched_MiB"), v("seq64m_MBps") }
' "$work/results.txt" | tee "$work/report.md"
