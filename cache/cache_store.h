#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cache/cache_backing.h"
#include "cache/chunk_bitmap.h"

namespace lazyroot::cache {

// The steps that matter for crash safety, in the order a reset and a commit
// take them. Each is reported to CacheStoreOptions::after_step.
enum class StoreStep {
    // A reset, at open:
    reset_invalidated_header,  // header zeroed + fdatasync
    reset_zeroed_bitmap,       // bitmap zeroed + fdatasync
    reset_wrote_header,        // new header + fdatasync: the reset is complete
    // A commit (only one that has something to do):
    commit_took_batch,     // (1) batch taken from chunk_written
    commit_synced_data,    // (2) fdatasync(data)
    commit_wrote_bitmap,   // (3) dirty bitmap pages pwritten, not yet synced
    commit_synced_bitmap,  // (4) fdatasync(metadata): the commit is complete
};

struct CacheStoreOptions {
    std::string path;
    uint32_t chunk_size = 64 * 1024;
    uint64_t image_size = 0;
    std::string identity;  // at most kMaxIdentityBytes
    std::chrono::milliseconds commit_interval{1000};
    // Keep the metadata at the end of PATH even when it is a regular file, as
    // for a block device; the file must already be big enough. For
    // preallocated cache files, and to test the block-device layout.
    bool metadata_at_end = false;
    // Test seam for simulated power loss: called after each step (on the
    // thread taking it); returning true cuts the power right there: the store
    // does no more IO on its files, not even a final commit at close. What
    // this can and cannot show is spelled out at the top of cache_store.cpp.
    std::function<bool(StoreStep)> after_step;
};

// The persistent cache's backing store: chunk data in PATH at the image's own
// offsets, and a bitmap of the chunks whose data is durably there. On-disk
// metadata never claims a chunk whose data is not durable, after a crash at
// any moment; in memory, a chunk is present as soon as its write completed.
class CacheStore {
public:
    // Opens or creates the cache. PATH is a regular file (created sparse at
    // image_size if missing; metadata in the sidecar PATH.lzmeta) or a block
    // device (metadata in a 4 KiB-aligned area at its end, after image_size).
    // Metadata that is missing, corrupt, or for another identity, chunk size
    // or image size resets the cache to empty (one warning saying why): stale
    // chunks are never reused. Throws std::runtime_error (one line) when PATH
    // can't be used.
    static std::unique_ptr<CacheStore> open(const CacheStoreOptions& opts);
    ~CacheStore();  // a final commit, then the committer stops
    CacheStore(const CacheStore&) = delete;
    CacheStore& operator=(const CacheStore&) = delete;

    // O_RDWR | O_CLOEXEC; queue threads do their own io_uring IO on it.
    int data_fd() const { return backing_.data_fd.get(); }
    uint32_t chunk_size() const { return chunk_size_; }
    const std::string& path() const { return path_; }
    uint64_t chunk_count() const { return map_.chunks(); }
    uint64_t image_size() const { return image_size_; }
    // Present = safe to read from data_fd now (written; maybe not yet durable).
    ChunkBitmap& map() { return map_; }
    const ChunkBitmap& map() const { return map_; }
    // Existing metadata was discarded at open (not set for a brand-new cache).
    bool was_reset() const { return was_reset_; }

    // From a queue thread once its write of chunk i to data_fd has completed:
    // present at once, durable at the next commit. No IO; O(1) under a mutex.
    void chunk_written(uint64_t i);
    // Commits now and waits for it. 0 or -errno (-ECANCELED after a simulated crash).
    int commit_now();
    // Chunks whose data and bitmap bit are both on stable storage.
    uint64_t durable_count() const { return durable_count_.load(std::memory_order_relaxed); }
    // Caching is off for the rest of this attach (a write or fdatasync of the
    // data failed, or the metadata could not be given room): chunk_written is
    // ignored, so readers must take missing chunks from the source without
    // writing them. What is present stays readable, except after a failed
    // fdatasync, which takes the map back to what was durable.
    bool degraded() const { return failed_.load(std::memory_order_acquire); }
    // The first reason given, for status; "" while not degraded.
    std::string degraded_reason() const;
    // Switches caching off with one log line (the first call only). Thread-safe.
    void degrade(const std::string& reason);

    // A block-device cache is opened O_EXCL (refusing one that is mounted or
    // claimed); the hand-off must let device-mapper claim it instead. Swaps
    // the descriptors for ones without the claim, in place (the fd numbers
    // stay valid for the queue threads). 0 or -errno; a no-op for files.
    int drop_exclusive_claim();

    // The files this open created (PATH and/or its sidecar): an attach that
    // fails removes them, and only them, once the store is closed.
    std::vector<std::string> created_files() const;
    // For the attach-time room check (cache_space.h).
    int meta_fd() const { return backing_.meta_fd.get(); }
    bool regular_file() const { return backing_.regular_file; }
    bool sidecar() const { return backing_.sidecar; }

private:
    CacheStore(const CacheStoreOptions& opts, CacheBacking backing);

    void load_or_reset();
    void reset(const std::string& why);
    void committer_loop();
    int commit(const std::vector<uint64_t>& batch);
    int metadata_failed(int err, const char* what);
    void stop_using_cache(int err);
    void preallocate_metadata();
    bool crash_here(StoreStep step);

    const std::string path_;
    const uint32_t chunk_size_;
    const uint64_t image_size_;
    const std::string identity_;
    const std::chrono::milliseconds interval_;
    const std::function<bool(StoreStep)> after_step_;
    CacheBacking backing_;
    ChunkBitmap map_;      // what queue threads may read
    ChunkBitmap durable_;  // what the committer has claimed on disk (committer thread only)
    std::atomic<uint64_t> durable_count_{0};
    bool was_reset_ = false;
    std::atomic<bool> crashed_{false};
    std::vector<uint64_t> dirty_pages_;  // bitmap pages to write; committer thread only
    bool meta_failing_ = false;          // committer thread only: log a failure streak once

    mutable std::mutex mu_;
    std::condition_variable wake_;   // the committer: a request or stop
    std::condition_variable done_;   // commit_now callers
    std::vector<uint64_t> pending_;  // chunk_written since the last batch was taken
    uint64_t requested_ = 0;
    uint64_t completed_ = 0;
    int last_result_ = 0;
    bool stopping_ = false;
    std::atomic<bool> failed_{false};  // set under mu_, so chunk_written sees it in order
    std::string degraded_reason_;      // under mu_
    std::thread committer_;            // last: started once everything above is ready
};

}  // namespace lazyroot::cache
