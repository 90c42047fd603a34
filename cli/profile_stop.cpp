#include "cli/profile_stop.h"

#include <cstdio>
#include <optional>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/daemon_request.h"
#include "cli/options.h"
#include "cli/profile_use.h"
#include "cli/state_file.h"
#include "io/log.h"

namespace lazyroot::cli {
namespace {

std::string request_path(unsigned id) { return state_dir() + "/" + std::to_string(id) + ".profile-stop"; }
std::string result_path(unsigned id) { return request_path(id) + ".result"; }

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
    const auto req = take_request(request_path(dev_id));
    if (!req) return;
    nlohmann::json r = nlohmann::json::object();
    if (!rec.recorder) {
        r["error"] = "/dev/ublkb" + std::to_string(dev_id) + " is not recording a profile (--profile-record)";
    } else {
        const bool was_running = !rec.recorder->stopped();
        finish_profile_recording(rec, path);
        r["path"] = path;
        r["already"] = !was_running;
    }
    answer_request(result_path(dev_id), *req, r);
}

int run_profile_stop(const ProfileStopOptions& o) {
    const unsigned id = device_to_stop(o.device);
    const nlohmann::json r = ask_daemon(id, request_path(id), result_path(id), nlohmann::json::object(), o.timeout_s);
    if (r.contains("error")) {
        log::error("%s", r.value("error", std::string("refused")).c_str());
        return 1;
    }
    std::printf("/dev/ublkb%u: profile %s %s\n", id,
                r.value("already", false) ? "was already written to" : "written to",
                r.value("path", std::string()).c_str());
    return 0;
}

}  // namespace lazyroot::cli
