#!/bin/bash
# Guest half of bench/run-chunk-bench.sh: the cache chunk size against a cold
# device (fresh cache each time), at 0 and 20 ms RTT — what chose the default.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
runtime=${BENCH_RUNTIME:-8}
guest_up
modprobe sch_netem
: >results.txt
for rtt in 0 20; do
    tc qdisc del dev eth0 root 2>/dev/null || true
    [[ $rtt -gt 0 ]] && tc qdisc add dev eth0 root netem delay ${rtt}ms limit 100000
    for kib in 16 64 256 1024; do
        dev=$("$lazyroot" attach "$primary/http1g.img" --insecure --cache /dev/shm/c.img --chunk-size $kib --daemon)
        iops=$(fio --name=r --filename="$dev" --readonly --direct=1 --ioengine=io_uring --rw=randread \
            --bs=4k --iodepth=32 --time_based --runtime="$runtime" --output-format=terse | awk -F';' '{print $8}')
        fetched=$("$lazyroot" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["bytes_fetched"])')
        "$lazyroot" detach "$dev"
        rm -f /dev/shm/c.img /dev/shm/c.img.lzmeta
        dev=$("$lazyroot" attach "$primary/http1g.img" --insecure --cache /dev/shm/c.img --chunk-size $kib --daemon)
        t0=$(date +%s.%N)
        dd if="$dev" of=/dev/null bs=1M count=64 iflag=direct status=none
        t1=$(date +%s.%N)
        "$lazyroot" detach "$dev"
        rm -f /dev/shm/c.img /dev/shm/c.img.lzmeta
        mbs=$(awk -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", 64 * 1.048576 / (z - a)}')
        echo "chunk rtt=$rtt kib=$kib rand4k_iops=$iops fetched_MiB=$((fetched >> 20)) seq64m_MBps=$mbs" | tee -a results.txt
    done
done
