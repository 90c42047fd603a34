#!/bin/bash
# Guest half of bench/run-http2-bench.sh. At each RTT (netem on the guest's
# egress), against one nginx over TLS that offers HTTP/2: lazyroot with
# --http-version=2 and with --http-version=1.1, the same --connections, a
# cold sequential read of a prefix of the image and cold 4k random-read IOPS
# at QD 32 and 128. Also the connections the server saw, from its log.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
rtts=${BENCH_RTTS:-20}
runtime=${BENCH_RUNTIME:-10}
image=${BENCH_IMAGE:-http1g.img}
connections=${BENCH_CONNECTIONS:-8}
mib=${BENCH_SEQ_MIB:-128}
guest_up
modprobe sch_netem
url=https://10.0.2.100:84/$image
ca=$LAZYROOT_NGINX_STATE/tls/ca.pem

now() { date +%s.%N; }
attach() {  # VERSION [OPTIONS...]
    local v=$1
    shift
    "$lazyroot" attach "$url" --ca "$ca" --http-version "$v" --connections "$connections" "$@" --daemon
}
: >results.txt
for rtt in $rtts; do
    tc qdisc del dev eth0 root 2>/dev/null || true
    if [[ $rtt -gt 0 ]]; then tc qdisc add dev eth0 root netem delay ${rtt}ms rate 1gbit limit 100000; fi
    for v in 1.1 2; do
        conns_before=$(nginx_ctl connections tls)
        dev=$(attach "$v")
        t0=$(now)
        dd if="$dev" of=/dev/null bs=1M count="$mib" iflag=direct status=none
        t1=$(now)
        "$lazyroot" detach "$dev"
        mbs=$(awk -v b=$((mib * 1048576)) -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}')
        conns=$(($(nginx_ctl connections tls) - conns_before))
        echo "seq rtt=$rtt http=$v mib=$mib MBps=$mbs connections=$conns" | tee -a results.txt
        for qd in 32 128; do
            conns_before=$(nginx_ctl connections tls)
            dev=$(attach "$v" --depth 128)
            iops=$(fio --name=rr --filename="$dev" --readonly --direct=1 --ioengine=io_uring \
                --rw=randread --bs=4k --iodepth=$qd --time_based --runtime="$runtime" \
                --output-format=terse | awk -F';' '{print $8}')
            "$lazyroot" detach "$dev"
            conns=$(($(nginx_ctl connections tls) - conns_before))
            echo "rand rtt=$rtt http=$v qd=$qd iops=$iops connections=$conns" | tee -a results.txt
        done
    done
done
tc qdisc del dev eth0 root 2>/dev/null || true
