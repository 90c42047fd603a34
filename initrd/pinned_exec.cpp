#include "initrd/pinned_exec.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace lazyroot::initrd {
namespace {

struct Loaded {
    std::vector<std::string> libraries;  // absolute paths, as the loader opened them
    std::string interpreter;             // PT_INTERP of the main program
};

int collect(dl_phdr_info* info, size_t, void* data) {
    auto* out = static_cast<Loaded*>(data);
    const char* name = info->dlpi_name;
    if (name && name[0] == '/') {
        out->libraries.emplace_back(name);
    } else if (out->interpreter.empty()) {
        // The main program (empty name) comes first; the vDSO has no path.
        for (int i = 0; i < info->dlpi_phnum; ++i) {
            if (info->dlpi_phdr[i].p_type == PT_INTERP) {
                out->interpreter = reinterpret_cast<const char*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
                break;
            }
        }
    }
    return 0;
}

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// Writes a new file and renames it into place: a running daemon keeps the
// inode it was started from.
int copy_file(const std::string& from, const std::string& to) {
    int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return -errno;
    const std::string tmp = to + ".tmp";
    int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (out < 0) {
        int e = errno;
        ::close(in);
        return -e;
    }
    int r = 0;
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                r = -errno;
                break;
            }
            off += w;
        }
        if (r < 0) break;
    }
    ::close(in);
    if (::close(out) != 0 && r == 0) r = -errno;
    if (r == 0 && ::rename(tmp.c_str(), to.c_str()) != 0) r = -errno;
    if (r < 0) ::unlink(tmp.c_str());
    return r;
}

int write_text(const std::string& to, const std::string& text) {
    int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    ssize_t n = ::write(fd, text.data(), text.size());
    int r = n == static_cast<ssize_t>(text.size()) ? 0 : -EIO;
    if (::close(fd) != 0 && r == 0) r = -errno;
    return r;
}

int make_dirs(const std::string& dir) {
    for (size_t pos = 1; pos != std::string::npos;) {
        pos = dir.find('/', pos + 1);
        const std::string part = dir.substr(0, pos);
        if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return -errno;
    }
    return 0;
}

}  // namespace

std::string pin_executable(const std::string& dir, std::string& error) {
    Loaded loaded;
    ::dl_iterate_phdr(collect, &loaded);
    if (loaded.interpreter.empty()) {
        error = "no ELF interpreter (a static executable?)";
        return {};
    }
    if (int r = make_dirs(dir); r < 0) {
        error = dir + ": " + std::strerror(-r);
        return {};
    }
    std::vector<std::pair<std::string, std::string>> copies{{"/proc/self/exe", "lazyroot"}};
    bool have_interpreter = false;
    for (const auto& lib : loaded.libraries) {
        copies.emplace_back(lib, base_name(lib));
        have_interpreter |= base_name(lib) == base_name(loaded.interpreter);
    }
    if (!have_interpreter) copies.emplace_back(loaded.interpreter, base_name(loaded.interpreter));
    for (const auto& [from, name] : copies) {
        if (int r = copy_file(from, dir + "/" + name); r < 0) {
            error = "cannot copy " + from + " to " + dir + ": " + std::strerror(-r);
            return {};
        }
    }
    // libcurl initialises OpenSSL with its configuration file: a restarted
    // daemon reads this copy (OPENSSL_CONF), never the root's.
    const std::string conf = dir + "/openssl.cnf";
    int r = copy_file("/usr/lib/ssl/openssl.cnf", conf);
    if (r == -ENOENT) r = write_text(conf, "");
    if (r < 0) {
        error = conf + ": " + std::strerror(-r);
        return {};
    }
    return base_name(loaded.interpreter);
}

std::string pinned_exec_command(const std::string& dir, const std::string& loader, const std::string& argv0,
                                const std::string& args) {
    // ld.so as the program: --library-path finds every library in DIR before
    // any cache or system directory is looked at; --argv0 keeps argv[0].
    return "@" + dir + "/" + loader + " " + argv0 + " --library-path " + dir + " --argv0 " + argv0 + " " + dir +
           "/lazyroot " + args;
}

}  // namespace lazyroot::initrd
