#!/bin/bash
# Guest half of bench/run-http-bench.sh. For each RTT (netem on the guest's
# egress; the host kernel has no netem): a cold sequential read of the whole
# image through /dev/ublkbN against `curl -o /dev/null` of the same URL, and
# cold 4k random-read IOPS at QD 1, 32 and 128; then the daemon's peak RSS
# (bench/guest-rss.sh). Every figure is from this one
# boot, so the ratios compare like with like.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
rtts=${BENCH_RTTS:-0 20 100}
runtime=${BENCH_RUNTIME:-10}
image=${BENCH_IMAGE:-http1g.img}
connections=${BENCH_CONNECTIONS:-8}
# MiB read sequentially at each RTT. qemu's user-mode network (slirp) gives a
# TCP stream a small window, so one stream crawls at high RTT (about 3 MB/s at
# 20 ms): the whole 1 GiB image only at 0 ms, a prefix of it above.
declare -A seq_mib=([0]=1024 [20]=128 [100]=32)
[[ -n ${BENCH_SEQ_MIB:-} ]] && for r in $rtts; do seq_mib[$r]=$BENCH_SEQ_MIB; done
guest_up
modprobe sch_netem
url=$primary/$image

now() { date +%s.%N; }
: >results.txt
for rtt in $rtts; do
    tc qdisc del dev eth0 root 2>/dev/null || true
    if [[ $rtt -gt 0 ]]; then tc qdisc add dev eth0 root netem delay ${rtt}ms rate 1gbit limit 100000; fi

    mib=${seq_mib[$rtt]:-32}
    t0=$(now)
    bytes=$(curl -sS -o /dev/null -r 0-$((mib * 1048576 - 1)) -w '%{size_download}' "$url")
    t1=$(now)
    [[ $bytes -eq $((mib * 1048576)) ]] || vm_die "curl fetched $bytes bytes"
    # The guest sends the requests; the host applies no shaping.
    curl_mbs=$(awk -v b="$bytes" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}')

    conns_before=$(nginx_ctl connections primary)
    dev=$("$lazyroot" attach "$url" --insecure --connections "$connections" --daemon)
    t0=$(now)
    dd if="$dev" of=/dev/null bs=1M count="$mib" iflag=direct status=none
    t1=$(now)
    size=$((mib * 1048576))
    ublk_mbs=$(awk -v b="$size" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}')
    "$lazyroot" detach "$dev"
    conns=$(( $(nginx_ctl connections primary) - conns_before ))
    echo "seq rtt=$rtt mib=$mib curl_MBps=$curl_mbs lazyroot_MBps=$ublk_mbs connections=$conns" | tee -a results.txt

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
# The daemon's peak RSS at QD128 with 4 queues, cold sequential (no netem).
. "$LAZYROOT_SOURCE_DIR/bench/guest-rss.sh"
