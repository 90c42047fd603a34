#!/bin/bash
# vm.s3_radosgw — issue 19: an ext4 image in a real S3 store (radosgw from
# Debian's Ceph, radosgw-host.sh) attached as s3://images/root.img with
# credentials from a shared-credentials file: every file's sha256 matches,
# the secret is in no log, state, status or list output, and wrong
# credentials fail attach in one line. With S3_THROUGHPUT=1, then the cold
# sequential read rate of the same image from radosgw and from nginx, in the
# same run.
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

# S3_THROUGHPUT=1 (vm.s3_radosgw_throughput, extended): the cold sequential
# read of the whole device, radosgw then nginx.
if [[ ${S3_THROUGHPUT:-0} != 1 ]]; then
    echo "s3_radosgw: OK"
    exit 0
fi
rate() {  # DEV -> MiB/s
    local t0 t1 bytes
    bytes=$(blockdev --getsize64 "$1")
    t0=$(date +%s%N)
    dd if="$1" of=/dev/null bs=1M iflag=direct status=none
    t1=$(date +%s%N)
    awk -v b="$bytes" -v ns=$((t1 - t0)) 'BEGIN {printf "%.1f", b / 1048576 / (ns / 1e9)}'
}
dev=$("$lazyroot" attach s3://images/root.img --s3-endpoint=$endpoint --s3-credentials=/etc/lazyroot/s3 \
    --insecure --queues 2 --daemon)
s3_rate=$(rate "$dev")
"$lazyroot" detach "$dev"
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --queues 2 --daemon)
nginx_rate=$(rate "$dev")
"$lazyroot" detach "$dev"
echo "THROUGHPUT: cold sequential read, 256 MiB: radosgw $s3_rate MiB/s, nginx $nginx_rate MiB/s"
echo "$s3_rate $nginx_rate" >throughput.txt
echo "s3_radosgw: OK"
