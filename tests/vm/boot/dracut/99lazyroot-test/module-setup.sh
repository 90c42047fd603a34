#!/bin/bash
# Test-only dracut module (tests/vm/boot): with lazyroot.test=survive on the
# kernel command line, kills the root daemon in the initrd after the root is
# mounted and before switch_root, and waits for systemd to restart it. With
# lazyroot.test=efivars, prints the EFI variables bootorigin reads (hex).

check() { return 255; }

depends() { echo lazyroot; }

install() {
    inst_multiple sleep grep od tr cut
    inst_hook pre-pivot 50 "$moddir/lazyroot-survive-kill.sh"
    inst_hook pre-trigger 50 "$moddir/lazyroot-efivars-dump.sh"
}
