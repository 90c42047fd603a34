#!/bin/bash
# bench/run-handoff-bench.sh BUILD_DIR [--smoke] — the root after the hand-off
# against a loop device on the same cache file, in one VM run (not in CI):
# 4k randread IOPS at QD 32 and 1 MiB sequential MB/s, through
#   handoff  /dev/mapper/lazyroot after the hand-off (dm-linear → loop → cache file)
#   loop     losetup -r --direct-io=on on the same cache file
#   ublk     the same complete cache still served by the daemon (--handoff=no)
# Prints a markdown table.
set -euo pipefail
build=$(cd "${1:?usage: run-handoff-bench.sh BUILD_DIR [--smoke]}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
env=(--env BENCH_RUNTIME=10)
[[ ${2:-} == --smoke ]] && env=(--env BENCH_RUNTIME=1)
"$repo/tests/vm/make-test-images.sh" "$build/vmtests/images"
work=$build/bench/handoff
rm -rf "$work" "$work.nginx"
mkdir -p "$work"
NGINX_ROOT=$build/vmtests/images LAZYROOT_VM_WORKDIR=$work \
    "$repo/tests/vm/nginx-host.sh" "$repo/tests/vm/run-vm.sh" --mem 3072 --timeout 1800 \
    --env LAZYROOT_BUILD_DIR="$build" --env LAZYROOT_SOURCE_DIR="$repo" "${env[@]}" \
    "$here/guest-handoff-compare.sh" "$work" >/dev/null
[[ $(grep -c . "$work/results.txt") -eq 3 ]] || { echo "run-handoff-bench: incomplete results" >&2; cat "$work/results.txt" >&2; exit 1; }
awk '
    function v(k,   i, a) { for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } }
    { k = v("kind"); iops[k] = v("rand4k_iops"); seq[k] = v("seq1m_MBps") }
    END {
        print "| complete cache | loop | after hand-off | ratio | daemon (no hand-off) | ratio |"
        print "|---|---|---|---|---|---|"
        printf "| 4k randread QD32 (IOPS) | %s | %s | %.2f | %s | %.2f |\n", iops["loop"], iops["handoff"], iops["handoff"] / iops["loop"], iops["ublk"], iops["ublk"] / iops["loop"]
        printf "| 1 MiB seq read (MB/s) | %s | %s | %.2f | %s | %.2f |\n", seq["loop"], seq["handoff"], seq["handoff"] / seq["loop"], seq["ublk"], seq["ublk"] / seq["loop"]
    }' "$work/results.txt" | tee "$work/report.md"
