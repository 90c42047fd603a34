#include "http/http_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "http/http_source.h"
#include "http/url_check.h"
#include "io/log.h"

namespace lazyroot::http {

struct HttpReader::Transfer {
    HttpReader* owner = nullptr;
    EasyHandle easy;
    io::Timer retry;
    struct Part {
        std::span<std::byte> dst;
        io::ReadCallback* cb;
    };
    uint64_t offset = 0;
    uint64_t len = 0;
    std::vector<Part> parts;  // adjacent reads served by this one request, in order
    size_t received = 0;
    size_t part = 0;  // where the next body byte goes
    size_t part_pos = 0;
    size_t url_index = 0;
    unsigned url_generation = 0;  // of the URL this attempt was sent to
    unsigned attempt = 0;
    io::Clock::time_point deadline;
    io::Clock::time_point sent;  // handed to curl (it holds a connection from then)
    ResponseHead head;
    bool body_checked = false;
    std::string abort_why;  // set when a callback refused the response
    bool abort_fatal = false;

    Transfer(HttpReader* o, io::EventLoop& loop) : owner(o), retry(loop, [this] { owner->start(*this); }) {}
};

namespace {
bool may_offer_http2(HttpSource& source) {
    if (source.options().http_version != HttpVersion::Negotiate) return false;
    for (size_t i = 0; i < source.url_count(); ++i)
        if (source.url(i).url().starts_with("https://")) return true;
    return false;
}
}  // namespace

HttpReader::HttpReader(HttpSource& source, io::EventLoop& loop, unsigned depth, unsigned connections,
                       unsigned max_connections)
    : source_(source),
      loop_(loop),
      dispatch_timer_(loop, [this] { dispatch(); }),
      preconditions_(source.url_count()),
      preferred_url_(source.first_live_url()),
      // More connections than reads in flight would never be used.
      conns_(connections, std::min(max_connections, std::max(depth, connections))),
      may_multiplex_(may_offer_http2(source)),
      multi_(loop, static_cast<long>(conns_.limit()), [this](CURL* e, CURLcode rc) { on_done(e, rc); }) {
    for (unsigned i = 0; i < depth; ++i) free_.push_back(&pool_.emplace_back(this, loop));
}

HttpReader::~HttpReader() {
    for (auto& t : pool_) {
        if (t.easy) multi_.remove(t.easy.get());
        // Reads still waiting when the queue goes away wait no more.
        if (t.attempt > 0 && !t.parts.empty()) source_.outage().wait_end(static_cast<unsigned>(t.parts.size()));
    }
}

HttpReader::Transfer* HttpReader::take() {
    if (free_.empty()) free_.push_back(&pool_.emplace_back(this, loop_));
    Transfer* t = free_.back();
    free_.pop_back();
    return t;
}

void HttpReader::read(uint64_t offset, std::span<std::byte> dst, io::ReadCallback& cb) {
    // Requests go out from the loop: the callback never runs inside read(),
    // read() never re-enters curl, and reads queued together can be merged.
    queued_.push_back({offset, dst, &cb});
    if (!dispatch_timer_.armed()) dispatch_timer_.arm_in({});
}

void HttpReader::prefer_another_source() { preferred_url_ = (preferred_url_ + 1) % source_.url_count(); }

std::string HttpReader::current_source() const { return source_.url(preferred_url_).url(); }

// Adjacent reads queued in one loop pass become one range request, up to the
// coalescing limit: one round trip instead of several.
void HttpReader::dispatch() {
    std::vector<Queued> batch;
    batch.swap(queued_);
    std::stable_sort(batch.begin(), batch.end(), [](const Queued& a, const Queued& b) { return a.offset < b.offset; });
    const uint64_t limit = source_.options().max_request_bytes;
    const auto deadline = io::deadline_after(source_.options().io_timeout);
    Transfer* t = nullptr;
    for (const Queued& q : batch) {
        const bool joins =
            t && !q.dst.empty() && t->len > 0 && q.offset == t->offset + t->len && t->len + q.dst.size() <= limit;
        if (!joins) {
            if (t) start(*t);
            t = take();
            t->offset = q.offset;
            t->len = 0;
            t->parts.clear();
            t->attempt = 0;
            t->url_index = preferred_url_;
            t->deadline = deadline;
        }
        t->parts.push_back({q.dst, q.cb});
        t->len += q.dst.size();
    }
    if (t) start(*t);
}

curl_slist* HttpReader::headers_for(size_t i) {
    // request_headers throws only bad_alloc: caught here, never thrown
    // through curl's callbacks.
    try {
        if (!preconditions_[i]) {
            auto id = source_.url(i).identity();
            if (id) preconditions_[i] = request_headers(source_.options(), id->precondition_header());
        }
        if (preconditions_[i]) return preconditions_[i].get();
        if (!plain_headers_) plain_headers_ = request_headers(source_.options());
        return plain_headers_.get();
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

void HttpReader::start(Transfer& t) {
    if (t.len == 0) return finish(t, 0);
    if (!t.easy) {
        t.easy.reset(curl_easy_init());
        if (!t.easy) return finish(t, -ENOMEM);
        apply_common_options(t.easy.get(), source_.options());
        curl_easy_setopt(t.easy.get(), CURLOPT_PRIVATE, &t);
        curl_easy_setopt(t.easy.get(), CURLOPT_HEADERFUNCTION, &HttpReader::on_header);
        curl_easy_setopt(t.easy.get(), CURLOPT_HEADERDATA, &t);
        curl_easy_setopt(t.easy.get(), CURLOPT_WRITEFUNCTION, &HttpReader::on_body);
        curl_easy_setopt(t.easy.get(), CURLOPT_WRITEDATA, &t);
    }
    CURL* e = t.easy.get();
    const ImageUrl& u = source_.url(t.url_index);
    char range[64];
    std::snprintf(range, sizeof range, "%llu-%llu", static_cast<unsigned long long>(t.offset),
                  static_cast<unsigned long long>(t.offset + t.len - 1));
    t.url_generation = u.generation();  // before the URL: a swap in between only loses a mark
    set_url(e, u.url());
    curl_easy_setopt(e, CURLOPT_RANGE, range);
    curl_slist* headers = headers_for(t.url_index);
    if (!headers && !source_.options().headers.empty()) return finish(t, -ENOMEM);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    t.received = 0;
    t.part = 0;
    t.part_pos = 0;
    t.head = ResponseHead{};
    t.body_checked = false;
    t.abort_why.clear();
    t.abort_fatal = false;
    send(t);
}

// Over HTTP/1.1 a request holds a connection until its answer is in, so no
// more go to curl than there are connections: the rest wait here, where the
// wait is seen (ConnectionPolicy) and costs no timeout. Multiplexed, all go.
// Until a server that may offer HTTP/2 has answered once, one request goes:
// without it curl opens a connection per request, and with PIPEWAIT it parks
// them where (libcurl 7.88) each finished request releases only one, which
// keeps every request on one HTTP/1.1 connection for good.
bool HttpReader::room(unsigned wanting) {
    if (conns_.multiplexed()) return true;
    if (may_multiplex_ && !answered_) return in_curl_ == 0;
    if (in_curl_ < conns_.limit()) return true;
    if (!conns_.want_more(in_curl_ + wanting)) return false;
    multi_.set_max_connections(conns_.limit());
    return true;
}

void HttpReader::send(Transfer& t) {
    if (!room(static_cast<unsigned>(waiting_.size()) + 1)) {
        waiting_.push_back(&t);
        return;
    }
    hand_to_curl(t);
}

void HttpReader::hand_to_curl(Transfer& t) {
    CURL* e = t.easy.get();
    // No overall limit for a read that may wait for ever (0); the connect and
    // stall timeouts still end an attempt on a dead or silent connection.
    long timeout_ms = 0;
    t.sent = io::Clock::now();
    if (t.deadline != io::Clock::time_point::max()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t.deadline - t.sent);
        timeout_ms = std::max<long>(1, static_cast<long>(left.count()));
    }
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    ++in_curl_;
    if (!multi_.add(e)) {
        --in_curl_;
        finish(t, -EIO);
    }
}

// A request left curl: what it says about the link, and room for the next.
void HttpReader::sent_done(Transfer& t) {
    --in_curl_;
    long version = 0;
    curl_off_t connects = 0, lookup_us = 0, connect_us = 0, tls_us = 0;
    CURL* e = t.easy.get();
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &lookup_us);
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &tls_us);
    const curl_off_t setup_us = connects > 0 ? std::max(connect_us, tls_us) - lookup_us : 0;
    const auto held = std::chrono::duration_cast<std::chrono::microseconds>(io::Clock::now() - t.sent).count();
    conns_.on_response(static_cast<uint64_t>(std::max<curl_off_t>(0, setup_us)), static_cast<uint64_t>(held),
                       version >= CURL_HTTP_VERSION_2_0);
    if (version > 0) answered_ = true;
    while (!waiting_.empty() && room(static_cast<unsigned>(waiting_.size()))) {
        Transfer* next = waiting_.front();
        waiting_.pop_front();
        hand_to_curl(*next);
    }
}

