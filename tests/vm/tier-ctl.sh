#!/bin/bash
# tier-ctl.sh [CMD ARG] — the caching tiers of tier-host.sh. With no
# arguments it reads one "CMD ARG" line from stdin (the guest's control
# connection, via socat) and answers one line on stdout.
#   varnish COUNTER   -> varnishstat's MAIN.COUNTER (s_resp_bodybytes: body
#                        bytes sent to clients; backend_req; cache_hit; cache_miss)
#   ban PATH          -> "ok" once varnish has banned the objects of PATH
#                        (a purge, as a publisher would after replacing a file)
#   bytes TIER        -> body bytes an nginx tier (slice, strip, full) sent its clients
set -euo pipefail
d=${LAZYROOT_TIER_STATE:?}
if [[ $# -eq 0 ]]; then
    read -r cmd arg || exit 1
else
    cmd=$1 arg=${2:-}
fi
case $cmd in
varnish)
    [[ $arg =~ ^[a-z_]+$ ]] || { echo "bad counter"; exit 1; }
    varnishstat -n "$d/varnish" -1 -f "MAIN.$arg" | awk '{print $2 + 0; found = 1} END {if (!found) print 0}' ;;
ban)
    [[ $arg =~ ^/[a-z0-9._/-]+$ ]] || { echo "bad path"; exit 1; }
    varnishadm -n "$d/varnish" ban "req.url == $arg" >/dev/null
    echo ok ;;
bytes)
    [[ $arg == slice || $arg == strip || $arg == full ]] || { echo "bad tier"; exit 1; }
    awk '{s += $NF} END {print s + 0}' "$d/nginx/$arg.log" 2>/dev/null || echo 0 ;;
*) echo "bad command"; exit 1 ;;
esac
