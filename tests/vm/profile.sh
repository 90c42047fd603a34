#!/bin/bash
# vm.profile — prefetch profiles (issue 16), on devices from a real nginx:
# 1. record: a device with --profile-record reads the mount and half the
#    files; detach writes IMAGE.profile, which is published beside the image;
# 2. replay: a fresh cache with --profile=auto fetches the profile's chunks
#    (nginx: one GET of the profile, then its ranges) and the same reads then
#    need next to nothing from the network; every file's sha256 matches;
# 3. a profile of another image, a truncated one and garbage are each
#    ignored with one log line, and the device serves the right bytes;
# 4. no profile beside the image: one 404, one log line.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
mkdir -p /mnt/p
half=/tmp/half.sha256
head -n 100 "$images/files.sha256" >"$half"
prefetch_state() {  # DEV -> "complete bytes" of its prefetch profile, or "none"
    "$lazyroot" status --json | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    if d.get("device") == sys.argv[1] or d.get("path") == sys.argv[1]:
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
echo "prefetched $prefetched bytes for $chunks chunks ($expected bytes)"
# At least the profile's chunks (the last one may be short of a chunk). More
# is the per-queue readahead below the cache, which the fill's runs trigger.
[[ $prefetched -ge $((expected - chunk_size)) ]] || vm_die "prefetched $prefetched bytes, the profile names $expected"
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
echo "profile: OK"
