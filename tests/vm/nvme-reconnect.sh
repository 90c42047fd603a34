#!/bin/bash
# vm.nvme_reconnect — the target goes away mid-read: the port's link to the
# subsystem is removed for 5 s (nvmet drops the controllers and stops
# listening) and restored. The read in progress completes with the right
# bytes, the daemon logged the reconnect, and with a short --io-timeout a
# read during an outage fails with EIO instead of hanging.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/nvmet-lib.sh"
img=$(nvme_image "$images/ext4.img")
nvmet_up "$img"
src="nvme+tcp://127.0.0.1:4420/$nqn?digest=header,data"

dev=$("$lazyroot" attach --insecure "$src" --queues 1 --readahead 0 --daemon 2>/tmp/daemon.log)
# 4 KiB direct reads one at a time: long enough that the outage lands mid-read.
dd if="$dev" of=/tmp/out bs=4k count=16384 iflag=direct status=none &
reader=$!
# Wait until the read has made progress (a condition, not a delay).
for _ in $(seq 1 600); do
    got=$(awk '/^rchar/ {print $2}' "/proc/$reader/io" 2>/dev/null || echo 0)
    [[ $got -gt 0 ]] && break
    sleep 0.05
done
[[ $got -gt 0 ]] || vm_die "dd made no progress"
nvmet_unlink
kill -0 "$reader" 2>/dev/null || vm_die "the read finished before the target went away"
echo "target gone after $got bytes read"
sleep 5  # the outage the issue asks for, not a synchronisation
nvmet_link
wait "$reader" || vm_die "the read failed across the outage"
head -c $((16384 * 4096)) "$img" | cmp - /tmp/out || vm_die "bytes read across the outage differ"
cat /tmp/daemon.log
grep -q "reconnected" /tmp/daemon.log || vm_die "the daemon did not log a reconnect"
echo "read across a 5 s outage: OK"
"$lazyroot" detach "$dev"

# Give up at --io-timeout with EIO, then serve again once the target is back.
dev=$("$lazyroot" attach --insecure "$src" --queues 1 --readahead 0 --io-timeout 2 --daemon 2>/tmp/daemon2.log)
nvmet_unlink
rc=0
dd if="$dev" of=/dev/null bs=4k count=1 skip=100 iflag=direct status=none 2>/tmp/dd.err || rc=$?
nvmet_link
cat /tmp/dd.err /tmp/daemon2.log
[[ $rc -ne 0 ]] || vm_die "a read with the target gone succeeded"
grep -q "Input/output error" /tmp/dd.err || vm_die "the failed read was not EIO"
dd if="$dev" of=/tmp/one bs=4k count=1 skip=100 iflag=direct status=none || vm_die "no read after the target came back"
dd if="$img" bs=4k count=1 skip=100 status=none | cmp - /tmp/one || vm_die "wrong bytes after the target came back"
"$lazyroot" detach "$dev"
echo "nvme_reconnect: OK"
