#include "cli/full_download.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "cache/cache_store.h"
#include "cli/root_daemon.h"
#include "io/log.h"

namespace lazyroot::cli {

void download_all(SourceStack& stack, unsigned parallel, const std::function<bool()>& cancelled) {
    cache::FillOptions fo;
    fo.parallel = parallel;
    fo.yield_to_demand = false;
    fo.give_up_on_error = true;
    cache::CachedSource& cached = *stack.cached();
    auto& store = cached.store();
    const uint64_t total = cached.size();
    const bool tty = ::isatty(STDERR_FILENO);
    const auto start = std::chrono::steady_clock::now();
    cache::Filler& filler = stack.start_fill(fo);
    auto last_print = start;
    while (!filler.complete() && !filler.failed()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 200 : 100));
        if (cancelled && cancelled()) {
            stack.end_fill();
            throw std::runtime_error("interrupted during the full download; nothing was attached");
        }
        auto now = std::chrono::steady_clock::now();
        if (!tty && now - last_print < std::chrono::seconds(2)) continue;
        last_print = now;
        const double secs = std::chrono::duration<double>(now - start).count();
        const double present =
            static_cast<double>(store.map().count_present()) / static_cast<double>(store.chunk_count());
        const double mibps = static_cast<double>(filler.filled_bytes()) / (1 << 20) / secs;
        const double left_mib = (1.0 - present) * static_cast<double>(total) / (1 << 20);
        const double eta = mibps > 0 ? left_mib / mibps : 0;
        char line[160];
        std::snprintf(line, sizeof line, "fetching root … %.1f MiB/s, %.1f %% present, ETA %.0f s", mibps,
                      present * 100, eta);
        std::fprintf(stderr, "%slazyroot: %s%s", tty ? "\r" : "", line, tty ? "" : "\n");
        notify_status(line);
    }
    filler.wait();
    if (tty) std::fputc('\n', stderr);
    if (filler.failed()) {
        if (store.degraded())
            throw std::runtime_error("full download of " + stack.top().describe() +
                                     " failed: cache degraded: " + store.degraded_reason());
        throw std::runtime_error("full download of " + stack.top().describe() + " failed");
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log::info("downloaded %.1f MiB in %.1f s; serving from %s without the network",
              static_cast<double>(filler.filled_bytes()) / (1 << 20), secs, stack.cache_path().c_str());
    stack.end_fill();
    if (int r = store.commit_now(); r < 0) log::warn("cache commit failed: %d", r);
}

}  // namespace lazyroot::cli
