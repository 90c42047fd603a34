// libFuzzer: the StubDeviceURL EFI variable (what the firmware says the UKI
// was booted from) and the image URL resolved against it. A decoded URL is
// printable ASCII without blanks; a resolved one keeps the boot URL's scheme
// and host and ends in the relative part, whatever either holds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "initrd/boot_origin.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lazyroot::initrd;
    if (size < 2) return 0;
    // data[0]: how many bytes are the variable; the rest is the relative SOURCE.
    const size_t var_len = std::min<size_t>(data[0] * 2u, size - 1);
    const std::span<const uint8_t> var(data + 1, var_len);
    const std::string relative(reinterpret_cast<const char*>(data + 1 + var_len), size - 1 - var_len);

    const auto url = decode_stub_device_url(var);
    if (url) {
        check(!url->empty());
        for (unsigned char c : *url) check(c >= 0x21 && c <= 0x7e);
    }
    const std::string boot = url.value_or("http://10.0.0.1/boot/uki.efi");
    if (auto r = resolve_boot_origin(boot, relative)) {
        const size_t scheme = boot.find("://");
        const size_t path = boot.find('/', scheme + 3);
        check(r->compare(0, path, boot, 0, path) == 0);  // same scheme and authority
        check(r->size() >= relative.size() && r->compare(r->size() - relative.size(), relative.size(), relative) == 0);
    }
    return 0;
}
