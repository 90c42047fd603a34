#!/bin/bash
# vm.k2.zero_copy — on a kernel whose ublk driver offers AUTO_BUF_REG and
# USER_COPY (6.16+), zero copy serves the same bytes as the copy path:
#  - a file source: fio's crc32c verify (every 4 KiB block carries its offset)
#    at QD 32 over 2 queues, and the whole device's sha256, with zero copy and
#    with --zero-copy=off; `status` counts the zero-copy reads;
#  - HTTP (nginx) through a cache: cold, every read is fetched into the
#    daemon's buffers and written into the request through /dev/ublkcN; warm,
#    the cache file is read straight into the request. fio verify and sha256
#    both times, and the warm pass adds zero-copy reads and fetches nothing.
#  - NVMe/TCP (the kernel's nvmet-tcp target): C2H payloads are read from the
#    socket straight into the request (READ_FIXED), with header digests on
#    too; with data digests, which the daemon must check, the copy path.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
. "$LAZYROOT_SOURCE_DIR/tests/vm/nvmet-lib.sh"
guest_up

bits=$("$LAZYROOT_BUILD_DIR/tests/vm/ublk_features_probe")
((bits & (1 << 11) && bits & (1 << 7))) ||
    vm_die "kernel $(uname -r) offers no AUTO_BUF_REG + USER_COPY (features $bits): this test needs 6.16+"
want=$(sha256sum <"$images/fio.img" | awk '{print $1}')

ublk_json() { "$lazyroot" status --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['ublk']['$1'])"; }
# The daemon rewrites its status file about once a second: wait (bounded) for a count past $1.
zero_copy_reads_past() {
    local n
    for _ in $(seq 100); do
        n=$(ublk_json zero_copy_reads)
        ((n > $1)) && { echo "$n"; return 0; }
        sleep 0.1
    done
    vm_die "status never counted zero-copy reads past $1 (last: $n)"
}

verify() {  # DEV WHAT
    fio --name=verify --filename="$1" --readonly --direct=1 --ioengine=io_uring \
        --rw=randread --bsrange=4k-128k --iodepth=32 --numjobs=2 --size=128M \
        --verify=crc32c --verify_interval=4096 --verify_fatal=1 --verify_state_save=0 --group_reporting \
        --output-format=terse --output=/tmp/fio.out || vm_die "$2: fio verify failed: $(head -c 2000 /tmp/fio.out)"
    [[ $(awk -F';' '{print $5}' /tmp/fio.out) -eq 0 ]] || vm_die "$2: fio reported an error"
    local got
    got=$(dd if="$1" bs=1M iflag=direct status=none | sha256sum | awk '{print $1}')
    [[ $got == "$want" ]] || vm_die "$2: the device's sha256 is $got, the image's $want"
    echo "$2: fio verify and sha256 OK"
}

cp "$images/fio.img" /tmp/fio.img
for zc in auto off; do
    dev=$("$lazyroot" attach file:///tmp/fio.img --queues 2 --depth 64 --zero-copy=$zc --daemon)
    verify "$dev" "file, --zero-copy=$zc"
    "$lazyroot" status | tee status.txt
    if [[ $zc == auto ]]; then
        [[ $(ublk_json zero_copy_used) == True ]] || vm_die "zero copy not in use"
        n=$(zero_copy_reads_past 0)
        grep -q "^  ublk zero copy: in use (AUTO_BUF_REG); [0-9]* reads went straight into the request's pages$" \
            status.txt || vm_die "status lacks the zero-copy line"
        echo "file: $n reads served by zero copy"
    else
        [[ $(ublk_json zero_copy_used) == False ]] || vm_die "--zero-copy=off still uses zero copy"
        [[ $(ublk_json zero_copy_reads) -eq 0 ]] || vm_die "--zero-copy=off counted zero-copy reads"
        grep -q "^  ublk zero copy: offered by the kernel (.*AUTO_BUF_REG), not used; copy path$" status.txt ||
            vm_die "status lacks the not-used line"
    fi
    "$lazyroot" detach "$dev"
done

before=$(nginx_ctl bytes primary)
dev=$("$lazyroot" attach "$primary/fio.img" --insecure --cache /tmp/zc.cache --queues 2 --depth 64 --daemon)
verify "$dev" "HTTP, cold cache"
cold=$(nginx_ctl bytes primary)
[[ $((cold - before)) -ge 134217728 ]] || vm_die "the cold pass fetched only $((cold - before)) bytes"
n=$(ublk_json zero_copy_reads)
verify "$dev" "HTTP, warm cache"
[[ $(nginx_ctl bytes primary) -eq $cold ]] || vm_die "the warm pass fetched from nginx"
m=$(zero_copy_reads_past "$n")
echo "HTTP: the warm pass served $((m - n)) reads by zero copy, fetched nothing"
"$lazyroot" detach "$dev"

nvmet_up "$(nvme_image /tmp/fio.img)"
for digest in none header header,data; do
    dev=$("$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4420/$nqn?digest=$digest" --queues 2 --depth 64 --daemon)
    verify "$dev" "NVMe/TCP, digest=$digest"
    n=$(ublk_json zero_copy_reads)
    if [[ $digest == *data* ]]; then
        [[ $n -eq 0 ]] || vm_die "NVMe/TCP with data digests: $n reads bypassed the digest check"
        echo "NVMe/TCP, digest=$digest: every read through the copy path"
    else
        n=$(zero_copy_reads_past 0)
        echo "NVMe/TCP, digest=$digest: $n reads received straight into the request"
    fi
    "$lazyroot" detach "$dev"
done
compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left"
echo "zero_copy: OK"
