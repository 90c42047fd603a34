#!/bin/bash
# Guest half of bench/run-lfn-bench.sh: a long fat link, BENCH_RTT_MS (200) of
# round trip (netem delay on the guest's egress) and a BENCH_RATE_MBIT (100)
# cap on what it receives (netem rate on an ifb that eth0's ingress is
# redirected to). A cold sequential read of BENCH_MIB through /dev/ublkbN,
# without and with a cache, against curl with one stream and with 4 parallel
# ranges of the same bytes. Appends "lfn ..." lines to results.txt.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
rtt=${BENCH_RTT_MS:-200}
rate=${BENCH_RATE_MBIT:-100}
mib=${BENCH_MIB:-64}
curl_mib=${BENCH_CURL_MIB:-4}
url=$primary/${BENCH_IMAGE:-http1g.img}
guest_up
for m in sch_netem ifb act_mirred cls_u32 sch_ingress; do modprobe "$m" 2>/dev/null || true; done
ip link add ifb0 type ifb 2>/dev/null || true
ip link set ifb0 up
tc qdisc add dev eth0 root netem delay "${rtt}ms" limit 100000
tc qdisc add dev eth0 handle ffff: ingress
tc filter add dev eth0 parent ffff: protocol ip u32 match u32 0 0 action mirred egress redirect dev ifb0
tc qdisc add dev ifb0 root netem rate "${rate}mbit" limit 100000

now() { date +%s.%N; }
mbps() { awk -v b="$1" -v a="$2" -v z="$3" 'BEGIN {printf "%.2f", b / (z - a) / 1e6}'; }
: >results.txt
cap=$(awk -v r="$rate" 'BEGIN {printf "%.2f", r / 8}')

bytes=$((curl_mib * 1048576))
t0=$(now)
got=$(curl -sS -o /dev/null -r 0-$((bytes - 1)) -w '%{size_download}' "$url")
t1=$(now)
[[ $got -eq $bytes ]] || vm_die "curl fetched $got bytes"
echo "lfn what=curl_1 mib=$curl_mib MBps=$(mbps "$bytes" "$t0" "$t1") cap_MBps=$cap" | tee -a results.txt

quarter=$((bytes / 4))
t0=$(now)
for i in 0 1 2 3; do
    curl -sS -o /dev/null -r $((i * quarter))-$(((i + 1) * quarter - 1)) "$url" &
done
wait
t1=$(now)
echo "lfn what=curl_4 mib=$curl_mib MBps=$(mbps "$bytes" "$t0" "$t1") cap_MBps=$cap" | tee -a results.txt

bytes=$((mib * 1048576))
for cache in no yes; do
    args=(--insecure --daemon)
    [[ $cache == yes ]] && args+=(--cache /tmp/lfn-cache.img)
    before=$(nginx_ctl connections primary)
    dev=$("$lazyroot" attach "$url" "${args[@]}")
    t0=$(now)
    dd if="$dev" of=/dev/null bs=1M count="$mib" iflag=direct status=none
    t1=$(now)
    window=$("$lazyroot" status --json | python3 -c 'import json,sys
r = json.load(sys.stdin)[0].get("readahead") or {}
print("%.1f" % ((r.get("window_limit_bytes") or 0) / 1048576))')
    "$lazyroot" detach "$dev"
    conns=$(($(nginx_ctl connections primary) - before))
    echo "lfn what=lazyroot_cache_$cache mib=$mib MBps=$(mbps "$bytes" "$t0" "$t1") cap_MBps=$cap window_limit_MiB=$window connections=$conns" |
        tee -a results.txt
    rm -f /tmp/lfn-cache.img /tmp/lfn-cache.img.lzmeta
done
