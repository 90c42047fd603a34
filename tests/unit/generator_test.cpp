#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <curl/curl.h>

#include "cli/options.h"
#include "cli/root_daemon.h"
#include "initrd/generator.h"
#include "tests/unit/systemd_unit.h"

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
    // Well-formed as systemd reads it: one Type= (oneshot), no Restart=always,
    // no NotifyAccess=. It used to carry Type=notify and Type=oneshot both.
    const auto parsed = lazyroot::testing::parse_unit(u);
    EXPECT_EQ(lazyroot::testing::unit_problems(parsed), "") << u;
    EXPECT_EQ(parsed.one("Service", "Type"), "oneshot");
    EXPECT_EQ(parsed.one("Service", "ExecStart"), "/usr/bin/lazyroot cmdline");
    EXPECT_EQ(parsed.one("Unit", "OnFailure"), "emergency.target");
    EXPECT_NE(find(files, "initrd-root-device.target.wants/lazyroot.service"), nullptr);
}

TEST(Generator, CredentialsInTheSourceStayOutOfTheUnit) {
    // Units under /run/systemd/generator are world-readable.
    RootSpec spec{"https://user:secret@h/root.img?X-Amz-Signature=abc123", false, {}};
    const auto files = render_units(spec, "/dev/ublkb0", "/usr/bin/lazyroot");
    const auto* unit = find(files, "lazyroot.service");
    ASSERT_NE(unit, nullptr);
    EXPECT_EQ(unit->contents.find("secret"), std::string::npos) << unit->contents;
    EXPECT_EQ(unit->contents.find("abc123"), std::string::npos) << unit->contents;
    EXPECT_NE(unit->contents.find("Description=lazyroot: the root image from https://"), std::string::npos)
        << unit->contents;
}

TEST(Generator, TheDaemonUnitIsWellFormed) {
    RootSpec spec{"http://h/a%20b.img", false, {"--insecure"}};
    {
        const auto parsed = lazyroot::testing::parse_unit(
            find(render_units(spec, "/dev/ublkb0", "/usr/bin/lazyroot"), "lazyroot.service")->contents);
        EXPECT_EQ(lazyroot::testing::unit_problems(parsed), "");
        EXPECT_EQ(parsed.one("Service", "Type"), "notify");
        EXPECT_EQ(parsed.one("Service", "Restart"), "always");
        EXPECT_EQ(lazyroot::testing::unescape_specifiers(*parsed.one("Unit", "Description")),
                  "lazyroot: the root image from http://h/a%20b.img");
        EXPECT_EQ(lazyroot::testing::exec_words(*parsed.one("Service", "ExecStart")),
                  (std::vector<std::string>{"@/usr/bin/lazyroot", "@lazyroot", "attach-cmdline"}));
    }
    PinnedExec pinned{"/run/lazyroot/exec", "ld-linux-x86-64.so.2"};
    const auto parsed = lazyroot::testing::parse_unit(
        find(render_units(spec, "", "/usr/bin/lazyroot", &pinned), "lazyroot.service")->contents);
    EXPECT_EQ(lazyroot::testing::unit_problems(parsed), "");
    EXPECT_EQ(lazyroot::testing::exec_words(*parsed.one("Service", "ExecStart")),
              (std::vector<std::string>{"@/run/lazyroot/exec/ld-linux-x86-64.so.2", "@lazyroot", "--library-path",
                                        "/run/lazyroot/exec", "--argv0", "@lazyroot", "/run/lazyroot/exec/lazyroot",
                                        "attach-cmdline"}));
}

