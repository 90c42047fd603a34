#!/bin/bash
# tier-host.sh RUN-VM-COMMAND... — host side of vm.http_cache_tier and
# vm.http_fleet16 (a HOST_WRAPPER): caching tiers, from Debian's packages, in
# front of the primary nginx of nginx-host.sh (the origin, whose access log
# counts the bytes it serves). Guest view, besides nginx-host.sh's ports:
#   :85  varnish with its built-in VCL (-b origin), malloc storage
#   :86  nginx proxy_cache with the slice module (1 MiB slices, cache lock)
#   :87  nginx proxying without ETag and Last-Modified (breaks the rules)
#   :88  nginx answering every range with the whole file, 200 (breaks the rules)
#   :91  control (tier-ctl.sh): varnish counters and bans, tier byte counts
# (:83 and :84 are radosgw-host.sh's and nginx-host.sh's NGINX_TLS=1.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${LAZYROOT_VM_WORKDIR:?}
d=$work.tier
# A varnishd or nginx left by an earlier run that died: their pid files.
for f in "$d"/varnish.pid "$d"/nginx/nginx.pid; do [[ -s $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
rm -rf "$d"
mkdir -p "$d/nginx" "$d/varnish"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
origin_port=$(free_port)
varnish_port=$(free_port)
slice_port=$(free_port)
strip_port=$(free_port)
full_port=$(free_port)
ctl_port=$(free_port)

# One nginx for the three nginx tiers, each server with its own access log.
n=$d/nginx
cat >"$n/nginx.conf" <<CONF
daemon on;
worker_processes 1;
pid $n/nginx.pid;
error_log $n/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $n/tmp-body;
    proxy_temp_path $n/tmp-proxy;
    fastcgi_temp_path $n/tmp-fastcgi;
    uwsgi_temp_path $n/tmp-uwsgi;
    scgi_temp_path $n/tmp-scgi;
    log_format tier '\$connection \$status \$request_method "\$http_range" "\$upstream_cache_status" \$body_bytes_sent';
    upstream origin { server 127.0.0.1:$origin_port; keepalive 32; }
    proxy_cache_path $n/slices levels=1:2 keys_zone=slices:16m max_size=2g inactive=1h use_temp_path=off;
    keepalive_requests 100000;
    proxy_http_version 1.1;

    # What a fleet configures: each 1 MiB slice of the file is fetched from
    # the origin once (as a range), cached under its own key and served to
    # every client whose range touches it; concurrent misses wait for one fetch.
    server {
        listen 127.0.0.1:$slice_port;
        access_log $n/slice.log tier;
        location / {
            slice 1m;
            proxy_cache slices;
            proxy_cache_key \$uri\$is_args\$args\$slice_range;
            proxy_set_header Range \$slice_range;
            proxy_set_header Connection "";
            proxy_cache_valid 200 206 1h;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 60s;
            proxy_pass http://origin;
        }
    }
    # Breaks the rules: the validators are stripped.
    server {
        listen 127.0.0.1:$strip_port;
        access_log $n/strip.log tier;
        location / {
            proxy_set_header Connection "";
            proxy_hide_header ETag;
            proxy_hide_header Last-Modified;
            proxy_pass http://origin;
        }
    }
    # Breaks the rules: Range is dropped on the way to the origin and not
    # applied here, so every range is answered with the whole file.
    server {
        listen 127.0.0.1:$full_port;
        access_log $n/full.log tier;
        max_ranges 0;
        location / {
            proxy_set_header Connection "";
            proxy_set_header Range "";
            proxy_set_header If-Range "";
            proxy_pass http://origin;
        }
    }
}
CONF

# varnish as packaged, with its built-in VCL: it caches the whole object on
# the first miss (one fetch, however many clients ask at once) and answers
# ranges from it, ETag and Last-Modified kept. -j none: no privilege
# separation (the test runs as root in a directory of its own).
varnishd -n "$d/varnish" -j none -a "127.0.0.1:$varnish_port" -b "127.0.0.1:$origin_port" \
    -s "malloc,${VARNISH_STORAGE:-1G}" -P "$d/varnish.pid" -p default_ttl=3600 >"$d/varnishd.log" 2>&1
nginx -c "$n/nginx.conf" -p "$n" -e "$n/error.log"

export LAZYROOT_TIER_STATE=$d
socat TCP-LISTEN:"$ctl_port",bind=127.0.0.1,reuseaddr,fork EXEC:"$here/tier-ctl.sh" &
ctl_pid=$!
cleanup() {
    kill "$ctl_pid" 2>/dev/null || true
    [[ -s $n/nginx.pid ]] && kill "$(cat "$n/nginx.pid")" 2>/dev/null || true
    [[ -s $d/varnish.pid ]] && kill "$(cat "$d/varnish.pid")" 2>/dev/null || true
}
trap cleanup EXIT

NGINX_PRIMARY_PORT=$origin_port "$here/nginx-host.sh" "$@" --fwd 85:"$varnish_port" --fwd 86:"$slice_port" \
    --fwd 87:"$strip_port" --fwd 88:"$full_port" --fwd 91:"$ctl_port"
