#!/bin/sh
# pre-pivot hook (sourced by dracut): issue 11's test 2, the kill before
# switch_root. kill -9 the daemon serving /sysroot, wait until systemd has
# restarted it and the new daemon is serving (Type=notify: active only after
# READY=1, i.e. after the recovery), then read from /sysroot through it.
if grep -q -w 'lazyroot.test=survive' /proc/cmdline; then
    lr_say() { echo "LAZYROOT_SURVIVE initrd: $*" >/dev/console; }
    lr_show() { systemctl show -P "$1" lazyroot.service; }
    # The daemon's own count, in the state file it records (and recovers from).
    lr_recoveries() {
        lr_rr=$(grep -h -o '"recoveries": *[0-9]*' /run/lazyroot/*[0-9].json 2>/dev/null | grep -o '[0-9]*$')
        echo "${lr_rr:-0}"
    }
    lr_pid=$(lr_show MainPID)
    lr_restarts=$(lr_show NRestarts)
    lr_r0=$(lr_recoveries)
    read -r lr_t0 lr_x </proc/uptime
    kill -9 "$lr_pid"
    lr_i=0
    while :; do
        lr_new=$(lr_show MainPID)
        if [ "$lr_new" != 0 ] && [ "$lr_new" != "$lr_pid" ] && [ "$(lr_show ActiveState)" = active ] &&
            [ "$(lr_show NRestarts)" -gt "$lr_restarts" ] && [ "$(lr_recoveries)" -gt "$lr_r0" ]; then
            break
        fi
        lr_i=$((lr_i + 1))
        if [ "$lr_i" -ge 1200 ]; then
            lr_say "FAIL: not back 240 s after kill -9 $lr_pid ($(lr_show ActiveState)/$(lr_show SubState))"
            break
        fi
        sleep 0.2
    done
    read -r lr_t1 lr_x </proc/uptime
    if [ "$lr_i" -lt 1200 ]; then
        lr_host=$(cat /sysroot/etc/hostname)
        lr_say "ok: killed $lr_pid at $lr_t0, restarted as $lr_new at $lr_t1 (NRestarts $(lr_show NRestarts), recoveries $(lr_recoveries)); /sysroot/etc/hostname=$lr_host"
    fi
    unset lr_rr lr_r0 lr_pid lr_restarts lr_new lr_i lr_host lr_t0 lr_t1 lr_x
fi