// A quoted value can hold anything; what would reach the unit is refused in
// one line (the error unit then sends the boot to the emergency target).
TEST(Generator, ControlCharactersAndUnitSyntaxInTheCommandLineAreRefused) {
    for (const std::string& bad :
         {std::string("rd.lazyroot=\"http://h/r.img\nExecStartPre=/bin/sh -c evil\""),
          std::string("rd.lazyroot=\"http://h/r.img\r\""), std::string("rd.lazyroot=\"http://h/r\x01.img\""),
          std::string("rd.lazyroot=\"http://h/r.img,name=a\nb\""), std::string("rd.lazyroot=\"http://h/r.img\x7f\""),
          std::string("rd.lazyroot=\"http://h/r.img\\\""), std::string("rd.lazyroot=\"http://h/r.img \""),
          std::string("rd.lazyroot=\"http://h/r \\ x.img\""), std::string("rd.lazyroot=http://h/r\xc3\xa9.img"),
          std::string("rd.lazyroot=\"http://h/r.img\tx\"")}) {
        try {
            parse_root_spec(bad);
            ADD_FAILURE() << "accepted " << bad;
        } catch (const CmdlineError& e) {
            const std::string why = e.what();
            EXPECT_EQ(why.find_first_of(std::string("\n\r\x01\x7f", 4)), std::string::npos) << why;
            EXPECT_EQ(why.rfind("rd.lazyroot=: ", 0), 0u) << why;
        }
    }
    // Quoting is still fine for what is printable.
    auto spec = parse_root_spec("rd.lazyroot=\"http://h/r.img,name=my root\"");
    ASSERT_TRUE(spec);
    EXPECT_EQ(spec->args, (std::vector<std::string>{"--name=my root"}));
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
    EXPECT_EQ(attach_options_for("rd.lazyroot=https://h/r.img,io-timeout=inf").io_timeout, std::nullopt);
    // A plain `lazyroot attach` keeps the finite default.
    const char* argv[] = {"lazyroot", "attach", "https://h/r.img"};
    EXPECT_EQ(std::get<lazyroot::cli::AttachOptions>(lazyroot::cli::parse_command_line(3, argv)).io_timeout,
              std::chrono::seconds(30));
}

TEST(Generator, DaemonIsRestartedAndCannotBeStopped) {
    RootSpec spec{"http://10.0.2.100/root.img", false, {}};
    PinnedExec exec{"/run/lazyroot/exec", "ld-linux-x86-64.so.2"};
    auto files = render_units(spec, "/dev/ublkb0", "/usr/bin/lazyroot", &exec);
    const std::string& u = find(files, "lazyroot.service")->contents;
    EXPECT_TRUE(has_line(u, "Restart=always"));
    EXPECT_TRUE(has_line(u, "StartLimitIntervalSec=0"));
    // A failed first start (reason on the console) goes to emergency, not round again.
    EXPECT_TRUE(has_line(u, "RestartPreventExitStatus=0 1 2"));
    EXPECT_TRUE(has_line(u, "OOMScoreAdjust=-1000"));
    EXPECT_TRUE(has_line(u, "RefuseManualStop=yes"));
    EXPECT_TRUE(has_line(u, "SendSIGKILL=no"));
    // RefuseManualStop is a [Unit] setting, Restart a [Service] one.
    const size_t service = u.find("[Service]");
    ASSERT_NE(service, std::string::npos);
    EXPECT_LT(u.find("RefuseManualStop="), service);
    EXPECT_GT(u.find("Restart=always"), service);
    // Conditions are checked again at every restart, after switch_root too.
    EXPECT_EQ(u.find("Condition"), std::string::npos);
    // The copy in /run, through its own loader: nothing is read from the root.
    EXPECT_TRUE(has_line(u,
                         "ExecStart=@/run/lazyroot/exec/ld-linux-x86-64.so.2 @lazyroot "
                         "--library-path /run/lazyroot/exec --argv0 @lazyroot "
                         "/run/lazyroot/exec/lazyroot attach-cmdline"));
    EXPECT_TRUE(has_line(u, "Environment=OPENSSL_CONF=/run/lazyroot/exec/openssl.cnf"));
}

TEST(Generator, ErrorUnitIsNotRestarted) {
    auto files = render_error_units("/usr/bin/lazyroot");
    const std::string& u = find(files, "lazyroot.service")->contents;
    EXPECT_EQ(u.find("Restart="), std::string::npos);
}

