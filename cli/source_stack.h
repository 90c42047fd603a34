#pragma once
#include <memory>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cache/cached_source.h"
#include "cache/filler.h"
#include "cache/io_stats.h"
#include "cache/ram_cache.h"
#include "cli/options.h"
#include "cli/source_uri.h"
#include "cli/verity_plan.h"
#include "http/http_options.h"
#include "io/source.h"

namespace lazyroot::http {
class HttpSource;
}
namespace lazyroot::verity {
class VerifyingSource;
}
namespace lazyroot::compress {
class SeekableSource;
}

namespace lazyroot::cli {

// The one place that turns typed options into sources. Everything between
// the ublk device and the image, top (what the device reads) first:
//
//   [CachedSource]        --cache, or full/hydrate mode (a RAM cache then):
//                         hits from the local file, misses fetched once;
//                         with --readahead > 0 and a network SOURCE, the
//                         device's sequential streams prefetch into the cache
//   MeteredSource         bytes, fetches, latency (lazyroot status)
//   [VerifyingSource]     --verity: every fetched block checked against the tree
//   [RangeSource]         --verity=ddi: the root partition of the disk image
//   [ReadaheadSource]     without a cache: a network SOURCE with --readahead > 0
//                         (slices in RAM, under --memory-budget)
//   FileSource | HttpSource | NvmeTcpSource | the kernel's nvme-tcp
//
// Cache hits don't pass the VerifyingSource: with verity the CachedSource
// checks each chunk read back once per attach (VerifyingSource::first_bad_block).
// A full or hydrate mode fill (cache::Filler) fetches through the same chain.
class SourceStack {
public:
    // Throws std::runtime_error (one line).
    // With `verity`, every fetched block is checked against the tree first.
    SourceStack(const SourceUri& uri, const AttachOptions& opts, unsigned queues, const VerityPlan* verity = nullptr);
    ~SourceStack();
    SourceStack(const SourceStack&) = delete;
    SourceStack& operator=(const SourceStack&) = delete;

    io::Source& top() { return *top_; }
    cache::CachedSource* cached() { return cached_; }
    cache::IoStats& stats() { return stats_; }
    Mode mode() const { return mode_; }
    const std::string& cache_path() const { return cache_path_; }
    // The RAM cache's directory (full/hydrate without --cache), else "".
    std::string ram_dir() const { return ram_ ? ram_->path() : std::string(); }
    // With verity: where the superblock is on the device (dm-verity's hash offset).
    uint64_t verity_hash_offset() const { return verity_hash_offset_; }
    // The image is zstd seekable on the wire (found by its footer), else nullptr.
    const compress::SeekableSource* seekable() const { return seekable_; }
    // The HTTP transport of an http(s):// or s3:// SOURCE (update-source), else nullptr.
    http::HttpSource* http() { return http_; }

    // Starts filling the cache on the filler's own thread (full mode's
    // download, hydrate mode's background fill). Needs a cache.
    cache::Filler& start_fill(const cache::FillOptions& fo);
    // hydrate: the background fill, with half the connections and a rate cap.
    // With a prefetch profile's chunks (`first`), those come first.
    void start_hydration(unsigned parallel, uint64_t rate, std::vector<uint64_t> first = {});
    // lazy with --profile: the profile's chunks alone, in order, behind demand reads.
    void start_profile_fill(unsigned parallel, std::vector<uint64_t> chunks);
    size_t profile_chunks() const { return profile_chunks_; }
    // Where the profile came from, for status: its file or (redacted) URL, or "manifest".
    void set_profile_source(std::string where) { profile_source_ = std::move(where); }
    cache::Filler* filler() { return filler_.get(); }
    // Stops and drops the fill (a full download that ended or was interrupted).
    void end_fill() { filler_.reset(); }
    // Final commit of the cache and shutdown of the fill; called before exit.
    void shut_down();
    // The device is live: the --cache files this attach created stay. Until
    // then, destroying the stack removes them (an attach that fails leaves
    // nothing behind; files that existed before are kept).
    void keep_cache() { created_files_.clear(); }

    // What `lazyroot status` shows of this stack (see README), after
    // `uptime_s` seconds of serving.
    nlohmann::json status(double uptime_s);

private:
    std::unique_ptr<io::Source> open_verified(std::unique_ptr<io::Source> net, const VerityPlan& plan,
                                              const AttachOptions& o);

    cache::IoStats stats_;  // first: outlives every source that counts into it
    std::unique_ptr<io::Source> top_;
    cache::CachedSource* cached_ = nullptr;
    io::StreamDetector* streams_ = nullptr;  // the readahead's, with a cache or without
    std::unique_ptr<cache::Filler> filler_;
    size_t profile_chunks_ = 0;  // of a prefetch profile being fetched
    std::string profile_source_;
    Mode mode_;
    std::string cache_path_;
    std::unique_ptr<cache::RamCacheDir> ram_;  // full/hydrate without --cache; removed at exit
    std::vector<std::string> created_files_;
    const verity::VerifyingSource* verifier_ = nullptr;
    uint64_t verity_hash_offset_ = 0;
    const compress::SeekableSource* seekable_ = nullptr;
    http::HttpSource* http_ = nullptr;
};

// The transport alone (no readahead, verity or cache), for a device with
// `queues` queues: also what attach-time reads (a DDI's GPT) go through.
// `http`, when given, is set to the HttpSource of an http(s):// or s3://
// SOURCE (whatever wraps it), else null.
// Throws std::runtime_error with a one-line reason.
std::unique_ptr<io::Source> open_transport(const SourceUri& uri, const AttachOptions& opts, unsigned queues = 1,
                                           http::HttpSource** http = nullptr);

// The HTTP options the attach options ask for (TLS files, --resolve,
// --io-timeout), for the image and for its manifest alike.
http::HttpOptions http_options(const AttachOptions& opts);

// The same for an http(s):// or s3:// SOURCE (`uri`): for s3://, requests
// are signed (libcurl's SigV4) with the credentials of --s3-credentials or
// the AWS_* environment. Throws std::runtime_error without credentials.
http::HttpOptions http_options(const SourceUri& uri, const AttachOptions& opts);

// The http(s):// URL an http(s):// or s3:// SOURCE is fetched from:
// ENDPOINT/BUCKET/KEY for s3:// (path style).
std::string http_url(const SourceUri& uri, const AttachOptions& opts);

}  // namespace lazyroot::cli
