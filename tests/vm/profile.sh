#!/bin/bash
# vm.profile — prefetch profiles (issue 16), on devices from a real nginx:
# 1. record: a device with --profile-record reads the mount and half the
#    files; detach writes IMAGE.profile, which is published beside the image;
# 2. replay: a fresh cache with --profile=auto fetches the profile's chunks
#    (nginx: one GET of the profile, then its ranges) and the same reads then
#    need next to nothing from the network; every file's sha256 matches;
# 3. a profile of another image, a truncated one and garbage are each
#    ignored with one log line, and the device serves the right bytes;
# 4. no profile beside the image: one 404, one log line;
# 5. in a signed manifest (`prepare --profile`): a small ext4 prepared and
#    signed with a fresh key, a profile recorded on it under dm-verity, prepared in
#    again (--salt=keep); --verity=manifest with a fresh cache fetches the
#    profile's chunks from the manifest alone (status: source "manifest"),
#    the same reads then fetch nothing, every file matches by sha256; the
#    same manifest with the profile's signature swapped for the root hash's:
#    one log line, not used, every file matches.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
mkdir -p /mnt/p
half=/tmp/half.sha256
head -n 100 "$images/files.sha256" >"$half"
prefetch_state() {  # DEV|any -> "complete bytes" of its prefetch profile, or "none"
    "$lazyroot" status --json | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    if sys.argv[1] in ("any", d.get("device"), d.get("path")):
        p = d.get("prefetch_profile")
        print("none" if p is None else ("%s %d" % (str(p["complete"]).lower(), p["bytes"])))
        break
else:
    print("none")' "$1"
}
read_half() {  # DEV
    mount -o ro "$1" /mnt/p
    (cd /mnt/p && sha256sum --quiet -c "$half") || vm_die "checksum mismatch on $1"
    umount /mnt/p
}

# 1. Record.
rm -f ext4.img.profile
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --cache /tmp/rec.cache \
    --profile-record "$PWD/ext4.img.profile" --daemon)
read_half "$dev"
recorded_bytes=$(nginx_ctl bytes primary)
"$lazyroot" detach "$dev" 2>/tmp/rec.log
[[ -s ext4.img.profile ]] || vm_die "detach wrote no profile: $(cat /tmp/rec.log)"
[[ $(head -n 1 ext4.img.profile) == "lazyroot-profile 1" ]] || vm_die "not a profile"
chunks=$(sed -n 5p ext4.img.profile | cut -d' ' -f2)
chunk_size=$(sed -n 4p ext4.img.profile | cut -d' ' -f2)
[[ $chunks -gt 0 && $((chunks + 5)) -eq $(wc -l <ext4.img.profile) ]] || vm_die "profile: $chunks chunks?"
echo "recorded: $chunks chunks of $chunk_size bytes; the recording attach fetched $recorded_bytes bytes"
[[ $(nginx_ctl publish ext4.img.profile) == ok ]] || vm_die "cannot publish the profile"

# 2. Replay on a fresh cache.
bytes0=$(nginx_ctl bytes primary)
dev=$("$lazyroot" attach "$primary/ext4.img" --insecure --cache /tmp/replay.cache --profile=auto \
    --daemon 2>/tmp/replay.log)
grep -q "prefetch profile http://10.0.2.100:80/ext4.img.profile: " /tmp/replay.log ||
    vm_die "the profile was not used: $(cat /tmp/replay.log)"
for _ in $(seq 600); do
    state=$(prefetch_state "$dev")
    [[ $state == true\ * ]] && break
    sleep 0.2  # polling the outcome (status), not standing in for it
done
[[ $state == true\ * ]] || vm_die "the prefetch did not complete: $state"
prefetched=$(($(nginx_ctl bytes primary) - bytes0))
expected=$((chunks * chunk_size))
echo "prefetched $prefetched bytes for $chunks chunks ($expected bytes) and the profile"
# The profile's chunks and nothing else (the image's last chunk may be
# short): the fill reads past the readahead.
# nginx's count holds the profile's own GET and attach's probes (a few bytes) too.
expected=$((expected + $(stat -c %s ext4.img.profile)))
[[ $prefetched -ge $((expected - chunk_size)) && $prefetched -le $((expected + 64)) ]] ||
    vm_die "prefetched $prefetched bytes, the profile names $expected"
