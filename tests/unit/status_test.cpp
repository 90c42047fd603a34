// `lazyroot status`: what it says with no devices, for a daemon that is gone,
// how old each entry is, and that a record of a removed device is not shown.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/commands.h"
#include "cli/state_file.h"
#include "cli/status.h"

using namespace lazyroot::cli;

namespace {

nlohmann::json entry(bool running, bool present, double age_s, double updated_s_ago) {
    return {{"device", "/dev/ublkb0"},
            {"pid", 4242},
            {"source", "http://10.0.0.1/root.img"},
            {"mode", "lazy"},
            {"reads", 10},
            {"bytes_served", 1 << 20},
            {"fetches", 2},
            {"bytes_fetched", 1 << 20},
            {"cache_hit_ratio", 0.5},
            {"fetch_latency_us", {{"p50", 100}, {"p99", 900}}},
            {"daemon_running", running},
            {"device_present", present},
            {"age_s", age_s},
            {"updated_s_ago", updated_s_ago}};
}

// A pid that certainly runs nothing: a child that has exited and been reaped.
int dead_pid() {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    return child;
}

// Runs `lazyroot status` (text or --json) over a run directory of our own.
std::string run_status_in(const std::filesystem::path& dir, bool json) {
    ::setenv("LAZYROOT_RUN_DIR", dir.c_str(), 1);
    testing::internal::CaptureStdout();
    StatusOptions o;
    o.json = json;
    EXPECT_EQ(run_status(o), 0);
    std::string out = testing::internal::GetCapturedStdout();
    ::unsetenv("LAZYROOT_RUN_DIR");
    return out;
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char t[] = "/tmp/lazyroot-status-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

void write_json(const std::filesystem::path& p, const nlohmann::json& j) { std::ofstream(p) << j.dump(2) << '\n'; }

}  // namespace

TEST(Status, FormatDuration) {
    EXPECT_EQ(format_duration(0), "0 s");
    EXPECT_EQ(format_duration(59.4), "59 s");
    EXPECT_EQ(format_duration(185), "3 min 5 s");
    EXPECT_EQ(format_duration(2 * 3600 + 10 * 60 + 7), "2 h 10 min");
    EXPECT_EQ(format_duration(3 * 86400 + 4 * 3600), "3 d 4 h");
    EXPECT_EQ(format_duration(-5), "0 s");
}

TEST(Status, NoDevices) { EXPECT_EQ(format_status_text(nlohmann::json::array()), "no devices\n"); }

TEST(Status, LiveEntryShowsItsAge) {
    const std::string text = format_status_text(nlohmann::json::array({entry(true, true, 7500, 0.4)}));
    EXPECT_EQ(text.rfind("/dev/ublkb0  http://10.0.0.1/root.img  mode=lazy  attached 2 h 5 min ago\n", 0), 0u) << text;
    EXPECT_EQ(text.find("daemon gone"), std::string::npos) << text;
    EXPECT_EQ(text.find("no update"), std::string::npos) << text;
    EXPECT_NE(text.find("served 1.0 MiB in 10 reads"), std::string::npos) << text;
}

TEST(Status, GoneDaemonIsMarked) {
    const std::string text = format_status_text(nlohmann::json::array({entry(false, true, 600, 42)}));
    EXPECT_NE(
        text.find("\n  daemon gone (pid 4242): IO waits for `lazyroot recover /dev/ublkb0`; figures as of 42 s ago\n"),
        std::string::npos)
        << text;
}

TEST(Status, SilentDaemonIsMarked) {
    const std::string text = format_status_text(nlohmann::json::array({entry(true, true, 600, 30)}));
    EXPECT_NE(text.find("no update from the daemon (pid 4242) for 30 s"), std::string::npos) << text;
}

// The zero-copy line comes from the kernel's GET_FEATURES, recorded at attach.
TEST(Status, ZeroCopyOfferIsShown) {
    auto e = entry(true, true, 60, 0.5);
    e["ublk"] = {{"kernel_features", 0x7e}, {"zero_copy_offered", nlohmann::json::array()}, {"zero_copy_used", false}};
    std::string text = format_status_text(nlohmann::json::array({e}));
    EXPECT_NE(text.find("\n  ublk zero copy: not offered by the kernel; copy path\n"), std::string::npos) << text;
    e["ublk"]["zero_copy_offered"] = {"SUPPORT_ZERO_COPY", "AUTO_BUF_REG"};
    text = format_status_text(nlohmann::json::array({e}));
    EXPECT_NE(
        text.find("\n  ublk zero copy: offered by the kernel (SUPPORT_ZERO_COPY AUTO_BUF_REG), not used; copy path\n"),
        std::string::npos)
        << text;
    e["ublk"]["zero_copy_used"] = true;
    e["ublk"]["zero_copy_reads"] = 1234;
    text = format_status_text(nlohmann::json::array({e}));
    EXPECT_NE(text.find("\n  ublk zero copy: in use (AUTO_BUF_REG); 1234 reads went straight into the request's "
                        "pages\n"),
              std::string::npos)
        << text;
    // A status file from before this line existed says nothing about it.
    EXPECT_EQ(format_status_text(nlohmann::json::array({entry(true, true, 60, 0.5)})).find("zero copy"),
              std::string::npos);
}

// The readahead's window limit comes from the link as measured; null before a fetch.
TEST(Status, ReadaheadWindowLimitIsShown) {
    auto e = entry(true, true, 60, 0.5);
    e["readahead"] = {
        {"prefetched_bytes", 12u << 20}, {"window_max_bytes", 16u << 20}, {"window_limit_bytes", nullptr}};
    std::string text = format_status_text(nlohmann::json::array({e}));
    EXPECT_NE(text.find("\n  readahead: 12.0 MiB prefetched; a window grows to 16.0 MiB at most, the link not measured "
                        "yet\n"),
              std::string::npos)
        << text;
    e["readahead"]["window_limit_bytes"] = 3565158;
    text = format_status_text(nlohmann::json::array({e}));
    EXPECT_NE(text.find("16.0 MiB at most, 3.4 MiB for the link as measured\n"), std::string::npos) << text;
}

TEST(Status, StaleOnlyWhenDaemonAndDeviceAreGone) {
    EXPECT_TRUE(is_stale_status(entry(false, false, 1, 1)));
    EXPECT_FALSE(is_stale_status(entry(false, true, 1, 1)));
    EXPECT_FALSE(is_stale_status(entry(true, false, 1, 1)));
}

// Through the files: a record whose daemon is dead and whose device is gone is
// left out (text and JSON); one whose device is still there is shown, marked,
// with its age from the state file's attach time.
TEST(Status, ReadsTheRunDirectory) {
    TempDir dir;
    EXPECT_EQ(run_status_in(dir.path, false), "no devices\n");
    EXPECT_EQ(nlohmann::json::parse(run_status_in(dir.path, true)), nlohmann::json::array());

    auto stale = entry(true, true, 0, 0);
    for (const char* k : {"daemon_running", "device_present", "age_s", "updated_s_ago"}) stale.erase(k);
    stale["pid"] = dead_pid();
    stale["device"] = "/dev/ublkb98765";
    write_json(dir.path / "98765.status.json", stale);
    EXPECT_EQ(run_status_in(dir.path, false), "no devices\n");
    EXPECT_EQ(nlohmann::json::parse(run_status_in(dir.path, true)), nlohmann::json::array());

    // A device the kernel has (any block device: the host has no ublk), its daemon dead.
    std::string present;
    for (const auto& e : std::filesystem::directory_iterator("/sys/class/block")) {
        present = e.path().filename();
        break;
    }
    ASSERT_FALSE(present.empty()) << "no block device on this machine";
    auto gone = stale;
    gone["device"] = "/dev/" + present;
    write_json(dir.path / "3.status.json", gone);
    write_json(dir.path / "3.json",
               {{"dev_id", 3}, {"attached_at", static_cast<double>(std::time(nullptr)) - 3 * 3600}});
    const std::string text = run_status_in(dir.path, false);
    EXPECT_EQ(text.rfind("/dev/" + present + "  http://10.0.0.1/root.img  mode=lazy  attached 3 h 0 min ago\n", 0), 0u)
        << text;
    EXPECT_NE(text.find("daemon gone (pid " + std::to_string(gone["pid"].get<int>()) + ")"), std::string::npos) << text;
    const auto json = nlohmann::json::parse(run_status_in(dir.path, true));
    ASSERT_EQ(json.size(), 1u) << json.dump();
    EXPECT_EQ(json[0]["daemon_running"], false);
    EXPECT_EQ(json[0]["device_present"], true);
    EXPECT_NEAR(json[0]["age_s"].get<double>(), 3 * 3600, 5);
}
