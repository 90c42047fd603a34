#include "cli/handoff.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "cli/source_stack.h"
#include "cli/state_file.h"
#include "dm/dm_table.h"
#include "dm/loop_device.h"
#include "io/log.h"
#include "ublk/control.h"
#include "ublk/device.h"

namespace lazyroot::cli {
namespace {

std::string dm_fail(const std::string& what, int r) {
    std::string why = dm::last_error();
    return what + ": " + std::strerror(-r) + (why.empty() ? "" : " (" + why + ")");
}

dev_t block_dev(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) return 0;
    return st.st_rdev;
}

// The block device a table reads ("/dev/loop0"), from its first MAJ:MIN.
std::string lower_device(const std::string& name) {
    std::vector<dm::Target> targets;
    if (dm::table(name, targets) < 0 || targets.empty()) return "?";
    size_t pos = 0;
    const std::string& p = targets[0].params;
    while (pos < p.size()) {
        size_t end = p.find(' ', pos);
        if (end == std::string::npos) end = p.size();
        const std::string w = p.substr(pos, end - pos);
        if (w.find(':') != std::string::npos && w.find_first_not_of("0123456789:") == std::string::npos) {
            std::ifstream in("/sys/dev/block/" + w + "/uevent");
            for (std::string line; std::getline(in, line);)
                if (line.rfind("DEVNAME=", 0) == 0) return "/dev/" + line.substr(8);
            return w;
        }
        pos = end + 1;
    }
    return "?";
}

std::string mapping_name(const nlohmann::json& state) {
    const std::string dev = state.value("verity_device", "");
    const std::string prefix = "/dev/mapper/";
    return dev.rfind(prefix, 0) == 0 ? dev.substr(prefix.size()) : "";
}

std::string record_path(const std::string& name) { return state_dir() + "/" + name + ".handoff"; }

}  // namespace

bool handoff_wanted(const AttachOptions& o, bool verity) {
    if (o.handoff) return *o.handoff;
    return verity && (o.mode == Mode::Full || o.mode == Mode::Hydrate);
}

std::string create_linear_top(const std::string& name, const std::string& lower, uint64_t bytes) {
    const dev_t dev = block_dev(lower);
    if (!dev) throw std::runtime_error(lower + " is not a block device");
    std::vector<dm::Target> t{{0, (bytes + 511) / 512, "linear", dm::dev_text(dev) + " 0"}};
    if (int r = dm::create(name, t); r < 0) {
        if (r == -EEXIST || r == -EBUSY) throw std::runtime_error("/dev/mapper/" + name + " already exists (--name)");
        throw std::runtime_error(dm_fail("cannot create /dev/mapper/" + name, r));
    }
    return "/dev/mapper/" + name;
}

int remove_top(const std::string& name) { return dm::remove(name); }

HandoffTarget swap_to_cache(const std::string& name, const std::string& ublk_block, const std::string& cache_path,
                            uint64_t image_size) {
    const dev_t ublk = block_dev(ublk_block);
    if (!ublk) throw std::runtime_error(ublk_block + " is gone");
    // The loop driver and dm count in 512-byte sectors; a tail shorter than
    // one would be cut off (root images are whole 4 KiB blocks).
    if (image_size % 512) throw std::runtime_error("the image is not a whole number of 512-byte sectors");
    std::vector<dm::Target> targets;
    if (int r = dm::table(name, targets); r < 0)
        throw std::runtime_error(dm_fail("no table for /dev/mapper/" + name, r));
    for (const auto& t : targets)
        // The kernel looked the signature's key up at activation; a reload
        // would need the key again, which is no longer in the keyring.
        if (t.params.find("root_hash_sig_key_desc") != std::string::npos)
            throw std::runtime_error(
                "the mapping's root hash signature was checked by the kernel keyring; "
                "a new table would need it again");

    HandoffTarget out;
    dm::LoopDevice loop;
    dev_t target = block_dev(cache_path);
    if (target) {
        // A cache partition: the image is at its start (the metadata at its
        // end), so the table maps straight onto it.
        out = {cache_path, "block"};
    } else {
        loop = dm::make_loop_device(cache_path, 0, image_size);
        target = loop.dev;
        out = {loop.path, "loop"};
    }
    if (dm::replace_device(targets, dm::dev_text(ublk), dm::dev_text(target)) == 0)
        throw std::runtime_error("the table of /dev/mapper/" + name + " does not use " + ublk_block);

    handoff_stop_point("suspend");
    if (int r = dm::suspend(name); r < 0) throw std::runtime_error(dm_fail("dm suspend of " + name, r));
    handoff_stop_point("reload");
    if (int r = dm::reload(name, targets); r < 0) {
        const std::string why = dm_fail("dm reload of " + name + " onto " + out.where, r);
        if (int rr = dm::resume(name); rr < 0) log::error("%s", dm_fail("dm resume of " + name, rr).c_str());
        throw std::runtime_error(why);
    }
    handoff_stop_point("resume");
    if (int r = dm::resume(name); r < 0) {
        // The new table could not go live: drop it and bring the old one back.
        const std::string why = dm_fail("dm resume of " + name + " onto " + out.where, r);
        std::vector<dm::Target> old;
        if (dm::table(name, old) == 0 && dm::replace_device(old, dm::dev_text(target), dm::dev_text(ublk)) > 0 &&
            dm::reload(name, old) == 0 && dm::resume(name) == 0)
            throw std::runtime_error(why + "; the old table is live again");
        throw std::runtime_error(why + "; /dev/mapper/" + name + " may be left suspended");
    }
    return out;  // `loop` closes: the table holds the loop device now
}

