#!/bin/bash
# Guest half of bench/run-http-bench.sh. For each RTT (netem on the guest's
# egress; the host kernel has no netem): a cold sequential read of the whole
# image through /dev/ublkbN against `curl -o /dev/null` of the same URL, and
# cold 4k random-read IOPS at QD 1, 32 and 128. Every figure is from this one
# boot, so the ratios compare like with like.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
lazyroot=$LAZYROOT_BUILD_DIR/cli/lazyroot
rtts=${BENCH_RTTS:-0 20 100}
runtime=${BENCH_RUNTIME:-10}
image=${BENCH_IMAGE:-http1g.img}
connections=${BENCH_CONNECTIONS:-8}
net_up
load_module ublk_drv
modprobe sch_netem
url=$primary/$image

now() { date +%s.%N; }
: >results.txt
for rtt in $rtts; do
    tc qdisc del dev eth0 root 2>/dev/null || true
    if [[ $rtt -gt 0 ]]; then tc qdisc add dev eth0 root netem delay ${rtt}ms rate 1gbit limit 100000; fi

    t0=$(now)
    bytes=$(curl -sS -o /dev/null -w '%{size_download}' "$url")
    t1=$(now)
    curl_mbs=$(awk -v b="$bytes" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}')

    conns_before=$(nginx_ctl connections primary)
    dev=$("$lazyroot" attach "$url" --insecure --connections "$connections" --daemon)
    t0=$(now)
    dd if="$dev" of=/dev/null bs=1M iflag=direct status=none
    t1=$(now)
    size=$(blockdev --getsize64 "$dev")
    ublk_mbs=$(awk -v b="$size" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}')
    "$lazyroot" detach "$dev"
    conns=$(( $(nginx_ctl connections primary) - conns_before ))
    echo "seq rtt=$rtt curl_MBps=$curl_mbs lazyroot_MBps=$ublk_mbs connections=$conns" | tee -a results.txt

    for qd in 1 32 128; do
        dev=$("$lazyroot" attach "$url" --insecure --connections "$connections" --depth 128 --daemon)
        iops=$(fio --name=rr --filename="$dev" --readonly --direct=1 --ioengine=io_uring \
            --rw=randread --bs=4k --iodepth=$qd --time_based --runtime="$runtime" \
            --output-format=terse | awk -F';' '{print $8}')
        "$lazyroot" detach "$dev"
        echo "rand rtt=$rtt qd=$qd iops=$iops" | tee -a results.txt
    done
done
tc qdisc del dev eth0 root 2>/dev/null || true
