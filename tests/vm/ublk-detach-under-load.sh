#!/bin/bash
# vm.ublk_detach_under_load — `lazyroot detach` while fio is reading is
# refused (fio holds the device open); `detach --force` goes ahead: fio must
# end with errors rather than hang, and no ublk device may be left.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
lazyroot=$LAZYROOT_BUILD_DIR/cli/lazyroot
images=$LAZYROOT_BUILD_DIR/vmtests/images

load_module ublk_drv
cp "$images/fio.img" /tmp/fio.img
dev=$("$lazyroot" attach file:///tmp/fio.img --queues 2 --daemon)
name=${dev#/dev/}

# `timeout` is only a guard against a hang; the test expects fio to stop long before.
# psync jobs: once the disk is gone a read returns 0 bytes, which fio's sync
# path reports as an error ("full resid"); its io_uring path counts it as a
# short read and carries on until its runtime ends.
timeout 300 fio --name=load --filename="$dev" --readonly --direct=1 --ioengine=psync \
    --rw=randread --bsrange=4k-128k --numjobs=8 --time_based --runtime=240 \
    --output=/tmp/fio.out &
fio_pid=$!

# Wait until fio has really read through the device (reads completed > 1000).
for _ in $(seq 1 600); do
    reads=$(awk '{print $1}' /sys/block/$name/stat)
    [[ $reads -gt 1000 ]] && break
    sleep 0.1
done
[[ $reads -gt 1000 ]] || vm_die "fio never got going ($reads reads)"

rc=0
"$lazyroot" detach "$dev" 2>/tmp/detach.err || rc=$?
[[ $rc -eq 1 ]] && grep -q "open in pid" /tmp/detach.err || vm_die "detach of a device in use: rc $rc, $(cat /tmp/detach.err)"
kill -0 "$fio_pid" || vm_die "fio stopped although detach was refused"
"$lazyroot" detach --force "$dev" || vm_die "detach --force failed"
set +e
wait "$fio_pid"
fio_rc=$?
set -e
echo "fio exited with $fio_rc"
[[ $fio_rc -ne 0 ]] || vm_die "fio succeeded although its device was removed"
[[ $fio_rc -ne 124 ]] || vm_die "fio hung after detach"
grep -qE "err= *[1-9]" /tmp/fio.out || vm_die "fio reported no error: $(cat /tmp/fio.out)"
[[ ! -e $dev ]] || vm_die "$dev still exists"
compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left: $(ls /dev/ublk[bc]*)"
[[ -z $("$lazyroot" list) ]] || vm_die "lazyroot list still shows devices"
echo "ublk_detach_under_load: OK"
