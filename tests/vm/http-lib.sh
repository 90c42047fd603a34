# Helpers for the HTTP guest scripts (served by nginx-host.sh on the host).
lazyroot=$LAZYROOT_BUILD_DIR/cli/lazyroot
images=$LAZYROOT_BUILD_DIR/vmtests/images
primary=http://10.0.2.100:80
mirror=http://10.0.2.100:81
capped=http://10.0.2.100:82

# nginx_ctl CMD NAME [ARG] — ask the host to start/stop a server, report
# totals, or re-point an image name.
nginx_ctl() {
    local answer
    exec 3<>/dev/tcp/10.0.2.100/90
    echo "$1 $2 ${3:-}" >&3
    read -r answer <&3
    exec 3<&-
    echo "$answer"
}

net_up() {
    ip link set lo up
    ip link set eth0 up
    ip addr add 10.0.2.15/24 dev eth0 2>/dev/null || true
}

# check_files MOUNTPOINT SUMFILE — every file's sha256, or fail.
check_files() {
    (cd "$1" && sha256sum --quiet -c "$2") || vm_die "checksum mismatch under $1"
}

# guest_up — the network to the host's servers, and ublk.
guest_up() {
    net_up
    load_module ublk_drv
}
