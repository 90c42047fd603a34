#!/bin/bash
# nginx-ctl.sh [CMD NAME] — start/stop the test nginx servers and report
# their access-log totals. With no arguments it reads one "CMD NAME" line
# from stdin (the guest's control connection, via socat) and answers on stdout.
#   start NAME | stop NAME   -> "ok"
#   bytes NAME               -> body bytes served (sum of $body_bytes_sent)
#   requests NAME            -> requests logged
#   connections NAME         -> distinct connections logged
#   link NAME TARGET         -> serve image TARGET under the name NAME (both in $NGINX_ROOT)
#   publish NAME             -> serve the file NAME the guest wrote in its work dir, as NAME
set -euo pipefail
state=${LAZYROOT_NGINX_STATE:?}
if [[ $# -eq 0 ]]; then
    read -r cmd name arg || exit 1
else
    cmd=$1 name=$2 arg=${3:-}
fi
if [[ $cmd == link ]]; then
    [[ $name =~ ^[a-z0-9._-]+$ && $arg =~ ^[a-z0-9._-]+$ && -e $NGINX_ROOT/$arg ]] || { echo "bad link"; exit 1; }
    ln -sfn "$NGINX_ROOT/$arg" "$state/root/$name"
    echo ok
    exit 0
fi
if [[ $cmd == publish ]]; then
    src=${LAZYROOT_VM_WORKDIR:?}/$name
    [[ $name =~ ^[a-z0-9._-]+$ && -f $src ]] || { echo "bad publish"; exit 1; }
    rm -f "$state/root/$name"
    cp "$src" "$state/root/$name"
    echo ok
    exit 0
fi
[[ $name == primary || $name == mirror || $name == capped || $name == tls ]] || { echo "bad name"; exit 1; }
d=$state/$name
log=$d/access.log
case $cmd in
start)
    nginx -c "$d/nginx.conf" -p "$d" -e "$d/error.log"
    echo ok ;;
stop)
    if [[ -s $d/nginx.pid ]]; then
        pid=$(cat "$d/nginx.pid")
        kill -TERM "$pid" 2>/dev/null || true
        # Wait until the master has gone, so the port really is closed.
        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    fi
    echo ok ;;
bytes) awk '{s += $NF} END {print s + 0}' "$log" 2>/dev/null || echo 0 ;;
requests) (wc -l <"$log" 2>/dev/null || echo 0) | tr -d ' ' ;;
# The Range header of each request from line ARG on (1-based), on one line
# (the guest reads one line of answer).
ranges) echo $(tail -n "+$((10#${arg//[^0-9]/} + 0))" "$log" 2>/dev/null | awk '{print $4}' | tr -d '"') ;;
connections) awk '{print $1}' "$log" 2>/dev/null | sort -u | wc -l ;;
*) echo "bad command"; exit 1 ;;
esac
