#include "dm/dm_table.h"

#include <libdevmapper.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <mutex>

namespace lazyroot::dm {
namespace {

std::mutex g_mu;  // libdevmapper's log hook is process-wide
std::string g_last_error;

void keep_error(int level, const char*, int, int, const char* f, ...) {
    if ((level & 7) > 3) return;  // _LOG_ERR is 3: debug/info lines are noise here
    char buf[512];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    g_last_error = buf;
}

struct TaskDeleter {
    void operator()(dm_task* t) const { dm_task_destroy(t); }
};
using Task = std::unique_ptr<dm_task, TaskDeleter>;

// One ioctl: sets up logging and udev the way the daemon needs them, runs
// `fill` on the task, then the task, then `read` on the result.
template <typename Fill, typename Read>
int run(int type, const std::string& name, Fill fill, Read read) {
    std::lock_guard lock(g_mu);
    g_last_error.clear();
    dm_log_with_errno_init(keep_error);
    // No udev cookies: the daemon may run where udev is not (or no longer)
    // running, and must never wait for it with its root suspended.
    dm_udev_set_sync_support(0);
    struct Restore {
        ~Restore() { dm_log_with_errno_init(nullptr); }
    } restore;
    Task t(dm_task_create(type));
    if (!t) return -ENOMEM;
    if (!dm_task_set_name(t.get(), name.c_str())) return -EINVAL;
    if (int r = fill(t.get()); r < 0) return r;
    if (!dm_task_run(t.get())) {
        const int e = dm_task_get_errno(t.get());
        return e > 0 ? -e : -EIO;
    }
    int r = read(t.get());
    dm_task_update_nodes();  // the node in /dev/mapper, without udev
    return r;
}

int add_targets(dm_task* t, const std::vector<Target>& targets) {
    for (const auto& tg : targets)
        if (!dm_task_add_target(t, tg.start, tg.length, tg.type.c_str(), tg.params.c_str())) return -EINVAL;
    return dm_task_set_ro(t) ? 0 : -EINVAL;
}

constexpr auto kNothing = [](dm_task*) { return 0; };

}  // namespace

std::optional<Info> info(const std::string& name) {
    Info out;
    bool exists = false;
    int r = run(DM_DEVICE_INFO, name, kNothing, [&](dm_task* t) {
        dm_info i{};
        if (!dm_task_get_info(t, &i)) return -EIO;
        exists = i.exists;
        out.suspended = i.suspended;
        out.live_table = i.live_table;
        out.inactive_table = i.inactive_table;
        out.open_count = i.open_count;
        out.major = i.major;
        out.minor = i.minor;
        return 0;
    });
    if (r < 0 || !exists) return std::nullopt;
    return out;
}

int table(const std::string& name, std::vector<Target>& out) {
    out.clear();
    return run(DM_DEVICE_TABLE, name, kNothing, [&](dm_task* t) {
        void* next = nullptr;
        do {
            uint64_t start = 0, length = 0;
            char* type = nullptr;
            char* params = nullptr;
            next = dm_get_next_target(t, next, &start, &length, &type, &params);
            if (type) out.push_back({start, length, type, params ? params : ""});
        } while (next);
        return out.empty() ? -ENXIO : 0;
    });
}

int suspend(const std::string& name) {
    return run(
        DM_DEVICE_SUSPEND, name, [](dm_task* t) { return dm_task_skip_lockfs(t) ? 0 : -EINVAL; }, kNothing);
}

int resume(const std::string& name) {
    return run(
        DM_DEVICE_RESUME, name, [](dm_task* t) { return dm_task_skip_lockfs(t) ? 0 : -EINVAL; }, kNothing);
}

int reload(const std::string& name, const std::vector<Target>& targets) {
    return run(
        DM_DEVICE_RELOAD, name, [&](dm_task* t) { return add_targets(t, targets); }, kNothing);
}

int create(const std::string& name, const std::vector<Target>& targets) {
    return run(
        DM_DEVICE_CREATE, name, [&](dm_task* t) { return add_targets(t, targets); }, kNothing);
}

int remove(const std::string& name) {
    int r = run(DM_DEVICE_REMOVE, name, kNothing, kNothing);
    return r == -ENXIO ? 0 : r;
}

std::string last_error() {
    std::lock_guard lock(g_mu);
    return g_last_error;
}

std::string dev_text(dev_t dev) { return std::to_string(major(dev)) + ":" + std::to_string(minor(dev)); }

size_t replace_device(std::vector<Target>& targets, const std::string& from, const std::string& to) {
    size_t n = 0;
    for (auto& tg : targets) {
        std::string out;
        size_t pos = 0;
        const std::string& p = tg.params;
        while (pos <= p.size()) {
            size_t end = p.find(' ', pos);
            if (end == std::string::npos) end = p.size();
            std::string word = p.substr(pos, end - pos);
            if (word == from) {
                word = to;
                ++n;
            }
            out += word;
            if (end < p.size()) out += ' ';
            pos = end + 1;
        }
        tg.params = std::move(out);
    }
    return n;
}

}  // namespace lazyroot::dm
