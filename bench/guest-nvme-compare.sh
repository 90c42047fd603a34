#!/bin/bash
# Guest half of bench/run-nvme-bench.sh: one nvmet-tcp target (kernel,
# configfs, 127.0.0.1:4420) and the same fio jobs through the kernel's
# nvme-tcp initiator (/dev/nvmeXnY) and through lazyroot's userspace
# initiator (/dev/ublkbN), in one boot, so that only ratios are read; and
# ublk over the same file (no network) for what ublk itself costs. Where ublk
# zero copy is in use (6.16+), lazyroot again with --zero-copy=off.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/nvmet-lib.sh"
runtime=${BENCH_RUNTIME:-10}
size_mb=${BENCH_SIZE_MB:-512}

head -c "${size_mb}M" /dev/urandom >/tmp/bench.img
img=$(nvme_image /tmp/bench.img)
rm /tmp/bench.img
nvmet_up "$img"
load_module nvme-tcp

# job NAME DEVICE fio-args... -> "NAME iops KiB/s"
job() {
    local name=$1 dev=$2
    shift 2
    fio --name="$name" --filename="$dev" --readonly --direct=1 --ioengine=io_uring \
        --time_based --runtime="$runtime" --ramp_time=2 --output-format=terse "$@" \
        | awk -F';' -v n="$name" '{print n, $8, $7}'
}

jobs() {
    local kind=$1 dev=$2
    job "randread4k_qd1.$kind" "$dev" --rw=randread --bs=4k --iodepth=1 >>results.txt
    job "randread4k_qd32.$kind" "$dev" --rw=randread --bs=4k --iodepth=32 >>results.txt
    job "seqread1m_qd8.$kind" "$dev" --rw=read --bs=1M --iodepth=8 >>results.txt
}

: >results.txt
kdev=$(kernel_nvme_connect)
echo "kernel nvme-tcp: $kdev ($(cat /sys/class/nvme/nvme0/queue_count 2>/dev/null || echo ?) queues incl. admin)"
jobs kernel "$kdev"
echo 1 >/sys/class/nvme/nvme0/delete_controller

ublk=$("$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4420/$nqn" --queues 2 --readahead 0 --daemon)
echo "lazyroot: $ublk"
jobs lazyroot "$ublk"
zc=$("$lazyroot" status --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['ublk']['zero_copy_used'])")
"$lazyroot" detach "$ublk"
if [[ $zc == True ]]; then
    ublk=$("$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4420/$nqn" --queues 2 --readahead 0 --zero-copy=off --daemon)
    jobs copy "$ublk"
    "$lazyroot" detach "$ublk"
fi

# Context: ublk over the same file, no network, to show what ublk alone costs.
ublk=$("$lazyroot" attach "file://$img" --queues 2 --daemon)
jobs file "$ublk"
"$lazyroot" detach "$ublk"
cat results.txt
