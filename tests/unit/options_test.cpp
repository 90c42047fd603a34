#include <gtest/gtest.h>

#include <vector>

#include "cli/options.h"
#include "cli/state_file.h"

using namespace lazyroot::cli;

namespace {

Command parse(std::vector<const char*> args) {
    args.insert(args.begin(), "lazyroot");
    return parse_command_line(static_cast<int>(args.size()), args.data());
}

}  // namespace

TEST(Options, AttachDefaults) {
    auto a = std::get<AttachOptions>(parse({"attach", "file:///img"}));
    EXPECT_EQ(a.source, "file:///img");
    EXPECT_EQ(a.queues, 0u);
    EXPECT_EQ(a.depth, 128u);
    EXPECT_EQ(a.name, "lazyroot");
    EXPECT_FALSE(a.daemon);
}

TEST(Options, AttachAllOptions) {
    auto a = std::get<AttachOptions>(
        parse({"attach", "file:///img", "--queues", "2", "--depth=64", "--name", "root", "--daemon"}));
    EXPECT_EQ(a.queues, 2u);
    EXPECT_EQ(a.depth, 64u);
    EXPECT_EQ(a.name, "root");
    EXPECT_TRUE(a.daemon);
}

TEST(Options, BadOptionsAreOneLineUsageErrors) {
    const std::vector<std::vector<const char*>> bad = {
        {},
        {"attach"},
        {"attach", "file:///img", "--bogus"},
        {"attach", "file:///img", "--queues", "0"},
        {"attach", "file:///img", "--queues", "x"},
        {"attach", "file:///img", "--depth", "5000"},
        {"attach", "file:///img", "--name", "a/b"},
        {"detach"},
        {"detach", "/dev/sda"},
        {"frobnicate"},
    };
    for (const auto& args : bad) {
        try {
            parse(args);
            ADD_FAILURE() << "accepted: " << (args.empty() ? "(nothing)" : args.back());
        } catch (const UsageError& e) {
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        }
    }
}

TEST(Options, Detach) {
    auto d = std::get<DetachOptions>(parse({"detach", "/dev/ublkb3", "--timeout", "5"}));
    EXPECT_EQ(d.device, "/dev/ublkb3");
    EXPECT_EQ(d.timeout_s, 5u);
}

TEST(Options, ListAndHelp) {
    EXPECT_TRUE(std::get<ListOptions>(parse({"list", "--json"})).json);
    EXPECT_FALSE(std::get<ListOptions>(parse({"list"})).json);
    EXPECT_NE(std::get<HelpRequest>(parse({"--help"})).text.find("attach"), std::string::npos);
    EXPECT_NE(std::get<HelpRequest>(parse({"attach", "--help"})).text.find("--depth"), std::string::npos);
}

TEST(Options, DeviceRefs) {
    EXPECT_EQ(parse_device_ref("/dev/ublkb0"), 0u);
    EXPECT_EQ(parse_device_ref("/dev/ublkc12"), 12u);
    EXPECT_EQ(parse_device_ref("ublkb7"), 7u);
    EXPECT_EQ(parse_device_ref("5"), 5u);
    EXPECT_THROW(parse_device_ref(""), UsageError);
    EXPECT_THROW(parse_device_ref("/dev/ublkb"), UsageError);
    EXPECT_THROW(parse_device_ref("/dev/ublkb1x"), UsageError);
    EXPECT_THROW(parse_device_ref("/dev/nvme0n1"), UsageError);
}

