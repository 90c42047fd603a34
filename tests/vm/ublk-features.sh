#!/bin/bash
# vm.ublk_features, vm.k2.ublk_features — `lazyroot status` says whether the
# kernel's ublk driver offers zero copy, from the feature bits the kernel
# itself reports (ublk-features-probe, which shares no code with lazyroot):
# SUPPORT_ZERO_COPY (bit 0, 6.15+) and AUTO_BUF_REG (bit 11, 6.16+). On 6.12
# neither is offered. Where AUTO_BUF_REG and USER_COPY are offered, the
# device uses zero copy by default and the copy path with --zero-copy=off;
# every file of the ext4 image is checked by sha256 on each path.
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
# Zero copy is used (by default) when the kernel offers AUTO_BUF_REG and USER_COPY (bit 7).
zero_copy=False
if ((bits & (1 << 11) && bits & (1 << 7))); then
    zero_copy=True
    line="  ublk zero copy: in use (AUTO_BUF_REG); [0-9]* reads went straight into the request's pages"
elif ((${#expected[@]})); then
    line="  ublk zero copy: offered by the kernel (${expected[*]}), not used; copy path"
else
    line="  ublk zero copy: not offered by the kernel; copy path"
fi

cp "$images/ext4.img" /tmp/ext4.img
dev=$("$lazyroot" attach file:///tmp/ext4.img --queues 2 --daemon)
"$lazyroot" status | tee status.txt
grep -qx -- "$line" status.txt || vm_die "status lacks the line '$line'"
"$lazyroot" status --json >status.json
python3 - "$bits" status.json "$zero_copy" <<'PY' || vm_die "status --json disagrees with the kernel's bits"
import json, sys
bits = int(sys.argv[1], 16)
u = json.load(open(sys.argv[2]))[0]["ublk"]
assert u["kernel_features"] == bits, (u["kernel_features"], bits)
assert u["zero_copy_used"] is (sys.argv[3] == "True"), u
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

# Where zero copy is used, the copy path must still be there: --zero-copy=off.
if [[ $zero_copy == True ]]; then
    dev=$("$lazyroot" attach file:///tmp/ext4.img --queues 2 --zero-copy=off --daemon)
    "$lazyroot" status | tee status.txt
    grep -qx -- "  ublk zero copy: offered by the kernel (${expected[*]}), not used; copy path" status.txt ||
        vm_die "--zero-copy=off: status lacks the not-used line"
    mount -o ro "$dev" /mnt/lazyroot
    (cd /mnt/lazyroot && sha256sum --quiet -c "$images/files.sha256") || vm_die "checksum mismatch, copy path"
    umount /mnt/lazyroot
    "$lazyroot" detach "$dev"
fi
echo "ublk_features: OK (${expected[*]:-no zero copy})"