TEST(Generator, PinnedExecutableRunsFromItsCopy) {
    char tmpl[] = "/tmp/lazyroot-exec-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string top = tmpl;
    const std::string dir = top + "/exec";
    std::string why;
    const std::string loader = pin_executable(dir, why);
    ASSERT_FALSE(loader.empty()) << why;
    EXPECT_EQ(::access((dir + "/openssl.cnf").c_str(), R_OK), 0);
    // Every library the copy (of this test binary) needs resolves inside DIR.
    const std::string list =
        dir + "/" + loader + " --library-path " + dir + " --list " + dir + "/lazyroot > " + top + "/list 2>&1";
    ASSERT_EQ(std::system(list.c_str()), 0) << list;
    std::ifstream in(top + "/list");
    std::string line;
    int resolved = 0;
    while (std::getline(in, line)) {
        auto arrow = line.find("=> ");
        if (arrow == std::string::npos) continue;
        EXPECT_EQ(line.compare(arrow + 3, dir.size() + 1, dir + "/"), 0) << line;
        ++resolved;
    }
    EXPECT_GT(resolved, 2);
    // And it runs from there.
    // ExecStart=@PROGRAM ARGV0 REST is, in bash, exec -a ARGV0 PROGRAM REST.
    std::string start =
        pinned_exec_command(dir, loader, "@unit_tests", "--gtest_filter=Generator.DeviceUnitNames* --gtest_list_tests");
    ASSERT_EQ(start[0], '@');
    const size_t program_end = start.find(' ');
    const size_t argv0_end = start.find(' ', program_end + 1);
    const std::string run = "bash -c 'exec -a " + start.substr(program_end + 1, argv0_end - program_end - 1) + " " +
                            start.substr(1, program_end - 1) + start.substr(argv0_end) + "' > " + top + "/out 2>&1";
    EXPECT_EQ(std::system(run.c_str()), 0) << run;
    std::ifstream out(top + "/out");
    std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("DeviceUnitNamesEscapeLikeSystemd"), std::string::npos) << text;
    std::filesystem::remove_all(top);
}

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A run dir of its own (LAZYROOT_RUN_DIR) and in_initrd() forced.
class PinAttachFiles : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/lazyroot-pin-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        top_ = tmpl;
        ::setenv("LAZYROOT_RUN_DIR", (top_ + "/run").c_str(), 1);
        for (const char* name : {"ca.pem", "cert.pem", "key.pem", "trust.pem", "root.verity"})
            std::ofstream(top_ + "/" + name) << "contents of " << name << "\n";
    }
    void TearDown() override {
        lazyroot::cli::set_in_initrd_for_testing(-1);
        ::unsetenv("LAZYROOT_RUN_DIR");
        std::filesystem::remove_all(top_);
    }
    std::string top_;
};

}  // namespace

TEST_F(PinAttachFiles, InTheInitrdFilesAreCopiedAndRenamed) {
    lazyroot::cli::set_in_initrd_for_testing(1);
    const std::vector<std::string> args{"attach",
                                        "https://h/root.img",
                                        "--ca",
                                        top_ + "/ca.pem",
                                        "--cert=" + top_ + "/cert.pem",
                                        "--key",
                                        top_ + "/key.pem",
                                        "--verity=manifest",
                                        "--trust=" + top_ + "/trust.pem",
                                        "--hash-source=file://" + top_ + "/root.verity",
                                        "--mirror=https://m/root.img",
                                        "--cache=/dev/vda"};
    const auto out = lazyroot::cli::pin_attach_files(args);
    const std::string pinned = top_ + "/run/pinned/";
    const std::vector<std::string> want{"attach",
                                        "https://h/root.img",
                                        "--ca",
                                        pinned + "ca-ca.pem",
                                        "--cert=" + pinned + "cert-cert.pem",
                                        "--key",
                                        pinned + "key-key.pem",
                                        "--verity=manifest",
                                        "--trust=" + pinned + "trust-trust.pem",
                                        "--hash-source=file://" + pinned + "hash-source-root.verity",
                                        "--mirror=https://m/root.img",
                                        "--cache=/dev/vda"};
    EXPECT_EQ(out, want);
    EXPECT_EQ(slurp(pinned + "ca-ca.pem"), "contents of ca.pem\n");
    EXPECT_EQ(slurp(pinned + "key-key.pem"), "contents of key.pem\n");
    EXPECT_EQ(slurp(pinned + "hash-source-root.verity"), "contents of root.verity\n");
    // Pinning what is pinned already changes nothing (and keeps the contents).
    EXPECT_EQ(lazyroot::cli::pin_attach_files(out), out);
    EXPECT_EQ(slurp(pinned + "ca-ca.pem"), "contents of ca.pem\n");
    // The copies stay when the originals go (as the initrd's do at switch_root).
    std::filesystem::remove(top_ + "/trust.pem");
    EXPECT_EQ(slurp(pinned + "trust-trust.pem"), "contents of trust.pem\n");
}