TEST(Options, NetworkOptions) {
    auto a = std::get<AttachOptions>(
        parse({"attach", "https://h/img", "--mirror", "https://m1/img", "--mirror=https://m2/img", "--connections", "4",
               "--io-timeout", "2.5", "--insecure"}));
    ASSERT_EQ(a.mirrors.size(), 2u);
    EXPECT_EQ(a.mirrors[1], "https://m2/img");
    EXPECT_EQ(a.connections, 4u);
    EXPECT_EQ(a.io_timeout, std::chrono::milliseconds(2500));
    EXPECT_TRUE(a.insecure);
    EXPECT_THROW(parse({"attach", "https://h/img", "--connections", "0"}), UsageError);
    EXPECT_EQ(a.http_version, lazyroot::http::HttpVersion::Negotiate);
    auto http_version_of = [](const char* v) {
        return std::get<AttachOptions>(parse({"attach", "https://h/img", "--http-version", v})).http_version;
    };
    EXPECT_EQ(http_version_of("1.1"), lazyroot::http::HttpVersion::Http11);
    EXPECT_EQ(http_version_of("2"), lazyroot::http::HttpVersion::Negotiate);
    EXPECT_THROW(http_version_of("h2c"), UsageError);
    EXPECT_THROW(parse({"attach", "https://h/img", "--io-timeout", "0"}), UsageError);
    EXPECT_THROW(parse({"attach", "https://h/img", "--ca", "/nonexistent"}), UsageError);
}

TEST(Options, IoTimeout) {
    auto timeout_of = [](const char* v) {
        return std::get<AttachOptions>(parse({"attach", "https://h/img", "--io-timeout", v})).io_timeout;
    };
    EXPECT_EQ(std::get<AttachOptions>(parse({"attach", "https://h/img"})).io_timeout, std::chrono::seconds(30));
    EXPECT_EQ(timeout_of("infinity"), std::nullopt);
    EXPECT_EQ(timeout_of("inf"), std::nullopt);
    EXPECT_EQ(timeout_of("Infinity"), std::nullopt);
    EXPECT_EQ(std::get<AttachOptions>(parse({"attach", "https://h/img", "--io-timeout=infinity"})).io_timeout,
              std::nullopt);
    EXPECT_EQ(timeout_of("0.1"), std::chrono::milliseconds(100));
    EXPECT_EQ(timeout_of("3600"), std::chrono::seconds(3600));
    for (const char* bad : {"abc", "", "nan", "-inf", "10s", "1e9", "0.05", "-1", "infinityx"})
        EXPECT_THROW(timeout_of(bad), UsageError) << bad;
    try {
        timeout_of("abc");
        FAIL();
    } catch (const UsageError& e) {
        EXPECT_STREQ(e.what(), "--io-timeout: not a number of seconds (or infinity): abc");
    }
}

TEST(Options, VerityCombinations) {
    const std::string root(64, 'a');
    const char* r = root.c_str();
    auto a = std::get<AttachOptions>(
        parse({"attach", "http://h/img", "--verity", r, "--hash-source", "http://h/img.verity"}));
    EXPECT_EQ(a.hash_source, "http://h/img.verity");
    a = std::get<AttachOptions>(parse({"attach", "http://h/img", "--verity=ddi", "--trust", "/dev/null"}));
    EXPECT_EQ(a.verity, VerityKind::Ddi);
    EXPECT_FALSE(a.verity_sig_keyring);
    a = std::get<AttachOptions>(
        parse({"attach", "http://h/img", "--verity=manifest", "--trust=/dev/null", "--verity-sig-keyring"}));
    EXPECT_TRUE(a.verity_sig_keyring);
    a = std::get<AttachOptions>(parse(
        {"attach", "http://h/img", "--verity=manifest", "--trust=/dev/null", "--hash-source", "file:///img.verity"}));
    EXPECT_EQ(a.hash_source, "file:///img.verity");

    const std::vector<std::pair<std::vector<const char*>, const char*>> bad = {
        {{"--verity=ddi"}, "--verity=ddi needs --trust"},
        {{"--verity=manifest"}, "--verity=manifest needs --trust"},
        {{"--verity", r, "--trust=/dev/null"}, "--trust needs --verity=manifest or --verity=ddi"},
        {{"--trust=/dev/null"}, "--trust needs"},
        {{"--verity", r, "--hash-source=http://h/t", "--hash-offset=4096"}, "--hash-offset is for a tree inside"},
        {{"--verity=ddi", "--trust=/dev/null", "--hash-source=http://h/t"}, "--verity=ddi takes the tree"},
        {{"--verity=ddi", "--trust=/dev/null", "--hash-offset=0"}, "--verity=ddi takes the tree"},
        {{"--hash-source=http://h/t"}, "--hash-source needs --verity"},
        {{"--hash-offset=4096"}, "--hash-offset needs --verity"},
        {{"--verity", r, "--verity-sig-keyring"}, "--verity-sig-keyring needs a signed root hash"},
        {{"--verity-sig-keyring"}, "--verity-sig-keyring needs"},
        {{"--verity=dd"}, "not a sha256 root hash"},
    };
    for (const auto& [extra, expect] : bad) {
        std::vector<const char*> args = {"attach", "http://h/img"};
        args.insert(args.end(), extra.begin(), extra.end());
        try {
            parse(args);
            ADD_FAILURE() << "accepted " << extra.front();
        } catch (const UsageError& e) {
            EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
        }
    }
}

