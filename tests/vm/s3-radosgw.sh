#!/bin/bash
# vm.s3_radosgw — issue 19: an ext4 image in a real S3 store (radosgw from
# Debian's Ceph, radosgw-host.sh) attached as s3://images/root.img with
# credentials from a shared-credentials file: every file's sha256 matches,
# the secret is in no log, state, status or list output, and wrong
# credentials fail attach in one line. Then presigned GET URLs (botocore,
# s3-presign.py): one attached as a plain http URL (HEAD refused by the
# signature, none sent by lazyroot: radosgw's log), an expired one refused at
# attach in one line, and one expiring under the running device, whose reads
# wait while status shows the refusal until `lazyroot update-source` hands in
# a fresh URL (one for another object is refused). With S3_THROUGHPUT=1,
# instead, the cold sequential read rate of the same image from radosgw and
# from nginx, in the same run.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
endpoint=http://10.0.2.100:83

mkdir -p /etc/lazyroot /mnt/s3
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" \
    >/etc/lazyroot/s3
chmod 600 /etc/lazyroot/s3
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = wrong\n' "$S3_ACCESS_KEY" >/tmp/wrong

rc=0
"$lazyroot" attach s3://images/root.img --s3-endpoint=$endpoint --s3-credentials=/tmp/wrong --insecure \
    --daemon >/tmp/out 2>/tmp/err || rc=$?
[[ $rc -ne 0 && $(wc -l </tmp/err) -eq 1 ]] || vm_die "wrong credentials: rc $rc, stderr: $(cat /tmp/err)"
grep -q "HTTP 403" /tmp/err || vm_die "wrong credentials: $(cat /tmp/err)"
echo "ok: refused: $(cat /tmp/err)"

dev=$("$lazyroot" attach s3://images/root.img --s3-endpoint=$endpoint --s3-credentials=/etc/lazyroot/s3 \
    --insecure --queues 2 --daemon 2>/tmp/attach.log)
