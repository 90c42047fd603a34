#!/bin/bash
# vm.ublk_attach_errors — every failure to attach is one line on stderr, a
# non-zero exit, and no device left behind.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
lazyroot=$LAZYROOT_BUILD_DIR/cli/lazyroot

head -c 1M /dev/urandom >/tmp/small.img
chmod 644 /tmp/small.img

# expect_failure EXPECTED_RC PATTERN -- ARGS...
expect_failure() {
    local want_rc=$1 pattern=$2
    shift 3
    local rc=0
    "$@" >/tmp/out 2>/tmp/err || rc=$?
    [[ $rc -eq $want_rc ]] || vm_die "'$*' exited $rc, want $want_rc (stderr: $(cat /tmp/err))"
    [[ ! -s /tmp/out ]] || vm_die "'$*' printed to stdout: $(cat /tmp/out)"
    [[ $(wc -l </tmp/err) -eq 1 ]] || vm_die "'$*' stderr is not one line: $(cat /tmp/err)"
    grep -qE "$pattern" /tmp/err || vm_die "'$*' stderr lacks /$pattern/: $(cat /tmp/err)"
    compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "'$*' left ublk nodes behind"
    echo "ok: $* -> $(cat /tmp/err)"
}

# No ublk_drv loaded yet.
expect_failure 1 "ublk_drv" -- "$lazyroot" attach file:///tmp/small.img
expect_failure 1 "ublk_drv" -- "$lazyroot" attach file:///tmp/small.img --daemon

load_module ublk_drv
expect_failure 1 "No such file" -- "$lazyroot" attach file:///tmp/missing.img
expect_failure 1 "No such file" -- "$lazyroot" attach file:///tmp/missing.img --daemon
expect_failure 2 "bogus" -- "$lazyroot" attach file:///tmp/small.img --bogus
expect_failure 2 "depth" -- "$lazyroot" attach file:///tmp/small.img --depth 0
expect_failure 2 "absolute path" -- "$lazyroot" attach file://tmp/small.img
expect_failure 1 "permission denied" -- setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$lazyroot" attach file:///tmp/small.img
expect_failure 1 "no such device" -- "$lazyroot" detach /dev/ublkb7

# And the same binary does work here.
dev=$("$lazyroot" attach file:///tmp/small.img --daemon)
head -c 1M "$dev" | cmp - /tmp/small.img || vm_die "device content differs"
"$lazyroot" detach "$dev"
echo "ublk_attach_errors: OK"