bytes1=$(nginx_ctl bytes primary)
read_half "$dev"
demand=$(($(nginx_ctl bytes primary) - bytes1))
echo "PROFILE: the same reads after the prefetch fetched $demand bytes more (recording fetched $recorded_bytes)"
[[ $demand -le $((recorded_bytes / 20)) ]] || vm_die "the replayed reads fetched $demand bytes"
(mount -o ro "$dev" /mnt/p && cd /mnt/p && sha256sum --quiet -c "$images/files.sha256") ||
    vm_die "checksum mismatch after the prefetch"
umount /mnt/p
"$lazyroot" detach "$dev"

# 3. Another image's profile, a truncated one, garbage: one line each, right bytes.
head -c 200 ext4.img.profile >/tmp/cut.profile
printf '<html>404</html>\n' >/tmp/garbage.profile
for p in "$primary/ext4.img.profile" /tmp/cut.profile /tmp/garbage.profile; do
    rm -f /tmp/other.cache
    dev=$("$lazyroot" attach "$primary/fiofs.img" --insecure --cache /tmp/other.cache --profile="$p" \
        --daemon 2>/tmp/other.log)
    [[ $(grep -c "ignoring the prefetch profile" /tmp/other.log) -eq 1 ]] ||
        vm_die "profile $p: $(cat /tmp/other.log)"
    echo "ok: $(grep "ignoring the prefetch profile" /tmp/other.log)"
    [[ $(prefetch_state "$dev") == none ]] || vm_die "profile $p was used"
    [[ $(head -c 4194304 "$dev" | sha256sum) == $(head -c 4194304 "$images/fiofs.img" | sha256sum) ]] ||
        vm_die "wrong bytes with profile $p"
    "$lazyroot" detach "$dev"
done

# 4. No profile beside the image: one request for it (a 404), one line.
dev=$("$lazyroot" attach "$primary/fiofs.img" --insecure --cache /tmp/none.cache --profile=auto --daemon \
    2>/tmp/none.log)
[[ $(grep -c "no prefetch profile from http://10.0.2.100:80/fiofs.img.profile: .*404" /tmp/none.log) -eq 1 ]] ||
    vm_die "missing profile: $(cat /tmp/none.log)"
echo "ok: $(cat /tmp/none.log)"
"$lazyroot" detach "$dev"
# 5. The profile in a signed manifest.
t5=$SECONDS
load_module dm-verity
mkdir -p /mnt/v
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=lazyroot profile" \
    -keyout /tmp/pv.key -out /tmp/pv.pem 2>/dev/null
# A small ext4 made here (prepare hashes it twice in the guest), prepared in
# the guest's tmpfs (prepare's unlinked temporary file cannot be resized on
# 9p), then copied to the shared directory to be published.
PATH=$PATH:/usr/sbin:/sbin
mkdir -p /tmp/pvtree
head -c 6291456 /dev/urandom >/tmp/pvtree/big
for i in $(seq 24); do head -c $((i * 20000)) /dev/urandom >/tmp/pvtree/f$i; done
(cd /tmp/pvtree && sha256sum big f*) >/tmp/pv.sha256
mkfs.ext4 -q -F -b 4096 -E root_owner=0:0 -d /tmp/pvtree /tmp/pv.img 24M >/dev/null
sign=(--sign-key /tmp/pv.key --sign-cert /tmp/pv.pem)
root=$("$lazyroot" prepare /tmp/pv.img --salt 5a17 "${sign[@]}" 2>/tmp/prep.log) || vm_die "prepare: $(cat /tmp/prep.log)"
publish_pv() {
    cp /tmp/pv.img /tmp/pv.img.manifest.json .
    for f in pv.img pv.img.manifest.json; do [[ $(nginx_ctl publish $f) == ok ]] || vm_die "cannot publish $f"; done
}
publish_pv
verity_attach() {  # CACHE LOG [options]: attach pv.img with --verity=manifest; prints the mapping
    local cache=$1 log=$2
    shift 2
    "$lazyroot" attach "$primary/pv.img" --verity manifest --trust /tmp/pv.pem --cache "$cache" "$@" --daemon 2>"$log"
}
read_some() {  # DEV: mount, read half the files and the start of the big one
    mount -o ro "$1" /mnt/v
    head -c 2097152 /mnt/v/big >/dev/null
    cat /mnt/v/f1 /mnt/v/f3 /mnt/v/f5 /mnt/v/f7 /mnt/v/f9 /mnt/v/f11 /mnt/v/f13 /mnt/v/f15 >/dev/null
    umount /mnt/v
}
check_pv() {  # DEV: every file by sha256
    mount -o ro "$1" /mnt/v
    check_files /mnt/v /tmp/pv.sha256
    umount /mnt/v
}
dev=$(verity_attach /tmp/pvrec.cache /tmp/pvrec.log --profile-record /tmp/pv.profile)
read_some "$dev"
"$lazyroot" detach "$dev"
[[ $(sed -n 2p /tmp/pv.profile) == "image verity:$root" ]] || vm_die "pv.profile: $(head -n 3 /tmp/pv.profile)"
[[ $("$lazyroot" prepare /tmp/pv.img --salt keep --profile /tmp/pv.profile "${sign[@]}" 2>/tmp/prep.log) == "$root" ]] ||
    vm_die "prepare --salt=keep --profile: $(cat /tmp/prep.log)"
