# Helpers for the hand-off guest scripts (vm.handoff, vm.handoff_kill).
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"

handoff_up() {
    guest_up
    load_module dm-verity
    load_module loop
    mkdir -p /mnt/h
}
# lazyroot_pids — every process running the lazyroot binary.
lazyroot_pids() {
    local p exe
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        [[ $exe == "$lazyroot" ]] && echo "${p#/proc/}"
    done
    return 0
}
# wait_for CMD... — up to 120 s (of the clock, however slow the guest) for CMD to succeed.
wait_for() {
    local until=$((SECONDS + 120))
    while ((SECONDS < until)); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}
no_lazyroot() { [[ -z $(lazyroot_pids) ]]; }
no_ublk() { ! compgen -G '/dev/ublk[bc]*' >/dev/null; }
# lower_of NAME — the block devices under /dev/mapper/NAME, from sysfs.
lower_of() {
    local d
    # /dev/mapper/NAME is a node, not a link, where udev does not run.
    for d in /sys/block/dm-*; do
        [[ $(cat "$d/dm/name" 2>/dev/null) == "$1" ]] && ls "$d/slaves"
    done
    return 0
}
# check_handed_off NAME TARGET — the daemon left and NAME reads TARGET (loopN, …).
check_handed_off() {
    wait_for no_lazyroot || vm_die "a lazyroot process remains: $(lazyroot_pids)"
    no_ublk || vm_die "a ublk device remains: $(ls /dev/ublk*)"
    local lower
    lower=$(lower_of "$1" | sort -u | tr '\n' ' ')
    [[ $lower == "$2 " ]] || vm_die "/dev/mapper/$1 reads '$lower', not $2"
    dmsetup table "$1" | grep -q "ublk" && vm_die "the table still names ublk"
    grep -q "\"handed_off_to\": \"/dev/$2\"" "/run/lazyroot/$1.handoff" ||
        vm_die "no hand-off record: $(cat /run/lazyroot/$1.handoff 2>&1)"
    "$lazyroot" status | grep -q "handed off to /dev/$2" || vm_die "status does not say so: $("$lazyroot" status)"
}
# check_fs DEV — mounts DEV and checks fio.dat's sha256 (then unmounts).
check_fs() {
    mount -o ro "$1" /mnt/h
    (cd /mnt/h && sha256sum --quiet -c "$images/fio.dat.sha256") || vm_die "fio.dat differs under $1"
    umount /mnt/h
}
# teardown NAME — what a handed-off mapping leaves: the mapping (its loop
# device autoclears) and the record.
teardown() {
    dmsetup remove "$1"
    rm -f "/run/lazyroot/$1.handoff" "/run/lazyroot/$1.handoff.status.json"
}
