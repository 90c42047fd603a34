// The boot URL without a v258 stub: BootCurrent, the Boot#### load option it
// names (its URI device-path node), LoaderDeviceURL and StubDeviceURL, in the
// order find_boot_url tries them. Captured variables (tests/data/efivars/,
// written by the uefi boot tests' initrd from OVMF) and hand-made ones.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "initrd/boot_origin.h"
#include "initrd/efi_load_option.h"

using namespace lazyroot::initrd;

namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v));
    b.push_back(static_cast<uint8_t>(v >> 8));
}

Bytes utf16(std::string_view s, bool nul = true) {
    Bytes b;
    for (char c : s) put16(b, static_cast<uint8_t>(c));
    if (nul) put16(b, 0);
    return b;
}

Bytes node(uint8_t type, uint8_t subtype, const Bytes& data) {
    Bytes b{type, subtype};
    put16(b, static_cast<uint16_t>(4 + data.size()));
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

Bytes uri_node(std::string_view uri) { return node(3, 24, Bytes(uri.begin(), uri.end())); }
const Bytes kEndNode{0x7f, 0xff, 4, 0};

// efivarfs attributes + EFI_LOAD_OPTION with `nodes` as its file path list.
Bytes load_option(std::string_view description, const std::vector<Bytes>& nodes, const Bytes& optional = {}) {
    Bytes path;
    for (const auto& n : nodes) path.insert(path.end(), n.begin(), n.end());
    Bytes b{7, 0, 0, 0, 1, 0, 0, 0};  // attributes; LOAD_OPTION_ACTIVE
    put16(b, static_cast<uint16_t>(path.size()));
    const Bytes d = utf16(description);
    b.insert(b.end(), d.begin(), d.end());
    b.insert(b.end(), path.begin(), path.end());
    b.insert(b.end(), optional.begin(), optional.end());
    return b;
}

Bytes with_attrs(Bytes v) {
    v.insert(v.begin(), {7, 0, 0, 0});
    return v;
}

EfiVarReader reader(std::map<std::string, Bytes> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<Bytes> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

// A directory of files named as in efivarfs.
std::map<std::string, Bytes> captured(const std::string& scenario) {
    std::map<std::string, Bytes> vars;
    const auto dir = std::filesystem::path(LAZYROOT_SOURCE_DIR) / "tests/data/efivars" / scenario;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(e.path(), std::ios::binary);
        vars[e.path().filename()] = Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return vars;
}

}  // namespace

TEST(EfiLoadOption, BootCurrentIsOneUint16) {
    EXPECT_EQ(decode_boot_current(Bytes{7, 0, 0, 0, 0x99, 0}), 0x99);
    EXPECT_EQ(decode_boot_current(Bytes{7, 0, 0, 0, 0x01, 0x20}), 0x2001);
    EXPECT_FALSE(decode_boot_current(Bytes{7, 0, 0, 0, 0x99}));
    EXPECT_FALSE(decode_boot_current(Bytes{7, 0, 0, 0, 0x99, 0, 0}));
    EXPECT_EQ(boot_option_var(0xab), "Boot00AB-8be4df61-93ca-11d2-aa0d-00e098032b8c");
}

TEST(EfiLoadOption, UriNodeOfAnHttpBootEntry) {
    auto opt = parse_load_option(
        load_option("netboot x.efi",
                    {node(2, 1, {0xd0, 0x41, 3, 0x0a, 0, 0, 0, 0}), uri_node("http://10.0.2.100/boot/x.efi"), kEndNode},
                    Bytes{'o', 'p', 't'}));
    ASSERT_TRUE(opt);
    EXPECT_EQ(opt->description, "netboot x.efi");
    EXPECT_EQ(opt->uri, "http://10.0.2.100/boot/x.efi");
}

TEST(EfiLoadOption, EmptyOrNoUriNode) {
    // A DHCP-configured HTTP boot entry: an empty URI node.
    auto dhcp = parse_load_option(load_option("UEFI HTTPv4", {uri_node(""), kEndNode}));
    ASSERT_TRUE(dhcp);
    EXPECT_EQ(dhcp->uri, "");
    auto disk = parse_load_option(load_option("UEFI Misc Device", {node(1, 1, {0, 4}), kEndNode}));
    ASSERT_TRUE(disk);
    EXPECT_EQ(disk->uri, "");
    EXPECT_EQ(disk->description, "UEFI Misc Device");
    // The first URI node counts; a NUL pad ends it.
    auto two = parse_load_option(
        load_option("x", {uri_node(std::string("http://a/b\0", 11)), uri_node("http://c/d"), kEndNode}));
    ASSERT_TRUE(two);
    EXPECT_EQ(two->uri, "http://a/b");
}

TEST(EfiLoadOption, MalformedIsRefused) {
    const Bytes good = load_option("d", {uri_node("http://h/u.efi"), kEndNode});
    ASSERT_TRUE(parse_load_option(good));
    for (size_t n = 0; n < good.size(); ++n)
        EXPECT_FALSE(parse_load_option(std::span(good.data(), n))) << "truncated to " << n;
    EXPECT_FALSE(parse_load_option(load_option("d", {uri_node("http://h/u.efi")})));  // no end node
    EXPECT_FALSE(parse_load_option(load_option("d", {uri_node("http://h/a b"), kEndNode})));
    EXPECT_FALSE(parse_load_option(load_option("d", {Bytes{3, 24, 2, 0}, kEndNode})));  // node shorter than its header
    Bytes long_node = load_option("d", {uri_node("http://h/u.efi"), kEndNode});
    long_node[16] = 0xff;  // the URI node's length (after 4+4+2 header and "d\0") runs past the list
    EXPECT_FALSE(parse_load_option(long_node));
    Bytes long_list = good;
    long_list[8] = 0xff;  // FilePathListLength past the variable
    EXPECT_FALSE(parse_load_option(long_list));
    Bytes no_nul{7, 0, 0, 0, 1, 0, 0, 0, 4, 0, 'x', 0};  // description without its NUL
    EXPECT_FALSE(parse_load_option(no_nul));
}

TEST(BootUrl, TheOrderOfTheSources) {
    const Bytes current{7, 0, 0, 0, 0x99, 0};
    const Bytes option = load_option("netboot", {uri_node("http://h/from-entry.efi"), kEndNode});
    std::map<std::string, Bytes> vars{{kBootCurrentVar, current}, {boot_option_var(0x99), option}};
    auto b = find_boot_url(reader(vars));
    EXPECT_EQ(b.url, "http://h/from-entry.efi");
    EXPECT_EQ(b.from, "Boot0099 (BootCurrent)");

    vars[kLoaderDeviceUrlVar] = with_attrs(utf16("http://h/from-loader.efi"));
    b = find_boot_url(reader(vars));
    EXPECT_EQ(b.url, "http://h/from-loader.efi");
    EXPECT_EQ(b.from, "LoaderDeviceURL");

    vars[kStubDeviceUrlVar] = with_attrs(utf16("http://h/from-stub.efi"));
    b = find_boot_url(reader(vars));
    EXPECT_EQ(b.url, "http://h/from-stub.efi");
    EXPECT_EQ(b.from, "StubDeviceURL");

    // A malformed variable is passed over, and said so if nothing else gives a URL.
    vars[kStubDeviceUrlVar] = with_attrs(utf16("not ascii \x01"));
    EXPECT_EQ(find_boot_url(reader(vars)).url, "http://h/from-loader.efi");
}

TEST(BootUrl, NoneGivesOneLineWhy) {
    auto none = find_boot_url(reader({}));
    EXPECT_EQ(none.url, "");
    EXPECT_EQ(none.why, "no StubDeviceURL, no LoaderDeviceURL, no BootCurrent (not booted through UEFI?)");

    std::map<std::string, Bytes> disk{{kBootCurrentVar, Bytes{7, 0, 0, 0, 1, 0}},
                                      {boot_option_var(1), load_option("UEFI Misc Device", {kEndNode})}};
    auto d = find_boot_url(reader(disk));
    EXPECT_EQ(d.url, "");
    EXPECT_EQ(d.why,
              "no StubDeviceURL, no LoaderDeviceURL, and BootCurrent's Boot0001 (\"UEFI Misc Device\") has no URI in "
              "its device path: not booted over HTTP, or the URL came from DHCP");

    disk.erase(boot_option_var(1));
    EXPECT_EQ(find_boot_url(reader(disk)).why,
              "no StubDeviceURL, no LoaderDeviceURL, no Boot0001 (which BootCurrent names)");
    disk[boot_option_var(1)] = Bytes{7, 0, 0, 0};
    EXPECT_EQ(find_boot_url(reader(disk)).why,
              "no StubDeviceURL, no LoaderDeviceURL, Boot0001 (BootCurrent) is malformed");
}

// Captured in the guest of vm.boot_uefi: OVMF 2022.11 HTTP-booted the UKI
// from an entry virt-fw-vars --set-boot-uri wrote (BootNext); Debian's stub
// set no StubDeviceURL or LoaderDeviceURL.
TEST(BootUrl, CapturedOvmfHttpBoot) {
    const auto vars = captured("ovmf-http-boot");
    ASSERT_EQ(vars.size(), 2u);
    EXPECT_EQ(decode_boot_current(vars.at(kBootCurrentVar)), 0x99);
    auto opt = parse_load_option(vars.at(boot_option_var(0x99)));
    ASSERT_TRUE(opt);
    EXPECT_EQ(opt->description, "netboot lazyroot.efi");
    EXPECT_EQ(opt->uri, "http://10.0.2.100/lazyroot.efi");
    auto b = find_boot_url(reader(vars));
    EXPECT_EQ(b.url, "http://10.0.2.100/lazyroot.efi");
    EXPECT_EQ(b.from, "Boot0099 (BootCurrent)");
    EXPECT_EQ(resolve_boot_origin(b.url, "root.img"), "http://10.0.2.100/root.img");
}

// Captured in the guest of vm.boot_uefi_no_origin: the same UKI booted from
// a local disk (the firmware's removable-media entry): no URL anywhere.
TEST(BootUrl, CapturedOvmfDiskBoot) {
    const auto vars = captured("ovmf-disk-boot");
    EXPECT_EQ(decode_boot_current(vars.at(kBootCurrentVar)), 2);
    auto opt = parse_load_option(vars.at(boot_option_var(2)));
    ASSERT_TRUE(opt);
    EXPECT_EQ(opt->description, "UEFI Misc Device");
    EXPECT_EQ(opt->uri, "");
    auto b = find_boot_url(reader(vars));
    EXPECT_EQ(b.url, "");
    EXPECT_EQ(b.why,
              "no StubDeviceURL, no LoaderDeviceURL, and BootCurrent's Boot0002 (\"UEFI Misc Device\") has no URI in "
              "its device path: not booted over HTTP, or the URL came from DHCP");
}
