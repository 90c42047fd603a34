#!/bin/bash
# bench/run-rss-bench.sh BUILD_DIR [--smoke] — the daemon's peak RSS (VmHWM)
# at QD128 with 4 queues during a cold sequential read over HTTP (real nginx
# on the host) with readahead, without and with a cache, in one VM run; the
# same figure bench/run-http-bench.sh prints, without its RTT sweep.
# BENCH_RSS_ARGS="..." adds attach options (e.g. --memory-budget 128);
# BENCH_RSS_BASELINE=PATH runs an older lazyroot binary too, in the same boot.
set -euo pipefail
build=$(cd "${1:?usage: run-rss-bench.sh BUILD_DIR [--smoke]}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
mib=512
[[ ${2:-} == --smoke ]] && mib=64
env=(--env "BENCH_RSS_MIB=$mib" --env "BENCH_RSS_ARGS=${BENCH_RSS_ARGS:-}" --env "BENCH_RSS_BASELINE=${BENCH_RSS_BASELINE:-}")
"$repo/tests/vm/make-test-images.sh" "$build/vmtests/images"
"$repo/tests/vm/make-http-image.sh" "$build/vmtests/images"
work=$build/bench/rss
rm -rf "$work" "$work.nginx"
mkdir -p "$work"
NGINX_ROOT=$build/vmtests/images LAZYROOT_VM_WORKDIR=$work \
    "$repo/tests/vm/nginx-host.sh" "$repo/tests/vm/run-vm.sh" --timeout 1800 \
    --env LAZYROOT_BUILD_DIR="$build" --env LAZYROOT_SOURCE_DIR="$repo" "${env[@]}" \
    "$here/guest-rss-only.sh" "$work" >/dev/null
grep -q '^rss ' "$work/results.txt" || { echo "run-rss-bench: no results" >&2; exit 1; }
"$here/print-rss.sh" "$work/results.txt"