bool hand_off(const std::string& name, ublk::Device& dev, SourceStack& stack, const nlohmann::json& state) {
    auto* cached = stack.cached();
    if (!cached || !cached->complete()) return false;
    auto& store = cached->store();
    if (store.degraded()) {
        log::warn("not handing off %s: cache degraded: %s", dev.block_path().c_str(), store.degraded_reason().c_str());
        return false;
    }
    // Completeness is durable before any table names the cache: after a
    // power cut the cache says it holds the whole image only if it does.
    if (int r = store.commit_now(); r < 0 || store.durable_count() != store.chunk_count()) {
        log::warn("not handing off %s: the cache's completeness could not be made durable", dev.block_path().c_str());
        return false;
    }
    if (int r = store.drop_exclusive_claim(); r < 0) {
        log::warn("not handing off %s: cannot release the cache device for device-mapper: %s", dev.block_path().c_str(),
                  std::strerror(-r));
        return false;
    }
    HandoffTarget to;
    try {
        to = swap_to_cache(name, dev.block_path(), stack.cache_path(), stack.top().size());
    } catch (const std::exception& e) {
        log::error("hand-off of /dev/mapper/%s failed: %s; still serving it through %s", name.c_str(), e.what(),
                   dev.block_path().c_str());
        return false;
    }
    // Recorded before the ublk device goes, so that a restarted daemon never
    // takes its absence for a root to attach afresh.
    record_handoff(name, state, to.where);
    handoff_stop_point("delete");
    stack.shut_down();
    if (dev.stop() < 0) log::warn("%s could not be removed cleanly", dev.block_path().c_str());
    remove_state(dev.id());
    log::info("handed off to %s: /dev/mapper/%s reads the cache %s in the kernel; lazyroot leaves", to.where.c_str(),
              name.c_str(), stack.cache_path().c_str());
    return true;
}

bool finish_handoff_of_dead_daemon(unsigned dev_id, const nlohmann::json& state) {
    const std::string name = mapping_name(state);
    if (name.empty()) return false;
    resume_if_left_suspended(name);
    if (!table_left_ublk(name, dev_id)) return false;
    const std::string where = lower_device(name);
    record_handoff(name, state, where);
    ublk::Control ctrl;
    ctrl.stop_dev(dev_id);
    if (int r = ctrl.del_dev(dev_id); r < 0 && r != -ENODEV)
        log::warn("cannot delete /dev/ublkb%u: %s", dev_id, std::strerror(-r));
    remove_state(dev_id);
    log::info("/dev/mapper/%s was already handed off to %s; removed /dev/ublkb%u, nothing left to serve", name.c_str(),
              where.c_str(), dev_id);
    return true;
}

void resume_if_left_suspended(const std::string& name) {
    if (name.empty()) return;
    auto i = dm::info(name);
    if (!i || !i->suspended) return;
    log::warn("/dev/mapper/%s was left suspended by a hand-off cut short; resuming it (%s table)", name.c_str(),
              i->inactive_table ? "the new" : "the old");
    if (int r = dm::resume(name); r < 0) log::error("%s", dm_fail("dm resume of " + name, r).c_str());
}

bool table_left_ublk(const std::string& name, unsigned dev_id) {
    if (name.empty()) return false;
    const dev_t ublk = block_dev("/dev/ublkb" + std::to_string(dev_id));
    std::vector<dm::Target> targets;
    if (!ublk || dm::table(name, targets) < 0) return false;
    const std::string me = dm::dev_text(ublk);
    auto copy = targets;
    return dm::replace_device(copy, me, me) == 0;
}

void record_handoff(const std::string& name, const nlohmann::json& state, const std::string& where) {
    nlohmann::json j = {
        {"device", "/dev/mapper/" + name},
        {"handed_off_to", where},
        {"handed_off_at", std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()},
        {"source", state.value("source", "")},
        {"mode", state.value("mode", "")},
        {"cache", state.value("cache", "")},
        {"root_hash", state.value("root_hash", "")},
        {"origin", state.value("origin", "")},
        {"pid", 0},
    };
    const std::string path = record_path(name);
    // Private like the state files: the record holds the source URL.
    const std::string text = j.dump(2) + "\n";
    if (!make_state_dir() || !write_private_file(path, text) ||
        // `lazyroot status` reads *.status.json.
        !write_private_file(state_dir() + "/" + name + ".handoff.status.json", text))
        log::warn("cannot record the hand-off in %s: %s", path.c_str(), std::strerror(errno));
}

std::optional<nlohmann::json> cmdline_handoff_record() {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(state_dir(), ec)) {
        if (e.path().extension() != ".handoff") continue;
        std::ifstream in(e.path());
        auto j = nlohmann::json::parse(in, nullptr, false);
        if (j.is_discarded() || j.value("origin", "") != "cmdline") continue;
        const std::string dev = j.value("device", "");
        if (!dev.empty() && ::access(dev.c_str(), F_OK) == 0) return j;
    }
    return std::nullopt;
}

void handoff_stop_point(const char* step) {
    const char* at = std::getenv("LAZYROOT_HANDOFF_STOP_AT");
    if (!at || std::strcmp(at, step) != 0) return;
    log::warn("hand-off: stopping before %s (LAZYROOT_HANDOFF_STOP_AT)", step);
    log::flush();
    ::raise(SIGSTOP);
}

}  // namespace lazyroot::cli