python3 -c '
import json, sys
m = json.load(open("/tmp/pv.img.manifest.json"))
assert m["profile"]["text"] == open("/tmp/pv.profile").read() and "signature" in m["profile"], "profile not embedded"
m["profile"]["signature"] = m["signature"]["signature"]  # a valid PKCS#7, over the root hash
open("bad.manifest.json", "w").write(json.dumps(m))'
publish_pv
chunks=$(sed -n 5p /tmp/pv.profile | cut -d' ' -f2)
chunk_size=$(sed -n 4p /tmp/pv.profile | cut -d' ' -f2)
bytes0=$(nginx_ctl bytes primary)
dev=$(verity_attach /tmp/pv.cache /tmp/pv.log)
grep -q "prefetch profile manifest: $chunks chunks" /tmp/pv.log || vm_die "the manifest's profile was not used: $(cat /tmp/pv.log)"
for _ in $(seq 600); do
    state=$(prefetch_state any)
    [[ $state == true\ * ]] && break
    sleep 0.2  # polling the outcome (status), not standing in for it
done
[[ $state == true\ * ]] || vm_die "the manifest's profile did not complete: $state"
"$lazyroot" status --json | python3 -c '
import json, sys
assert [d["prefetch_profile"]["source"] for d in json.load(sys.stdin)] == ["manifest"]' ||
    vm_die "status does not name the manifest as the profile's source"
prefetched=$(($(nginx_ctl bytes primary) - bytes0))
# The profile's chunks (the reads under dm-verity, tree blocks too, are all in
# the profile) and the manifest.
expected=$((chunks * chunk_size + $(stat -c %s pv.img.manifest.json)))
echo "MANIFEST-PROFILE: prefetched $prefetched bytes; the profile names $chunks chunks of $chunk_size, + the manifest: $expected"
# Beyond them: what attach itself reads before the fill starts (the kernel's
# partition scan of the new device, dm-verity's activation), on demand, with
# its readahead: a few chunks.
[[ $prefetched -ge $((expected - chunk_size)) && $prefetched -le $((expected + 8 * chunk_size + 1024)) ]] ||
    vm_die "prefetched $prefetched bytes, the profile and manifest are $expected"
bytes1=$(nginx_ctl bytes primary)
read_some "$dev"
demand=$(($(nginx_ctl bytes primary) - bytes1))
echo "MANIFEST-PROFILE: the recorded reads then fetched $demand bytes more"
[[ $demand -le $((chunk_size * 2)) ]] || vm_die "the replayed reads fetched $demand bytes"
check_pv "$dev"
"$lazyroot" detach "$dev"

# The profile's signature is the root hash's: one line, not used, right bytes.
cp bad.manifest.json pv.img.manifest.json
[[ $(nginx_ctl publish pv.img.manifest.json) == ok ]] || vm_die "cannot publish the bad manifest"
dev=$(verity_attach /tmp/pvbad.cache /tmp/pvbad.log)
[[ $(grep -c "ignoring the prefetch profile in the manifest .*untrusted signature" /tmp/pvbad.log) -eq 1 &&
    $(grep -c "prefetch profile" /tmp/pvbad.log) -eq 1 ]] || vm_die "bad profile signature: $(cat /tmp/pvbad.log)"
echo "ok: $(grep "prefetch profile" /tmp/pvbad.log)"
[[ $(prefetch_state any) == none ]] || vm_die "a profile with a bad signature was used"
check_pv "$dev"
"$lazyroot" detach "$dev"
echo "manifest profile section: $((SECONDS - t5)) s"
echo "profile: OK"
