#!/bin/sh
# Runs in the booted root: proves the root is still served after switch_root by
# reading a file nothing read before, prints the marker the host looks for
# (with when the real root's systemd started, i.e. the root was mounted, and
# the time now, both in seconds since the kernel started), and powers off.
sum=$(sha256sum /srv/big.bin | cut -d' ' -f1)
now=$(cut -d' ' -f1 /proc/uptime)
root_us=$(systemctl show -P UserspaceTimestampMonotonic)
root_s=$(awk -v us="$root_us" 'BEGIN { printf "%.2f", us / 1e6 }')
echo "LAZYROOT_BOOT_MARKER sha256=$sum root_mounted_s=$root_s marker_s=$now" >/dev/console
systemctl --no-block poweroff
