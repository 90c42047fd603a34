#!/bin/sh
# Runs in the booted root: proves the root is still served after switch_root by
# reading a file nothing read before, prints the marker the host looks for
# (with when the real root's systemd started, i.e. the root was mounted, and
# the time now, both in seconds since the kernel started), and powers off.
# With lazyroot.test=survive on the kernel command line, first kills the
# daemon (issue 11's test 2, after switch_root) and checks that
# `systemctl stop lazyroot` is refused (test 4); the file is read after that,
# through the restarted daemon.
say() { echo "$*" >/dev/console; }
show() { systemctl show -P "$1" lazyroot.service; }
# The daemon's own count, in the state file it records (and recovers from).
recoveries() {
    rr=$(grep -h -o '"recoveries": *[0-9]*' /run/lazyroot/*[0-9].json 2>/dev/null | grep -o '[0-9]*$')
    echo "${rr:-0}"
}
if grep -q -w 'lazyroot.test=survive' /proc/cmdline; then
    pid=$(show MainPID)
    restarts=$(show NRestarts)
    r0=$(recoveries)
    t0=$(cut -d' ' -f1 /proc/uptime)
    kill -9 "$pid"
    i=0
    until new=$(show MainPID); [ "$new" != 0 ] && [ "$new" != "$pid" ] &&
        [ "$(show ActiveState)" = active ] && [ "$(show NRestarts)" -gt "$restarts" ] &&
        [ "$(recoveries)" -gt "$r0" ]; do
        i=$((i + 1))
        if [ "$i" -ge 1200 ]; then
            say "LAZYROOT_SURVIVE root: FAIL: not back 240 s after kill -9 $pid ($(show ActiveState)/$(show SubState))"
            break
        fi
        sleep 0.2
    done
    t1=$(cut -d' ' -f1 /proc/uptime)
    [ "$i" -lt 1200 ] && say "LAZYROOT_SURVIVE root: ok: killed $pid at $t0, restarted as $new at $t1 (NRestarts $(show NRestarts), recoveries $(recoveries))"
    msg=$(systemctl stop lazyroot 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$(show MainPID)" = "$new" ] && [ "$(show ActiveState)" = active ]; then
        say "LAZYROOT_SURVIVE stop: refused (exit $rc: $msg); still pid $new"
    else
        say "LAZYROOT_SURVIVE stop: FAIL: exit $rc: $msg; now $(show MainPID) $(show ActiveState)"
    fi
fi
if grep -q -w 'lazyroot.test=handoff' /proc/cmdline; then
    # Issue 14, test 2: the hydrate fill completes under the running root, the
    # daemon moves the root's table onto the cache and exits 0 (the unit stays
    # down: RestartPreventExitStatus=0). The file below is then read through
    # the kernel alone.
    i=0
    until [ -e /run/lazyroot/lazyroot.handoff ] && [ "$(show ActiveState)" = inactive ] &&
        ! ls /dev/ublkb* >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -ge 3000 ] && break
        sleep 0.2
    done
    if [ "$i" -ge 3000 ]; then
        say "LAZYROOT_HANDOFF FAIL: no hand-off 600 s after the root came up ($(show ActiveState)/$(show SubState))"
    else
        dm=$(basename "$(readlink -f /dev/mapper/lazyroot)")
        say "LAZYROOT_HANDOFF ok: $(lazyroot status | grep -o 'handed off to [^ ,]*' | head -1); unit $(show ActiveState)" \
            "exit $(show ExecMainStatus); table reads $(ls /sys/block/"$dm"/slaves | tr '\n' ' ')"
    fi
fi
if grep -q -w 'lazyroot.test=profile' /proc/cmdline; then
    # Issue 16: profile=record ends its window at multi-user.target (the
    # generator's lazyroot-profile-stop.service, which runs beside this
    # unit): wait for the file, so that the file below is not in it, and
    # hand it to the host on the console (gzip, base64: one line).
    i=0
    until [ -s /run/lazyroot/root.img.profile ]; do
        i=$((i + 1))
        [ "$i" -ge 1500 ] && break
        sleep 0.2
    done
    if [ -s /run/lazyroot/root.img.profile ]; then
        say "LAZYROOT_PROFILE $(gzip -c /run/lazyroot/root.img.profile | base64 -w0)"
    else
        say "LAZYROOT_PROFILE FAIL: no /run/lazyroot/root.img.profile 300 s after the root came up"
    fi
fi
# What the boot read of its root's disk so far (the working set: the page
# cache keeps it, so reads are near-distinct), before the deliberate file.
for dev in ublkb0 vda; do
    if [ -e "/sys/block/$dev/stat" ]; then
        say "LAZYROOT_BOOT_READ dev=$dev read_bytes=$(($(awk '{print $3}' "/sys/block/$dev/stat") * 512))"
        # Where the boot's time went (bench only): the CPUs' ticks since the
        # kernel started, the daemon's own, and the disk's reads and their ms.
        pid=$(show MainPID 2>/dev/null || echo 0)
        daemon=0 threads=
        if [ "${pid:-0}" != 0 ]; then
            daemon=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null)
            for t in /proc/"$pid"/task/*; do
                threads="$threads $(cat "$t/comm" 2>/dev/null):$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null)"
            done
        fi
        say "LAZYROOT_BOOT_CPU $(head -1 /proc/stat | cut -d' ' -f2-) daemon_ticks=${daemon:-0}" \
            "disk=$(awk '{print $1, $4}' "/sys/block/$dev/stat") threads=${threads# }"
        break
    fi
done
sum=$(sha256sum /srv/big.bin | cut -d' ' -f1)
now=$(cut -d' ' -f1 /proc/uptime)
root_us=$(systemctl show -P UserspaceTimestampMonotonic)
root_s=$(awk -v us="$root_us" 'BEGIN { printf "%.2f", us / 1e6 }')
echo "LAZYROOT_BOOT_MARKER sha256=$sum root_mounted_s=$root_s marker_s=$now" >/dev/console
if grep -q -w 'lazyroot.test=link' /proc/cmdline; then
    # The bench's link probe: what the guest's path to nginx (slirp, the
    # host's delay proxy) carries on its own, 32 MiB on 1 and on 4
    # connections (bash: this shell has no /dev/tcp). Its own name for the
    # image (a hard link), so that the boot's byte counts leave it out.
    for n in 1 4; do
        say "LAZYROOT_LINK connections=$n $(bash -c '
            get() {
                exec 3<>/dev/tcp/10.0.2.100/80 || return
                printf "GET /link-probe.img HTTP/1.1\r\nHost: 10.0.2.100\r\nRange: bytes=%s-%s\r\nConnection: close\r\n\r\n" \
                    "$1" "$(($1 + $2 - 1))" >&3
                cat <&3 | wc -c
            }
            t0=$(cut -d" " -f1 /proc/uptime)
            for i in $(seq 0 $(($1 - 1))); do get $((i * 33554432 / $1)) $((33554432 / $1)) >"/run/link.$i" & done
            wait
            t1=$(cut -d" " -f1 /proc/uptime)
            echo "bytes=$(cat /run/link.* | awk "{s += \$1} END {print s}") secs=$(awk -v a="$t0" -v b="$t1" "BEGIN { printf \"%.2f\", b - a }")"
            rm -f /run/link.*' _ "$n")"
    done
fi
systemctl --no-block poweroff
