#pragma once
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/http_options.h"
#include "http/image_identity.h"
#include "io/outage.h"
#include "io/source.h"

namespace lazyroot::http {

// One URL the image can be read from (the source or a mirror), shared by all
// queues of a source.
class ImageUrl {
public:
    explicit ImageUrl(std::string url) : url_(std::make_shared<const std::string>(std::move(url))) {}
    // Read at the start of each request: `lazyroot update-source` may swap
    // it (a fresh presigned URL) while queue threads read.
    std::string url() const { return *url_.load(); }
    // The URL in use now; a request that started before a swap still
    // finishes on the old one (its answer judged as usual).
    void replace(std::string url);
    // Bumped by replace(): a late answer to the old URL must not mark the new one.
    unsigned generation() const { return generation_.load(); }

    // nullopt until this URL has answered once (a mirror down at attach).
    std::optional<ImageIdentity> identity() const;
    // Records the identity of a first answer; returns the identity in force.
    ImageIdentity learn(const ImageIdentity& seen);

    // Each failure episode is logged once: true when this call starts one.
    bool mark_failing() { return !failing_.exchange(true); }
    // True when this call ends an episode.
    bool mark_healthy() { return failing_.exchange(false); }
    // A changed image is reported once; every read after it fails quietly.
    bool mark_changed() { return !changed_.exchange(true); }

    // The URL answered 403 (a presigned URL expired or was revoked): `why`
    // for `lazyroot status` until it answers again or is replaced. Ignored
    // for a request sent before the URL of `generation` was replaced.
    void mark_refused(const std::string& why, unsigned generation);
    void mark_answered();
    // Why the URL is refused, or nullopt; `since`: seconds since the epoch.
    struct Refusal {
        std::string why;
        int64_t since = 0;
    };
    std::optional<Refusal> refused() const;

private:
    std::atomic<std::shared_ptr<const std::string>> url_;
    std::atomic<unsigned> generation_{0};
    std::atomic<bool> refused_flag_{false};  // fast path for mark_answered()
    std::optional<Refusal> refusal_;         // under mu_
    mutable std::mutex mu_;
    std::optional<ImageIdentity> identity_;
    std::atomic<bool> failing_{false};
    std::atomic<bool> changed_{false};
};

// An image served over HTTP(S) with range requests, from the source URL and
// its mirrors. Every response is checked against the identity recorded at
// attach; nothing that fails a check is ever handed to the caller.
class HttpSource final : public io::Source {
public:
    // Probes every URL (blocking; attach time). Throws std::runtime_error
    // with a one-line reason when no URL is usable or the mirrors disagree.
    static std::unique_ptr<HttpSource> open(const HttpOptions& opts);

    uint64_t size() const override { return size_; }
    std::string describe() const override { return urls_.front()->url(); }

    // `lazyroot update-source`: makes `url` the source URL (index 0) in
    // place of the current one, for every queue from its next request on,
    // when it serves the same image: probed (blocking: not on a queue
    // thread) and checked against the size and validators recorded at
    // attach. Otherwise the old URL stays and the result is the one-line
    // reason.
    std::optional<std::string> update_source_url(const std::string& url);
    // Size and validators of the first URL that answered at attach.
    std::string identity() const override { return identity_; }
    std::unique_ptr<io::QueueReader> open_queue(io::EventLoop& loop, unsigned depth) override;

    // Connections each queue opens, and may grow to while reads wait behind
    // busy HTTP/1.1 ones (`max` 0: no growth); set before open_queue().
    void set_connections_per_queue(unsigned n, unsigned max = 0) {
        per_queue_connections_ = n ? n : 1;
        per_queue_max_connections_ = std::max(per_queue_connections_, max);
    }

    const HttpOptions& options() const { return opts_; }
    ImageUrl& url(size_t i) { return *urls_[i]; }
    const ImageUrl& url(size_t i) const { return *urls_[i]; }
    size_t url_count() const { return urls_.size(); }
    // The first URL that answered the probe: where reads start, so a dead
    // primary does not cost each queue a failed first attempt.
    size_t first_live_url() const { return first_live_url_; }
    // Reads waiting on an unreachable source, across queues; its log lines.
    io::OutageMonitor& outage() { return outage_; }

private:
    explicit HttpSource(const HttpOptions& opts)
        : opts_(opts), outage_(opts.urls.empty() ? std::string() : opts.urls.front()) {}

    HttpOptions opts_;
    io::OutageMonitor outage_;
    std::vector<std::unique_ptr<ImageUrl>> urls_;
    uint64_t size_ = 0;
    std::string identity_;
    size_t first_live_url_ = 0;
    unsigned per_queue_connections_ = 1;
    unsigned per_queue_max_connections_ = 1;
};

}  // namespace lazyroot::http
