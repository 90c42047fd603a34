# guest-lib.sh — helpers for guest scripts run by run-vm.sh. Source it:
#   . "$LAZYROOT_GUEST_LIB"
# (bash; does not change shell options of the caller)

# load_module NAME [PARAM=VALUE...]
# Loads a module of the guest kernel and its dependencies. The guest init
# already links the modules into /lib/modules/$(uname -r), so plain `modprobe`
# works too; -d makes this independent of that link.
load_module() {
    modprobe -d "${LAZYROOT_KMOD_DIR:?not running under run-vm.sh}" "$@"
}

# vm_die MESSAGE... — print to the console and fail the test.
vm_die() {
    echo "FAIL: $*" >&2
    exit 1
}

# wait_for_path PATH [SECONDS=10] — devtmpfs nodes and sysfs entries can
# appear asynchronously (e.g. /dev/ublkbN after START_DEV).
wait_for_path() {
    local path=$1 secs=${2:-10} i
    for ((i = 0; i < secs * 10; i++)); do
        [[ -e $path ]] && return 0
        sleep 0.1
    done
    echo "timed out waiting for $path" >&2
    return 1
}

# mount_configfs — for nvmet/null_blk; the init mounts it already, this is for
# scripts that unmounted it or run elsewhere.
mount_configfs() {
    load_module configfs
    mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
}
