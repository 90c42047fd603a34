# Guest script (run-vm.sh): the kernel's nvmet-tcp target serving the boot
# image, for the NVMe/TCP boot test: a second guest, because the host kernel
# has no nvmet. Listens on all addresses (run-vm.sh --hostfwd brings the host's
# port here); writes target.ready in WORKDIR once serving and stops when the
# host creates target.stop.
set -euo pipefail
source "$LAZYROOT_GUEST_LIB"
source "$LAZYROOT_VM_DIR/http-lib.sh"
source "$LAZYROOT_VM_DIR/nvmet-lib.sh"
net_up
image=$(nvme_image "$BOOT_IMAGE")
nvmet_up "$image" 4420
nvmet_unlink
echo 0.0.0.0 >"$nvmet/ports/1/addr_traddr"
nvmet_link
echo "$nqn" >target.ready
# The host decides when the boot is over; nothing to synchronise with here but
# its stop file.
while [[ ! -e target.stop ]]; do sleep 0.5; done
nvmet_unlink
