#!/bin/bash
# vm.http_fleet16 — issue 19, "many machines": FLEET_DEVICES (16) lazyroot
# devices in one guest, each with its own daemon and its own cache file,
# standing for as many machines, attach at once and read the same image
# (fleet.img, 64 MiB of random bytes; the read set is the whole device) at
# once through varnish in front of nginx (tier-host.sh).
#   Every device's sha256 is the image's.
#   The origin's access log counts at most 1.1x the read set for the fleet.
#   Before the fleet, a solo device reads the image alone, cold (its own URL,
#   so varnish is cold for it too): the FLEET: line gives the per-device cold
#   rate in the fleet against it; fleet.txt keeps the figures.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
. "$LAZYROOT_SOURCE_DIR/tests/vm/tier-lib.sh"
guest_up

n=${FLEET_DEVICES:-16}
want=$(cat "$images/fleet.img.sha256")
size=$(stat -c %s "$images/fleet.img")
mib=$((size / 1048576))
# The caches: a tmpfs of their own, room for every device's whole image.
mkdir -p /fleet
mount -t tmpfs -o size=$(((n + 1) * (mib + 8)))m fleet /fleet

# Each device as one small machine's: one queue, two connections (16 daemons
# share the guest's two vCPUs). The daemons' logs stay in the work directory.
machine=(--insecure --queues 1 --connections 2 --daemon)
now() { date +%s.%N; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.1f", b / 1048576 / s}'; }

# read_device DEV TAG — the whole device, O_DIRECT (the page cache is not
# the machine's cache); writes TAG.sum and TAG.time ("start end").
read_device() {
    local t0 t1
    t0=$(now)
    dd if="$1" bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1 >"/fleet/$2.sum"
    t1=$(now)
    echo "$t0 $t1" >"/fleet/$2.time"
}

# 1. The solo device: the same image under its own URL (varnish hashes the
# query; nginx ignores it), so it is cold in varnish as the fleet's is.
o0=$(nginx_ctl bytes primary)
dev=$("$lazyroot" attach "$varnish/fleet.img?solo" "${machine[@]}" --cache /fleet/solo.cache --name solo 2>solo.log)
read_device "$dev" solo
"$lazyroot" detach "$dev"
[[ $(cat /fleet/solo.sum) == "$want" ]] || vm_die "the solo device's sha256 is not the image's"
read -r t0 t1 </fleet/solo.time
solo_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
solo_rate=$(rate "$size" "$solo_s")
o1=$(nginx_ctl bytes primary)
echo "solo: $mib MiB in ${solo_s} s = $solo_rate MiB/s cold; origin sent $((o1 - o0)) bytes"

# 2. The fleet: every daemon attaches at once (their first requests are
# concurrent misses in varnish), then every device is read at once.
v0=$(tier_ctl varnish s_resp_bodybytes)
b0=$(tier_ctl varnish backend_req)
for i in $(seq 1 "$n"); do
    "$lazyroot" attach "$varnish/fleet.img" "${machine[@]}" --cache "/fleet/m$i.cache" --name "m$i" \
        >"/fleet/m$i.dev" 2>"m$i.log" &
done
wait
devs=()
for i in $(seq 1 "$n"); do
    d=$(cat "/fleet/m$i.dev")
    [[ -b $d ]] || vm_die "machine $i did not attach: $(cat "m$i.log")"
    devs+=("$d")
done
echo "attached $n devices: ${devs[*]}"
for i in $(seq 1 "$n"); do read_device "${devs[i - 1]}" "m$i" & done
wait
for i in $(seq 1 "$n"); do
    [[ $(cat "/fleet/m$i.sum") == "$want" ]] || vm_die "machine $i's sha256 is not the image's"
done
echo "all $n devices read the image right"
o2=$(nginx_ctl bytes primary)
v1=$(tier_ctl varnish s_resp_bodybytes)
b1=$(tier_ctl varnish backend_req)
for d in "${devs[@]}"; do "$lazyroot" detach "$d"; done

origin=$((o2 - o1))
client=$((v1 - v0))
# Per-device rates, sorted (mawk has no asort).
awk -v size="$size" '{print size / 1048576 / ($2 - $1)}' /fleet/m*.time | sort -g >/tmp/rates
min=$(head -n 1 /tmp/rates) max=$(tail -n 1 /tmp/rates)
med=$(awk '{r[NR] = $1} END {print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2}' /tmp/rates)
span=$(awk 'NR == 1 || $1 < a {a = $1} $2 > b {b = $2} END {print b - a}' /fleet/m*.time)
agg=$(rate $((n * size)) "$span")
backend=$((b1 - b0))
# Requests abandoned and retried (a stalled connection, a short answer): each logs one line.
retries=$(cat m*.log | grep -c "retrying" || true)
awk -v n="$n" -v mib="$mib" -v med="$med" -v min="$min" -v max="$max" -v solo="$solo_rate" -v agg="$agg" \
    -v origin="$origin" -v size="$size" -v backend="$backend" -v client="$client" -v retries="$retries" 'BEGIN {
    printf "FLEET: %d devices x %d MiB: per-device cold rate median %.1f MiB/s (min %.1f, max %.1f) vs solo %.1f MiB/s (%.2fx); aggregate %.1f MiB/s; origin %d bytes = %.3fx the read set (%d bytes), %d backend requests; varnish sent clients %d bytes (%.2fx what the devices read), %d retry episodes logged\n",
        n, mib, med, min, max, solo, med / solo, agg, origin, origin / size, size, backend, client, client / (n * size), retries
    printf "devices %d\nimage_bytes %d\nsolo_mib_s %s\nfleet_median_mib_s %.2f\nfleet_min_mib_s %.2f\nfleet_max_mib_s %.2f\naggregate_mib_s %s\norigin_bytes %d\nclient_bytes %d\nbackend_requests %d\nretry_episodes %d\n",
        n, size, solo, med, min, max, agg, origin, client, backend, retries > "fleet.txt"
}'
cat fleet.txt
[[ $((origin * 10)) -le $((size * 11)) ]] || vm_die "the origin sent $origin bytes for a read set of $size (over 1.1x)"
[[ $client -ge $((n * size)) ]] || vm_die "varnish sent $client bytes, less than $n devices x $size"
umount /fleet
echo "http_fleet16: OK"
