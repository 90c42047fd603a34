#!/bin/bash
# vm.ublk_recover — the daemon killed (kill -9) RECOVER_KILLS (20) times at random moments
# while fio verifies every block it reads (randread, QD 32, 4 jobs, crc32c
# headers) from an HTTP device with a cache. Each time `lazyroot recover`
# takes the same /dev/ublkbN over; fio must see no error. Prints the time
# from each kill to the device being live again, and fio's p99 read latency
# across the kill/recover cycles against a steady run of the same job.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
trap 'dmesg >dmesg.txt' EXIT
kills=${RECOVER_KILLS:-20}  # fewer in ./run test, 20 under --all

fio_job() {  # fio_job OUTPUT [extra fio options]
    local out=$1
    shift
    fio --name=verify --filename="$dev" --readonly --direct=1 --ioengine=io_uring \
        --rw=randread --bs=4k --iodepth=32 --numjobs=4 --size=128M --group_reporting \
        --verify=crc32c --verify_interval=4096 --verify_fatal=1 --verify_state_save=0 \
        --output-format=json --output="$out" "$@"
}
# fio_field FILE EXPR — from fio's JSON (after any "terminating on signal" line).
fio_field() {
    python3 - "$1" "$2" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index('{'):])["jobs"][0]
print(eval(sys.argv[2], {"j": j}))
PY
}
daemon_pid() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "/run/lazyroot/$id.json"; }

# Served under a name the test can re-point at another image (below).
[[ $(nginx_ctl link swap.img fio.img) == ok ]] || vm_die "cannot link swap.img"
dev=$("$lazyroot" attach "$primary/swap.img" --insecure --cache /tmp/cache.img --queues 2 --depth 64 \
    --daemon 2>>daemon.log)
id=${dev#/dev/ublkb}
echo "attached: $dev"
flags=$("$lazyroot" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])')
[[ $flags == live ]] || vm_die "device not live: $flags"

# kill_and_recover K: one kill -9 of the daemon, then `lazyroot recover`;
# the same node must come back live, under a new daemon.
kill_and_recover() {
    local k=$1 pid again state t0 t1
    pid=$(daemon_pid)
    t0=$(date +%s%N)
    kill -9 "$pid"
    again=$("$lazyroot" recover "$dev" --daemon 2>>daemon.log) || vm_die "recover $k failed: $(tail -3 daemon.log)"
    t1=$(date +%s%N)
    [[ $again == "$dev" ]] || vm_die "recover $k printed $again, not $dev"
    state=$("$lazyroot" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])')
    [[ $state == live ]] || vm_die "after recover $k the device is $state"
    [[ $(daemon_pid) != "$pid" ]] || vm_die "recover $k left the old pid in the state file"
    echo $(((t1 - t0) / 1000000)) >>recovery_ms
    echo "kill $k: pid $pid killed, $dev live again after $(tail -1 recovery_ms) ms"
}
# A random moment: 0 to 2.9 s on.
random_pause() { sleep "$((RANDOM % 3)).$((RANDOM % 10))"; }
: >recovery_ms

# Cold: the first kills land while reads wait on nginx; every byte of a
# sequential read must still be the image's.
cold_kills=3
dd if="$dev" bs=1M status=none | sha256sum >dd.sum &
dd_pid=$!
for ((k = 1; k <= cold_kills; k++)); do
    random_pause
    kill_and_recover "$k"
done
wait "$dd_pid" || vm_die "the sequential read failed across the kills"
[[ $(cut -d' ' -f1 dd.sum) == $(sha256sum <"$images/fio.img" | cut -d' ' -f1) ]] ||
    vm_die "the sequential read across the kills differs from the image"

