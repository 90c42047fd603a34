#include "cli/state_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/log.h"

namespace lazyroot::cli {

std::string state_dir() {
    if (const char* d = std::getenv("LAZYROOT_RUN_DIR"); d && *d) return d;
    return "/run/lazyroot";
}

std::string state_path(unsigned dev_id) {
    return state_dir() + "/" + std::to_string(dev_id) + ".json";
}

namespace {

std::string status_path(unsigned dev_id) { return state_dir() + "/" + std::to_string(dev_id) + ".status.json"; }

// Write + rename: a reader sees the old file or the new one, never half.
bool write_atomically(const std::string& path, const nlohmann::json& j, bool quiet = false) {
    const std::string dir = state_dir();
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        if (!quiet) log::warn("cannot create %s: %s", dir.c_str(), std::strerror(errno));
        return false;
    }
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << j.dump(2) << '\n';
        if (!out.flush()) {
            if (!quiet) log::warn("cannot write %s", tmp.c_str());
            return false;
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        if (!quiet) log::warn("cannot rename %s: %s", tmp.c_str(), std::strerror(errno));
        return false;
    }
    return true;
}

}  // namespace

bool write_state(unsigned dev_id, const nlohmann::json& state) { return write_atomically(state_path(dev_id), state); }

void write_status(unsigned dev_id, const std::string& block_path, const nlohmann::json& status) {
    nlohmann::json j = {{"device", block_path}, {"pid", ::getpid()}};
    j.update(status);
    // Rewritten every second: a failure is logged once, not each time.
    static std::atomic<bool> failed_before{false};
    if (!write_atomically(status_path(dev_id), j, failed_before.load())) failed_before = true;
}

std::optional<nlohmann::json> read_state(unsigned dev_id) {
    std::ifstream in(state_path(dev_id));
    if (!in) return std::nullopt;
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
}

std::vector<nlohmann::json> read_all_states() {
    std::vector<nlohmann::json> all;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(state_dir(), ec)) {
        const std::string name = e.path().filename().string();
        if (name.find(".status.") != std::string::npos || e.path().extension() != ".json") continue;
        std::ifstream in(e.path());
        auto j = nlohmann::json::parse(in, nullptr, false);
        if (!j.is_discarded()) all.push_back(std::move(j));
    }
    return all;
}

bool is_lazyroot_process(int pid) {
    if (pid <= 0) return false;
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    std::string argv0;
    std::getline(in, argv0, '\0');
    return argv0.find("lazyroot") != std::string::npos;
}

void remove_state(unsigned dev_id) {
    std::remove(state_path(dev_id).c_str());
    std::remove(status_path(dev_id).c_str());
}

}  // namespace lazyroot::cli
