#!/bin/bash
# Guest half of bench/run-handoff-bench.sh, one boot: the same complete
# cache file (/dev/shm) read through the handed-off mapping, a loop device
# of its own, and the daemon.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
runtime=${BENCH_RUNTIME:-10}
guest_up
load_module dm-mod
load_module loop
fio_job() {  # DEV fio-args... -> "iops KiB/s"
    local dev=$1
    shift
    fio --name=b --filename="$dev" --readonly --direct=1 --ioengine=io_uring --time_based \
        --runtime="$runtime" --ramp_time=1 --output-format=terse "$@" | awk -F';' '{print $8, $7}'
}
measure() {  # KIND DEV
    local iops kibs
    read -r iops _ <<<"$(fio_job "$2" --rw=randread --bs=4k --iodepth=32 --numjobs=2 --group_reporting)"
    read -r _ kibs <<<"$(fio_job "$2" --rw=read --bs=1M --iodepth=8)"
    echo "kind=$1 rand4k_iops=$iops seq1m_MBps=$(awk -v k="$kibs" 'BEGIN {printf "%.1f", k * 1.024 / 1000}')" | tee -a results.txt
}
: >results.txt
cache=/dev/shm/handoff.img

# The daemon with the complete cache (full mode fills it before serving).
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --mode full --cache "$cache" --handoff=no --daemon)
measure ublk "$dev"
"$lazyroot" detach "$dev"

# The same cache handed off (complete at attach: the hand-off follows at once).
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --mode full --cache "$cache" --handoff --daemon 2>handoff.log)
for ((i = 0; i < 600; i++)); do
    grep -q "handed off to" handoff.log && break
    sleep 0.1
done
grep -q "handed off to" handoff.log || vm_die "no hand-off: $(cat handoff.log)"
measure handoff "$dev"

loop=$(losetup -r --direct-io=on -f --show "$cache")
measure loop "$loop"
losetup -d "$loop"
dmsetup remove lazyroot
