#!/bin/bash
# A unified kernel image (UKI) the way Debian's tools make one without ukify
# (bookworm has no ukify; bookworm-backports ships it only inside systemd 254
# itself): objcopy puts the os-release, the kernel command line, the initrd
# and the kernel as PE sections into systemd-stub (systemd-boot-efi's
# linuxx64.efi.stub), each at an aligned address after the stub's last section.
#   make-uki.sh KERNEL INITRD "CMDLINE" OS-RELEASE OUT.efi
set -euo pipefail
kernel=$1 initrd=$2 cmdline=$3 osrel=$4 out=$5
stub=${LAZYROOT_EFI_STUB:-/usr/lib/systemd/boot/efi/linuxx64.efi.stub}
[[ -r $stub ]] || { echo "make-uki: no $stub (Debian package systemd-boot-efi)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s' "$cmdline" >"$tmp/cmdline"

# --change-section-vma for each new section, in order after the stub's end.
vmas=$(python3 - "$stub" "$osrel" "$tmp/cmdline" "$initrd" "$kernel" <<'PY'
import os, re, subprocess, sys
stub, files = sys.argv[1], sys.argv[2:]
heads = subprocess.run(["objdump", "-h", stub], check=True, capture_output=True, text=True).stdout
end = max(int(m[1], 16) + int(m[2], 16)
          for m in re.finditer(r"^\s*\d+\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)", heads, re.M))
head = subprocess.run(["objdump", "-p", stub], check=True, capture_output=True, text=True).stdout
align = int(re.search(r"SectionAlignment\s+([0-9a-f]+)", head)[1], 16)
at = end
for name, f in zip([".osrel", ".cmdline", ".initrd", ".linux"], files):
    at = (at + align - 1) // align * align
    print(f"--change-section-vma {name}=0x{at:x}", end=" ")
    at += os.path.getsize(f)
PY
)
# shellcheck disable=SC2086  # $vmas is a list of options
objcopy \
    --add-section .osrel="$osrel" \
    --add-section .cmdline="$tmp/cmdline" \
    --add-section .initrd="$initrd" \
    --add-section .linux="$kernel" \
    $vmas "$stub" "$out.tmp"
mv "$out.tmp" "$out"
