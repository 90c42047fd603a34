// libFuzzer: the command-line parser and the EFI variable decoder must never
// crash or hang, whatever the bytes; errors are CmdlineError only.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "initrd/boot_origin.h"
#include "initrd/cmdline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        if (auto spec = lazyroot::initrd::parse_root_spec(text); spec && spec->bootorigin)
            lazyroot::initrd::resolve_boot_origin("http://host/dir/uki.efi", spec->source);
    } catch (const lazyroot::initrd::CmdlineError&) {}
    lazyroot::initrd::decode_stub_device_url({data, size});
    return 0;
}
