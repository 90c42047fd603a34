#include "cli/state_file.h"

#include <fcntl.h>
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
#include "io/redact.h"

namespace lazyroot::cli {

std::string state_dir() {
    if (const char* d = std::getenv("LAZYROOT_RUN_DIR"); d && *d) return d;
    return "/run/lazyroot";
}

std::string state_path(unsigned dev_id) { return state_dir() + "/" + std::to_string(dev_id) + ".json"; }

bool make_state_dir() {
    const std::string dir = state_dir();
    if (::mkdir(dir.c_str(), 0700) == 0) return true;
    if (errno != EEXIST) return false;
    struct stat st {};
    // A directory made by an older version (0755): only root looks inside.
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 077) && st.st_uid == ::geteuid())
        ::chmod(dir.c_str(), 0700);
    return true;
}

bool write_private_file(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return false;
    // O_CREAT's mode applies only to a new file: a leftover keeps its own.
    bool ok = ::fchmod(fd, 0600) == 0;
    for (size_t done = 0; ok && done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<size_t>(n);
    }
    const int saved = errno;
    if (::close(fd) != 0 && ok) return false;
    if (!ok) {
        ::unlink(tmp.c_str());
        errno = saved;
        return false;
    }
    return std::rename(tmp.c_str(), path.c_str()) == 0;
}

namespace {

std::string status_path(unsigned dev_id) { return state_dir() + "/" + std::to_string(dev_id) + ".status.json"; }

// Write + rename: a reader sees the old file or the new one, never half.
// Mode 0600 in a 0700 directory: the state holds the full source URL.
bool write_atomically(const std::string& path, const nlohmann::json& j, bool quiet = false) {
    if (!make_state_dir()) {
        if (!quiet) log::warn("cannot create %s: %s", state_dir().c_str(), std::strerror(errno));
        return false;
    }
    if (!write_private_file(path, j.dump(2) + "\n")) {
        if (!quiet) log::warn("cannot write %s: %s", path.c_str(), std::strerror(errno));
        return false;
    }
    return true;
}

}  // namespace

bool write_state(unsigned dev_id, const nlohmann::json& state) { return write_atomically(state_path(dev_id), state); }

void write_status(unsigned dev_id, const std::string& block_path, const nlohmann::json& status) {
    nlohmann::json j = {{"device", block_path}, {"pid", ::getpid()}};
    j.update(status);
    // The status is for anyone's eyes: no credentials in it.
    if (j.contains("source") && j["source"].is_string()) j["source"] = io::redact_url(j["source"].get<std::string>());
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
