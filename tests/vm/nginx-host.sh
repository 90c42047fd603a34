#!/bin/bash
# nginx-host.sh RUN-VM-COMMAND... — host side of the HTTP VM tests (a
# HOST_WRAPPER for add_vm_test). Starts two real nginx servers on loopback
# serving $NGINX_ROOT (the "primary" and a "mirror"), plus a control port the
# guest uses to stop/start them and to read their access-log totals. Guest
# view: http://10.0.2.100:80/ (primary), :81 (mirror), :82 (each connection
# rate-capped), :90 (control). With NGINX_TLS=1 also https://10.0.2.100:84/
# ("tls": HTTP/2 offered through ALPN, a test CA at $state/tls/ca.pem, which
# the guest reads through its view of the host's /).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${NGINX_ROOT:?NGINX_ROOT must name the directory to serve}
work=${LAZYROOT_VM_WORKDIR:?}
# Beside the work dir, which run-vm.sh --clean empties after this starts.
state=$work.nginx
rm -rf "$state"
mkdir -p "$state/root"
# A docroot of our own with links to the images, so a test can re-point one
# (nginx-ctl.sh link) without touching the shared image directory.
for f in "$root"/*; do ln -s "$f" "$state/root/$(basename "$f")"; done
export NGINX_ROOT=$root

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

write_conf() {  # NAME PORT [EXTRA-DIRECTIVES [LISTEN-FLAGS]]
    local d=$state/$1
    mkdir -p "$d"
    cat >"$d/nginx.conf" <<CONF
daemon on;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $d/tmp-body;
    proxy_temp_path $d/tmp-proxy;
    fastcgi_temp_path $d/tmp-fastcgi;
    uwsgi_temp_path $d/tmp-uwsgi;
    scgi_temp_path $d/tmp-scgi;
    log_format lazyroot '\$connection \$status \$request_method "\$http_range" \$uri \$body_bytes_sent';
    server {
        listen 127.0.0.1:$2${4:+ $4};
        root $state/root;
        access_log $d/access.log lazyroot;
        keepalive_requests 100000;
        ${3:-}
        location / { }
        # vm.http_private: a private server (a bearer token), a presigned
        # object-store URL (GET only, the exact signed query, as S3 checks
        # it) and one that has expired.
        location /private/ {
            if (\$http_authorization != "Bearer $PRIVATE_TOKEN") { return 401; }
            alias $state/root/;
        }
        location /signed/ {
            if (\$request_method != GET) { return 405; }
            if (\$request_uri !~ "^/signed/[a-z0-9.]+\\?$SIGNED_QUERY_RE\$") { return 403; }
            alias $state/root/;
        }
        location /expired/ { return 403; }
    }
}
CONF
}

# What tests/vm/http-private.sh sends.
PRIVATE_TOKEN=lzr-s3cr3t-7f3a9c
SIGNED_QUERY_RE='X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261130%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=0123456789abcdef'

# A wrapper that puts servers in front of the primary (tier-host.sh) picks its port.
primary_port=${NGINX_PRIMARY_PORT:-$(free_port)}
mirror_port=$(free_port)
ctl_port=$(free_port)
capped_port=$(free_port)
write_conf primary "$primary_port"
write_conf mirror "$mirror_port"
# Each connection capped, as CDNs and busy servers do: parallel ranges win here.
write_conf capped "$capped_port" "limit_rate ${NGINX_CAPPED_RATE:-2m};"
servers="primary mirror capped"
fwd_tls=()
if [[ ${NGINX_TLS:-0} == 1 ]]; then
    t=$state/tls
    mkdir -p "$t"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=lazyroot-test-ca -keyout "$t/ca.key" \
        -out "$t/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=10.0.2.100 -keyout "$t/server.key" -out "$t/server.csr" \
        2>/dev/null
    printf 'subjectAltName=IP:10.0.2.100\n' >"$t/ext"
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -days 2 \
        -extfile "$t/ext" -out "$t/server.pem" 2>/dev/null
    tls_port=$(free_port)
    write_conf tls "$tls_port" "ssl_certificate $t/server.pem; ssl_certificate_key $t/server.key;" "ssl http2"
    servers+=" tls"
    fwd_tls=(--fwd 84:"$tls_port")
fi
export LAZYROOT_NGINX_STATE=$state
# NGINX_STOPPED="primary …": those servers are not started (a boot that
# must not need the network still gets the same forwarding).
for n in $servers; do
    [[ " ${NGINX_STOPPED:-} " == *" $n "* ]] || "$here/nginx-ctl.sh" start "$n" >/dev/null
done

socat TCP-LISTEN:"$ctl_port",bind=127.0.0.1,reuseaddr,fork EXEC:"$here/nginx-ctl.sh" &
ctl_pid=$!
cleanup() {
    kill "$ctl_pid" 2>/dev/null || true
    for n in $servers; do "$here/nginx-ctl.sh" stop "$n" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

"$@" --fwd 80:"$primary_port" --fwd 81:"$mirror_port" --fwd 82:"$capped_port" --fwd 90:"$ctl_port" "${fwd_tls[@]}"
