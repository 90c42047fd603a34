#!/bin/bash
# bench/run-cache-bench.sh BUILD_DIR [--smoke] — the cache and the modes, in
# one VM run against real nginx on the host: warm cache vs the loop device,
# full mode vs curl at 20 ms RTT (plain and per-connection-capped server),
# and hydration's cost to foreground reads. Prints a markdown report.
set -euo pipefail
build=$(cd "${1:?usage: run-cache-bench.sh BUILD_DIR [--smoke]}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
env=(--env BENCH_RUNTIME=10 --env BENCH_IMAGE=ext4.img)
[[ ${2:-} == --smoke ]] && env=(--env BENCH_RUNTIME=1 --env BENCH_IMAGE=fio.img)
"$repo/tests/vm/make-test-images.sh" "$build/vmtests/images"
work=$build/bench/cache-compare
rm -rf "$work" "$work.nginx"
mkdir -p "$work"
NGINX_ROOT=$build/vmtests/images LAZYROOT_VM_WORKDIR=$work NGINX_CAPPED_RATE=4m \
    "$repo/tests/vm/nginx-host.sh" "$repo/tests/vm/run-vm.sh" --mem 3072 --timeout 1800 \
    --env LAZYROOT_BUILD_DIR="$build" --env LAZYROOT_SOURCE_DIR="$repo" "${env[@]}" \
    "$here/guest-cache-compare.sh" "$work" >/dev/null

[[ $(grep -c . "$work/results.txt") -eq 6 ]] || { echo "run-cache-bench: incomplete results" >&2; cat "$work/results.txt" >&2; exit 1; }
awk '
    function v(k,   i, a) { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } }
    /^warm / { k = v("kind"); iops[k] = v("rand4k_iops"); seq[k] = v("seq1m_MBps") }
    /^full / { s = v("server"); curl[s] = v("curl_s"); lz[s] = v("lazyroot_s") }
    /^hydrate / { h[v("mode")] = v("rand4k_qd32_iops") }
    END {
        print "| warm cache | loop | lazyroot | ratio |"
        print "|---|---|---|---|"
        printf "| 4k randread QD32 (IOPS) | %s | %s | %.2f |\n", iops["loop"], iops["ublk"], iops["ublk"] / iops["loop"]
        printf "| 1 MiB seq read (MB/s) | %s | %s | %.2f |\n", seq["loop"], seq["ublk"], seq["ublk"] / seq["loop"]
        print ""
        print "| full mode, 20 ms RTT | curl -o (s) | lazyroot ready (s) | ratio |"
        print "|---|---|---|---|"
        printf "| nginx | %s | %s | %.2f |\n", curl["primary"], lz["primary"], lz["primary"] / curl["primary"]
        printf "| nginx, 4 MB/s per connection | %s | %s | %.2f |\n", curl["capped"], lz["capped"], lz["capped"] / curl["capped"]
        print ""
        print "| foreground 4k randread QD32 | IOPS |"
        print "|---|---|"
        printf "| lazy, no fill | %s |\n| hydrate, fill running | %s (%.2f of lazy) |\n", h["lazy"], h["hydrate"], h["hydrate"] / h["lazy"]
    }' "$work/results.txt" | tee "$work/report.md"
