#include <gtest/gtest.h>

#include <algorithm>

#include "cli/options.h"
#include "initrd/generator.h"

using namespace lazyroot::initrd;

namespace {

const GeneratedFile* find(const std::vector<GeneratedFile>& files, const std::string& path) {
    auto it = std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.path == path; });
    return it == files.end() ? nullptr : &*it;
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST(Generator, ServiceIsARootStorageDaemonBeforeTheRootDevice) {
    RootSpec spec{"http://10.0.2.100/root.img", false, {"--insecure"}};
    auto files = render_units(spec, "/dev/ublkb0", "/usr/bin/lazyroot");
    const GeneratedFile* svc = find(files, "lazyroot.service");
    ASSERT_NE(svc, nullptr);
    const std::string& u = svc->contents;
    EXPECT_TRUE(has_line(u, "Before=initrd-root-device.target"));
    EXPECT_TRUE(has_line(u, "After=network-online.target systemd-modules-load.service"));
    EXPECT_TRUE(has_line(u, "Wants=network-online.target"));
    EXPECT_TRUE(has_line(u, "Type=notify"));
    EXPECT_TRUE(has_line(u, "IgnoreOnIsolate=yes"));
    EXPECT_TRUE(has_line(u, "OnFailure=emergency.target"));
    EXPECT_TRUE(has_line(u, "DefaultDependencies=no"));
    // argv[0] starting with '@' keeps it out of the killing sprees.
    EXPECT_TRUE(has_line(u, "ExecStart=@/usr/bin/lazyroot @lazyroot attach-cmdline"));
    // No Conflicts=shutdown.target: it must outlive the root's unmount.
    EXPECT_EQ(u.find("Conflicts="), std::string::npos);

    const GeneratedFile* want = find(files, "initrd-root-device.target.wants/lazyroot.service");
    ASSERT_NE(want, nullptr);
    EXPECT_EQ(want->link_to, "../lazyroot.service");

    const GeneratedFile* timeout = find(files, "dev-ublkb0.device.d/50-lazyroot.conf");
    ASSERT_NE(timeout, nullptr);
    EXPECT_TRUE(has_line("\n" + timeout->contents, "JobRunningTimeoutSec=infinity"));
}

TEST(Generator, PercentInTheSourceIsNotASpecifier) {
    RootSpec spec{"http://h/a%20b.img", false, {}};
    auto files = render_units(spec, "", "/usr/bin/lazyroot");
    const std::string& u = find(files, "lazyroot.service")->contents;
    EXPECT_NE(u.find("http://h/a%%20b.img"), std::string::npos);
    // No root=: no device drop-in.
    EXPECT_EQ(files.size(), 2u);
}

TEST(Generator, MalformedCmdlineGoesToEmergencyWithTheReason) {
    auto files = render_error_units("/usr/bin/lazyroot");
    const std::string& u = find(files, "lazyroot.service")->contents;
    EXPECT_TRUE(has_line(u, "ExecStart=/usr/bin/lazyroot cmdline"));
    EXPECT_TRUE(has_line(u, "OnFailure=emergency.target"));
    EXPECT_TRUE(has_line(u, "Type=oneshot"));
    EXPECT_NE(find(files, "initrd-root-device.target.wants/lazyroot.service"), nullptr);
}

TEST(Generator, DeviceUnitNamesEscapeLikeSystemd) {
    EXPECT_EQ(device_unit_name("/dev/ublkb0"), "dev-ublkb0.device");
    EXPECT_EQ(device_unit_name("/dev/mapper/lazyroot"), "dev-mapper-lazyroot.device");
    EXPECT_EQ(device_unit_name("/dev/mapper/my-root"), "dev-mapper-my\\x2droot.device");
    EXPECT_EQ(device_unit_name("/dev/disk/by-label/a b"), "dev-disk-by\\x2dlabel-a\\x20b.device");
}

TEST(Generator, AttachArgumentsResolveBootOrigin) {
    RootSpec spec{"images/root.img", true, {"--mode=full"}};
    EXPECT_EQ(attach_arguments(spec, "http://10.0.0.1/boot/uki.efi"),
              (std::vector<std::string>{"attach", "http://10.0.0.1/boot/images/root.img", "--mode=full",
                                        "--io-timeout=infinity"}));
    EXPECT_THROW(attach_arguments(spec, ""), CmdlineError);
    RootSpec plain{"http://h/r.img", false, {}};
    EXPECT_EQ(attach_arguments(plain, ""),
              (std::vector<std::string>{"attach", "http://h/r.img", "--io-timeout=infinity"}));
}

namespace {

lazyroot::cli::AttachOptions attach_options_for(const std::string& cmdline) {
    auto spec = parse_root_spec(cmdline);
    EXPECT_TRUE(spec);
    std::vector<std::string> args = attach_arguments(*spec, "");
    args.insert(args.begin(), "lazyroot");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    return std::get<lazyroot::cli::AttachOptions>(
        lazyroot::cli::parse_command_line(static_cast<int>(argv.size()), argv.data()));
}

}  // namespace

// A root device waits out outages unless rd.lazyroot= says otherwise.
TEST(Generator, RootDevicesDefaultToAnInfiniteIoTimeout) {
    EXPECT_EQ(attach_options_for("rd.lazyroot=http://h/r.img,insecure").io_timeout, std::nullopt);
    EXPECT_EQ(attach_options_for("rd.lazyroot=http://h/r.img,insecure,io-timeout=10").io_timeout,
              std::chrono::seconds(10));
    auto spec = parse_root_spec("rd.lazyroot=http://h/r.img,io-timeout=inf");
    ASSERT_TRUE(spec);
    EXPECT_EQ(attach_arguments(*spec, ""), (std::vector<std::string>{"attach", "http://h/r.img", "--io-timeout=inf"}));
    EXPECT_EQ(attach_options_for("rd.lazyroot=http://h/r.img,io-timeout=inf").io_timeout, std::nullopt);
    // A plain `lazyroot attach` keeps the finite default.
    const char* argv[] = {"lazyroot", "attach", "http://h/r.img"};
    EXPECT_EQ(std::get<lazyroot::cli::AttachOptions>(lazyroot::cli::parse_command_line(3, argv)).io_timeout,
              std::chrono::seconds(30));
}
