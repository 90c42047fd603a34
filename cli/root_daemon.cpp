#include "cli/root_daemon.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cli/state_file.h"
#include "http/pinned_resources.h"
#include "io/log.h"
#include "io/unique_fd.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

namespace lazyroot::cli {
namespace {

int forced_in_initrd = -1;

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

bool copy_file(const std::string& from, const std::string& to) {
    std::ifstream in(from, std::ios::binary);
    if (!in) return false;
    const std::string tmp = to + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << in.rdbuf();
        if (!out.flush()) return false;
    }
    return std::rename(tmp.c_str(), to.c_str()) == 0;
}

// Copies `path` (a file named by `option`) into `dir`; the copy's path, or
// `path` itself when it cannot be copied (attach then reports it as usual).
std::string pin_one(const std::string& dir, const std::string& option, const std::string& path) {
    // Already a pinned copy (args recorded by an earlier attach): keep it.
    if (path.empty() || starts_with(path, (dir + "/").c_str())) return path;
    const std::string to = dir + "/" + option.substr(2) + "-" + base_name(path);
    if (!copy_file(path, to)) {
        log::warn("%s %s: cannot pin a copy in %s: %s", option.c_str(), path.c_str(), dir.c_str(),
                  std::strerror(errno));
        return path;
    }
    return to;
}

// "HOST:PORT:ADDR,…" for every http(s) URL in an attach's words whose host is
// a name, as resolved now (skipping hosts the words already pin).
std::vector<std::string> resolved_hosts(const std::vector<std::string>& words) {
    std::vector<std::string> urls, out, given;
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        for (const char* opt : {"--mirror", "--hash-source", "--resolve", "--s3-endpoint"}) {
            const size_t n = std::strlen(opt);
            std::string value;
            if (w == opt && i + 1 < words.size())
                value = words[i + 1];
            else if (starts_with(w, opt) && w.size() > n && w[n] == '=')
                value = w.substr(n + 1);
            else
                continue;
            (std::strcmp(opt, "--resolve") == 0 ? given : urls).push_back(value);
        }
        if (starts_with(w, "http://") || starts_with(w, "https://")) urls.push_back(w);
    }
    for (const auto& url : urls) {
        auto entry = http::resolve_url_host(url);
        if (!entry) continue;
        const std::string key = entry->substr(0, entry->find(':', entry->find(':') + 1)) + ":";
        bool known = false;
        for (const auto& e : given) known |= starts_with(e, key.c_str());
        for (const auto& e : out) known |= starts_with(e, key.c_str());
        if (!known) out.push_back(*entry);
    }
    return out;
}

int g_kept_proc = -1;  // /proc, opened in the initrd (O_PATH); lives as long as the process

}  // namespace

int follow_switch_root() {
    if (g_kept_proc < 0) return 0;
    io::UniqueFd root(::openat(g_kept_proc, "1/root", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return -errno;
    struct stat now {
    }, pid1{};
    if (::stat("/", &now) != 0 || ::fstat(root.get(), &pid1) != 0) return -errno;
    if (now.st_dev == pid1.st_dev && now.st_ino == pid1.st_ino) return 0;
    if (::fchdir(root.get()) != 0 || ::chroot(".") != 0) return -errno;
    if (::chdir("/") != 0) return -errno;
    log::info("followed switch_root: the daemon now sees the real root's /dev, /proc and /run");
    return 1;
}

bool in_initrd() {
    if (forced_in_initrd >= 0) return forced_in_initrd;
    return ::access("/etc/initrd-release", F_OK) == 0;
}

void set_in_initrd_for_testing(int in) { forced_in_initrd = in; }

void become_root_storage_daemon(char* argv0) {
    if (argv0 && argv0[0]) argv0[0] = '@';
    // Run from the pinned copy, the process is the loader's: name it.
    ::prctl(PR_SET_NAME, "lazyroot", 0, 0, 0);
    // The OOM killer must never pick the process every page of the root
    // comes through (systemd's OOMScoreAdjust= does the same for the unit).
    if (int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); fd >= 0) {
        if (::write(fd, "-1000", 5) != 5) log::warn("oom_score_adj: %s", std::strerror(errno));
        ::close(fd);
    }
    // ONFAULT: lock what is touched, not every thread stack's full reservation.
    if (::mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0) log::warn("mlockall: %s", std::strerror(errno));
    if (::prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0) log::warn("PR_SET_IO_FLUSHER: %s", std::strerror(errno));
    if (in_initrd() && g_kept_proc < 0) g_kept_proc = ::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

std::vector<std::string> pin_attach_files(const std::vector<std::string>& attach_args) {
    if (!in_initrd()) return attach_args;
    const std::string dir = state_dir() + "/pinned";
    make_state_dir();
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        log::warn("cannot create %s: %s", dir.c_str(), std::strerror(errno));
        return attach_args;
    }
    static const char* const kFileOptions[] = {"--ca",          "--cert",        "--key",           "--trust",
                                               "--hash-source", "--header-file", "--s3-credentials"};
    std::vector<std::string> out = attach_args;
    bool has_ca = false;
    for (size_t i = 0; i < out.size(); ++i) {
        for (const char* opt : kFileOptions) {
            std::string* value = nullptr;
            std::string prefix;  // what stays before the path in *value
            if (out[i] == opt && i + 1 < out.size()) {
                value = &out[++i];
            } else if (starts_with(out[i], opt) && out[i][std::strlen(opt)] == '=') {
                value = &out[i];
                prefix = std::string(opt) + "=";
            } else {
                continue;
            }
            std::string path = value->substr(prefix.size());
            if (std::strcmp(opt, "--hash-source") == 0) {
                // Only a local tree is a file; an http(s):// one is fetched.
                if (!starts_with(path, "file://")) break;
                prefix += "file://";
                path = path.substr(7);
            }
            has_ca |= std::strcmp(opt, "--ca") == 0;
            *value = prefix + pin_one(dir, opt, path);
            break;
        }
    }
    // Host names too: a restarted daemon must not ask the root's resolver.
    for (const auto& entry : resolved_hosts(out)) out.push_back("--resolve=" + entry);
    // An https:// SOURCE without --ca uses libcurl's default bundle: pin that
    // one too, named explicitly, since the root's copy is out of reach then.
    // (An s3:// SOURCE too: its endpoint is https:// unless given otherwise.)
    if (!has_ca && out.size() > 1 && (starts_with(out[1], "https://") || starts_with(out[1], "s3://"))) {
        const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
        const std::string bundle = v && v->cainfo ? v->cainfo : "/etc/ssl/certs/ca-certificates.crt";
        if (::access(bundle.c_str(), R_OK) == 0) {
            std::string pinned = pin_one(dir, "--ca", bundle);
            if (pinned != bundle) out.push_back("--ca=" + pinned);
        }
    }
    return out;
}

void notify_ready(const char* status) {
    std::string msg = std::string("READY=1\nSTATUS=") + status;
    ::sd_notify(0, msg.c_str());
}

void notify_status(const char* status) {
    std::string msg = std::string("STATUS=") + status;
    ::sd_notify(0, msg.c_str());
}

}  // namespace lazyroot::cli
