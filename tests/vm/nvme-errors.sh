#!/bin/bash
# vm.nvme_errors — a wrong NQN, a closed port, a missing namespace and a host
# the subsystem does not allow each fail attach with one line on stderr and a
# non-zero exit, leaving nothing behind; --hostnqn of an allowed host works.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/nvmet-lib.sh"
head -c 8M /dev/urandom >/tmp/small.img
img=$(nvme_image /tmp/small.img)
nvmet_up "$img"

# expect_failure EXPECTED_RC PATTERN -- ARGS...
expect_failure() {
    local want_rc=$1 pattern=$2
    shift 3
    local rc=0
    "$@" >/tmp/out 2>/tmp/err || rc=$?
    [[ $rc -eq $want_rc ]] || vm_die "'$*' exited $rc, want $want_rc (stderr: $(cat /tmp/err))"
    [[ ! -s /tmp/out ]] || vm_die "'$*' printed to stdout: $(cat /tmp/out)"
    [[ $(wc -l </tmp/err) -eq 1 ]] || vm_die "'$*' stderr is not one line: $(cat /tmp/err)"
    grep -qE -- "$pattern" /tmp/err || vm_die "'$*' stderr lacks /$pattern/: $(cat /tmp/err)"
    compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "'$*' left ublk nodes behind"
    echo "ok: $* -> $(cat /tmp/err)"
}

expect_failure 1 "subsystem nqn.2026-11.io.lazyroot:wrong.*not found" -- \
    "$lazyroot" attach --insecure nvme+tcp://127.0.0.1:4420/nqn.2026-11.io.lazyroot:wrong --daemon
expect_failure 1 "127.0.0.1:4421: Connection refused" -- \
    "$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4421/$nqn" --daemon
expect_failure 1 "namespace 7 of .* is not active" -- \
    "$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4420/$nqn?nsid=7" --daemon
expect_failure 2 "unknown digest" -- "$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4420/$nqn?digest=crc" --daemon
expect_failure 2 "no subsystem NQN" -- "$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4420" --daemon
expect_failure 2 "--hostnqn.*not an NQN" -- "$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4420/$nqn" --hostnqn bob
expect_failure 1 "none a TCP subsystem named nqn.2026-11.io.lazyroot:other" -- \
    "$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4420/nqn.2026-11.io.lazyroot:other?discover" --daemon

# Only host-a may connect.
echo 0 >"$nvmet/subsystems/$nqn/attr_allow_any_host"
mkdir "$nvmet/hosts/nqn.2026-11.io.lazyroot:host-a"
ln -s "$nvmet/hosts/nqn.2026-11.io.lazyroot:host-a" "$nvmet/subsystems/$nqn/allowed_hosts/"
expect_failure 1 "host not allowed" -- \
    "$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4420/$nqn" --hostnqn nqn.2026-11.io.lazyroot:host-b --daemon
dev=$("$lazyroot" attach --insecure "nvme+tcp://127.0.0.1:4420/$nqn" --hostnqn nqn.2026-11.io.lazyroot:host-a --daemon)
cmp "$dev" "$img" || vm_die "device differs from the image"
"$lazyroot" detach "$dev"
echo "nvme_errors: OK"