TEST(Options, RecoverTakesADeviceAndNoSource) {
    auto r = std::get<AttachOptions>(parse({"recover", "/dev/ublkb3", "--daemon"}));
    ASSERT_TRUE(r.recover_dev);
    EXPECT_EQ(*r.recover_dev, 3u);
    EXPECT_TRUE(r.daemon);
    EXPECT_TRUE(r.source.empty());

    auto a = std::get<AttachOptions>(parse({"attach", "--recover", "ublkb7"}));
    ASSERT_TRUE(a.recover_dev);
    EXPECT_EQ(*a.recover_dev, 7u);
    EXPECT_FALSE(a.daemon);

    EXPECT_THROW(parse({"attach", "file:///img", "--recover", "/dev/ublkb0"}), UsageError);
    EXPECT_THROW(parse({"attach", "--recover", "/dev/sda"}), UsageError);
    EXPECT_THROW(parse({"recover"}), UsageError);
    EXPECT_THROW(parse({"attach"}), UsageError);
    // A plain attach is not a recovery.
    EXPECT_FALSE(std::get<AttachOptions>(parse({"attach", "file:///img"})).recover_dev);
}

TEST(Options, DetachForce) {
    EXPECT_FALSE(std::get<DetachOptions>(parse({"detach", "/dev/ublkb0"})).force);
    EXPECT_TRUE(std::get<DetachOptions>(parse({"detach", "--force", "/dev/ublkb0"})).force);
}

