#pragma once
#include <functional>
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
#include "io/source.h"

namespace lazyroot::verity {
class VerifyingSource;
}
namespace lazyroot::compress {
class SeekableSource;
}

namespace lazyroot::cli {

// Everything between the ublk device and the image, built from the options:
//   network/file source [→ readahead] → metering [→ persistent cache]
// plus, for full and hydrate modes, the filler that downloads it all.
class SourceStack {
public:
    // Throws std::runtime_error (one line).
    // With `verity`, every fetched block is checked against the tree first.
    SourceStack(const SourceUri& uri, const AttachOptions& opts, unsigned queues,
                const VerityPlan* verity = nullptr);
    ~SourceStack();
    SourceStack(const SourceStack&) = delete;
    SourceStack& operator=(const SourceStack&) = delete;

    io::Source& top() { return *top_; }
    cache::CachedSource* cached() { return cached_; }
    cache::IoStats& stats() { return stats_; }
    const std::string& mode() const { return mode_; }
    const std::string& cache_path() const { return cache_path_; }
    // The RAM cache's directory (full/hydrate without --cache), else "".
    std::string ram_dir() const { return ram_ ? ram_->path() : std::string(); }
    // With verity: where the superblock is on the device (dm-verity's hash offset).
    uint64_t verity_hash_offset() const { return verity_hash_offset_; }
    // The image is zstd seekable on the wire (found by its footer), else nullptr.
    const compress::SeekableSource* seekable() const { return seekable_; }

    // full: downloads every missing chunk now, printing progress on stderr.
    // Throws when the download fails.
    // Stops, throwing, as soon as `cancelled` returns true.
    void download_all(unsigned parallel, const std::function<bool()>& cancelled = {});
    // hydrate: starts the background fill.
    void start_hydration(unsigned parallel, uint64_t rate);
    cache::Filler* filler() { return filler_.get(); }
    // Final commit of the cache and shutdown of the fill; called before exit.
    void shut_down();
    // The device is live: the --cache files this attach created stay. Until
    // then, destroying the stack removes them (an attach that fails leaves
    // nothing behind; files that existed before are kept).
    void keep_cache() { created_files_.clear(); }

private:
    std::unique_ptr<io::Source> open_verified(std::unique_ptr<io::Source> net, const VerityPlan& plan,
                                              const AttachOptions& o);

    cache::IoStats stats_;  // first: outlives every source that counts into it
    std::unique_ptr<io::Source> top_;
    cache::CachedSource* cached_ = nullptr;
    std::unique_ptr<cache::Filler> filler_;
    std::string mode_;
    std::string cache_path_;
    std::unique_ptr<cache::RamCacheDir> ram_;  // full/hydrate without --cache; removed at exit
    std::vector<std::string> created_files_;
    const verity::VerifyingSource* verifier_ = nullptr;
    uint64_t verity_hash_offset_ = 0;
    const compress::SeekableSource* seekable_ = nullptr;
};

// Writes /run/lazyroot/<id>.status.json (see README: `lazyroot status`).
// `extra` (the daemon's own facts, such as its recoveries) is merged in.
void write_status(unsigned dev_id, const std::string& block_path, SourceStack& stack,
                  double uptime_s, const nlohmann::json& extra = {});

}  // namespace lazyroot::cli
