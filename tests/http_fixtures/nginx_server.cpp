#include "tests/http_fixtures/nginx_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "tests/http_fixtures/net_util.h"

namespace lazyroot::fixtures {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string tail(const std::string& s, size_t n = 2000) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

// nginx config strings: quoted so paths may hold spaces or ';'.
std::string quoted(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

}  // namespace

NginxServer::NginxServer(Options opts) : opts_(std::move(opts)) {
    if (opts_.root.empty() || !std::filesystem::is_directory(opts_.root))
        throw std::invalid_argument("NginxServer: root is not a directory: " + opts_.root);
    if (opts_.tls && (opts_.cert.empty() || opts_.key.empty()))
        throw std::invalid_argument("NginxServer: tls needs cert and key");
    if (opts_.require_client_cert && (!opts_.tls || opts_.client_ca.empty()))
        throw std::invalid_argument("NginxServer: require_client_cert needs tls and client_ca");
}

NginxServer::~NginxServer() {
    try {
        stop();
    } catch (...) {
        // ~ChildProcess still kills and reaps it.
    }
}

std::filesystem::path NginxServer::access_log_path(unsigned run) const {
    return dir() / ("access." + std::to_string(run) + ".log");
}

std::string NginxServer::config() const {
    const std::string d = dir().string();
    std::ostringstream c;
    // One foreground process: signals and waitpid reach nginx itself, and as
    // root there is no worker switching to "nobody" (which could not read a
    // 0700 temp dir).
    c << "daemon off;\n"
      << "master_process off;\n"
      << "worker_processes 1;\n"
      << "pid " << quoted(d + "/nginx.pid") << ";\n"
      << "error_log " << quoted(d + "/error.log") << " info;\n"
      << "events { worker_connections 512; }\n"
      << "http {\n"
      << "  default_type application/octet-stream;\n";
    for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
        c << "  " << t << "_temp_path " << quoted(d + "/" + t) << ";\n";
    // No buffer=/flush=: each line is written when its request ends.
    c << "  log_format lazyroot '" << kAccessLogFormat << "';\n"
      << "  access_log " << quoted(access_log_path(runs_).string()) << " lazyroot;\n"
      << "  sendfile on;\n"
      << "  etag on;\n"
      << "  if_modified_since exact;\n"
      << "  keepalive_requests " << opts_.keepalive_requests << ";\n"
      << "  keepalive_timeout " << opts_.keepalive_timeout_s << "s;\n"
      << "  server {\n"
      << "    listen 127.0.0.1:" << port_ << (opts_.tls ? " ssl" : "") << (opts_.http2 ? " http2" : "") << ";\n"
      << "    server_name localhost;\n"
      << "    root " << quoted(opts_.root) << ";\n";
    if (opts_.tls) {
        c << "    ssl_certificate " << quoted(opts_.cert) << ";\n"
          << "    ssl_certificate_key " << quoted(opts_.key) << ";\n"
          << "    ssl_protocols TLSv1.2 TLSv1.3;\n";
        if (opts_.require_client_cert)
            c << "    ssl_verify_client on;\n"
              << "    ssl_client_certificate " << quoted(opts_.client_ca) << ";\n";
    }
    c << "    location / { }\n"
      << "    " << opts_.extra_server_config << "\n"
      << "  }\n"
      << "}\n";
    return c.str();
}

void NginxServer::start() {
    if (running()) throw std::logic_error("NginxServer::start: already running");
    if (port_ != 0) {
        if (!try_start())
            throw std::runtime_error("NginxServer: port " + std::to_string(port_) + " is taken: " + tail(error_log()));
        return;
    }
    // A picked port can be grabbed by someone else before nginx binds it.
    for (int attempt = 0; attempt < 5; ++attempt) {
        port_ = pick_free_port();
        if (try_start()) return;
    }
    port_ = 0;
    throw std::runtime_error("NginxServer: no free port after 5 attempts: " + tail(error_log()));
}

bool NginxServer::try_start() {
    const auto pid_path = dir() / "nginx.pid";
    std::filesystem::remove(pid_path);
    std::filesystem::remove(access_log_path(runs_));
    const auto conf = dir_.write_file("nginx.conf", config());
    const auto err_before = error_log().size();

    ScopedFd out(::open((dir() / "nginx.out").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!out) throw std::runtime_error("NginxServer: cannot create nginx.out in " + dir().string());
    // -p and -e keep nginx away from its compiled-in /usr/share/nginx and /var/log paths.
    child_ = ChildProcess::spawn(
        {opts_.nginx_binary, "-p", dir().string() + "/", "-c", conf.string(), "-e", (dir() / "error.log").string()},
        out.get());

    // Ready = the pid file names our child (nginx writes it after binding) and
    // a connect succeeds. Polled, bounded, waking early if nginx exits.
    const auto deadline = Clock::now() + opts_.start_timeout;
    const std::string want_pid = std::to_string(child_.pid());
    for (;;) {
        if (auto st = child_.try_reap()) {
            const std::string log = error_log().substr(err_before);
            if (log.find("Address already in use") != std::string::npos) return false;
            throw std::runtime_error("NginxServer: nginx exited during start (" + describe_wait_status(*st) +
                                     "): " + tail(log + read_file(dir() / "nginx.out")));
        }
        std::string pid = read_file(pid_path);
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
        if (pid == want_pid && port_accepts(port_)) {
            ++runs_;
            return true;
        }
        if (Clock::now() >= deadline) {
            child_.kill_hard();
            throw std::runtime_error("NginxServer: not accepting on port " + std::to_string(port_) + " after " +
                                     std::to_string(opts_.start_timeout.count()) + " ms: " + tail(error_log()));
        }
        child_.wait_for(milliseconds(10));
    }
}

void NginxServer::stop(bool graceful) {
    if (!running()) return;
    child_.signal(SIGCONT);  // a frozen nginx can't act on SIGTERM
    child_.signal(graceful ? SIGQUIT : SIGTERM);
    if (!child_.wait_for(milliseconds(10000))) child_.kill_hard();
}

void NginxServer::kill_hard() {
    if (running()) child_.kill_hard();
}

void NginxServer::restart() {
    stop();
    start();
}

void NginxServer::freeze() { child_.signal(SIGSTOP); }
void NginxServer::thaw() { child_.signal(SIGCONT); }

std::string NginxServer::url(std::string_view path) const {
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    return std::string(opts_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + "/" +
           std::string(path);
}

std::string NginxServer::error_log() const { return read_file(dir() / "error.log"); }

std::vector<AccessLogEntry> NginxServer::access_log_entries() const {
    std::vector<AccessLogEntry> all;
    for (unsigned run = 0; run < runs_; ++run) {
        auto part = read_access_log(access_log_path(run).string(), run);
        all.insert(all.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
    }
    return all;
}

size_t NginxServer::distinct_connections() const {
    std::set<std::pair<unsigned, uint64_t>> seen;
    for (const auto& e : access_log_entries()) seen.emplace(e.run, e.connection);
    return seen.size();
}

uint64_t NginxServer::total_body_bytes() const {
    uint64_t sum = 0;
    for (const auto& e : access_log_entries()) sum += e.body_bytes_sent;
    return sum;
}

bool NginxServer::wait_for_log_lines(size_t n, milliseconds timeout) const {
    // inotify on the dir wakes us on every write nginx makes to its logs.
    ScopedFd in(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!in) throw std::runtime_error("NginxServer: inotify_init1 failed");
    if (::inotify_add_watch(in.get(), dir().c_str(), IN_MODIFY | IN_CREATE) < 0)
        throw std::runtime_error("NginxServer: inotify_add_watch failed");
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (access_log_entries().size() >= n) return true;
        auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{in.get(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count()) + 1) > 0) {
            alignas(inotify_event) char buf[4096];
            while (::read(in.get(), buf, sizeof buf) > 0) {}
        }
    }
}

}  // namespace lazyroot::fixtures
