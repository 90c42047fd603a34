#include "http/http_source.h"

#include "http/pinned_resources.h"

#include <ctime>
#include <stdexcept>

#include "http/probe.h"
#include "http/http_reader.h"
#include "http/url_check.h"
#include "io/log.h"

namespace lazyroot::http {

std::optional<ImageIdentity> ImageUrl::identity() const {
    std::lock_guard lock(mu_);
    return identity_;
}

void ImageUrl::replace(std::string url) {
    url_.store(std::make_shared<const std::string>(std::move(url)));
    generation_.fetch_add(1);
    std::lock_guard lock(mu_);
    refusal_.reset();
    refused_flag_ = false;
    failing_ = false;
}

void ImageUrl::mark_refused(const std::string& why, unsigned generation) {
    std::lock_guard lock(mu_);
    if (generation != generation_.load()) return;
    if (!refusal_) refusal_ = Refusal{why, static_cast<int64_t>(std::time(nullptr))};
    refused_flag_ = true;
}

void ImageUrl::mark_answered() {
    if (!refused_flag_.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(mu_);
    refusal_.reset();
    refused_flag_ = false;
}

std::optional<ImageUrl::Refusal> ImageUrl::refused() const {
    std::lock_guard lock(mu_);
    return refusal_;
}

ImageIdentity ImageUrl::learn(const ImageIdentity& seen) {
    std::lock_guard lock(mu_);
    if (!identity_) identity_ = seen;
    return *identity_;
}

std::unique_ptr<HttpSource> HttpSource::open(const HttpOptions& opts) {
    if (opts.urls.empty()) throw std::runtime_error("no URL given");
    pin_resources(opts);
    std::unique_ptr<HttpSource> src(new HttpSource(opts));
    std::string first_error;
    std::optional<uint64_t> size;
    std::string size_from;
    for (const auto& u : opts.urls) {
        auto& image_url = src->urls_.emplace_back(std::make_unique<ImageUrl>(u));
        ProbeResult p = probe(u, opts);
        if (!p.ok) {
            if (first_error.empty()) first_error = p.error;
            continue;
        }
        if (size && *size != p.identity.size)
            throw std::runtime_error("mirror " + u + " serves " + std::to_string(p.identity.size) + " bytes but " +
                                     size_from + " serves " + std::to_string(*size));
        if (!size) src->first_live_url_ = src->urls_.size() - 1;
        size = p.identity.size;
        size_from = u;
        if (src->identity_.empty())
            src->identity_ = "size=" + std::to_string(p.identity.size) + ";etag=" + p.identity.etag +
                             ";last-modified=" + p.identity.last_modified;
        image_url->learn(p.identity);
        log::debug("%s: %s", u.c_str(), p.identity.describe().c_str());
    }
    if (!size) throw std::runtime_error(first_error);
    for (const auto& u : src->urls_)
        if (!u->identity())
            log::warn("%s is unreachable now; it will be used for failover once it answers", u->url().c_str());
    src->size_ = *size;
    return src;
}

std::optional<std::string> HttpSource::update_source_url(const std::string& url) {
    if (auto why = url_error(url)) return url + ": " + *why;
    ProbeResult p = probe(url, opts_);
    if (!p.ok) return p.error;
    // The identity every queue's preconditions carry: the new URL must name
    // the very same object, or reads would mix two images.
    const auto known = urls_[first_live_url_]->identity();
    if (p.identity.size != size_ || (known && known->contradicts(p.identity.etag, p.identity.last_modified)))
        return url + " serves another image (" + p.identity.describe() + "; the device's is " +
               (known ? known->describe() : "size " + std::to_string(size_)) + "); the source URL is unchanged";
    urls_.front()->replace(url);
    return std::nullopt;
}

std::unique_ptr<io::QueueReader> HttpSource::open_queue(io::EventLoop& loop, unsigned depth) {
    return std::make_unique<HttpReader>(*this, loop, depth, per_queue_connections_, per_queue_max_connections_);
}

}  // namespace lazyroot::http
