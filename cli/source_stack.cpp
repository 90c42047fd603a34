#include "cli/source_stack.h"

#include "cli/root_daemon.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>
#include <stdexcept>

#include "cache/cache_format.h"
#include "cache/cache_space.h"
#include "cache/cache_store.h"
#include "cache/metered_source.h"
#include "compress/seekable_source.h"
#include "io/readahead.h"
#include "http/header_file.h"
#include "http/http_source.h"
#include "http/s3_credentials.h"
#include "http/s3_url.h"
#include "io/file_source.h"
#include "io/log.h"
#include "io/range_source.h"
#include "nvmetcp/kernel_source.h"
#include "nvmetcp/nvme_source.h"
#include "verity/verifying_source.h"

namespace lazyroot::cli {

http::HttpOptions http_options(const AttachOptions& o) {
    http::HttpOptions h;
    h.connections = o.connections;
    h.http_version = o.http_version;
    h.max_request_bytes = o.coalesce_kib * 1024;
    h.io_timeout = o.io_timeout;
    h.ca_file = o.ca_file;
    h.cert_file = o.cert_file;
    h.key_file = o.key_file;
    h.resolve = o.resolve;
    // Read now, at attach (in the initrd: from the pinned copy); kept in
    // memory only.
    if (!o.header_file.empty()) h.headers = http::read_header_file(o.header_file);
    // In the initrd the root will be the device served: read TLS files
    // and resolve names now, never after switch_root.
    h.pin_at_attach = in_initrd();
    return h;
}

http::HttpOptions http_options(const SourceUri& uri, const AttachOptions& o) {
    http::HttpOptions h = http_options(o);
    if (!uri.s3) return h;
    std::optional<http::S3Credentials> c;
    if (!o.s3_credentials.empty())
        c = http::read_s3_credentials_file(o.s3_credentials);
    else
        c = http::s3_credentials_from_env();
    if (!c)
        throw std::runtime_error(uri.text +
                                 ": no S3 credentials: give --s3-credentials=FILE or set AWS_ACCESS_KEY_ID and "
                                 "AWS_SECRET_ACCESS_KEY");
    h.aws_sigv4 = "aws:amz:" + o.s3_region + ":s3";
    h.aws_access_key = c->access_key;
    h.aws_secret_key = c->secret_key;
    // S3 and radosgw refuse a SigV4 request without the payload's hash;
    // libcurl 7.88 does not send it. A GET has no payload: the hash of
    // nothing, which is also what libcurl signs.
    h.headers.push_back("x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    if (!c->session_token.empty()) h.headers.push_back("x-amz-security-token: " + c->session_token);
    return h;
}

std::string http_url(const SourceUri& uri, const AttachOptions& o) {
    if (!uri.s3) return uri.text;
    return http::s3_object_url(o.s3_endpoint.empty() ? http::default_s3_endpoint(o.s3_region) : o.s3_endpoint,
                               http::parse_s3_url(uri.text));
}

std::unique_ptr<io::Source> open_transport(const SourceUri& uri, const AttachOptions& o, unsigned queues,
                                           http::HttpSource** http) {
    if (http) *http = nullptr;
    switch (uri.kind) {
        // A file or URL in the zstd seekable format (found by its footer) is served decompressed.
        case SourceUri::Kind::File:
            return compress::SeekableSource::wrap_if_seekable(io::FileSource::open(uri.path));
        case SourceUri::Kind::Http: {
            http::HttpOptions h = http_options(uri, o);
            h.urls.push_back(http_url(uri, o));
            h.urls.insert(h.urls.end(), o.mirrors.begin(), o.mirrors.end());
            auto src = http::HttpSource::open(h);
            src->set_connections_per_queue((o.connections + queues - 1) / queues,
                                           (o.max_connections + queues - 1) / queues);
            if (http) *http = src.get();
            return compress::SeekableSource::wrap_if_seekable(std::move(src));
        }
        case SourceUri::Kind::NvmeTcp: {
            nvmetcp::NvmeTcpOptions n;
            n.uri = uri.text;
            n.hostnqn = o.hostnqn;
            n.io_timeout = o.io_timeout;
            if (o.nvme_transport == NvmeTransport::Kernel) return nvmetcp::open_kernel_source(n, queues);
            return nvmetcp::NvmeTcpSource::open(n);
        }
    }
    throw std::logic_error("unreachable");
}

namespace {

// The tree's own source: read whole, once, at attach; the image's mirrors
// and readahead don't apply to it, its TLS options do.
std::unique_ptr<io::Source> open_tree_source(const std::string& text, const AttachOptions& o) {
    AttachOptions t = o;
    t.mirrors.clear();
    try {
        return open_transport(parse_source_uri(text), t);
    } catch (const std::exception& e) {
        throw std::runtime_error("--hash-source: " + std::string(e.what()));
    }
}

// A network source read sequentially is fetched ahead, in parallel windows.
std::unique_ptr<io::Source> with_readahead(std::unique_ptr<io::Source> src, const SourceUri& uri,
                                           const AttachOptions& o, io::StreamDetector** streams) {
    if (uri.kind == SourceUri::Kind::File || o.readahead_mib == 0) return src;
    io::ReadaheadOptions ra;
    ra.max_window_bytes = o.readahead_mib << 20;
    ra.slice_bytes = std::min<uint32_t>(ra.slice_bytes, ra.max_window_bytes);
    // Half of --memory-budget, for every queue's windows together (the IO buffers have the other half).
    ra.budget = std::make_shared<io::MemoryBudget>((uint64_t{o.memory_budget_mib} << 20) / 2);
    auto ahead = std::make_unique<io::ReadaheadSource>(std::move(src), ra);
    *streams = &ahead->streams();
    return ahead;
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

SourceStack::SourceStack(const SourceUri& uri, const AttachOptions& o, unsigned queues, const VerityPlan* verity)
    : mode_(o.mode), cache_path_(o.cache) {
    std::unique_ptr<io::Source> transport = open_transport(uri, o, queues, &http_);
    seekable_ = dynamic_cast<const compress::SeekableSource*>(transport.get());
    const bool needs_cache = !o.cache.empty() || o.mode != Mode::Lazy;
    // With a cache, readahead fills the cache (below); without, it keeps slices in RAM.
    std::unique_ptr<io::Source> net =
        needs_cache ? std::move(transport) : with_readahead(std::move(transport), uri, o, &streams_);
    if (verity) net = open_verified(std::move(net), *verity, o);
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
    if (o.mode != Mode::Lazy) {
        // Before anything is downloaded: a cache that can't hold the image is a refusal, not ENOSPC later.
        try {
            cache::require_room_for_image(*store, std::string("--mode=") + to_string(o.mode));
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
        cached->set_chunk_check(
            [v = verifier_](uint64_t off, std::span<const std::byte> bytes) { return v->first_bad_block(off, bytes); });
    if (uri.kind != SourceUri::Kind::File && o.readahead_mib > 0) {
        io::StreamOptions ra;
        ra.chunk_bytes = so.chunk_size;
        ra.image_bytes = cached->size();
        // In flight, a window is fetch buffers: half of --memory-budget, as without a cache.
        ra.max_window_bytes = std::min(uint64_t{o.readahead_mib} << 20, (uint64_t{o.memory_budget_mib} << 20) / 2);
        ra.slice_bytes = std::min<uint64_t>(std::max<uint64_t>(ra.slice_bytes, so.chunk_size), ra.max_window_bytes);
        cached->set_readahead(ra);
        streams_ = cached->streams();
    }
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

cache::Filler& SourceStack::start_fill(const cache::FillOptions& fo) {
    if (!cached_) throw std::logic_error("a fill needs a cache");
    filler_ = std::make_unique<cache::Filler>(*cached_, fo);
    filler_->start();
    return *filler_;
}

void SourceStack::start_hydration(unsigned parallel, uint64_t rate, std::vector<uint64_t> first) {
    cache::FillOptions fo;
    fo.parallel = std::max(1u, parallel / 2);
    fo.rate_bytes_per_s = rate;
    profile_chunks_ = first.size();
    fo.first = std::move(first);
    start_fill(fo);
}

void SourceStack::start_profile_fill(unsigned parallel, std::vector<uint64_t> chunks) {
    cache::FillOptions fo;
    fo.parallel = std::max(1u, parallel / 2);
    // Not one run at a time while the boot reads: the profile's chunks are
    // what it reads next, so holding them back puts each on the boot's path
    // as a round trip of its own. Its runs have connections of their own, so
    // no demand read waits behind one.
    fo.yield_to_demand = false;
    profile_chunks_ = chunks.size();
    fo.first = std::move(chunks);
    fo.only_first = true;
    start_fill(fo);
}

namespace {

// This process's resident and peak resident bytes (VmRSS, VmHWM), for the
// --memory-budget's effect to be seen in `status`; zeros if unreadable.
std::pair<uint64_t, uint64_t> process_rss() {
    uint64_t rss = 0, hwm = 0;
    if (FILE* f = std::fopen("/proc/self/status", "re")) {
        char line[256];
        unsigned long long kib;
        while (std::fgets(line, sizeof line, f)) {
            if (std::sscanf(line, "VmRSS: %llu kB", &kib) == 1) rss = kib * 1024;
            if (std::sscanf(line, "VmHWM: %llu kB", &kib) == 1) hwm = kib * 1024;
        }
        std::fclose(f);
    }
    return {rss, hwm};
}

}  // namespace

nlohmann::json SourceStack::status(double uptime_s) {
    auto& st = stats_;
    const uint64_t reads = st.reads.load();
    nlohmann::json j = {
        {"source", top_->describe()},
        {"mode", to_string(mode_)},
        {"size", top_->size()},
        {"uptime_s", uptime_s},
        {"reads", reads},
        {"bytes_served", st.bytes_served.load()},
        {"fetches", st.fetches.load()},
        {"bytes_fetched", st.bytes_fetched.load()},
        {"fetch_errors", st.fetch_errors.load()},
        {"cache_hit_ratio", reads ? static_cast<double>(st.cache_hit_reads.load()) / static_cast<double>(reads) : 0.0},
        {"fetch_latency_us", {{"p50", st.latency_quantile_us(0.5)}, {"p99", st.latency_quantile_us(0.99)}}},
    };
    const auto [rss, peak_rss] = process_rss();
    j["memory"] = {{"rss_bytes", rss}, {"peak_rss_bytes", peak_rss}};
    if (http_) {
        // An expired presigned URL (403): reads wait, up to the IO timeout,
        // for `lazyroot update-source` to hand in a fresh one.
        const auto refused = http_->url(0).refused();
        j["source_state"] = refused ? "refused" : "ok";
        if (refused) j["source_refused"] = {{"why", refused->why}, {"since", refused->since}};
    }
    if (auto* c = cached_) {
        auto& store = c->store();
        const uint64_t present = store.map().count_present();
        j["cache"] = {{"path", cache_path_},
                      {"chunk_size", store.chunk_size()},
                      {"chunks_present", present},
                      {"chunks_total", store.chunk_count()},
                      {"chunks_durable", store.durable_count()},
                      {"complete", c->complete()},
                      {"read_errors", st.cache_read_errors.load()},
                      {"bad_chunks", st.cache_bad_chunks.load()},
                      {"misses_served_from_fetch", st.misses_served_from_fetch.load()},
                      {"direct_io", c->direct_io()}};
        if (store.degraded()) j["cache"]["degraded"] = store.degraded_reason();
        // Asked for by the device's sequential streams, into the cache.
        if (auto* ra = c->streams()) j["cache"]["readahead_bytes"] = ra->prefetched_bytes();
        j["cache"]["chunks_in_flight"] = c->inflight().in_flight();
        if (profile_chunks_ > 0 && filler_)
            j["prefetch_profile"] = {
                {"source", profile_source_},
                {"chunks", profile_chunks_},
                {"complete", mode_ == Mode::Hydrate ? nullptr : nlohmann::json(filler_->complete())},
                {"bytes", st.hydrated_bytes.load()}};
        if (mode_ == Mode::Hydrate) {
            const double hydrated = static_cast<double>(st.hydrated_bytes.load());
            j["hydration"] = {{"complete", c->complete()},
                              {"progress", static_cast<double>(present) / static_cast<double>(store.chunk_count())},
                              {"bytes", st.hydrated_bytes.load()},
                              {"rate_bytes_per_s", uptime_s > 0 ? hydrated / uptime_s : 0.0}};
        }
    }
    if (streams_) {
        // The window a stalled stream grows to: null until a fetch has measured the link.
        const uint64_t limit = streams_->target_window();
        j["readahead"] = {{"prefetched_bytes", streams_->prefetched_bytes()},
                          {"window_max_bytes", streams_->options().max_window_bytes},
                          {"window_limit_bytes", limit == UINT64_MAX ? nlohmann::json() : nlohmann::json(limit)}};
    }
    if (seekable_)
        // bytes_fetched counts image bytes; wire_bytes what crossed the wire for them.
        j["compression"] = {{"format", "zstd-seekable"},
                            {"frames", seekable_->table().frames().size()},
                            {"compressed_size", seekable_->table().compressed_size()},
                            {"wire_bytes", seekable_->wire_bytes()}};
    return j;
}

}  // namespace lazyroot::cli
