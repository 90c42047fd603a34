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
#include "cli/daemon_request.h"
#include "cli/source_stack.h"
#include "cli/state_file.h"
#include "http/http_source.h"
#include "http/url_check.h"
#include "io/log.h"

namespace lazyroot::cli {
namespace {

void answer(unsigned dev_id, const nlohmann::json& req, const std::optional<std::string>& error) {
    answer_request(update_result_path(dev_id), req, {{"ok", !error}, {"error", error.value_or("")}});
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

}  // namespace

std::string update_request_path(unsigned dev_id) {
    return state_dir() + "/" + std::to_string(dev_id) + ".update-source";
}
std::string update_result_path(unsigned dev_id) { return update_request_path(dev_id) + ".result"; }

void answer_update_request(unsigned dev_id, SourceStack& stack, nlohmann::json& state) {
    const std::string path = update_request_path(dev_id);
    const auto req = take_request(path);
    if (!req || !req->contains("url") || !(*req)["url"].is_string()) return;  // a stray signal
    const std::string url = (*req)["url"].get<std::string>();
    const std::string dev = "/dev/ublkb" + std::to_string(dev_id);
    if (auto why = not_updatable(stack)) return answer(dev_id, *req, dev + ": " + *why);
    http::HttpSource& h = *stack.http();
    const std::string old_url = h.url(0).url();
    if (auto why = h.update_source_url(url)) {
        log::error("update-source %s: %s", dev.c_str(), why->c_str());  // the log redacts the query
        return answer(dev_id, *req, *why);
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
    answer(dev_id, *req, std::nullopt);
}

int run_update_source(const UpdateSourceOptions& o) {
    if (auto why = http::url_error(o.url)) throw std::runtime_error(o.url + ": " + *why);
    const unsigned id = resolve_device(o.device);
    const nlohmann::json r =
        ask_daemon(id, update_request_path(id), update_result_path(id), {{"url", o.url}}, o.timeout_s);
    if (r.value("ok", false)) {
        std::printf("/dev/ublkb%u: source updated\n", id);
        return 0;
    }
    log::error("%s", r.value("error", std::string("refused")).c_str());
    return 1;
}

}  // namespace lazyroot::cli
