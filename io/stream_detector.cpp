#include "io/stream_detector.h"

#include <algorithm>

namespace lazyroot::io {

namespace {
// How far out of order a stream's reads may arrive, in reads of its size:
// requests issued together on several queues reach us in any order. Tight,
// so that a random reader's neighbours are not taken for a stream.
constexpr uint64_t kBehindReads = 4;
constexpr uint64_t kGapReads = 2;
}  // namespace

StreamDetector::Stream& StreamDetector::stream_for(uint64_t offset, uint64_t len) {
    Stream* lru = &streams_[0];
    for (Stream& s : streams_) {
        if (s.next != UINT64_MAX && offset <= s.next + kGapReads * len && offset + (kBehindReads + 1) * len >= s.next) {
            ++s.streak;
            return s;
        }
        if (s.last_use < lru->last_use) lru = &s;
    }
    *lru = Stream{};
    lru->streak = 1;
    return *lru;
}

StreamDetector::Prefetch StreamDetector::on_read(uint64_t offset, uint64_t len, bool waited) {
    if (len == 0 || o_.max_window_bytes == 0) return {};
    std::lock_guard lock(mu_);
    Stream& s = stream_for(offset, len);
    s.last_use = ++tick_;
    s.next = std::max(s.next == UINT64_MAX ? 0 : s.next, offset + len);
    if (s.streak < o_.trigger) return {};
    const uint64_t last_chunk = (offset + len - 1) / o_.chunk_bytes;
    const uint64_t slice_chunks = std::max<uint64_t>(1, o_.slice_bytes / o_.chunk_bytes);
    if (s.window == 0) {
        // A stream reading what is here already (a warm cache, a profile's
        // chunks) needs nothing fetched: a window opens at its first miss.
        if (!waited) return {};
        s.window = std::min(o_.slice_bytes, o_.max_window_bytes);
    } else if (waited && s.first_asked != UINT64_MAX && last_chunk >= s.first_asked &&
               last_chunk >= s.grown_at + slice_chunks) {
        // The prefetch did not keep ahead of this reader: cover more of the latency.
        s.window = std::min(s.window * 2, o_.max_window_bytes);
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

uint64_t StreamDetector::prefetched_bytes() const {
    std::lock_guard lock(mu_);
    return prefetched_;
}

}  // namespace lazyroot::io