# Warm: the steady baseline, then the same job with the remaining kills.
fio_job steady.json --loops=1 2>fio.err || vm_die "steady fio failed: $(cat fio.err)"
steady_p99=$(fio_field steady.json 'j["read"]["clat_ns"]["percentile"]["99.000000"]')
# fio verifies each block once per pass, so the passes repeat until the kills are done.
(
    n=0
    while [[ ! -e kills.done ]]; do
        n=$((n + 1))
        fio_job "cycle.$n.json" --loops=1 2>>fio.err || exit 1
    done
) &
fio_pid=$!
for ((k = cold_kills + 1; k <= kills; k++)); do
    random_pause
    kill -0 "$fio_pid" 2>/dev/null || vm_die "fio failed before kill $k: $(cat fio.err; tail -5 daemon.log)"
    kill_and_recover "$k"
done
# Let fio go on through the last recovery, then let the pass under way finish.
random_pause
touch kills.done
wait "$fio_pid" || vm_die "fio failed across the kills: $(cat fio.err)"
passes=0 read_mib=0 cycle_p99=0
for f in cycle.*.json; do
    errors=$(fio_field "$f" 'j["error"]')
    [[ $errors -eq 0 ]] || vm_die "fio reported error $errors in $f"
    passes=$((passes + 1))
    read_mib=$((read_mib + $(fio_field "$f" 'j["read"]["io_bytes"] >> 20')))
    p99=$(fio_field "$f" 'j["read"]["clat_ns"]["percentile"]["99.000000"]')
    if ((p99 > cycle_p99)); then cycle_p99=$p99; fi
done
[[ $read_mib -ge $((passes * 512)) ]] || vm_die "fio read only $read_mib MiB in $passes passes"
recoveries=$("$lazyroot" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["recoveries"])')
[[ $recoveries -eq $kills ]] || vm_die "status counts $recoveries recoveries, expected $kills"
[[ -b $dev ]] || vm_die "$dev is gone"

# The image changes on the server while no daemon serves the device: the
# successor refuses to serve it, says why, keeps the device and its IO
# waiting, and takes over once the recorded image is back.
[[ $(nginx_ctl link swap.img ext4.img) == ok ]] || vm_die "cannot re-link swap.img"
kill -9 "$(daemon_pid)"
"$lazyroot" recover "$dev" >recover.out 2>recover.log &
recover_pid=$!
for ((i = 0; i < 600; i++)); do
    grep -q "cannot recover /dev/ublkb$id yet: the image changed" recover.log && break
    sleep 0.1
done
grep -q "cannot recover /dev/ublkb$id yet: the image changed" recover.log || vm_die "no refusal line: $(cat recover.log)"
kill -0 "$recover_pid" || vm_die "recover gave up: $(cat recover.log)"
[[ -b $dev && ! -s recover.out ]] || vm_die "the device went away or was served while the image differed"
echo "image changed: $(grep -m1 'cannot recover' recover.log)"
[[ $(nginx_ctl link swap.img fio.img) == ok ]] || vm_die "cannot link swap.img back"
for ((i = 0; i < 600; i++)); do
    [[ -s recover.out ]] && break
    sleep 0.1
done
[[ $(cat recover.out) == "$dev" ]] || vm_die "recover did not take over once the image was back: $(cat recover.log)"
dd if="$dev" of=/tmp/head.dev bs=1M count=4 iflag=direct status=none
head -c 4M "$images/fio.img" >/tmp/head.img
cmp /tmp/head.dev /tmp/head.img || vm_die "wrong bytes after the image came back"
echo "image back: $dev served again by pid $(daemon_pid)"
kill -TERM "$recover_pid"
wait "$recover_pid" || vm_die "the foreground recover did not stop cleanly on SIGTERM"

# SIGTERM stopped the last recovery (nothing used the device): nothing is left.
compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left"

sort -n recovery_ms >recovery_sorted
median=$(sed -n "$(((kills + 1) / 2))p" recovery_sorted)
max=$(tail -1 recovery_sorted)
echo "FIGURE recovery_ms median=$median max=$max over $kills kills"
echo "FIGURE fio_p99_us steady=$((steady_p99 / 1000)) kill_cycle_worst_pass=$((cycle_p99 / 1000)); read $read_mib MiB in $passes passes across the kills, 0 errors"
echo "ublk_recover: OK"
