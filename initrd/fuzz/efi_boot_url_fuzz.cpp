// libFuzzer: the EFI variables lazyroot reads to find the URL the UKI was
// HTTP-booted from (BootCurrent, the Boot#### load option it names with its
// device path, LoaderDeviceURL/StubDeviceURL), through find_boot_url as the
// initrd runs it. A URL found is printable ASCII and comes from one of the
// variables; without one, the reason is one line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "initrd/boot_origin.h"
#include "initrd/efi_load_option.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lazyroot::initrd;
    const std::span<const uint8_t> all(data, size);
    // The whole input as a load option first: the parser on its own.
    if (auto opt = parse_load_option(all)) {
        for (unsigned char c : opt->uri) check(c >= 0x21 && c <= 0x7e);
        for (unsigned char c : opt->description) check(c >= 0x20 && c <= 0x7e);
    }
    decode_boot_current(all);

    // Then as a set of variables: byte 0 picks which exist, byte 1 is the
    // option BootCurrent names; the rest is the load option and, split at
    // byte 2, a LoaderDeviceURL value.
    if (size < 3) return 0;
    const uint8_t present = data[0];
    const uint16_t number = data[1];
    const size_t split = std::min<size_t>(data[2] * 2u, size - 3);
    const std::vector<uint8_t> loader(data + 3, data + 3 + split);
    const std::vector<uint8_t> option(data + 3 + split, data + size);
    std::map<std::string, std::vector<uint8_t>> vars;
    if (present & 1) vars[kLoaderDeviceUrlVar] = loader;
    if (present & 2) vars[kBootCurrentVar] = {7, 0, 0, 0, static_cast<uint8_t>(number), 0};
    if (present & 4) vars[boot_option_var(number)] = option;
    const BootUrl b = find_boot_url([&](std::string_view name) -> std::optional<std::vector<uint8_t>> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    });
    if (b.url.empty()) {
        check(!b.why.empty() && b.why.find('\n') == std::string::npos);
    } else {
        check(!b.from.empty());
        for (unsigned char c : b.url) check(c >= 0x21 && c <= 0x7e);
        if (b.from == "LoaderDeviceURL")
            check((present & 1) != 0);
        else
            check((present & 6) == 6);
    }
    return 0;
}