size_t HttpReader::on_header(char* data, size_t size, size_t n, void* tp) {
    auto& t = *static_cast<Transfer*>(tp);
    t.head.feed_line({data, size * n});
    if (t.head.bytes > kMaxResponseHead) {
        t.abort_why = "the response head is larger than " + std::to_string(kMaxResponseHead) + " bytes";
        return 0;
    }
    return size * n;
}

// Bytes go straight into the caller's buffer, but only after the response
// has proven to be exactly the range asked for, of the same image.
size_t HttpReader::on_body(char* data, size_t size, size_t n, void* tp) {
    auto& t = *static_cast<Transfer*>(tp);
    const size_t len = size * n;
    if (!t.body_checked) {
        const ResponseHead& h = t.head;
        ImageUrl& u = t.owner->source_.url(t.url_index);
        const uint64_t image_size = t.owner->source_.size();
        if (h.status == 412) {
            t.abort_why = "the image changed on the server (412 Precondition Failed)";
            t.abort_fatal = true;
            return 0;
        }
        if (h.status != 206) {
            auto id = u.identity();
            t.abort_why = "answered HTTP " + std::to_string(h.status) + " to a range request";
            // A presigned URL that expires under a running root: say so.
            if (h.status == 403 && is_presigned(u.url())) t.abort_why += ": " + forbidden_hint(u.url());
            // If-Range turns a changed image into a full 200 answer.
            if (h.status == 200 && id && !id->has_strong_etag() && !id->last_modified.empty()) {
                t.abort_why = "the image changed on the server (If-Range answered 200)";
                t.abort_fatal = true;
            }
            return 0;
        }
        if (!h.conflict.empty()) {
            t.abort_why = "the answer carries two different " + h.conflict + " headers";
            return 0;
        }
        const auto& cr = h.content_range;
        const uint64_t last = t.offset + t.len - 1;
        if (!cr || cr->unsatisfied || cr->first != t.offset || cr->last != last) {
            t.abort_why = "Content-Range does not match the request bytes=" + std::to_string(t.offset) + "-" +
                          std::to_string(last);
            return 0;
        }
        if (cr->size && *cr->size != image_size) {
            t.abort_why = "the image changed on the server (size " + std::to_string(*cr->size) + ", was " +
                          std::to_string(image_size) + ")";
            t.abort_fatal = true;
            return 0;
        }
        // Not proof of a change, so retried (another attempt or mirror may
        // answer properly), but never used, nor learnt from (a mirror that
        // was down at attach learns its identity from its first answer).
        if (h.etag.empty() && h.last_modified.empty()) {
            t.abort_why = "the answer carries neither ETag nor Last-Modified (a caching tier that strips validators?)";
            return 0;
        }
        ImageIdentity seen{image_size, h.etag, h.last_modified};
        ImageIdentity known = u.learn(seen);
        if (known.contradicts(h.etag, h.last_modified)) {
            t.abort_why = "the image changed on the server (now " + seen.describe() + ", was " + known.describe() + ")";
            t.abort_fatal = true;
            return 0;
        }
        if (const char* missing = known.missing_validator(h.etag, h.last_modified); *missing) {
            t.abort_why =
                std::string("the answer lacks the image's ") + missing + " (a caching tier that strips validators?)";
            return 0;
        }
        t.body_checked = true;
    }
    if (len > t.len - t.received) {
        t.abort_why = "the body is longer than the range asked for";
        return 0;
    }
    // Scatter into the reads this request serves.
    size_t done = 0;
    while (done < len) {
        auto& p = t.parts[t.part];
        const size_t n = std::min(len - done, p.dst.size() - t.part_pos);
        std::memcpy(p.dst.data() + t.part_pos, data + done, n);
        done += n;
        t.part_pos += n;
        if (t.part_pos == p.dst.size()) {
            ++t.part;
            t.part_pos = 0;
        }
    }
    t.received += len;
    return len;
}