TEST_F(PinAttachFiles, RemoteTreesAndMissingFilesKeepTheirNames) {
    lazyroot::cli::set_in_initrd_for_testing(1);
    const std::vector<std::string> args{
        "attach",  "http://h/root.img",  "--verity=manifest", "--hash-source=http://h/root.verity",
        "--trust", top_ + "/missing.pem"};
    EXPECT_EQ(lazyroot::cli::pin_attach_files(args), args);
}

TEST_F(PinAttachFiles, HttpsWithoutCaPinsTheDefaultBundle) {
    lazyroot::cli::set_in_initrd_for_testing(1);
    const std::vector<std::string> args{"attach", "https://h/root.img"};
    const auto out = lazyroot::cli::pin_attach_files(args);
    const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
    const std::string bundle = v && v->cainfo ? v->cainfo : "/etc/ssl/certs/ca-certificates.crt";
    if (::access(bundle.c_str(), R_OK) != 0) {
        EXPECT_EQ(out, args);  // nothing to pin: libcurl reports it as before
        return;
    }
    ASSERT_EQ(out.size(), 3u);
    const std::string copy = top_ + "/run/pinned/ca-" + bundle.substr(bundle.rfind('/') + 1);
    EXPECT_EQ(out[2], "--ca=" + copy);
    EXPECT_EQ(slurp(copy), slurp(bundle));
}

TEST_F(PinAttachFiles, OutsideTheInitrdNothingChanges) {
    lazyroot::cli::set_in_initrd_for_testing(0);
    const std::vector<std::string> args{"attach", "https://h/root.img", "--ca", top_ + "/ca.pem"};
    EXPECT_EQ(lazyroot::cli::pin_attach_files(args), args);
    EXPECT_FALSE(std::filesystem::exists(top_ + "/run/pinned"));
}

TEST_F(PinAttachFiles, HostNamesAreResolvedOnceAndRecorded) {
    lazyroot::cli::set_in_initrd_for_testing(1);
    const std::vector<std::string> args{"attach", "http://localhost:1234/r.img", "--mirror=http://127.0.0.1:81/r.img",
                                        "--insecure"};
    const auto out = lazyroot::cli::pin_attach_files(args);
    std::vector<std::string> resolves;
    for (const auto& w : out)
        if (w.rfind("--resolve=", 0) == 0) resolves.push_back(w);
    ASSERT_EQ(resolves.size(), 1u) << "numeric hosts need no entry";
    EXPECT_EQ(resolves[0].rfind("--resolve=localhost:1234:", 0), 0u);
    EXPECT_NE(resolves[0].find("127.0.0.1"), std::string::npos);
    EXPECT_EQ(lazyroot::cli::pin_attach_files(out), out) << "what is recorded is not resolved again";
    // The words parse back, as a successor parses them.
    std::vector<const char*> argv{"lazyroot"};
    for (const auto& w : out) argv.push_back(w.c_str());
    auto opts = std::get<lazyroot::cli::AttachOptions>(
        lazyroot::cli::parse_command_line(static_cast<int>(argv.size()), argv.data()));
    ASSERT_EQ(opts.resolve.size(), 1u);
    EXPECT_EQ("--resolve=" + opts.resolve[0], resolves[0]);
}

TEST(Generator, ARecordingBootStopsItsProfileAtMultiUserTarget) {
    for (const std::string arg : {"--profile=record", "--profile-record=/run/x.profile"}) {
        RootSpec spec{"http://10.0.2.100/root.img", false, {"--insecure", arg}};
        auto files = render_units(spec, "/dev/ublkb0", "/usr/bin/lazyroot");
        const GeneratedFile* stop = find(files, kProfileStopName);
        ASSERT_NE(stop, nullptr) << arg;
        EXPECT_TRUE(has_line(stop->contents, "After=multi-user.target"));
        EXPECT_TRUE(has_line(stop->contents, "ConditionPathExists=!/etc/initrd-release"));
        EXPECT_TRUE(has_line(stop->contents, "ExecStart=/usr/bin/lazyroot profile stop"));
        const GeneratedFile* want = find(files, std::string("multi-user.target.wants/") + kProfileStopName);
        ASSERT_NE(want, nullptr);
        EXPECT_EQ(want->link_to, std::string("../") + kProfileStopName);
    }
    RootSpec plain{"http://10.0.2.100/root.img", false, {"--insecure", "--profile=auto"}};
    EXPECT_EQ(find(render_units(plain, "/dev/ublkb0", "/usr/bin/lazyroot"), kProfileStopName), nullptr);
}
