#include "cli/status.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/state_file.h"
#include "io/redact.h"

namespace lazyroot::cli {
namespace {

std::string printf_string(const char* fmt, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, fmt, args...);
    return buf;
}

bool daemon_running(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM) && is_lazyroot_process(pid); }

// "/dev/ublkb3" -> whether the kernel still has that block device.
bool device_present(const std::string& dev) {
    const auto slash = dev.rfind('/');
    if (slash == std::string::npos) return false;
    return ::access(("/sys/class/block/" + dev.substr(slash + 1)).c_str(), F_OK) == 0;
}

// Every status file, with what status finds out about it (see status.h).
nlohmann::json read_status_files() {
    const double now = static_cast<double>(std::time(nullptr));
    std::vector<std::pair<unsigned, nlohmann::json>> found;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(state_dir(), ec)) {
        const std::string name = e.path().filename().string();
        const auto dot = name.find(".status.json");
        if (dot == std::string::npos || dot + 12 != name.size()) continue;
        std::ifstream in(e.path());
        auto j = nlohmann::json::parse(in, nullptr, false);
        if (!j.is_object()) continue;
        struct stat st {};
        const double mtime = ::stat(e.path().c_str(), &st) == 0 ? static_cast<double>(st.st_mtime) : now;
        if (j.contains("handed_off_to")) {  // cli/handoff.cpp: the kernel serves it, no daemon
            j["daemon_running"] = false;
            found.emplace_back(~0u, std::move(j));
            continue;
        }
        j["daemon_running"] = daemon_running(j.value("pid", 0));
        j["device_present"] = device_present(j.value("device", ""));
        j["updated_s_ago"] = std::max(0.0, now - mtime);
        // Written redacted; redacted again for files from older versions.
        if (j.contains("source") && j["source"].is_string())
            j["source"] = io::redact_url(j["source"].get<std::string>());
        unsigned id = 0;
        try {
            id = static_cast<unsigned>(std::stoul(name.substr(0, dot)));
        } catch (const std::exception&) {
            continue;
        }
        // The state file keeps the first attach's time across recoveries;
        // the daemon's own uptime restarts with each.
        const auto state = read_state(id);
        if (state && state->value("attached_at", 0.0) > 0)
            j["age_s"] = std::max(0.0, now - state->value("attached_at", 0.0));
        else
            j["age_s"] = j.value("uptime_s", 0.0) + j["updated_s_ago"].get<double>();
        if (is_stale_status(j)) continue;
        found.emplace_back(id, std::move(j));
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    nlohmann::json all = nlohmann::json::array();
    for (auto& [id, j] : found) all.push_back(std::move(j));
    return all;
}

}  // namespace

bool is_stale_status(const nlohmann::json& entry) {
    return !entry.value("daemon_running", false) && !entry.value("device_present", false);
}

std::string format_duration(double seconds) {
    const auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
    if (s < 60) return printf_string("%lld s", s);
    if (s < 3600) return printf_string("%lld min %lld s", s / 60, s % 60);
    if (s < 86400) return printf_string("%lld h %lld min", s / 3600, s % 3600 / 60);
    return printf_string("%lld d %lld h", s / 86400, s % 86400 / 3600);
}

