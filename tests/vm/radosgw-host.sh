#!/bin/bash
# radosgw-host.sh RUN-VM-COMMAND... — host side of vm.s3_radosgw (a
# HOST_WRAPPER): a one-node Ceph cluster from Debian's packages (ceph-mon,
# ceph-mgr, one ceph-osd on memstore, radosgw), auth none inside the
# cluster, all in a directory of its own on loopback ports. It creates an S3
# user, a bucket "images" and uploads $RGW_IMAGE as images/root.img, then
# runs the VM through nginx-host.sh (the same image from nginx, for the
# throughput comparison) with guest port 83 -> radosgw and the user's keys
# (for the guest's presigned URLs too) and radosgw's log in the guest's
# environment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${LAZYROOT_VM_WORKDIR:?}
image=${RGW_IMAGE:?RGW_IMAGE must name the image to upload}
d=$work.ceph
# A stale cluster of an earlier run: its pid files name its daemons.
for f in "$d"/run/*.pid; do [[ -s $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
rm -rf "$d"
mkdir -p "$d"/{mon,osd,run,log,mgr/ceph-x,rgw}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }

mon_port=$(free_port)
rgw_port=$(free_port)
fsid=$(uuid)
cat >"$d/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd objectstore = memstore
memstore device bytes = 1073741824
osd crush chooseleaf type = 0
# The OSD's own crush updates at start race its first monmap and fail now
# and then ("wrong fsid"): the fixture places it in the map itself.
osd crush update on start = false
osd class update on start = false
public addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
mon data = $d/mon/\$cluster-\$id
osd data = $d/osd/\$cluster-\$id
mgr data = $d/mgr/\$cluster-\$id
rgw data = $d/rgw
run dir = $d/run
admin socket = $d/run/\$name.asok
pid file = $d/run/\$name.pid
log file = $d/log/\$name.log
keyring = $d/keyring
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
CONF
conf=(-c "$d/ceph.conf")

cleanup() {
    local pids=() f p
    for f in "$d"/run/*.pid; do [[ -s $f ]] && pids+=("$(cat "$f")"); done
    [[ ${#pids[@]} -gt 0 ]] || return 0
    kill "${pids[@]}" 2>/dev/null || true
    # Until they are gone (an OSD in its init ignores TERM for a while), then KILL.
    for p in "${pids[@]}"; do timeout 20 tail --pid="$p" -f /dev/null || kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

monmaptool --create --add a "v1:127.0.0.1:$mon_port" --fsid "$fsid" "$d/monmap" >/dev/null
ceph-mon "${conf[@]}" --mkfs -i a --monmap "$d/monmap"
ceph-mon "${conf[@]}" -i a
ceph-mgr "${conf[@]}" -i x
osd_uuid=$(uuid)
# The monitor may refuse its first commands while it forms its quorum of one
# ("Error EPERM: problem getting command descriptions from mon"): bounded
# retries. `osd create UUID` is idempotent, so a retry gets the same id.
osd_id=
for _ in $(seq 1 60); do
    osd_id=$(ceph "${conf[@]}" osd create "$osd_uuid" 2>"$d/log/osd-create.err") && break
    osd_id=
    sleep 0.5
done
[[ -n $osd_id ]] || { echo "radosgw-host: the monitor never answered: $(tail -1 "$d/log/osd-create.err")" >&2; exit 1; }
mkdir -p "$d/osd/ceph-$osd_id"  # memstore keeps only its fsid and superblock there
ceph "${conf[@]}" osd crush add "osd.$osd_id" 1.0 root=default 2>/dev/null
ceph-osd "${conf[@]}" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" 2>"$d/log/osd-mkfs.err"
ceph-osd "${conf[@]}" -i "$osd_id" 2>>"$d/log/osd-start.err"
radosgw "${conf[@]}" -n client.rgw

access=LZRFLEETKEY$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
radosgw-admin "${conf[@]}" user create --uid=fleet --display-name=fleet --access-key="$access" \
    --secret-key="$secret" >/dev/null

s3() {  # METHOD PATH [curl args]: one request signed by curl's own SigV4
    local method=$1 path=$2
    shift 2
    curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 -u "$access:$secret" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X "$method" "$@" "http://127.0.0.1:$rgw_port$path"
}
# radosgw answers once its pools exist: bounded retries of the first request.
code=000
for _ in $(seq 1 120); do
    code=$(s3 PUT /images 2>/dev/null) || true
    [[ $code == 200 ]] && break
    sleep 0.5
done
[[ $code == 200 ]] || { echo "radosgw-host: creating the bucket failed (HTTP $code)" >&2; exit 1; }
code=$(s3 PUT /images/root.img -T "$image")
[[ $code == 200 ]] || { echo "radosgw-host: uploading $image failed (HTTP $code)" >&2; exit 1; }
# Another object, for update-source to refuse.
head -c 1048576 "$image" >"$d/other.img"
code=$(s3 PUT /images/other.img -T "$d/other.img")
[[ $code == 200 ]] || { echo "radosgw-host: uploading other.img failed (HTTP $code)" >&2; exit 1; }
echo "radosgw-host: s3://images/root.img ($(stat -c %s "$image") bytes) on 127.0.0.1:$rgw_port"

"$here/nginx-host.sh" "$@" --fwd 83:"$rgw_port" --env "S3_ACCESS_KEY=$access" --env "S3_SECRET_KEY=$secret" \
    --env "RGW_LOG=$d/log/client.rgw.log"
