#!/bin/bash
# vm.http_cache_tier — issue 19: lazyroot through caching tiers in front of
# nginx (tier-host.sh), all from Debian's packages.
#   varnish (built-in VCL) and nginx proxy_cache + slice: the validators come
#   through unchanged; a first device reads every file (sha256), then a second
#   device, a machine of its own with nothing cached, reads a quarter of them
#   again: the origin's access log must grow by under 5 % of what the tier
#   sent it (its ranges came from the tier's cache).
#   Tiers that break the rules: one that strips ETag and Last-Modified and
#   one that answers ranges with 200 fail attach in one line; a tier that
#   serves a mix of two versions under one URL (the origin's file replaced,
#   varnish banned / nginx's old slices still cached) gives each file its
#   right bytes or EIO, never wrong bytes, and the change is logged.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
. "$LAZYROOT_SOURCE_DIR/tests/vm/tier-lib.sh"
guest_up
mkdir -p /mnt/t

validators() {  # URL -> its ETag and Last-Modified lines
    curl -sS -r 0-0 -o /dev/null -D - "$1" | tr -d '\r' | grep -iE '^(etag|last-modified):' | sort
}

# read_files URL LOG SUMFILE — attach URL as a fresh device (no cache: a
# machine of its own), check the files of SUMFILE, detach.
read_files() {
    local dev
    dev=$("$lazyroot" attach "$1" --insecure --queues 2 --daemon 2>>"$2")
    mount -o ro "$dev" /mnt/t
    check_files /mnt/t "$3"
    umount /mnt/t
    "$lazyroot" detach "$dev" 2>>"$2"
}

# 1. Two tiers that follow the rules.
awk 'NR % 4 == 0' "$images/files.sha256" >/tmp/quarter.sha256
for tier in varnish slice; do
    url=${!tier}/ext4.img
    origin_validators=$(validators "$primary/ext4.img")
    [[ -n $origin_validators ]] || vm_die "the origin sent no validators"
    [[ $(validators "$url") == "$origin_validators" ]] ||
        vm_die "$tier changed the validators: $(validators "$url") vs $origin_validators"
    o0=$(nginx_ctl bytes primary) c0=$(tier_client_bytes "$tier")
    read_files "$url" "/tmp/$tier.log" "$images/files.sha256"
    o1=$(nginx_ctl bytes primary) c1=$(tier_client_bytes "$tier")
    read_files "$url" "/tmp/$tier.log" /tmp/quarter.sha256
    o2=$(nginx_ctl bytes primary) c2=$(tier_client_bytes "$tier")
    echo "TIER: $tier: first device: $((c1 - c0)) bytes to the client, $((o1 - o0)) from the origin;" \
        "second device: $((c2 - c1)) bytes to the client, $((o2 - o1)) from the origin"
    echo "$tier $((c1 - c0)) $((o1 - o0)) $((c2 - c1)) $((o2 - o1))" >>tier-bytes.txt
    [[ $((c2 - c1)) -gt 0 ]] || vm_die "$tier sent the second device nothing"
    [[ $(((o2 - o1) * 20)) -le $((c2 - c1)) ]] ||
        vm_die "$tier: the origin sent $((o2 - o1)) bytes for the second device's $((c2 - c1)): not served from the cache"
    grep -q "error\|warning" "/tmp/$tier.log" && vm_die "$tier: the daemon complained: $(cat "/tmp/$tier.log")"
    echo "ok: all files match through $tier, the second device's ranges from its cache (${SECONDS} s)"
done

# 2. Tiers that break the rules: attach fails in one line.
expect_one_line_failure() {  # PATTERN -- ARGS...
    local pattern=$1 rc=0
    shift 2
    "$@" >/tmp/out 2>/tmp/err || rc=$?
    [[ $rc -ne 0 ]] || vm_die "'$*' succeeded"
    [[ $(wc -l </tmp/err) -eq 1 ]] || vm_die "'$*' stderr is not one line: $(cat /tmp/err)"
    grep -qE "$pattern" /tmp/err || vm_die "'$*' stderr lacks /$pattern/: $(cat /tmp/err)"
    compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "'$*' left ublk nodes behind"
    echo "ok: refused: $(cat /tmp/err)"
}
expect_one_line_failure "^lazyroot: error: .*neither ETag nor Last-Modified.*strips validators" -- \
    "$lazyroot" attach "$stripped/ext4.img" --insecure --daemon
expect_one_line_failure "^lazyroot: error: .*ignores range requests \(answered 200" -- \
    "$lazyroot" attach "$full200/ext4.img" --insecure --daemon

# 3. A mix of objects: the origin's file is replaced under its name while a
# device reads through the tier. NAME is linked to ext4.img, the first 20
# files read, NAME re-linked to ext4-v2.img (same size, other contents),
# then (after CHANGE_CMD) every eighth file read, two of them read before
# the change (the page cache dropped): each must be right or EIO.
read_or_eio() {  # SUMFILE -> "OK EIO"
    local ok=0 eio=0 sum name got
    while read -r sum name; do
        if got=$(sha256sum 2>/dev/null <"/mnt/t/$name"); then
            [[ ${got%% *} == "$sum" ]] || vm_die "wrong bytes in $name through a tier mixing two versions"
            ok=$((ok + 1))
        else
            eio=$((eio + 1))
        fi
    done <"$1"
    echo "$ok $eio"
}
head -n 20 "$images/files.sha256" >/tmp/before.sha256
awk 'NR % 8 == 0' "$images/files.sha256" >/tmp/after.sha256
mixed() {  # TIER NAME CHANGE-CMD...
    local tier=$1 name=$2 dev ok eio counts
    shift 2
    nginx_ctl link "$name" ext4.img >/dev/null
    dev=$("$lazyroot" attach "${!tier}/$name" --insecure --queues 2 --io-timeout=5 --daemon 2>"/tmp/mix-$tier.log")
    mount -o ro "$dev" /mnt/t
    check_files /mnt/t /tmp/before.sha256
    nginx_ctl link "$name" ext4-v2.img >/dev/null
    "$@"
    echo 3 >/proc/sys/vm/drop_caches
    counts=$(read_or_eio /tmp/after.sha256)  # no /dev/fd in the guest: no < <(…)
    read -r ok eio <<<"$counts"
    echo "TIER: $tier serving two versions of $name: $ok files right, $eio EIO, 0 wrong"
    [[ $eio -gt 0 ]] || vm_die "$tier: the replaced image was never noticed"
    grep -q "the image changed on the server" "/tmp/mix-$tier.log" ||
        vm_die "$tier: the change was not logged: $(cat "/tmp/mix-$tier.log")"
    echo "logged: $(grep -m1 "the image changed on the server" "/tmp/mix-$tier.log") (${SECONDS} s)"
    umount /mnt/t
    "$lazyroot" detach "$dev"
}
ban() { [[ $(tier_ctl ban "/$1") == ok ]] || vm_die "varnish refused the ban"; }
# varnish keeps the old object until it is banned (as a publisher would purge).
mixed varnish vmix.img ban vmix.img
# nginx keeps the old file's cached slices and fetches the others from the
# new file (nginx itself refuses to join slices with different ETags).
mixed slice smix.img true
compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "ublk nodes left"
echo "http_cache_tier: OK"
