#!/bin/bash
# Guest half of bench/run-cache-bench.sh, one boot:
#  1. warm cache: 4k randread QD 32 and 1 MiB sequential read through
#     /dev/ublkbN with every chunk cached, against a loop device on the same bytes;
#  2. full mode at 20 ms RTT: time until the device is ready, against
#     `curl -o` of the image; and the same against a server that caps each
#     connection's rate;
#  3. hydrate: foreground fio randread IOPS with and without the background fill.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
runtime=${BENCH_RUNTIME:-10}
image=${BENCH_IMAGE:-ext4.img}
guest_up
modprobe loop
modprobe sch_netem
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v z="$2" 'BEGIN {printf "%.2f", z - a}'; }
fio_job() {  # DEV fio-args... -> "iops KiB/s"
    local dev=$1
    shift
    fio --name=b --filename="$dev" --readonly --direct=1 --ioengine=io_uring --time_based \
        --runtime="$runtime" --ramp_time=1 --output-format=terse "$@" | awk -F';' '{print $8, $7}'
}
: >results.txt

# 1. Warm cache against loop.
dev=$("$lazyroot" attach "$primary/$image" --insecure --cache /dev/shm/warm.img --daemon)
dd if="$dev" of=/dev/null bs=1M status=none
loop=$(losetup -r -f --show /dev/shm/warm.img)
for kind in loop ublk; do
    d=$loop
    [[ $kind == ublk ]] && d=$dev
    read -r iops _ <<<"$(fio_job "$d" --rw=randread --bs=4k --iodepth=32 --numjobs=2 --group_reporting)"
    read -r _ kibs <<<"$(fio_job "$d" --rw=read --bs=1M --iodepth=8)"
    echo "warm kind=$kind rand4k_iops=$iops seq1m_MBps=$(awk -v k="$kibs" 'BEGIN {printf "%.1f", k * 1.024 / 1000}')" | tee -a results.txt
done
losetup -d "$loop"
"$lazyroot" detach "$dev"
rm -f /dev/shm/warm.img /dev/shm/warm.img.lzmeta

# 2. Full mode at 20 ms RTT, plain and per-connection-capped server.
tc qdisc add dev eth0 root netem delay 20ms rate 1gbit limit 100000
for server in primary capped; do
    url=${!server}/$image
    t0=$(now)
    curl -sS -o /dev/shm/curl.img "$url"
    t1=$(now)
    rm -f /dev/shm/curl.img
    t2=$(now)
    dev=$("$lazyroot" attach "$url" --insecure --mode full --connections 16 --daemon 2>/dev/null)
    t3=$(now)
    "$lazyroot" detach "$dev"
    echo "full server=$server curl_s=$(elapsed "$t0" "$t1") lazyroot_s=$(elapsed "$t2" "$t3")" | tee -a results.txt
done
tc qdisc del dev eth0 root

# 3. Hydration's cost to foreground random reads (cold device either way).
for mode in lazy hydrate; do
    dev=$("$lazyroot" attach "$primary/$image" --insecure --mode "$mode" --cache /dev/shm/h.img --daemon)
    read -r iops _ <<<"$(fio_job "$dev" --rw=randread --bs=4k --iodepth=32)"
    "$lazyroot" detach "$dev"
    rm -f /dev/shm/h.img /dev/shm/h.img.lzmeta
    echo "hydrate mode=$mode rand4k_qd32_iops=$iops" | tee -a results.txt
done
