#include "cli/update_source.h"

#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "cli/commands.h"
#include "cli/source_stack.h"
#include "cli/state_file.h"
#include "http/http_source.h"
#include "http/url_check.h"
#include "io/log.h"

namespace lazyroot::cli {
namespace {

std::optional<nlohmann::json> read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    return j;
}

void answer(unsigned dev_id, const std::string& nonce, const std::optional<std::string>& error) {
    nlohmann::json r = {{"nonce", nonce}, {"ok", !error}, {"error", error.value_or("")}};
    if (!write_private_file(update_result_path(dev_id), r.dump() + "\n"))
        log::warn("cannot write %s: %s", update_result_path(dev_id).c_str(), std::strerror(errno));
}

// Why `stack`'s source can't take a new URL, or nullopt.
std::optional<std::string> not_updatable(SourceStack& stack) {
    http::HttpSource* h = stack.http();
    if (!h) return std::string("the source is not an http(s):// URL");
    // lazyroot signs every s3:// request itself: nothing of it expires.
    if (!h->options().aws_sigv4.empty()) return std::string("an s3:// source is signed by lazyroot; nothing expires");
    return std::nullopt;
}

// "/dev/mapper/NAME" names the mapping a daemon recorded in its state file.
unsigned resolve_device(const std::string& ref) {
    if (ref.rfind("/dev/mapper/", 0) != 0) return parse_device_ref(ref);
    for (const auto& j : read_all_states())
        if (j.value("verity_device", "") == ref) return j.value("dev_id", 0u);
    throw std::runtime_error("no lazyroot device behind " + ref);
}

std::string new_nonce() {
    unsigned char b[8];
    if (::getrandom(b, sizeof b, 0) != sizeof b) return std::to_string(::getpid());
    char hex[17];
    for (size_t i = 0; i < sizeof b; ++i) std::snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return hex;
}

}  // namespace

std::string update_request_path(unsigned dev_id) {
    return state_dir() + "/" + std::to_string(dev_id) + ".update-source";
}
std::string update_result_path(unsigned dev_id) { return update_request_path(dev_id) + ".result"; }

void answer_update_request(unsigned dev_id, SourceStack& stack, nlohmann::json& state) {
    const std::string path = update_request_path(dev_id);
    const auto req = read_json(path);
    std::remove(path.c_str());
    if (!req || !req->contains("url") || !(*req)["url"].is_string()) return;  // a stray signal
    const std::string url = (*req)["url"].get<std::string>();
    const std::string nonce = req->value("nonce", "");
    const std::string dev = "/dev/ublkb" + std::to_string(dev_id);
    if (auto why = not_updatable(stack)) return answer(dev_id, nonce, dev + ": " + *why);
    http::HttpSource& h = *stack.http();
    const std::string old_url = h.url(0).url();
    if (auto why = h.update_source_url(url)) {
        log::error("update-source %s: %s", dev.c_str(), why->c_str());  // the log redacts the query
        return answer(dev_id, nonce, *why);
    }
    // What a successor re-parses: the new URL in place of the old one.
    bool recorded = false;
    if (state.contains("words") && state["words"].is_array())
        for (auto& w : state["words"])
            if (w.is_string() && w.get<std::string>() == old_url) {
                w = url;
                recorded = true;
            }
    state["source"] = url;
    write_state(dev_id, state);
    if (!recorded)
        log::warn("%s: the state file kept the URL of the attach; a recovery would start from it", dev.c_str());
    log::info("%s: the source is now %s (the same image: size and validators match)", dev.c_str(), url.c_str());
    answer(dev_id, nonce, std::nullopt);
}

int run_update_source(const UpdateSourceOptions& o) {
    if (auto why = http::url_error(o.url)) throw std::runtime_error(o.url + ": " + *why);
    const unsigned id = resolve_device(o.device);
    const std::string dev = "/dev/ublkb" + std::to_string(id);
    const auto state = read_state(id);
    if (!state) throw std::runtime_error("no lazyroot device " + dev + " (no state file in " + state_dir() + ")");
    const int pid = state->value("pid", 0);
    if (pid <= 0 || !is_lazyroot_process(pid))
        throw std::runtime_error("the daemon of " + dev + " is not running (pid " + std::to_string(pid) +
                                 "); `lazyroot recover " + dev + "` starts one");
    const std::string nonce = new_nonce();
    std::remove(update_result_path(id).c_str());
    const nlohmann::json req = {{"url", o.url}, {"nonce", nonce}};
    if (!make_state_dir() || !write_private_file(update_request_path(id), req.dump() + "\n"))
        throw std::runtime_error("cannot write " + update_request_path(id) + ": " + std::strerror(errno));
    if (::kill(pid, SIGUSR2) != 0)
        throw std::runtime_error("cannot signal pid " + std::to_string(pid) + ": " + std::strerror(errno));
    // The daemon answers once it has probed the URL: poll for its file.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
        if (auto r = read_json(update_result_path(id)); r && r->value("nonce", "") == nonce) {
            std::remove(update_result_path(id).c_str());
            if (r->value("ok", false)) {
                std::printf("%s: source updated\n", dev.c_str());
                return 0;
            }
            log::error("%s", r->value("error", std::string("refused")).c_str());
            return 1;
        }
        if (!is_lazyroot_process(pid)) throw std::runtime_error("the daemon of " + dev + " exited");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("no answer from the daemon of " + dev + " within " + std::to_string(o.timeout_s) + " s");
}

}  // namespace lazyroot::cli
