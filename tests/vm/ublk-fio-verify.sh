#!/bin/bash
# vm.ublk_fio_verify — fio random reads of 4k–128k at QD 32 over 2 queues;
# every 4 KiB block carries fio's crc32c header (offset included), so a wrong
# or misplaced byte fails the job.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
lazyroot=$LAZYROOT_BUILD_DIR/cli/lazyroot
images=$LAZYROOT_BUILD_DIR/vmtests/images

load_module ublk_drv
cp "$images/fio.img" /tmp/fio.img
dev=$("$lazyroot" attach file:///tmp/fio.img --queues 2 --depth 64 --daemon)
echo "attached: $dev"
[[ $(cat /sys/block/${dev#/dev/}/mq/*/nr_tags | wc -l) -eq 2 ]] || vm_die "expected 2 hardware queues"

# Two jobs so that both CPUs, and so both queues, submit.
fio --name=verify --filename="$dev" --readonly --direct=1 --ioengine=io_uring \
    --rw=randread --bsrange=4k-128k --iodepth=32 --numjobs=2 --size=128M \
    --verify=crc32c --verify_interval=4096 --verify_fatal=1 --verify_state_save=0 --group_reporting \
    --output-format=terse --output=/tmp/fio.out || vm_die "fio verify failed: $(head -c 2000 /tmp/fio.out)"
# terse v3: field 6 is KiB read; both jobs must have read the whole device.
read_kib=$(awk -F';' '{print $6}' /tmp/fio.out)
[[ $read_kib -ge $((2 * 128 * 1024)) ]] || vm_die "fio read only $read_kib KiB"
errors=$(awk -F';' '{print $5}' /tmp/fio.out)
[[ $errors -eq 0 ]] || vm_die "fio reported error $errors"
echo "fio read $read_kib KiB, all blocks verified"

# The same blocks, with ublk's page cache path (buffered) and 1 MiB sequential.
fio --name=seq --filename="$dev" --readonly --ioengine=psync --rw=read --bs=1M --size=128M \
    --verify=crc32c --verify_interval=4096 --verify_fatal=1 --verify_state_save=0 --output=/dev/null || vm_die "sequential verify failed"

"$lazyroot" detach "$dev"
compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left"
echo "ublk_fio_verify: OK"
