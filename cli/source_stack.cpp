#include "cli/source_stack.h"

#include "cli/root_daemon.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "cache/cache_format.h"
#include "cache/cache_space.h"
#include "cache/cache_store.h"
#include "cache/metered_source.h"
#include "cli/state_file.h"
#include "compress/seekable_source.h"
#include "verity/verifying_source.h"
#include "io/log.h"
#include "io/range_source.h"

namespace lazyroot::cli {

namespace {

// The tree's own source: read whole, once, at attach; the image's mirrors
// and readahead don't apply to it, its TLS options do.
std::unique_ptr<io::Source> open_tree_source(const std::string& text, const AttachOptions& o) {
    AttachOptions t = o;
    t.mirrors.clear();
    t.readahead_mib = 0;
    try {
        return open_source(parse_source_uri(text), t, 1);
    } catch (const std::exception& e) {
        throw std::runtime_error("--hash-source: " + std::string(e.what()));
    }
}

}  // namespace

std::unique_ptr<io::Source> SourceStack::open_verified(std::unique_ptr<io::Source> net, const VerityPlan& plan,
                                                       const AttachOptions& o) {
    std::unique_ptr<io::Source> tree;
    if (plan.data_range && plan.tree_range) {
        // A DDI: the device serves the root partition; the tree is the
        // root-verity partition of the same image, through the same transport.
        std::shared_ptr<io::Source> disk = std::move(net);
        net = std::make_unique<io::RangeSource>(disk, plan.data_range->offset, plan.data_range->length);
        tree = std::make_unique<io::RangeSource>(disk, plan.tree_range->offset, plan.tree_range->length);
    } else if (!plan.hash_source.empty()) {
        tree = open_tree_source(plan.hash_source, o);
    }
    auto v = verity::VerifyingSource::open(std::move(net), plan.hash_offset, plan.root_hash_hex, tree.get());
    verity_hash_offset_ = v->hash_offset();
    verifier_ = v.get();
    return v;
}

SourceStack::SourceStack(const SourceUri& uri, const AttachOptions& o, unsigned queues,
                         const VerityPlan* verity)
    : mode_(o.mode), cache_path_(o.cache) {
    std::unique_ptr<io::Source> net = open_source(uri, o, queues);
    seekable_ = dynamic_cast<const compress::SeekableSource*>(net.get());
    if (verity) net = open_verified(std::move(net), *verity, o);
    const bool needs_cache = !o.cache.empty() || o.mode != "lazy";
    if (!needs_cache) {
        top_ = std::make_unique<cache::MeteredSource>(std::move(net), stats_, true);
        return;
    }
    cache::CacheStoreOptions so;
    so.chunk_size = o.chunk_kib * 1024;
    so.image_size = net->size();
    so.identity = net->identity();
    if (cache_path_.empty() && !o.adopt_ram_dir.empty()) {
        // A dead daemon's RAM cache, taken over with its device.
        ram_ = cache::RamCacheDir::adopt(o.adopt_ram_dir);
        cache_path_ = ram_->path() + "/image";
    } else if (cache_path_.empty()) {
        // No persistent cache: keep the image in RAM, as the user asked for
        // the network to be dropped; in a tmpfs sized to it.
        const uint64_t meta = cache::valid_chunk_size(so.chunk_size)
                                  ? cache::metadata_bytes(cache::chunk_count_for(so.image_size, so.chunk_size))
                                  : 0;  // CacheStore::open refuses it below
        ram_ = cache::RamCacheDir::create("/dev/shm", so.image_size + meta);
        cache_path_ = ram_->path() + "/image";
    }
    so.path = cache_path_;
    auto store = cache::CacheStore::open(so);
    if (o.mode != "lazy") {
        // Before anything is downloaded: a cache that can't hold the image is a refusal, not ENOSPC later.
        try {
            cache::require_room_for_image(*store, "--mode=" + o.mode);
        } catch (...) {
            auto created = store->created_files();
            store.reset();
            for (const auto& f : created) ::unlink(f.c_str());
            throw;
        }
    }
    created_files_ = store->created_files();
    log::debug("cache %s: %llu of %llu chunks present", cache_path_.c_str(),
               static_cast<unsigned long long>(store->map().count_present()),
               static_cast<unsigned long long>(store->chunk_count()));
    auto metered = std::make_unique<cache::MeteredSource>(std::move(net), stats_, false);
    auto cached = std::make_unique<cache::CachedSource>(std::move(metered), std::move(store), stats_);
    if (verifier_)
        // Cache hits are checked too, once per chunk per attach: the cache file may have rotted.
        cached->set_chunk_check([v = verifier_](uint64_t off, std::span<const std::byte> bytes) {
            return v->first_bad_block(off, bytes);
        });
    cached_ = cached.get();
    top_ = std::move(cached);
}

SourceStack::~SourceStack() {
    shut_down();
    top_.reset();  // closes the cache
    for (const auto& f : created_files_) ::unlink(f.c_str());
    ram_.reset();
}

void SourceStack::shut_down() {
    if (filler_) filler_->stop();
    if (cached_) cached_->store().commit_now();
}

void SourceStack::download_all(unsigned parallel, const std::function<bool()>& cancelled) {
    cache::FillOptions fo;
    fo.parallel = parallel;
    fo.yield_to_demand = false;
    fo.give_up_on_error = true;
    filler_ = std::make_unique<cache::Filler>(*cached_, fo);
    auto& store = cached_->store();
    const uint64_t total = cached_->size();
    const bool tty = ::isatty(STDERR_FILENO);
    const auto start = std::chrono::steady_clock::now();
    filler_->start();
    auto last_print = start;
    while (!filler_->complete() && !filler_->failed()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 200 : 100));
        if (cancelled && cancelled()) {
            filler_->stop();
            filler_.reset();
            throw std::runtime_error("interrupted during the full download; nothing was attached");
        }
        auto now = std::chrono::steady_clock::now();
        if (!tty && now - last_print < std::chrono::seconds(2)) continue;
        last_print = now;
        const double secs = std::chrono::duration<double>(now - start).count();
        const double present = static_cast<double>(store.map().count_present()) /
                               static_cast<double>(store.chunk_count());
        const double mibps = static_cast<double>(filler_->filled_bytes()) / (1 << 20) / secs;
        const double left_mib = (1.0 - present) * static_cast<double>(total) / (1 << 20);
        const double eta = mibps > 0 ? left_mib / mibps : 0;
        char line[160];
        std::snprintf(line, sizeof line, "fetching root … %.1f MiB/s, %.1f %% present, ETA %.0f s",
                      mibps, present * 100, eta);
        std::fprintf(stderr, "%slazyroot: %s%s", tty ? "\r" : "", line, tty ? "" : "\n");
        notify_status(line);
    }
    filler_->wait();
    if (tty) std::fputc('\n', stderr);
    if (filler_->failed()) {
        if (store.degraded())
            throw std::runtime_error("full download of " + top_->describe() + " failed: cache degraded: " +
                                     store.degraded_reason());
        throw std::runtime_error("full download of " + top_->describe() + " failed");
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log::info("downloaded %.1f MiB in %.1f s; serving from %s without the network",
              static_cast<double>(filler_->filled_bytes()) / (1 << 20), secs, cache_path_.c_str());
    filler_.reset();
    if (int r = store.commit_now(); r < 0) log::warn("cache commit failed: %d", r);
}

