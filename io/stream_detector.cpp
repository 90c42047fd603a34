#include "io/stream_detector.h"

#include <algorithm>

namespace lazyroot::io {

namespace {
// How far out of order a stream's reads may arrive, in reads of its size:
// requests issued together on several queues reach us in any order. Tight,
// so that a random reader's neighbours are not taken for a stream.
constexpr uint64_t kBehindReads = 4;
constexpr uint64_t kGapReads = 2;
// The rate is sampled over at least this long (and 4 latencies), so that
// one burst of completions is not taken for the link's rate.
constexpr uint64_t kMinSampleNs = 200'000'000;
}  // namespace

StreamDetector::Stream& StreamDetector::stream_for(uint64_t offset, uint64_t len) {
    Stream* lru = &streams_[0];
    for (Stream& s : streams_) {
        if (s.next != UINT64_MAX && offset <= s.next + kGapReads * len && offset + (kBehindReads + 1) * len >= s.next) {
            ++s.streak;
            s.start = std::min(s.start, offset);
            return s;
        }
        if (s.last_use < lru->last_use) lru = &s;
    }
    *lru = Stream{};
    lru->streak = 1;
    lru->start = offset;
    return *lru;
}

StreamDetector::Prefetch StreamDetector::on_read(uint64_t offset, uint64_t len, bool waited) {
    if (len == 0 || o_.max_window_bytes == 0) return {};
    std::lock_guard lock(mu_);
    Stream& s = stream_for(offset, len);
    s.last_use = ++tick_;
    s.next = std::max(s.next == UINT64_MAX ? 0 : s.next, offset + len);
    if (s.streak < o_.trigger || s.next - s.start < o_.trigger_bytes) return {};
    const uint64_t last_chunk = (offset + len - 1) / o_.chunk_bytes;
    const uint64_t slice_chunks = std::max<uint64_t>(1, o_.slice_bytes / o_.chunk_bytes);
    if (s.window == 0) {
        // A stream reading what is here already (a warm cache, a profile's
        // chunks) needs nothing fetched: a window opens at its first miss.
        if (!waited) return {};
        s.window = std::min(o_.slice_bytes, o_.max_window_bytes);
    } else if (waited && s.first_asked != UINT64_MAX && last_chunk >= s.first_asked &&
               last_chunk >= s.grown_at + slice_chunks) {
        // The prefetch did not keep ahead of this reader: cover more of the
        // latency, up to what the link can have in flight.
        const uint64_t target = target_window_locked();
        if (s.window < target) {
            uint64_t grown = std::min(s.window * 2, o_.max_window_bytes);
            if (target != UINT64_MAX)
                grown = std::min(grown, (target + o_.slice_bytes - 1) / o_.slice_bytes * o_.slice_bytes);
            s.window = std::max(s.window, grown);
        }
        s.grown_at = last_chunk;
    }
    const uint64_t chunks = (o_.image_bytes + o_.chunk_bytes - 1) / o_.chunk_bytes;
    const uint64_t from = std::max(s.ahead, (s.next + o_.chunk_bytes - 1) / o_.chunk_bytes);
    const uint64_t to = std::min(chunks, (s.next + s.window + o_.chunk_bytes - 1) / o_.chunk_bytes);
    // Ask in whole slices: a window's edge that moved by one read's worth
    // would otherwise make one small fetch per read.
    if (to <= from || (to - from < slice_chunks && to < chunks)) return {};
    s.ahead = to;
    if (s.first_asked == UINT64_MAX) s.first_asked = from;
    prefetched_ += (to - from) * o_.chunk_bytes;
    return {from, to - from};
}

void StreamDetector::on_fetched(uint64_t bytes, uint64_t latency_ns, uint64_t now_ns) {
    if (bytes == 0) return;
    latency_ns = std::max<uint64_t>(latency_ns, 1);
    std::lock_guard lock(mu_);
    min_latency_ns_ = std::min(min_latency_ns_, latency_ns);
    fetch_rate_ = std::max(fetch_rate_, static_cast<double>(bytes) * 1e9 / static_cast<double>(latency_ns));
    if (interval_start_ns_ == 0 || now_ns < interval_start_ns_) {
        interval_start_ns_ = now_ns > latency_ns ? now_ns - latency_ns : 1;
        interval_bytes_ = 0;
    }
    interval_bytes_ += bytes;
    const uint64_t elapsed = now_ns - interval_start_ns_;
    if (elapsed >= std::max(kMinSampleNs, 4 * min_latency_ns_)) {
        sampled_rate_ = static_cast<double>(interval_bytes_) * 1e9 / static_cast<double>(elapsed);
        interval_start_ns_ = now_ns;
        interval_bytes_ = 0;
    }
}

uint64_t StreamDetector::target_window() const {
    std::lock_guard lock(mu_);
    return target_window_locked();
}

uint64_t StreamDetector::target_window_locked() const {
    if (min_latency_ns_ == UINT64_MAX) return UINT64_MAX;
    const double rate = std::max(fetch_rate_, sampled_rate_);
    return o_.slice_bytes + static_cast<uint64_t>(rate * static_cast<double>(min_latency_ns_) / 1e9);
}

uint64_t StreamDetector::prefetched_bytes() const {
    std::lock_guard lock(mu_);
    return prefetched_;
}

}  // namespace lazyroot::io