echo "attached: $dev"
mount -o ro "$dev" /mnt/s3
check_files /mnt/s3 "$images/files.sha256"
echo "all $(wc -l <"$images/files.sha256") files match from radosgw"
"$lazyroot" status --json >/tmp/status.json
"$lazyroot" list --json >/tmp/list.json
grep -q -- "--s3-credentials=/etc/lazyroot/s3" /run/lazyroot/*.json || vm_die "the state file lacks the path"
umount /mnt/s3
"$lazyroot" detach "$dev" 2>>/tmp/attach.log
if grep -rl -- "$S3_SECRET_KEY" /run/lazyroot /tmp/attach.log /tmp/status.json /tmp/list.json /tmp/err; then
    vm_die "the secret key was written out"
fi
echo "the secret key is in no log, state or status file"

throughput() {
    rate() {  # DEV -> MiB/s
        local t0 t1 bytes
        bytes=$(blockdev --getsize64 "$1")
        t0=$(date +%s%N)
        dd if="$1" of=/dev/null bs=1M iflag=direct status=none
        t1=$(date +%s%N)
        awk -v b="$bytes" -v ns=$((t1 - t0)) 'BEGIN {printf "%.1f", b / 1048576 / (ns / 1e9)}'
    }
    local dev s3_rate nginx_rate
    dev=$("$lazyroot" attach s3://images/root.img --s3-endpoint=$endpoint --s3-credentials=/etc/lazyroot/s3 \
        --insecure --queues 2 --daemon)
    s3_rate=$(rate "$dev")
    "$lazyroot" detach "$dev"
    dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --queues 2 --daemon)
    nginx_rate=$(rate "$dev")
    "$lazyroot" detach "$dev"
    echo "THROUGHPUT: cold sequential read, 256 MiB: radosgw $s3_rate MiB/s, nginx $nginx_rate MiB/s"
    echo "$s3_rate $nginx_rate" >throughput.txt
}

# S3_THROUGHPUT=1 (vm.s3_radosgw_throughput, extended): the cold sequential
# read of the whole device, radosgw then nginx.
if [[ ${S3_THROUGHPUT:-0} == 1 ]]; then
    throughput
    echo "s3_radosgw: OK"
    exit 0
fi

# --- Presigned GET URLs, signed by botocore (Debian's python3-botocore) for
# the address the guest reaches radosgw at (SigV4 signs the Host).
presign() {  # KEY SECONDS -> URL
    /usr/bin/python3 "$LAZYROOT_SOURCE_DIR/tests/vm/s3-presign.py" "$endpoint" images "$1" "$2"
}
http_code() {  # [curl args] URL -> the status code
    curl -sS -o /dev/null -w '%{http_code}' "$@"
}
# Polls (bounded) until URL answers 403: its X-Amz-Expires has passed.
wait_expired() {
    local i
    for i in $(seq 1 600); do
        [[ $(http_code -r 0-0 "$1") == 403 ]] && return 0
        sleep 0.5
    done
    vm_die "the presigned URL never expired"
}
secret_free() {  # FILE... : no signature in them
    if grep -l -- "X-Amz-Signature=" "$@"; then vm_die "a presigned URL's signature was written out"; fi
}
rgw_heads() {  # HEAD requests radosgw logged for root.img
    grep -c 'HEAD /images/root.img' "$RGW_LOG" || true
}

# 1. A presigned GET URL is an ordinary http source: GET only, every file matches.
url=$(presign root.img 3600)
code=$(http_code -I "$url")
[[ $code == 403 ]] || vm_die "HEAD with the presigned GET URL: HTTP $code, not 403"
echo "ok: the presigned GET URL refuses HEAD (HTTP $code)"
dev=$("$lazyroot" attach "$url" --insecure --queues 2 --daemon 2>/tmp/presigned.log) ||
    vm_die "attach of the presigned URL: $(cat /tmp/presigned.log)"
mount -o ro "$dev" /mnt/s3
check_files /mnt/s3 "$images/files.sha256"
echo "all $(wc -l <"$images/files.sha256") files match through the presigned URL"
"$lazyroot" status --json >/tmp/status.json
umount /mnt/s3
"$lazyroot" detach "$dev" 2>>/tmp/presigned.log
# curl's HEAD above is in radosgw's log; lazyroot added none.
heads=$(rgw_heads)
[[ $heads == 1 ]] || vm_die "radosgw logged $heads HEAD requests for root.img, not only curl's one"
secret_free /tmp/presigned.log /tmp/status.json
echo "ok: lazyroot sent radosgw no HEAD; the signature is in no log or status"

# 2. An expired presigned URL fails attach with one line naming the expiry.
url=$(presign root.img 1)
wait_expired "$url"
rc=0
"$lazyroot" attach "$url" --insecure --daemon >/tmp/out 2>/tmp/err || rc=$?
[[ $rc -ne 0 && $(wc -l </tmp/err) -eq 1 ]] || vm_die "expired URL: rc $rc, stderr: $(cat /tmp/err)"
grep -q "HTTP 403 to a range request: presigned URL expired at " /tmp/err || vm_die "expired URL: $(cat /tmp/err)"
secret_free /tmp/err
echo "ok: refused: $(cat /tmp/err)"

# 3. The URL expires under the running device: reads wait (no EIO, no wrong
# byte), status names the refusal, and update-source hands in a fresh URL.
mib() {  # DEV|FILE FIRST COUNT -> sha256 of COUNT MiB from FIRST (the device's, not the page cache's)
    local direct=()
    [[ -b $1 ]] && direct=(iflag=direct)
    dd if="$1" bs=1M skip="$2" count="$3" "${direct[@]}" status=none | sha256sum | cut -d' ' -f1
}
url=$(presign root.img 45)
dev=$("$lazyroot" attach "$url" --insecure --queues 2 --io-timeout=600 --daemon 2>/tmp/expiry.log) ||
    vm_die "attach of the 45 s URL: $(cat /tmp/expiry.log)"
[[ $(mib "$dev" 0 8) == $(mib "$images/ext4.img" 0 8) ]] || vm_die "the first 8 MiB differ"
echo "ok: the first 8 MiB match before the URL expires"
wait_expired "$url"
echo "the URL has expired (curl gets 403)"
mib "$dev" 200 16 >/tmp/late.sum &
reader=$!
state=
for _ in $(seq 1 600); do
    "$lazyroot" status --json >/tmp/status.json
    state=$(jq -r '.[0].source_state' /tmp/status.json)
    [[ $state == refused ]] && break
    sleep 0.5
done
[[ $state == refused ]] || vm_die "status never showed the source refused: $(cat /tmp/status.json)"
jq -r '.[0].source_refused.why' /tmp/status.json | grep -q "presigned URL expired at" ||
    vm_die "status: $(cat /tmp/status.json)"
"$lazyroot" status >/tmp/status.txt
grep -q "source refused for .*presigned URL expired at .*update-source" /tmp/status.txt ||
    vm_die "status: $(cat /tmp/status.txt)"
grep -q "presigned URL expired at" /tmp/expiry.log || vm_die "the daemon's log: $(cat /tmp/expiry.log)"
kill -0 $reader || vm_die "the read ended while the URL was refused (EIO?)"
echo "ok: expiry shown: $(grep 'source refused' /tmp/status.txt)"
# Another object is refused in one line, and the old URL kept.
rc=0
"$lazyroot" update-source "$dev" "$(presign other.img 3600)" >/tmp/out 2>/tmp/err || rc=$?
[[ $rc -ne 0 && $(wc -l </tmp/err) -eq 1 ]] || vm_die "another object: rc $rc, stderr: $(cat /tmp/err)"
grep -q "serves another image" /tmp/err || vm_die "another object: $(cat /tmp/err)"
echo "ok: refused: $(cat /tmp/err)"
fresh=$(presign root.img 3600)
"$lazyroot" update-source "$dev" "$fresh"
wait $reader || vm_die "the read waiting for the fresh URL failed"
[[ $(cat /tmp/late.sum) == $(mib "$images/ext4.img" 200 16) ]] || vm_die "the bytes read after update-source differ"
"$lazyroot" status --json >/tmp/status.json
[[ $(jq -r '.[0].source_state' /tmp/status.json) == ok ]] || vm_die "status after update: $(cat /tmp/status.json)"
grep -qF -- "$fresh" /run/lazyroot/*.json || vm_die "the state file does not record the fresh URL for a recovery"
mount -o ro "$dev" /mnt/s3
check_files /mnt/s3 "$images/files.sha256"
umount /mnt/s3
echo "ok: after update-source every file matches"
"$lazyroot" detach "$dev" 2>>/tmp/expiry.log
secret_free /tmp/expiry.log /tmp/status.json /tmp/status.txt /tmp/err
echo "ok: the signature is in no log or status"
echo "s3_radosgw: OK"
exit 0
