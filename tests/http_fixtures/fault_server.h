#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/http_fixtures/http_parse.h"

namespace lazyroot::fixtures {

// Misbehaviours FaultServer can put on a response: each is something a real
// nginx serving a static file won't do.
enum class Fault {
    DropMidBody,           // headers and half the body, then a TCP reset (RST)
    ShortBody,             // Content-Length N, N/2 body bytes, then an orderly close (FIN)
    WrongContentRange,     // 206 for the requested range moved by 4096 bytes: Content-Range
                           // and body agree with each other, not with the request
    FullBodyInsteadOf206,  // 200 with the whole image, whatever the Range
    Status503,             // 503 with Retry-After and an empty body; connection kept
    Stall,                 // reads the request, sends nothing for FaultRule::stall (until
                           // stop() when zero), then answers normally
    Redirect,              // 302 (FaultRule::redirect_status) to FaultRule::location
    ChangeIdentity,        // the image is replaced (new bytes, ETag, Last-Modified) before
                           // this request is answered; it and all later ones see the new one
    // Hostile servers (issue 12): what a compromised or broken server may send.
    LyingTotal,           // 206 with the right bytes, but Content-Range claims another total
    HugeContentLength,    // 206 with the right Content-Range and bytes, Content-Length 1 TiB,
                          // then an orderly close
    EndlessHeaders,       // a status line, then header lines for ever (until the client goes)
    Slowloris,            // the right response, its body one byte per FaultRule::drip
    RedirectLoop,         // 302 to the request's own target, every time
    MultipartByteranges,  // 206 multipart/byteranges (one part: the range asked for), no
                          // Content-Range header: what a server sends for several ranges
    // Caching tiers (issue 19).
    NoValidators,  // the right answer without ETag and Last-Modified (a tier that strips them)
};

std::string_view fault_name(Fault f);

// One version of the served image.
struct ImageVersion {
    std::vector<uint8_t> bytes{};
    std::string etag{};           // with its quotes, e.g. "\"img-v1\""
    std::string last_modified{};  // IMF-fixdate
};

// A fault for the next `times` requests for the image that `match` accepts.
struct FaultRule {
    static constexpr int kForever = -1;

    Fault fault;                                      // required
    int times = 1;                                    // kForever: every matching request
    std::function<bool(const HttpRequest&)> match{};  // empty: any request for the image
    std::chrono::milliseconds stall{0};               // Stall: how long; zero = until stop()
    std::string location{};                           // Redirect: default "/moved" + image path;
                                                      // a path is made an absolute URL
    int redirect_status = 302;                        // Redirect
    std::string retry_after = "0";                    // Status503: Retry-After value
    std::optional<ImageVersion> new_version{};        // ChangeIdentity: default derives one
                                                      // (bytes ^ 0xA5, "img-vN", +N hours)
    std::chrono::milliseconds drip{100};              // Slowloris: time between body bytes
};

// One answered request, in the order they were answered.
struct ServedRequest {
    uint64_t connection = 0;  // connection number, from 1 in accept order
    std::string method{};
    std::string target{};
    std::string range{};  // Range header, empty when absent
    int status = 0;       // status line sent (after any stall); 0 when stalled until stop()
    std::optional<Fault> fault{};
};

struct FaultServerStats {
    uint64_t requests = 0;     // requests answered, faulty answers included
    uint64_t connections = 0;  // connections accepted
    uint64_t body_bytes = 0;   // response body bytes written to sockets
};

// A small HTTP/1.1 server on 127.0.0.1 serving one in-memory image at
// Options::path and at "/moved" + path (everything else is 404), with HEAD,
// GET, a single byte range (206/416), keep-alive, pipelining, If-Match (412)
// and If-Range (200 on mismatch). Faults are queued as rules: each request for
// the image takes the first rule whose predicate accepts it and that has uses
// left. Runs on its own thread with poll(); all methods are thread-safe.
class FaultServer {
public:
    struct Options {
        std::string path = "/disk.img";
        // An empty validator is not sent at all.
        std::string etag = "\"img-v1\"";
        std::string last_modified = "Mon, 01 Jan 2024 00:00:00 GMT";
    };

    // Listens on a free port and serves at once. Throws std::runtime_error
    // when the socket can't be set up.
    explicit FaultServer(std::vector<uint8_t> image);
    FaultServer(std::vector<uint8_t> image, Options opts);
    ~FaultServer();  // stop()
    FaultServer(const FaultServer&) = delete;
    FaultServer& operator=(const FaultServer&) = delete;

    // Closes the listener and every connection (stalled ones included) and
    // joins the thread. Idempotent.
    void stop();

    uint16_t port() const;
    // The image's URL: "http://127.0.0.1:PORT/disk.img".
    std::string url() const;
    // Any path on this server; a leading '/' is optional.
    std::string url(std::string_view path) const;

    void add_fault(FaultRule rule);
    void add_fault(Fault fault, int times = 1);
    void clear_faults();
    // Rules that still have uses left.
    size_t pending_faults() const;

    // Replaces the image now, as ChangeIdentity does at a request. Responses
    // already being sent finish with the bytes they started with.
    void set_version(ImageVersion v);
    std::shared_ptr<const ImageVersion> version() const;

    FaultServerStats stats() const;
    uint64_t requests_served() const { return stats().requests; }
    uint64_t connections_accepted() const { return stats().connections; }
    uint64_t body_bytes_sent() const { return stats().body_bytes; }
    std::vector<ServedRequest> log() const;

    // Waits until pred(stats()) holds (woken on every change). Counters move
    // on the server thread just after the bytes hit the socket, so a client
    // can see its response before they do: wait rather than read them once.
    bool wait_for(const std::function<bool(const FaultServerStats&)>& pred,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lazyroot::fixtures
