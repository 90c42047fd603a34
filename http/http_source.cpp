#include "http/http_source.h"

#include "http/pinned_resources.h"

#include <stdexcept>

#include "http/probe.h"
#include "http/http_reader.h"
#include "io/log.h"

namespace lazyroot::http {

std::optional<ImageIdentity> ImageUrl::identity() const {
    std::lock_guard lock(mu_);
    return identity_;
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

std::unique_ptr<io::QueueReader> HttpSource::open_queue(io::EventLoop& loop, unsigned depth) {
    return std::make_unique<HttpReader>(*this, loop, depth, per_queue_connections_);
}

}  // namespace lazyroot::http
