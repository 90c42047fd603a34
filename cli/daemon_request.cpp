#include "cli/daemon_request.h"

#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "cli/state_file.h"
#include "io/log.h"

namespace lazyroot::cli {
namespace {

std::string new_nonce() {
    unsigned char b[8];
    if (::getrandom(b, sizeof b, 0) != sizeof b) return std::to_string(::getpid());
    char hex[17];
    for (size_t i = 0; i < sizeof b; ++i) std::snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return hex;
}

}  // namespace

std::optional<nlohmann::json> read_json_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    return j;
}

nlohmann::json ask_daemon(unsigned dev_id, const std::string& request_path, const std::string& result_path,
                          nlohmann::json request, unsigned timeout_s) {
    const std::string dev = "/dev/ublkb" + std::to_string(dev_id);
    const auto state = read_state(dev_id);
    if (!state) throw std::runtime_error("no lazyroot device " + dev + " (no state file in " + state_dir() + ")");
    const int pid = state->value("pid", 0);
    if (pid <= 0 || !is_lazyroot_process(pid))
        throw std::runtime_error("the daemon of " + dev + " is not running (pid " + std::to_string(pid) +
                                 "); `lazyroot recover " + dev + "` starts one");
    const std::string nonce = new_nonce();
    request["nonce"] = nonce;
    std::remove(result_path.c_str());
    if (!make_state_dir() || !write_private_file(request_path, request.dump() + "\n"))
        throw std::runtime_error("cannot write " + request_path + ": " + std::strerror(errno));
    if (::kill(pid, SIGUSR2) != 0)
        throw std::runtime_error("cannot signal pid " + std::to_string(pid) + ": " + std::strerror(errno));
    // The daemon answers from its main loop (after a probe, for a URL): poll for its file.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
        if (auto r = read_json_file(result_path); r && r->value("nonce", "") == nonce) {
            std::remove(result_path.c_str());
            return *r;
        }
        if (!is_lazyroot_process(pid)) throw std::runtime_error("the daemon of " + dev + " exited");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("no answer from the daemon of " + dev + " within " + std::to_string(timeout_s) + " s");
}

std::optional<nlohmann::json> take_request(const std::string& request_path) {
    auto req = read_json_file(request_path);
    if (req) std::remove(request_path.c_str());
    return req;
}

void answer_request(const std::string& result_path, const nlohmann::json& request, nlohmann::json answer) {
    answer["nonce"] = request.value("nonce", "");
    if (!write_private_file(result_path, answer.dump() + "\n"))
        log::warn("cannot write %s: %s", result_path.c_str(), std::strerror(errno));
}

}  // namespace lazyroot::cli
