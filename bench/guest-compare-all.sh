#!/bin/bash
# Guest half of bench/run-compare-bench.sh: every system a user could pick,
# on the same 256 MiB ext4 image (vmtests/images/ext4.img) and the same link
# (nginx on the host, BENCH_RTT_MS of netem delay, 0 by default), in one
# boot: cold 1 MiB sequential read of the whole device, 4k random read IOPS
# at QD 1 and QD 32 (each on a freshly attached, cold device, except the warm
# cache and the hand-off), and the bytes nginx sent for attach + mount + reading one file.
# Appends "cmp system=... metric=... value=..." lines to results.txt.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
. "$LAZYROOT_SOURCE_DIR/tests/vm/nvmet-lib.sh"
runtime=${BENCH_RUNTIME:-10}
rtt=${BENCH_RTT_MS:-0}
url=$primary/ext4.img
one_file=$(awk 'NR == 1 {print $2}' "$images/files.sha256")
guest_up
uname -r >kver
if ((rtt > 0)); then
    modprobe sch_netem
    tc qdisc add dev eth0 root netem delay "${rtt}ms" limit 100000
fi
: >results.txt
put() { echo "cmp system=$1 metric=$2 value=$3" | tee -a results.txt; }
now() { date +%s.%N; }

# measure SYSTEM ATTACH DETACH — ATTACH prints a cold device; DETACH DEV removes it.
measure() {
    local sys=$1 attach=$2 detach=$3 dev t0 t1 iops qd
    dev=$($attach)
    t0=$(now)
    dd if="$dev" of=/dev/null bs=1M iflag=direct status=none
    t1=$(now)
    put "$sys" seq_MBps "$(awk -v b="$(blockdev --getsize64 "$dev")" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}')"
    $detach "$dev"
    for qd in 1 32; do
        dev=$($attach)
        iops=$(fio --name=rr --filename="$dev" --readonly --direct=1 --ioengine=io_uring --rw=randread --bs=4k \
            --iodepth=$qd --time_based --runtime="$runtime" --output-format=terse | awk -F';' '{print $8}')
        put "$sys" "iops_qd$qd" "$iops"
        $detach "$dev"
    done
}

# fetched SYSTEM ATTACH DETACH — nginx bytes for attach + mount + one file.
fetched() {
    local before dev
    before=$(nginx_ctl bytes primary)
    dev=$($2)
    mkdir -p /mnt/cmp
    mount -o ro "$dev" /mnt/cmp
    cat "/mnt/cmp/$one_file" >/dev/null
    umount /mnt/cmp
    $3 "$dev"
    put "$1" fetched_bytes $(($(nginx_ctl bytes primary) - before))
}

# The local baselines read a tmpfs copy, as nvmet does.
img=$(nvme_image "$images/ext4.img")
modprobe loop
loop_attach() { losetup -r -f --show "$img"; }
loop_detach() { losetup -d "$1"; }
file_attach() { "$lazyroot" attach "file://$img" --daemon; }
lz_detach() { "$lazyroot" detach "$1"; }
http_attach() { "$lazyroot" attach "$url" --insecure --daemon; }
rm -f /srv/nvme/warm.cache /srv/nvme/warm.cache.lzmeta
warm_attach() {
    local dev
    dev=$("$lazyroot" attach "$url" --insecure --cache /srv/nvme/warm.cache --daemon)
    dd if="$dev" of=/dev/null bs=1M iflag=direct status=none  # warm: every chunk in the cache
    echo "$dev"
}
warm_loop_attach() { losetup -r -f --show /srv/nvme/warm.cache; }
# After the hand-off: full mode on the complete cache hands the root to the
# kernel at once (dm-linear over a loop device on the cache file) and exits.
load_module dm-mod
handoff_attach() {
    local dev i
    dev=$("$lazyroot" attach "$url" --insecure --mode full --cache /srv/nvme/warm.cache --handoff --daemon \
        2>/tmp/handoff.log)
    for ((i = 0; i < 600; i++)); do
        grep -q "handed off to" /tmp/handoff.log && break
        sleep 0.1
    done
    grep -q "handed off to" /tmp/handoff.log || vm_die "no hand-off: $(cat /tmp/handoff.log)"
    # The daemon exits after the hand-off; the next attach wants its cache lock.
    for ((i = 0; i < 600; i++)); do
        pgrep -x lazyroot >/dev/null || break
        sleep 0.05
    done
    echo "$dev"
}
handoff_detach() { dmsetup remove "$(basename "$1")"; }