// What the command line gets wrong is a usage error (exit 2) that names it.
TEST(Options, CommandLineErrorsSayWhatIsWrong) {
    const std::vector<std::pair<std::vector<const char*>, const char*>> bad = {
        // A malformed URL, whatever else is given.
        {{"attach", "http://[::1/img", "--insecure"}, "SOURCE: not a usable URL"},
        {{"attach", "http://", "--insecure"}, "SOURCE: not a usable URL"},
        {{"attach", "https://h:99999/img"}, "SOURCE: not a usable URL"},
        {{"attach", "https://h/img", "--mirror", "https://[m/img"}, "--mirror: not a usable URL"},
        // Options that do nothing for the SOURCE.
        {{"attach", "file:///img", "--connections", "4"}, "--connections needs an http(s):// SOURCE"},
        {{"attach", "file:///img", "--max-connections", "4"}, "--max-connections needs an http(s):// SOURCE"},
        {{"attach", "https://h/img", "--profile", "auto"}, "--profile needs --cache or --mode=hydrate"},
        {{"attach", "https://h/img", "--profile-record-secs", "5"}, "--profile-record-secs needs --profile-record"},
        {{"attach", "https://h/img", "--profile=record", "--profile-record=/x"}, "name one recording twice"},
        {{"attach", "nvme+tcp://h/nqn.2014-08.org.example:root", "--insecure", "--cache", "/c", "--profile", "auto"},
         "--profile=auto needs a file:// or http(s):// SOURCE"},
        {{"attach", "file:///img", "--http-version", "1.1"},
         "--http-version needs an http(s):// SOURCE or --hash-source"},
        {{"attach", "nvme+tcp://h/nqn.2014-08.org.example:root", "--connections", "4"},
         "--connections needs an http(s)"},
        {{"attach", "file:///img", "--readahead", "0"}, "--readahead needs a network SOURCE"},
        {{"attach", "file:///img", "--coalesce", "64"}, "--coalesce needs an http(s):// SOURCE"},
        {{"attach", "nvme+tcp://h/nqn.2014-08.org.example:root", "--coalesce", "64"}, "--coalesce needs an http(s)"},
        {{"attach", "file:///img", "--resolve", "h:80:10.0.0.1"}, "--resolve needs an http(s):// SOURCE"},
        {{"attach", "https://h/img", "--nvme-transport", "user"}, "--nvme-transport needs an nvme+tcp://"},
        {{"attach", "https://h/img", "--hostnqn", "nqn.2014-08.org.example:h"}, "--hostnqn needs an nvme+tcp://"},
        // Numbers that are not numbers.
        {{"attach", "https://h/img", "--connections", "abc"}, "--connections: not a whole number: abc"},
        {{"attach", "https://h/img", "--queues", "2x"}, "--queues: not a whole number: 2x"},
        {{"attach", "https://h/img", "--io-timeout=abc"}, "--io-timeout: not a number of seconds"},
        {{"attach", "https://h/img", "--mode", "eager"}, "--mode"},
    };
    for (const auto& [args, expect] : bad) {
        try {
            parse(args);
            ADD_FAILURE() << "accepted " << args[1] << " " << args.back();
        } catch (const UsageError& e) {
            EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        }
    }
    // What does apply is taken.
    auto a = std::get<AttachOptions>(parse({"attach", "nvme+tcp://h/nqn.2014-08.org.example:root", "--readahead", "0",
                                            "--nvme-transport=kernel", "--insecure"}));
    EXPECT_EQ(a.nvme_transport, NvmeTransport::Kernel);
    EXPECT_EQ(a.readahead_mib, 0u);
    EXPECT_EQ(a.memory_budget_mib, 24u);  // the default
    a = std::get<AttachOptions>(parse({"attach", "file:///img", "--memory-budget", "48"}));
    EXPECT_EQ(a.memory_budget_mib, 48u);
    EXPECT_THROW(parse({"attach", "file:///img", "--memory-budget", "1"}), UsageError);
    a = std::get<AttachOptions>(
        parse({"attach", "file:///img", "--verity", std::string(64, 'a').c_str(), "--hash-source",
               "https://h/img.verity", "--resolve", "h:443:10.0.0.1", "--mode=hydrate"}));
    EXPECT_EQ(a.mode, Mode::Hydrate);
    EXPECT_EQ(a.verity, VerityKind::RootHash);
    EXPECT_EQ(a.root_hash, std::string(64, 'a'));
}

TEST(Options, ProfileRecordAndStop) {
    // profile=record: the profile goes to the state directory, named after the image.
    auto a = std::get<AttachOptions>(parse({"attach", "https://h/d/root.img?v=2", "--profile=record"}));
    EXPECT_TRUE(a.profile.empty());
    EXPECT_EQ(a.profile_record, lazyroot::cli::state_dir() + "/root.img.profile");
    auto s = std::get<ProfileStopOptions>(parse({"profile", "stop"}));
    EXPECT_TRUE(s.device.empty());
    s = std::get<ProfileStopOptions>(parse({"profile", "stop", "/dev/ublkb3", "--timeout=5"}));
    EXPECT_EQ(s.device, "/dev/ublkb3");
    EXPECT_EQ(s.timeout_s, 5u);
    EXPECT_THROW(parse({"profile"}), UsageError);
}
