#include "cache/filler.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "io/event_loop.h"
#include "io/log.h"
#include "io/thread_name.h"

namespace lazyroot::cache {

Filler::Filler(CachedSource& src, FillOptions opts) : src_(src), opts_(opts) {}

Filler::~Filler() { stop(); }

void Filler::start() {
    thread_ = std::thread([this] {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        io::name_this_thread("lr-fill");
        run();
    });
}

void Filler::stop() {
    stop_ = true;
    if (io::EventLoop* l = loop_.load()) l->post([] {});  // wake it
    wait();
}

void Filler::wait() {
    if (thread_.joinable()) thread_.join();
}

void Filler::run() {
    io::EventLoop loop;
    if (int r = loop.init(64); r < 0) {
        log::error("background fill: %s", std::strerror(-r));
        failed_ = true;
        return;
    }
    loop_ = &loop;
    ChunkFetcher fetcher(src_, loop, opts_.parallel);
    ChunkBitmap& map = src_.store().map();
    const uint64_t cs = src_.store().chunk_size();
    const uint64_t run_chunks = std::max<uint64_t>(1, opts_.run_bytes / cs);
    const auto started = std::chrono::steady_clock::now();
    uint64_t issued_bytes = 0;
    uint64_t cursor = 0;
    unsigned in_flight = 0;
    bool pass_had_errors = false;
    size_t listed = 0;  // of opts_.first
    std::function<void()> pump;
    // Starts one run, or returns false when the rate cap says not yet.
    std::function<bool(uint64_t, uint64_t)> issue;
    io::Timer wake(loop, [&] { pump(); });

    pump = [&] {
        while (!stop_) {
            // Nothing fetched now could be kept: stop rather than refetch in a loop.
            if (src_.store().degraded()) {
                failed_ = true;
                return;
            }
            unsigned allowed = opts_.yield_to_demand && src_.demand_fetches.load() > 0 ? 1 : opts_.parallel;
            if (in_flight >= allowed) return;
            // The profile's chunks first: a run of them adjacent and missing.
            while (listed < opts_.first.size() && map.present(opts_.first[listed])) ++listed;
            if (listed < opts_.first.size()) {
                const uint64_t start = opts_.first[listed];
                uint64_t count = 1;
                while (count < run_chunks && listed + count < opts_.first.size() &&
                       opts_.first[listed + count] == start + count && !map.present(start + count))
                    ++count;
                if (!issue(start, count)) return;
                listed += count;
                continue;
            }
            if (opts_.only_first) {
                if (in_flight == 0) complete_ = true;
                return;
            }
            auto next = map.next_missing(cursor);
            if (!next) {
                if (in_flight > 0) return;
                if (!pass_had_errors) {
                    complete_ = true;
                    return;
                }
                if (opts_.give_up_on_error) {
                    failed_ = true;
                    return;
                }
                // Some runs failed (the network is down?): start over a bit later.
                pass_had_errors = false;
                cursor = 0;
                wake.arm_in(std::chrono::seconds(2));
                return;
            }
            const uint64_t count = std::min(run_chunks, src_.store().chunk_count() - *next);
            if (!issue(*next, count)) return;
            cursor = *next + count;
        }
    };
    issue = [&](uint64_t start, uint64_t count) {
        const uint64_t bytes = std::min(count * cs, src_.size() - start * cs);
        if (opts_.rate_bytes_per_s) {
            auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            double budget = elapsed * static_cast<double>(opts_.rate_bytes_per_s);
            if (static_cast<double>(issued_bytes + bytes) > budget) {
                double wait_s =
                    (static_cast<double>(issued_bytes + bytes) - budget) / static_cast<double>(opts_.rate_bytes_per_s);
                wake.arm_in(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(wait_s)));
                return false;
            }
        }
        issued_bytes += bytes;
        ++in_flight;
        fetcher.fetch(start, count, [&, bytes](int result) {
            --in_flight;
            if (result < 0)
                pass_had_errors = true;
            else {
                filled_bytes_ += bytes;
                src_.stats().hydrated_bytes.fetch_add(bytes, std::memory_order_relaxed);
            }
            pump();
        });
        return true;
    };
    pump();
    while (!stop_ && !complete_ && !failed_) {
        if (loop.run_once() < 0) break;
        pump();
    }
    // Let in-flight fetches settle so no chunk stays claimed by a dead loop.
    while (in_flight > 0 && loop.run_once() >= 0) {}
    loop_ = nullptr;
}

}  // namespace lazyroot::cache
