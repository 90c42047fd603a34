#!/bin/bash
# Test-only dracut module (tests/vm/boot): with lazyroot.test=survive on the
# kernel command line, kills the root daemon in the initrd after the root is
# mounted and before switch_root, and waits for systemd to restart it.

check() { return 255; }

depends() { echo lazyroot; }

install() {
    inst_multiple sleep grep
    inst_hook pre-pivot 50 "$moddir/lazyroot-survive-kill.sh"
}