std::string format_status_text(const nlohmann::json& entries) {
    if (entries.empty()) return "no devices\n";
    std::string out;
    for (const auto& j : entries) {
        const std::string dev = j.value("device", "?");
        if (j.contains("handed_off_to")) {
            out += printf_string("%s  %s  mode=%s  handed off to %s\n", dev.c_str(), j.value("source", "?").c_str(),
                                 j.value("mode", "?").c_str(), j.value("handed_off_to", "?").c_str());
            continue;
        }
        out += printf_string("%s  %s  mode=%s  attached %s ago\n", dev.c_str(), j.value("source", "?").c_str(),
                             j.value("mode", "?").c_str(), format_duration(j.value("age_s", 0.0)).c_str());
        // A daemon killed without cleaning up leaves its last status behind:
        // its figures are as of then, and the device waits for a successor.
        if (!j.value("daemon_running", true))
            out +=
                printf_string("  daemon gone (pid %d): IO waits for `lazyroot recover %s`; figures as of %s ago\n",
                              j.value("pid", 0), dev.c_str(), format_duration(j.value("updated_s_ago", 0.0)).c_str());
        else if (j.value("updated_s_ago", 0.0) >= 10)
            out += printf_string("  no update from the daemon (pid %d) for %s\n", j.value("pid", 0),
                                 format_duration(j.value("updated_s_ago", 0.0)).c_str());
        if (j.value("recoveries", 0) > 0 && j.contains("last_recovery") && j["last_recovery"].is_number()) {
            const double ago = static_cast<double>(std::time(nullptr)) - j["last_recovery"].get<double>();
            out += printf_string("  recovered %d times, last %s ago\n", j.value("recoveries", 0),
                                 format_duration(ago).c_str());
        }
        if (j.value("source_state", "") == "refused" && j.contains("source_refused") &&
            j["source_refused"].is_object()) {
            const auto& r = j["source_refused"];
            const double ago = static_cast<double>(std::time(nullptr)) - r.value("since", 0.0);
            out += printf_string(
                "  source refused for %s: %s; reads wait; `lazyroot update-source %s URL` hands in a "
                "fresh URL\n",
                format_duration(ago).c_str(), r.value("why", "").c_str(), dev.c_str());
        }
        out += printf_string("  served %.1f MiB in %llu reads, fetched %.1f MiB in %llu requests, hit ratio %.2f\n",
                             j.value("bytes_served", 0.0) / (1 << 20), j.value("reads", 0ull),
                             j.value("bytes_fetched", 0.0) / (1 << 20), j.value("fetches", 0ull),
                             j.value("cache_hit_ratio", 0.0));
        if (j.contains("ublk") && j["ublk"].is_object()) {
            const auto& u = j["ublk"];
            std::string offered;
            if (u.contains("zero_copy_offered") && u["zero_copy_offered"].is_array())
                for (const auto& f : u["zero_copy_offered"])
                    if (f.is_string()) offered += (offered.empty() ? "" : " ") + f.get<std::string>();
            if (u.value("zero_copy_used", false))
                out += printf_string(
                    "  ublk zero copy: in use (AUTO_BUF_REG); %llu reads went straight into the request's pages\n",
                    u.value("zero_copy_reads", 0ull));
            else if (offered.empty())
                out += "  ublk zero copy: not offered by the kernel; copy path\n";
            else
                out += printf_string("  ublk zero copy: offered by the kernel (%s), not used; copy path\n",
                                     offered.c_str());
        }
        if (j.contains("compression") && j["compression"].is_object())
            out += printf_string("  zstd seekable: %.1f MiB on the wire for the %.1f MiB of image fetched\n",
                                 j["compression"].value("wire_bytes", 0.0) / (1 << 20),
                                 j.value("bytes_fetched", 0.0) / (1 << 20));
        if (j.contains("readahead") && j["readahead"].is_object()) {
            const auto& r = j["readahead"];
            const std::string limit =
                r.contains("window_limit_bytes") && r["window_limit_bytes"].is_number()
                    ? printf_string("%.1f MiB for the link as measured", r.value("window_limit_bytes", 0.0) / (1 << 20))
                    : std::string("the link not measured yet");
            out += printf_string("  readahead: %.1f MiB prefetched; a window grows to %.1f MiB at most, %s\n",
                                 r.value("prefetched_bytes", 0.0) / (1 << 20),
                                 r.value("window_max_bytes", 0.0) / (1 << 20), limit.c_str());
        }
        if (j.contains("cache") && j["cache"].is_object()) {
            const auto& c = j["cache"];
            out += printf_string("  cache %s: %llu/%llu chunks present (%llu durable)\n", c.value("path", "").c_str(),
                                 c.value("chunks_present", 0ull), c.value("chunks_total", 0ull),
                                 c.value("chunks_durable", 0ull));
            if (c.contains("degraded")) out += "  cache degraded: " + c.value("degraded", "") + "\n";
        }
        if (j.contains("hydration") && j["hydration"].is_object()) {
            const auto& h = j["hydration"];
            out += printf_string("  hydration %.1f %%%s, %.1f MiB/s\n", h.value("progress", 0.0) * 100,
                                 h.value("complete", false) ? " (complete)" : "",
                                 h.value("rate_bytes_per_s", 0.0) / (1 << 20));
        }
        if (j.contains("fetch_latency_us") && j["fetch_latency_us"].is_object())
            out += printf_string("  fetch latency p50 %llu us, p99 %llu us\n", j["fetch_latency_us"].value("p50", 0ull),
                                 j["fetch_latency_us"].value("p99", 0ull));
    }
    return out;
}

int run_status(const StatusOptions& opts) {
    const nlohmann::json all = read_status_files();
    if (opts.json)
        std::printf("%s\n", all.dump(2).c_str());
    else
        std::fputs(format_status_text(all).c_str(), stdout);
    return 0;
}

}  // namespace lazyroot::cli
