#!/bin/bash
# vm.ublk_features, vm.k2.ublk_features — `lazyroot status` says whether the
# kernel's ublk driver offers zero copy, from the feature bits the kernel
# itself reports (ublk-features-probe, which shares no code with lazyroot):
# SUPPORT_ZERO_COPY (bit 0, 6.15+) and AUTO_BUF_REG (bit 11, 6.16+). On 6.12
# neither is offered. Either way the copy path serves the device: every file
# of the ext4 image is checked by sha256.
set -euo pipefail
# shellcheck source=tests/vm/guest-lib.sh
. "$LAZYROOT_GUEST_LIB"
lazyroot=$LAZYROOT_BUILD_DIR/cli/lazyroot
probe=$LAZYROOT_BUILD_DIR/tests/vm/ublk_features_probe
images=$LAZYROOT_BUILD_DIR/vmtests/images

load_module ublk_drv
bits=$("$probe")
echo "kernel $(uname -r): ublk GET_FEATURES $bits"
expected=()
((bits & (1 << 0))) && expected+=(SUPPORT_ZERO_COPY)
((bits & (1 << 11))) && expected+=(AUTO_BUF_REG)
if [[ $(uname -r) == 6.12.* ]] && ((${#expected[@]})); then
    vm_die "6.12 reports zero copy (${expected[*]}): it has none"
fi
if ((${#expected[@]})); then
    line="  ublk zero copy: offered by the kernel (${expected[*]}), not used; copy path"
else
    line="  ublk zero copy: not offered by the kernel; copy path"
fi

cp "$images/ext4.img" /tmp/ext4.img
dev=$("$lazyroot" attach file:///tmp/ext4.img --queues 2 --daemon)
"$lazyroot" status | tee status.txt
grep -qxF -- "$line" status.txt || vm_die "status lacks the line '$line'"
"$lazyroot" status --json >status.json
python3 - "$bits" status.json <<'PY' || vm_die "status --json disagrees with the kernel's bits"
import json, sys
bits = int(sys.argv[1], 16)
u = json.load(open(sys.argv[2]))[0]["ublk"]
assert u["kernel_features"] == bits, (u["kernel_features"], bits)
assert u["zero_copy_used"] is False
want = [n for b, n in ((0, "SUPPORT_ZERO_COPY"), (11, "AUTO_BUF_REG")) if bits >> b & 1]
assert u["zero_copy_offered"] == want, (u["zero_copy_offered"], want)
print("status --json: kernel_features", hex(bits), "zero_copy_offered", want)
PY

mkdir -p /mnt/lazyroot
mount -o ro "$dev" /mnt/lazyroot
echo 3 >/proc/sys/vm/drop_caches
(cd /mnt/lazyroot && sha256sum --quiet -c "$images/files.sha256") || vm_die "checksum mismatch"
umount /mnt/lazyroot
"$lazyroot" detach "$dev"
echo "ublk_features: OK (${expected[*]:-no zero copy})"
