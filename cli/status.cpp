#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/state_file.h"

namespace lazyroot::cli {

// Reads what each daemon publishes in /run/lazyroot/<id>.status.json
// (rewritten every second).
int run_status(const StatusOptions& opts) {
    nlohmann::json all = nlohmann::json::array();
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(state_dir(), ec)) {
        const std::string name = e.path().filename().string();
        if (name.size() < 12 || name.substr(name.size() - 12) != ".status.json") continue;
        std::ifstream in(e.path());
        auto j = nlohmann::json::parse(in, nullptr, false);
        if (j.is_discarded()) continue;
        // A daemon killed without cleaning up leaves its last status behind.
        if (j.contains("handed_off_to")) j["daemon_running"] = false;
        const int pid = j.value("pid", 0);
        j["daemon_running"] = pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
        all.push_back(j);
    }
    if (opts.json) {
        std::printf("%s\n", all.dump(2).c_str());
        return 0;
    }
    for (const auto& j : all) {
        if (j.contains("handed_off_to")) {  // cli/handoff.cpp: no daemon any more
            std::printf("%s  %s  mode=%s  handed off to %s\n", j.value("device", "?").c_str(),
                        j.value("source", "?").c_str(), j.value("mode", "?").c_str(),
                        j.value("handed_off_to", "?").c_str());
            continue;
        }
        std::printf("%s  %s  mode=%s%s\n", j.value("device", "?").c_str(), j.value("source", "?").c_str(),
                    j.value("mode", "?").c_str(),
                    j.value("daemon_running", true) ? "" : "  (daemon gone: IO waits for `lazyroot recover`)");
        if (j.value("recoveries", 0) > 0 && j["last_recovery"].is_number()) {
            const double ago = static_cast<double>(std::time(nullptr)) - j["last_recovery"].get<double>();
            std::printf("  recovered %d times, last %.0f s ago\n", j.value("recoveries", 0), ago);
        }
        std::printf("  served %.1f MiB in %llu reads, fetched %.1f MiB in %llu requests, hit ratio %.2f\n",
                    j.value("bytes_served", 0.0) / (1 << 20), j.value("reads", 0ull),
                    j.value("bytes_fetched", 0.0) / (1 << 20), j.value("fetches", 0ull),
                    j.value("cache_hit_ratio", 0.0));
        if (j.contains("cache"))
            std::printf("  cache %s: %llu/%llu chunks present (%llu durable)\n",
                        j["cache"].value("path", "").c_str(), j["cache"].value("chunks_present", 0ull),
                        j["cache"].value("chunks_total", 0ull), j["cache"].value("chunks_durable", 0ull));
        if (j.contains("cache") && j["cache"].contains("degraded"))
            std::printf("  cache degraded: %s\n", j["cache"].value("degraded", "").c_str());
        if (j.contains("hydration"))
            std::printf("  hydration %.1f %%%s, %.1f MiB/s\n", j["hydration"].value("progress", 0.0) * 100,
                        j["hydration"].value("complete", false) ? " (complete)" : "",
                        j["hydration"].value("rate_bytes_per_s", 0.0) / (1 << 20));
        std::printf("  fetch latency p50 %llu us, p99 %llu us\n", j["fetch_latency_us"].value("p50", 0ull),
                    j["fetch_latency_us"].value("p99", 0ull));
    }
    return 0;
}

}  // namespace lazyroot::cli