void SourceStack::start_hydration(unsigned parallel, uint64_t rate) {
    cache::FillOptions fo;
    fo.parallel = std::max(1u, parallel / 2);
    fo.rate_bytes_per_s = rate;
    filler_ = std::make_unique<cache::Filler>(*cached_, fo);
    filler_->start();
}

void write_status(unsigned dev_id, const std::string& block_path, SourceStack& s, double uptime_s,
                  const nlohmann::json& extra) {
    auto& st = s.stats();
    const uint64_t reads = st.reads.load();
    nlohmann::json j = {
        {"device", block_path},
        {"pid", ::getpid()},
        {"source", s.top().describe()},
        {"mode", s.mode()},
        {"size", s.top().size()},
        {"uptime_s", uptime_s},
        {"reads", reads},
        {"bytes_served", st.bytes_served.load()},
        {"fetches", st.fetches.load()},
        {"bytes_fetched", st.bytes_fetched.load()},
        {"fetch_errors", st.fetch_errors.load()},
        {"cache_hit_ratio", reads ? static_cast<double>(st.cache_hit_reads.load()) / static_cast<double>(reads) : 0.0},
        {"fetch_latency_us", {{"p50", st.latency_quantile_us(0.5)}, {"p99", st.latency_quantile_us(0.99)}}},
    };
    if (auto* c = s.cached()) {
        auto& store = c->store();
        const uint64_t present = store.map().count_present();
        j["cache"] = {{"path", s.cache_path()},
                      {"chunk_size", store.chunk_size()},
                      {"chunks_present", present},
                      {"chunks_total", store.chunk_count()},
                      {"chunks_durable", store.durable_count()},
                      {"complete", c->complete()},
                      {"read_errors", st.cache_read_errors.load()},
                      {"bad_chunks", st.cache_bad_chunks.load()}};
        if (store.degraded()) j["cache"]["degraded"] = store.degraded_reason();
        if (s.mode() == "hydrate") {
            const double hydrated = static_cast<double>(st.hydrated_bytes.load());
            j["hydration"] = {{"complete", c->complete()},
                              {"progress", static_cast<double>(present) / static_cast<double>(store.chunk_count())},
                              {"bytes", st.hydrated_bytes.load()},
                              {"rate_bytes_per_s", uptime_s > 0 ? hydrated / uptime_s : 0.0}};
        }
    }
    if (auto* z = s.seekable())
        // bytes_fetched counts image bytes; these are what crossed the wire for them.
        j["compression"] = {{"format", "zstd-seekable"},
                            {"frames", z->table().frames().size()},
                            {"compressed_size", z->table().compressed_size()},
                            {"wire_bytes", z->wire_bytes()}};
    if (extra.is_object()) j.update(extra);
    const std::string path = state_dir() + "/" + std::to_string(dev_id) + ".status.json";
    const std::string tmp = path + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
        std::fputs(j.dump(2).c_str(), f);
        std::fputc('\n', f);
        std::fclose(f);
        std::rename(tmp.c_str(), path.c_str());
    }
}

}  // namespace lazyroot::cli
