#!/bin/bash
# vm.handoff_kill — kill -9 of the daemon at each step of the hand-off
# (LAZYROOT_HANDOFF_STOP_AT stops it just before the step): before the
# suspend, between suspend and reload, between reload and resume, after the
# resume. Each time a mount and a reader of the device are under way; a
# successor (`lazyroot recover`, as the boot unit runs it) finishes the
# hand-off or rolls back and makes it again; the filesystem stays readable
# and correct, and no lazyroot process or ublk device remains.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/handoff-lib.sh"
handoff_up
trap 'dmesg >dmesg.txt' EXIT
root=$(cat "$images/fiofs-verity.img.roothash")
want=$(cut -d' ' -f1 "$images/fio.dat.sha256")
want_head=$(head -c 48M "$images/fiofs-verity.img" | sha256sum | cut -d' ' -f1)
# stopped PID — the daemon stopped itself at the step.
stopped() { [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == T ]]; }

for step in suspend reload resume delete; do
    rm -f /tmp/kc.img /tmp/kc.img.lzmeta
    dev=$(LAZYROOT_HANDOFF_STOP_AT=$step "$lazyroot" attach "$primary/fiofs-verity.img" --verity "$root" \
        --mode hydrate --hydrate-rate 16M --cache /tmp/kc.img --daemon 2>>"daemon.$step.log")
    id=$(cd /run/lazyroot && ls | grep -E '^[0-9]+\.json$' | head -1 | cut -d. -f1)
    pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "/run/lazyroot/$id.json")
    # The daemon may stop at the step before the mount is through: the mount
    # then waits across the kill like any other IO.
    mount -o ro "$dev" /mnt/h &
    mounter=$!
    wait_for stopped "$pid" || vm_die "the daemon did not stop before $step: $(tail -3 daemon.$step.log)"
    grep -q "stopping before $step" "daemon.$step.log" || vm_die "stopped, but not before $step"
    # A reader of the device under way across the kill (it waits while the
    # daemon is stopped or the mapping suspended). O_DIRECT: what the device
    # serves, not the page cache, where the mount's jbd2 updates the journal
    # superblock in memory even on a read-only device.
    (
        set -o pipefail
        dd if="$dev" bs=1M count=48 iflag=fullblock,direct status=none 2>"read.$step.err" | tee "read.$step.bytes" | sha256sum
    ) >"read.$step" &
    reader=$!
    kill -9 "$pid"
    "$lazyroot" recover "/dev/ublkb$id" --daemon >>"recover.$step.out" 2>>"recover.$step.log" ||
        vm_die "recover after a kill before $step failed: $(cat recover.$step.log)"
    wait_for no_lazyroot || vm_die "after $step: the successor did not finish the hand-off: $(cat recover.$step.log)"
    wait "$mounter" || vm_die "the mount across the kill before $step failed"
    wait "$reader" || vm_die "the reader failed across the kill before $step: $(cat read.$step.err)"
    [[ $(cut -d' ' -f1 "read.$step") == "$want_head" ]] ||
        vm_die "the read across the kill before $step was wrong: $(stat -c %s read.$step.bytes) bytes;" \
            "first difference: $(cmp "read.$step.bytes" "$images/fiofs-verity.img" 2>&1 | head -1)"
    rm -f "read.$step.bytes"
    lower=$(lower_of lazyroot)
    [[ $lower == loop* ]] || vm_die "after $step the mapping reads $lower"
    check_handed_off lazyroot "$lower"
    [[ $(cd /mnt/h && sha256sum fio.dat | cut -d' ' -f1) == "$want" ]] || vm_die "fio.dat wrong after $step"
    umount /mnt/h
    check_fs "$dev"
    echo "kill before $step: $(grep -m1 -E 'handed off|already handed off|resuming' recover.$step.log || true)"
    teardown lazyroot
done
echo "handoff_kill: OK"
