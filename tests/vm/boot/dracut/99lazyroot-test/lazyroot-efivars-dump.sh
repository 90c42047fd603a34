#!/bin/sh
# pre-trigger hook (sourced by dracut): with lazyroot.test=efivars, prints the
# EFI variables bootorigin reads, as hex, one LAZYROOT_EFIVAR line each, so
# that the host can check them and keep them as unit-test data (tests/data/efivars).
if grep -q -w 'lazyroot.test=efivars' /proc/cmdline; then
    lr_dir=/sys/firmware/efi/efivars
    lr_hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }
    lr_global=8be4df61-93ca-11d2-aa0d-00e098032b8c
    lr_loader=4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
    if [ -e "$lr_dir/BootCurrent-$lr_global" ]; then
        lr_cur=$(lr_hex "$lr_dir/BootCurrent-$lr_global")
        # Attributes (4 bytes), then the option number, little-endian.
        lr_opt=$(echo "$lr_cur" | cut -c11-12)$(echo "$lr_cur" | cut -c9-10)
        lr_opt=Boot$(echo "$lr_opt" | tr a-f A-F)
        for lr_v in BootCurrent-$lr_global "$lr_opt-$lr_global" StubDeviceURL-$lr_loader LoaderDeviceURL-$lr_loader; do
            [ -e "$lr_dir/$lr_v" ] && echo "LAZYROOT_EFIVAR $lr_v $(lr_hex "$lr_dir/$lr_v")" >/dev/console
        done
    else
        echo "LAZYROOT_EFIVAR none: no BootCurrent in $lr_dir" >/dev/console
    fi
fi
