#!/bin/bash
# dracut module: lazyroot serves the root file system from the network.
#   dracut --add lazyroot ...
# The generator (this binary as lazyroot-generator) turns rd.lazyroot= into
# lazyroot.service; see the README's kernel command line section.

check() {
    require_binaries lazyroot || return 1
    # Only when asked for (--add lazyroot) or when the host boots this way.
    return 255
}

depends() {
    # network: the initrd's own stack (systemd-networkd where present) handles ip=.
    echo systemd systemd-modules-load network dm
    return 0
}

installkernel() {
    instmods ublk_drv dm-verity
    # The kernel NVMe/TCP transport only when asked: the userspace one needs none.
    if [[ ${lazyroot_nvme_kernel:-} == yes ]]; then
        instmods nvme-tcp nvme-fabrics
    fi
}

install() {
    local bin
    bin=$(find_binary lazyroot) || return 1
    inst_binary "$bin" /usr/bin/lazyroot
    inst_dir "$systemdutildir/system-generators"
    ln_r /usr/bin/lazyroot "$systemdutildir/system-generators/lazyroot-generator"
    mkdir -p "$initdir/etc/modules-load.d"
    printf 'ublk_drv\ndm_verity\n' >"$initdir/etc/modules-load.d/lazyroot.conf"
    # Certificates for signed manifests (--trust=/etc/lazyroot/…) and TLS CAs.
    local f
    for f in /etc/lazyroot/*; do
        [[ -f $f ]] && inst_simple "$f"
    done
    inst_multiple -o /etc/ssl/certs/ca-certificates.crt
}