modprobe nbd nbds_max=2
# Debian's curl plugin with the cache filter (reads kept), with and without
# the readahead filter in front; a new cache each time. NBD over a Unix
# socket, so that no TCP leg but the curl plugin's to nginx is measured.
# The cache filter fetches whole 64 KiB blocks (65,537-byte ranges) and
# holds one lock across the plugin's read; 1.32's readahead filter does
# nothing over the curl plugin's serialized thread model. (The ~50 ms per
# request measured before 2026-12-02 was the rig's: socat's 8 KiB buffer in
# the guest forward, see run-vm.sh.)
nbd_up() {
    rm -f /tmp/nbd.sock
    # shellcheck disable=SC2086
    nbdkit -r -U /tmp/nbd.sock -P /tmp/nbdkit.pid $1 --filter=cache curl url="$url" cache-on-read=true \
        >/dev/null 2>&1
    nbd-client -unix /tmp/nbd.sock /dev/nbd0 -b 4096 >/dev/null 2>&1 || vm_die "nbd-client failed"
    echo /dev/nbd0
}
nbd_attach() { nbd_up --filter=readahead; }
nbd_cache_attach() { nbd_up ""; }
# nbdkit's best random-read set-up in 1.32: the curl plugin alone (a 4 KiB
# read is a 4 KiB range), 8 NBD connections (a curl handle each, as lazyroot
# starts with 8 HTTP connections), multi-conn advertised for the read-only
# export. nbd-client 3.24 makes several connections only over TCP.
nbd_multi_attach() {
    nbdkit -r -i 127.0.0.1 -p 10809 -P /tmp/nbdkit.pid --filter=multi-conn curl url="$url" multi-conn-mode=unsafe \
        >/dev/null 2>&1
    nbd-client 127.0.0.1 10809 /dev/nbd0 -N '' -b 4096 -C 8 >/dev/null 2>&1 || vm_die "nbd-client -C 8 failed"
    echo /dev/nbd0
}
nbd_detach() {
    nbd-client -d "$1" >/dev/null 2>&1
    kill "$(cat /tmp/nbdkit.pid)"
    while kill -0 "$(cat /tmp/nbdkit.pid)" 2>/dev/null; do sleep 0.05; done
}

nvmet_up "$img"
load_module nvme-tcp
knvme_attach() { kernel_nvme_connect; }
knvme_detach() { for c in /sys/class/nvme/nvme*; do echo 1 >"$c/delete_controller"; done; }
lnvme_attach() { "$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4420/$nqn" --daemon; }

measure loop loop_attach loop_detach
measure lazyroot_file file_attach lz_detach
measure lazyroot_http http_attach lz_detach
fetched lazyroot_http http_attach lz_detach
measure nbdkit nbd_attach nbd_detach
fetched nbdkit nbd_attach nbd_detach
measure nbdkit_cache nbd_cache_attach nbd_detach
fetched nbdkit_cache nbd_cache_attach nbd_detach
measure nbdkit_multi nbd_multi_attach nbd_detach
fetched nbdkit_multi nbd_multi_attach nbd_detach
# Warm: the cache file filled once, then every job reads it through lazyroot,
# against the loop device on the same cache file.
dev=$(warm_attach)
lz_detach "$dev"
warm_again() { "$lazyroot" attach "$url" --insecure --cache /srv/nvme/warm.cache --daemon; }
measure lazyroot_http_warm warm_again lz_detach
fetched lazyroot_http_warm warm_again lz_detach
measure loop_cache_file warm_loop_attach loop_detach
measure lazyroot_handoff handoff_attach handoff_detach
measure kernel_nvme_tcp knvme_attach knvme_detach
measure lazyroot_nvme_tcp lnvme_attach lz_detach

size=$(stat -c %s "$img")
t0=$(now)
curl -sS -o /dev/null "$url"
t1=$(now)
put curl_1 seq_MBps "$(awk -v b="$size" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}')"
t0=$(now)
for i in 0 1 2 3; do curl -sS -o /dev/null -r $((i * size / 4))-$(((i + 1) * size / 4 - 1)) "$url" & done
wait
t1=$(now)
put curl_4 seq_MBps "$(awk -v b="$size" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}')"
