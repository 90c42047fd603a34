// The cache reader's reads of the cache file: chunks present are read back
// (through O_DIRECT unless unaligned), checked against the hash tree the first
// time in an attach, and fetched again when a read or a check fails.
#include <cstring>
#include <vector>

#include "cache/cached_reader_state.h"
#include "io/log.h"

namespace lazyroot::cache {

void CachedReader::read_local(Request& r) {
    r.stage = Request::Stage::Local;
    if (src_.chunk_check() && !r.dst.empty()) {
        const uint64_t cs = src_.store().chunk_size();
        const uint64_t first = r.offset / cs, last = (r.offset + r.dst.size() - 1) / cs;
        bool all = true;
        for (uint64_t c = first; c <= last && all; ++c) all = src_.verified().present(c);
        if (!all) {
            // The first time in this attach: read whole chunks, check them, then serve.
            r.whole_offset = first * cs;
            r.whole_len = std::min(src_.size(), (last + 1) * cs) - r.whole_offset;
            r.whole = whole_buffers_.take(r.whole_len);
            return local_->read(r.whole_offset, std::span(r.whole.get(), r.whole_len), r);
        }
    }
    local_->read(r.offset, r.dst, r);
}

void CachedReader::read_direct(Request& r) {
    r.stage = Request::Stage::Direct;
    r.hit = false;
    ++direct_in_flight_;
    inner().read(r.offset, r.dst, r);
}

void CachedReader::read_done(Request& r, int result) {
    // A failed zero-copy read is the caller's to retry, through read().
    if (r.fixed_len) return finish(r, result);
    if (r.stage == Request::Stage::Local) return local_done(r, result);
    --direct_in_flight_;
    finish(r, result);
}

void CachedReader::local_done(Request& r, int result) {
    const uint64_t cs = src_.store().chunk_size();
    const uint64_t first = r.offset / cs, last = r.dst.empty() ? first : (r.offset + r.dst.size() - 1) / cs;
    if (result < 0 && !r.dst.empty()) {
        src_.stats().cache_read_errors.fetch_add(1, std::memory_order_relaxed);
        if (!src_.read_error_logged.exchange(true))
            log::error(
                "cache %s: reading chunks %llu-%llu failed (%s); fetching them again from the source"
                " (further local read errors are counted in status, not logged)",
                src_.store().path().c_str(), static_cast<unsigned long long>(first),
                static_cast<unsigned long long>(last), std::strerror(-result));
        std::vector<uint64_t> all;
        for (uint64_t c = first; c <= last; ++c) all.push_back(c);
        return refetch(r, all);
    }
    if (result == 0 && r.whole) {
        std::vector<uint64_t> bad;
        bool any_failed = false;
        for (uint64_t c = first; c <= last; ++c) {
            if (src_.verified().present(c)) continue;
            const uint64_t off = c * cs;
            const auto bytes = std::span<const std::byte>(r.whole.get(), r.whole_len)
                                   .subspan(off - r.whole_offset, std::min<uint64_t>(cs, src_.size() - off));
            auto bad_block = src_.chunk_check()(off, bytes);
            if (!bad_block) {
                src_.verified().set_present(c);
                continue;
            }
            any_failed = true;
            // Marked verified meanwhile: another reader fetched it again, and
            // these bytes were read before that. Read it again, without a word.
            if (src_.verified().present(c)) continue;
            bad.push_back(c);
            if (src_.store().map().clear_present(c)) {
                src_.stats().cache_bad_chunks.fetch_add(1, std::memory_order_relaxed);
                log::error(
                    "cache %s: chunk %llu (block %llu) failed verification against the hash tree;"
                    " fetching it again from the source",
                    src_.store().path().c_str(), static_cast<unsigned long long>(c),
                    static_cast<unsigned long long>(*bad_block));
            }
        }
        // Nothing of what was read is served unless every chunk checked out.
        if (any_failed) return refetch(r, bad);
        std::memcpy(r.dst.data(), r.whole.get() + (r.offset - r.whole_offset), r.dst.size());
        whole_buffers_.give(std::move(r.whole));
    }
    finish(r, result);
}

// The chunks in `drop` are not what the cache claims: take them out of the
// in-memory map and read again, so that they are fetched (and written) anew.
// The on-disk bit stays: a later attach meets the same fault and does the same.
void CachedReader::refetch(Request& r, const std::vector<uint64_t>& drop) {
    whole_buffers_.give(std::move(r.whole));
    for (uint64_t c : drop) src_.store().map().clear_present(c);
    r.hit = false;
    // Once is enough: a chunk still unreadable after a new write is read from the source.
    if (r.refetched || src_.store().degraded()) return read_direct(r);
    r.refetched = true;
    r.stage = Request::Stage::Claim;
    r.pending = 1;
    r.error = 0;
    const uint64_t cs = src_.store().chunk_size();
    claim_range(r.offset / cs, (r.offset + r.dst.size() - 1) / cs, r);
}

}  // namespace lazyroot::cache