HttpReader::Verdict HttpReader::judge(Transfer& t, CURLcode rc, std::string& why) {
    if (!t.abort_why.empty()) {
        why = t.abort_why;
        return t.abort_fatal ? Verdict::Fatal : Verdict::Retry;
    }
    const int status = t.head.status;
    if (status == 412) {
        why = "the image changed on the server (412 Precondition Failed)";
        return Verdict::Fatal;
    }
    if (rc != CURLE_OK) {
        why = describe_failure(t.owner->source_.url(t.url_index).url(), rc, nullptr);
        return Verdict::Retry;
    }
    if (status != 206) {
        why = "HTTP " + std::to_string(status);
        const std::string& url = t.owner->source_.url(t.url_index).url();
        if (status == 403 && is_presigned(url)) why += ": " + forbidden_hint(url);
        return Verdict::Retry;
    }
    if (t.received != t.len) {
        why = "short body: " + std::to_string(t.received) + " of " + std::to_string(t.len) + " bytes";
        return Verdict::Retry;
    }
    return Verdict::Ok;
}

void HttpReader::on_done(CURL* easy, CURLcode rc) {
    Transfer* tp = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&tp));
    Transfer& t = *tp;
    sent_done(t);
    ImageUrl& u = source_.url(t.url_index);
    std::string why;
    const auto now = io::Clock::now();
    switch (judge(t, rc, why)) {
        case Verdict::Ok:
            source_.outage().answered(now);
            if (u.mark_healthy()) log::info("%s answers again", u.url().c_str());
            u.mark_answered();
            preferred_url_ = t.url_index;
            if (retrying_) retry_now(t.url_index);
            return finish(t, 0);
        case Verdict::Fatal:
            if (u.mark_changed())
                log::error("%s: %s; every read from it fails from now on (first at offset %llu)", u.url().c_str(),
                           why.c_str(), static_cast<unsigned long long>(t.offset));
            return finish(t, -EIO);
        case Verdict::Retry:
            break;
    }
    // A 403 (an expired presigned URL) is shown by `lazyroot status` until a
    // fresh URL is handed in (`lazyroot update-source`); reads keep retrying
    // meanwhile, up to the IO timeout. The log redacts the query.
    if (t.head.status == 403) u.mark_refused(why, t.url_generation);
    if (u.mark_failing()) log::warn("%s: %s; retrying", u.url().c_str(), why.c_str());
    retrying_ = true;
    io::OutageMonitor& outage = source_.outage();
    if (t.attempt == 0) outage.wait_begin(static_cast<unsigned>(t.parts.size()));
    outage.failed(now);
    outage.tick(now);
    // The next URL each time. With --io-timeout=infinity this goes on until a
    // server answers.
    ++t.attempt;
    const auto backoff = backoff_.delay(t.attempt);
    if (t.deadline != io::Clock::time_point::max() && now + backoff >= t.deadline) {
        log::error("giving up on %llu bytes at offset %llu after %u attempts: %s",
                   static_cast<unsigned long long>(t.len), static_cast<unsigned long long>(t.offset), t.attempt,
                   why.c_str());
        return finish(t, -EIO);
    }
    t.url_index = (t.url_index + 1) % source_.url_count();
    t.retry.arm_in(backoff);
}

// A server answered after failures: the reads still in backoff go to it now
// rather than each sleeping out its own timer (up to 3 s after a long outage).
void HttpReader::retry_now(size_t url_index) {
    retrying_ = false;
    for (auto& t : pool_) {
        if (!t.retry.armed()) continue;
        t.url_index = url_index;
        t.retry.arm_in({});
    }
}

void HttpReader::finish(Transfer& t, int result) {
    // Release the transfer first: a callback may start new reads.
    std::vector<Transfer::Part> parts = std::move(t.parts);
    t.parts.clear();
    if (t.attempt > 0) source_.outage().wait_end(static_cast<unsigned>(parts.size()));
    t.attempt = 0;
    free_.push_back(&t);
    for (const auto& p : parts) p.cb->on_read_done(result);
}

}  // namespace lazyroot::http
