# Helpers for the NVMe/TCP guest scripts: the kernel's nvmet + nvmet-tcp
# target, configured through configfs, serving an image file on 127.0.0.1.
lazyroot=$LAZYROOT_BUILD_DIR/cli/lazyroot
images=$LAZYROOT_BUILD_DIR/vmtests/images
nqn=nqn.2026-11.io.lazyroot:test
nvmet=/sys/kernel/config/nvmet

# nvme_image SRC — copies SRC to a real tmpfs (the overlay root reports no
# block size, so nvmet would export 1-byte LBAs) and prints the copy's path.
nvme_image() {
    mkdir -p /srv/nvme
    mountpoint -q /srv/nvme || mount -t tmpfs -o size=1200M tmpfs /srv/nvme
    cp "$1" /srv/nvme/
    echo "/srv/nvme/$(basename "$1")"
}

# nvmet_up IMAGE [PORT=4420] — subsystem $nqn with namespace 1 = IMAGE (buffered
# file IO: 4 KiB LBAs on tmpfs), any host allowed, on port 1 at 127.0.0.1:PORT.
nvmet_up() {
    local image=$1 port=${2:-4420}
    ip link set lo up
    load_module ublk_drv
    load_module nvmet
    load_module nvmet-tcp
    mount_configfs
    mkdir -p "$nvmet/subsystems/$nqn"
    echo 1 >"$nvmet/subsystems/$nqn/attr_allow_any_host"
    mkdir -p "$nvmet/subsystems/$nqn/namespaces/1"
    echo -n "$image" >"$nvmet/subsystems/$nqn/namespaces/1/device_path"
    echo 1 >"$nvmet/subsystems/$nqn/namespaces/1/buffered_io"
    echo 1 >"$nvmet/subsystems/$nqn/namespaces/1/enable"
    mkdir -p "$nvmet/ports/1"
    echo tcp >"$nvmet/ports/1/addr_trtype"
    echo ipv4 >"$nvmet/ports/1/addr_adrfam"
    echo 127.0.0.1 >"$nvmet/ports/1/addr_traddr"
    echo "$port" >"$nvmet/ports/1/addr_trsvcid"
    nvmet_link
}

# The port serves the subsystem (and listens) only while the link exists.
nvmet_link() { ln -s "$nvmet/subsystems/$nqn" "$nvmet/ports/1/subsystems/$nqn"; }
nvmet_unlink() { rm "$nvmet/ports/1/subsystems/$nqn"; }

# check_files MOUNTPOINT SUMFILE — every file's sha256, or fail.
check_files() {
    (cd "$1" && sha256sum --quiet -c "$2") || vm_die "checksum mismatch under $1"
}

# status_field EXPR — a value from `lazyroot status --json` of the one device.
status_field() {
    "$lazyroot" status --json | python3 -c "import json,sys; d=json.load(sys.stdin)[0]; print($1)"
}

# kernel_nvme_connect — the kernel's nvme-tcp initiator to $nqn on
# 127.0.0.1:4420, without nvme-cli (one line to /dev/nvme-fabrics); prints
# the namespace device once it appears.
kernel_nvme_connect() {
    local d
    echo "transport=tcp,traddr=127.0.0.1,trsvcid=4420,nqn=$nqn" >/dev/nvme-fabrics
    for _ in $(seq 1 100); do
        d=$(compgen -G '/dev/nvme*n1' | head -1 || true)
        [[ -n $d ]] && break
        sleep 0.1
    done
    [[ -n $d ]] || vm_die "the kernel initiator made no namespace device"
    echo "$d"
}
