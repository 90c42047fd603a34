#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/state_file.h"
#include "io/redact.h"
#include "ublk/control.h"

namespace lazyroot::cli {
namespace {

const char* state_name(uint16_t s) {
    switch (s) {
        case UBLK_S_DEV_DEAD:
            return "dead";
        case UBLK_S_DEV_LIVE:
            return "live";
        case UBLK_S_DEV_QUIESCED:
            return "quiesced";
        default:
            return "unknown";
    }
}

std::vector<unsigned> ublk_ids() {
    std::vector<unsigned> ids;
    DIR* d = ::opendir("/dev");
    if (!d) return ids;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.rfind("ublkc", 0) == 0 && n.size() > 5 && n.find_first_not_of("0123456789", 5) == std::string::npos)
            ids.push_back(static_cast<unsigned>(std::stoul(n.substr(5))));
    }
    ::closedir(d);
    std::sort(ids.begin(), ids.end());
    return ids;
}

}  // namespace

int run_list(const ListOptions& opts) {
    ublk::Control ctrl;
    nlohmann::json all = nlohmann::json::array();
    for (unsigned id : ublk_ids()) {
        ublksrv_ctrl_dev_info info{};
        if (ctrl.get_dev_info(id, info) < 0) continue;
        auto state = read_state(id);
        nlohmann::json j = {
            {"device", "/dev/ublkb" + std::to_string(id)},
            {"state", state_name(info.state)},
            {"pid", info.ublksrv_pid},
            {"queues", info.nr_hw_queues},
            {"depth", info.queue_depth},
            {"source", state ? io::redact_url(state->value("source", "")) : ""},
        };
        all.push_back(j);
    }
    if (opts.json) {
        std::printf("%s\n", all.dump(2).c_str());
        return 0;
    }
    for (const auto& j : all)
        std::printf("%s\t%s\tpid=%d\tqueues=%u\tdepth=%u\t%s\n", j["device"].get<std::string>().c_str(),
                    j["state"].get<std::string>().c_str(), j["pid"].get<int>(), j["queues"].get<unsigned>(),
                    j["depth"].get<unsigned>(), j["source"].get<std::string>().c_str());
    return 0;
}

}  // namespace lazyroot::cli
