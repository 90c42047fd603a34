#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tests/http_fixtures/access_log.h"
#include "tests/http_fixtures/child_process.h"
#include "tests/http_fixtures/temp_dir.h"

namespace lazyroot::fixtures {

// A real nginx (/usr/sbin/nginx) serving a directory on 127.0.0.1, run as a
// single foreground process (daemon off, master_process off) with a generated
// config in its own temp dir: logs, pid and temp paths all live there, and
// /etc/nginx is never read. Static files get Range, ETag, If-Match, If-Range
// and If-Modified-Since handling from nginx itself. Not thread-safe.
class NginxServer {
public:
    struct Options {
        std::string root{};  // document root, served at "/"
        bool tls = false;
        std::string cert{}, key{};  // PEM server certificate and key; required with tls
        // With tls: h2 offered through ALPN next to HTTP/1.1. Without tls the
        // port speaks h2c with prior knowledge only (HTTP/1.1 requests fail).
        bool http2 = false;
        int keepalive_requests = 1000;  // requests per connection before nginx closes it
        int keepalive_timeout_s = 60;   // idle keep-alive connections close after this
        // With tls: the handshake asks for a client certificate and requests
        // without one valid for client_ca get 400.
        bool require_client_cert = false;
        std::string client_ca{};  // PEM CA for client certificates
        // Raw directives added inside server {} (e.g. "limit_rate 64k;").
        std::string extra_server_config{};
        std::string nginx_binary = "/usr/sbin/nginx";
        std::chrono::milliseconds start_timeout{10000};
    };

    explicit NginxServer(Options opts);
    ~NginxServer();  // stop()
    NginxServer(const NginxServer&) = delete;
    NginxServer& operator=(const NginxServer&) = delete;

    // Starts nginx and returns once the port accepts connections. The first
    // start picks a free port; later starts reuse it. Throws std::runtime_error
    // with nginx's error log when it does not come up.
    void start();
    // SIGTERM (fast: open connections are closed) or, when graceful, SIGQUIT
    // (in-flight requests finish first); then waits for exit, escalating to
    // SIGKILL after 10 s. Does nothing when not running.
    void stop(bool graceful = false);
    // SIGKILL, as a crash: connections are reset, nothing is flushed.
    void kill_hard();
    // stop() then start() on the same port.
    void restart();
    // SIGSTOP / SIGCONT: the kernel still completes TCP handshakes into the
    // listen backlog, but nothing is read or answered until thaw().
    void freeze();
    void thaw();
    bool running() const { return child_.running(); }

    uint16_t port() const { return port_; }
    // "http(s)://127.0.0.1:PORT/path"; a leading '/' on path is optional.
    std::string url(std::string_view path = "") const;
    // The temp dir with nginx.conf, error.log and access.<run>.log.
    const std::filesystem::path& dir() const { return dir_.path(); }
    std::string error_log() const;

    // Parsed access log lines of every run so far, oldest first. nginx writes
    // a line after the response has been sent, so a client can have its
    // response before the line exists: use wait_for_log_lines first.
    std::vector<AccessLogEntry> access_log_entries() const;
    // Distinct TCP connections in the access log, counting (run, $connection)
    // pairs. Connections that carried no request (like start()'s readiness
    // probes) are not logged and so not counted.
    size_t distinct_connections() const;
    // Sum of $body_bytes_sent over the access log.
    uint64_t total_body_bytes() const;
    // Waits (inotify, bounded by timeout) until the access log has at least n
    // entries. Returns false on timeout.
    bool wait_for_log_lines(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

private:
    std::string config() const;
    std::filesystem::path access_log_path(unsigned run) const;
    // One attempt on port_; false when the port was taken by someone else.
    bool try_start();

    Options opts_;
    TempDir dir_{"lazyroot-nginx"};
    uint16_t port_ = 0;
    unsigned runs_ = 0;  // starts so far; the current run is runs_ - 1
    ChildProcess child_;
};

}  // namespace lazyroot::fixtures
