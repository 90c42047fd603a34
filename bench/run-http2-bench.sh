#!/bin/bash
# bench/run-http2-bench.sh BUILD_DIR [--smoke] — HTTP/2 against HTTP/1.1
# (lazyroot --http-version=2 / 1.1, the same --connections) from one nginx
# over TLS on the host, at 20 ms RTT (netem in the guest), in one VM run.
# Prints a markdown table with the ratios HTTP/2 / HTTP/1.1; raw lines are in
# BUILD_DIR/bench/http2-compare/results.txt.
set -euo pipefail
build=$(cd "${1:?usage: run-http2-bench.sh BUILD_DIR [--smoke]}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
env=(--env BENCH_RUNTIME=10)
if [[ ${2:-} == --smoke ]]; then
    env=(--env BENCH_RUNTIME=1 --env BENCH_IMAGE=fio.img --env BENCH_SEQ_MIB=8)
fi
"$repo/tests/vm/make-test-images.sh" "$build/vmtests/images"
"$repo/tests/vm/make-http-image.sh" "$build/vmtests/images"
work=$build/bench/http2-compare
rm -rf "$work" "$work.nginx"
mkdir -p "$work"
NGINX_TLS=1 NGINX_ROOT=$build/vmtests/images LAZYROOT_VM_WORKDIR=$work \
    "$repo/tests/vm/nginx-host.sh" "$repo/tests/vm/run-vm.sh" --timeout 1800 \
    --env LAZYROOT_BUILD_DIR="$build" --env LAZYROOT_SOURCE_DIR="$repo" --env LAZYROOT_NGINX_STATE="$work.nginx" \
    "${env[@]}" "$here/guest-http2-compare.sh" "$work" >/dev/null

grep -q '^seq ' "$work/results.txt" || { echo "run-http2-bench: no results" >&2; exit 1; }
awk '
    function v(k,   i, a) { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } }
    /^seq / { r = v("rtt"); if (!(r in seen)) { order[++n] = r; seen[r] = 1 }
              seq[r, v("http")] = v("MBps"); sc[r, v("http")] = v("connections") }
    /^rand / { r = v("rtt"); iops[r, v("http"), v("qd")] = v("iops"); rc[r, v("http"), v("qd")] = v("connections") }
    END {
        print "| RTT | measure | HTTP/1.1 | HTTP/2 | HTTP/2 / HTTP/1.1 | connections 1.1 / 2 |"
        print "|---|---|---|---|---|---|"
        for (i = 1; i <= n; i++) {
            r = order[i]
            printf "| %s ms | cold sequential MB/s | %s | %s | %.2f | %s / %s |\n", r, seq[r, "1.1"], seq[r, "2"], seq[r, "2"] / seq[r, "1.1"], sc[r, "1.1"], sc[r, "2"]
            split("32 128", qds, " ")
            for (j = 1; j <= 2; j++) {
                q = qds[j]
                printf "| %s ms | cold 4k randread QD%s IOPS | %s | %s | %.2f | %s / %s |\n", r, q, iops[r, "1.1", q], iops[r, "2", q], iops[r, "2", q] / iops[r, "1.1", q], rc[r, "1.1", q], rc[r, "2", q]
            }
        }
    }' "$work/results.txt" | tee "$work/report.md"
