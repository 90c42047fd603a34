#include "cli/profile_stop.h"

#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/profile_use.h"
#include "cli/state_file.h"
#include "io/log.h"

namespace lazyroot::cli {
namespace {

std::string request_path(unsigned id) { return state_dir() + "/" + std::to_string(id) + ".profile-stop"; }
std::string result_path(unsigned id) { return request_path(id) + ".result"; }

std::optional<nlohmann::json> read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    return j;
}

std::string new_nonce() {
    unsigned char b[8];
    if (::getrandom(b, sizeof b, 0) != sizeof b) return std::to_string(::getpid());
    char hex[17];
    for (size_t i = 0; i < sizeof b; ++i) std::snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return hex;
}

unsigned device_to_stop(const std::string& ref) {
    if (!ref.empty() && ref.rfind("/dev/mapper/", 0) != 0) return parse_device_ref(ref);
    for (const auto& j : read_all_states())
        if (ref.empty() ? j.value("origin", "") == "cmdline" : j.value("verity_device", "") == ref)
            return j.value("dev_id", 0u);
    throw std::runtime_error(ref.empty() ? "no device attached from rd.lazyroot= (give DEV)"
                                         : "no lazyroot device behind " + ref);
}

}  // namespace

std::string default_profile_record_path(const std::string& source) {
    std::string name = source.substr(0, source.find_first_of("?#"));
    while (!name.empty() && name.back() == '/') name.pop_back();
    name = name.substr(name.find_last_of('/') + 1);
    if (name.empty() || name == "." || name == "..") name = "image";
    return state_dir() + "/" + name + ".profile";
}

void answer_profile_stop(unsigned dev_id, ProfileRecording& rec, const std::string& path) {
    const auto req = read_json(request_path(dev_id));
    if (!req) return;
    std::remove(request_path(dev_id).c_str());
    nlohmann::json r = {{"nonce", req->value("nonce", "")}};
    if (!rec.recorder) {
        r["error"] = "/dev/ublkb" + std::to_string(dev_id) + " is not recording a profile (--profile-record)";
    } else {
        const bool was_running = !rec.recorder->stopped();
        finish_profile_recording(rec, path);
        r["path"] = path;
        r["already"] = !was_running;
    }
    if (!write_private_file(result_path(dev_id), r.dump() + "\n"))
        log::warn("cannot write %s: %s", result_path(dev_id).c_str(), std::strerror(errno));
}

int run_profile_stop(const ProfileStopOptions& o) {
    const unsigned id = device_to_stop(o.device);
    const std::string dev = "/dev/ublkb" + std::to_string(id);
    const auto state = read_state(id);
    if (!state) throw std::runtime_error("no lazyroot device " + dev + " (no state file in " + state_dir() + ")");
    const int pid = state->value("pid", 0);
    if (pid <= 0 || !is_lazyroot_process(pid))
        throw std::runtime_error("the daemon of " + dev + " is not running (pid " + std::to_string(pid) + ")");
    const std::string nonce = new_nonce();
    std::remove(result_path(id).c_str());
    if (!make_state_dir() || !write_private_file(request_path(id), nlohmann::json{{"nonce", nonce}}.dump() + "\n"))
        throw std::runtime_error("cannot write " + request_path(id) + ": " + std::strerror(errno));
    if (::kill(pid, SIGUSR2) != 0)
        throw std::runtime_error("cannot signal pid " + std::to_string(pid) + ": " + std::strerror(errno));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
        if (auto r = read_json(result_path(id)); r && r->value("nonce", "") == nonce) {
            std::remove(result_path(id).c_str());
            if (r->contains("error")) {
                log::error("%s", r->value("error", std::string("refused")).c_str());
                return 1;
            }
            std::printf("%s: profile %s %s\n", dev.c_str(),
                        r->value("already", false) ? "was already written to" : "written to",
                        r->value("path", std::string()).c_str());
            return 0;
        }
        if (!is_lazyroot_process(pid)) throw std::runtime_error("the daemon of " + dev + " exited");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("no answer from the daemon of " + dev + " within " + std::to_string(o.timeout_s) + " s");
}

}  // namespace lazyroot::cli
