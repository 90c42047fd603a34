#!/bin/bash
# bench/run-http-bench.sh BUILD_DIR [--smoke] — lazyroot over HTTP (real nginx
# on the host) against curl on the same link, at 0, 20 and 100 ms RTT, in one
# VM run. Prints a markdown table and the daemon's peak RSS at QD128 with 4
# queues (bench/guest-rss.sh); raw lines are in
# BUILD_DIR/bench/http-compare/results.txt.
set -euo pipefail
build=$(cd "${1:?usage: run-http-bench.sh BUILD_DIR [--smoke]}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
env=(--env BENCH_RUNTIME=10)
if [[ ${2:-} == --smoke ]]; then
    env=(--env BENCH_RUNTIME=1 --env "BENCH_RTTS=0 20" --env BENCH_IMAGE=fio.img --env BENCH_SEQ_MIB=8 --env BENCH_RSS_MIB=64)
fi
"$repo/tests/vm/make-test-images.sh" "$build/vmtests/images"
"$repo/tests/vm/make-http-image.sh" "$build/vmtests/images"
work=$build/bench/http-compare
rm -rf "$work" "$work.nginx"
mkdir -p "$work"
NGINX_ROOT=$build/vmtests/images LAZYROOT_VM_WORKDIR=$work \
    "$repo/tests/vm/nginx-host.sh" "$repo/tests/vm/run-vm.sh" --timeout 1800 \
    --env LAZYROOT_BUILD_DIR="$build" --env LAZYROOT_SOURCE_DIR="$repo" "${env[@]}" \
    "$here/guest-http-compare.sh" "$work" >/dev/null

grep -q '^seq ' "$work/results.txt" || { echo "run-http-bench: no results" >&2; exit 1; }
awk '
    function v(k,   i, a) { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } }
    /^seq / { r = v("rtt"); order[++n] = r; mib[r] = v("mib"); curl[r] = v("curl_MBps"); lz[r] = v("lazyroot_MBps"); conns[r] = v("connections") }
    /^rand / { iops[v("rtt"), v("qd")] = v("iops") }
    END {
        print "| RTT | MiB read | curl MB/s | lazyroot MB/s | ratio | connections | 4k QD1 IOPS | QD32 | QD128 |"
        print "|---|---|---|---|---|---|---|---|---|"
        for (i = 1; i <= n; i++) {
            r = order[i]
            printf "| %s ms | %s | %s | %s | %.2f | %s | %s | %s | %s |\n", r, mib[r], curl[r], lz[r], lz[r] / curl[r], conns[r], iops[r, 1], iops[r, 32], iops[r, 128]
        }
    }' "$work/results.txt" | tee "$work/report.md"
"$here/print-rss.sh" "$work/results.txt" | tee -a "$work/report.md"
