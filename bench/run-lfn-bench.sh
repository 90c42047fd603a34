#!/bin/bash
# bench/run-lfn-bench.sh BUILD_DIR [--smoke] — a long fat link (200 ms RTT, a
# 100 Mbit/s cap, netem in the guest): a cold sequential read through lazyroot,
# without and with a cache, as a fraction of the cap, beside curl with one
# stream and with 4 parallel ranges, in one VM run (bench/guest-lfn.sh).
# BENCH_RTT_MS, BENCH_RATE_MBIT and BENCH_MIB change the link and the read.
set -euo pipefail
build=$(cd "${1:?usage: run-lfn-bench.sh BUILD_DIR [--smoke]}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
env=(--env "BENCH_RTT_MS=${BENCH_RTT_MS:-200}" --env "BENCH_RATE_MBIT=${BENCH_RATE_MBIT:-100}"
    --env "BENCH_MIB=${BENCH_MIB:-64}")
[[ ${2:-} == --smoke ]] && env+=(--env BENCH_MIB=4 --env BENCH_CURL_MIB=1 --env BENCH_RTT_MS=20)
"$repo/tests/vm/make-http-image.sh" "$build/vmtests/images"
work=$build/bench/lfn
rm -rf "$work" "$work.nginx"
mkdir -p "$work"
NGINX_ROOT=$build/vmtests/images LAZYROOT_VM_WORKDIR=$work \
    "$repo/tests/vm/nginx-host.sh" "$repo/tests/vm/run-vm.sh" --timeout 1800 \
    --env LAZYROOT_BUILD_DIR="$build" --env LAZYROOT_SOURCE_DIR="$repo" "${env[@]}" \
    "$here/guest-lfn.sh" "$work" >/dev/null
grep -q '^lfn ' "$work/results.txt" || { echo "run-lfn-bench: no results" >&2; exit 1; }
awk '
    function v(k,   i, a) { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } }
    /^lfn / { w = v("what"); order[++n] = w; mib[w] = v("mib"); mbs[w] = v("MBps"); cap = v("cap_MBps"); win[w] = v("window_limit_MiB"); c[w] = v("connections") }
    END {
        print "| reader | MiB | MB/s | × the cap (" cap " MB/s) | readahead window limit | connections |"
        print "|---|---|---|---|---|---|"
        for (i = 1; i <= n; i++) {
            w = order[i]
            printf "| %s | %s | %s | %.2f | %s | %s |\n", w, mib[w], mbs[w], mbs[w] / cap, win[w] == "" ? "" : win[w] " MiB", c[w]
        }
    }' "$work/results.txt" | tee "$work/report.md"
