#!/bin/bash
# bench/guest-rss.sh — run by guest-http-compare.sh and guest-rss-only runs
# (bench/run-rss-bench.sh): the daemon's peak RSS (VmHWM, from its own
# /proc/PID/status) during a cold sequential fio read at QD128 with 4 queues
# over HTTP with readahead on, without and with a cache file. Appends
# "rss cache=no|yes ..." lines to results.txt in the current directory.
# Expects guest_up done and $lazyroot, $primary from tests/vm/http-lib.sh.
# BENCH_RSS_BASELINE=PATH: another lazyroot binary (an older build), run
# before each case in the same boot, for before/after ratios.
set -euo pipefail
rss_image=${BENCH_RSS_IMAGE:-${BENCH_IMAGE:-http1g.img}}
rss_mib=${BENCH_RSS_MIB:-512}
rss_extra=${BENCH_RSS_ARGS:-}
: "${lazyroot:?}" "${primary:?}"  # from tests/vm/http-lib.sh

rss_run() {  # rss_run yes|no [BINARY LABEL]
    local bin=${2:-$lazyroot} label=${3:-this} cache_args=() dev pid hwm rss mbs
    if [[ $1 == yes ]]; then
        rm -f /tmp/rss-cache.img
        cache_args=(--cache /tmp/rss-cache.img)
    fi
    # shellcheck disable=SC2086
    dev=$("$bin" attach "$primary/$rss_image" --insecure --queues 4 --depth 128 "${cache_args[@]}" $rss_extra --daemon)
    mbs=$(fio --name=seq --filename="$dev" --readonly --direct=1 --ioengine=io_uring --rw=read --bs=1M \
        --iodepth=128 --size="${rss_mib}M" --output-format=terse | awk -F';' '{printf "%.1f", $7 * 1024 / 1e6}')
    pid=$("$bin" status --json | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' | head -n 1)
    [[ -n $pid ]] || pid=$(pidof lazyroot | tr ' ' '\n' | sort -n | tail -n 1)
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    "$bin" detach "$dev"
    rm -f /tmp/rss-cache.img
    echo "rss build=$label cache=$1 queues=4 qd=128 mib=$rss_mib seq_MBps=$mbs peak_rss_kib=$hwm rss_kib=$rss" | tee -a results.txt
}
for c in no yes; do
    [[ -z ${BENCH_RSS_BASELINE:-} ]] || rss_run "$c" "$BENCH_RSS_BASELINE" baseline
    rss_run "$c"
done
