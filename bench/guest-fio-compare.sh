#!/bin/bash
# Guest half of bench/run-bench.sh: the same fio jobs on /dev/ublkbN (lazyroot,
# file source; zero copy where the kernel offers it), on a second one with
# --zero-copy=off, and on a kernel loop device over the same tmpfs file, in
# one boot, so that only the ratios between them are read.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
lazyroot=$LAZYROOT_BUILD_DIR/cli/lazyroot
runtime=${BENCH_RUNTIME:-15}
size_mb=${BENCH_SIZE_MB:-512}

load_module ublk_drv
uname -r >kver
modprobe loop
head -c "${size_mb}M" /dev/urandom >/dev/shm/bench.img

ublk=$("$lazyroot" attach file:///dev/shm/bench.img --queues 2 --daemon)
# The copy path beside it: the same as ublk where the kernel offers no zero copy.
copy=$("$lazyroot" attach file:///dev/shm/bench.img --queues 2 --zero-copy=off --daemon)
"$lazyroot" status --json | python3 -c 'import json,sys
print("yes" if any(d["ublk"]["zero_copy_used"] for d in json.load(sys.stdin)) else "no")' >zero_copy
loop=$(losetup -r -f --show /dev/shm/bench.img)

# job NAME DEVICE fio-args... -> "NAME iops KiB/s"
job() {
    local name=$1 dev=$2
    shift 2
    fio --name="$name" --filename="$dev" --readonly --direct=1 --ioengine=io_uring \
        --time_based --runtime="$runtime" --ramp_time=2 --output-format=terse "$@" \
        | awk -F';' -v n="$name" '{print n, $8, $7}'
}

: >results.txt
for dev_kind in loop ublk copy; do
    dev=${!dev_kind}
    job "randread4k_qd32.$dev_kind" "$dev" --rw=randread --bs=4k --iodepth=32 --numjobs=2 \
        --group_reporting >>results.txt
    job "seqread1m_qd8.$dev_kind" "$dev" --rw=read --bs=1M --iodepth=8 >>results.txt
done
cat results.txt

"$lazyroot" detach "$ublk"
"$lazyroot" detach "$copy"
losetup -d "$loop"
