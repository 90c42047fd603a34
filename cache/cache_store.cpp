// Crash consistency: the on-disk bitmap never has a bit set whose chunk data
// is not on stable storage.
// - A bit reaches the disk only through a commit, for a chunk of its batch.
//   The batch is taken (1) before fdatasync(data) (2), and a chunk is only
//   reported after its write completed, so (2) covers every chunk of the batch
//   before (3) writes its bit and (4) makes the bit durable.
// - Between resets bits only go 0 -> 1, so a bitmap page torn or lost by a
//   crash holds, per sector, an old or a new state, and both claim only
//   durable chunks.
// - A reset durably destroys the header before touching the bitmap or the
//   data, and writes the new header only once the zeroed bitmap is durable:
//   no crash leaves a valid header over stale bits.
//
// What the after_step seam can and cannot show. In-process, a "crash" is the
// store stopping after a step; it cannot drop the page cache, so a reopen
// still sees writes that never reached stable storage. The tests therefore
// model the loss themselves from the steps they saw (garbage over chunk data
// not covered by an fdatasync(data) that completed; bitmap bytes written since
// the last fdatasync(metadata) rolled back, kept, or torn per sector) and then
// check the invariant on reopen. That proves the order of the writes and syncs
// and what a reopen makes of every state they can leave. It cannot prove that the
// kernel, the filesystem or the disk honour fdatasync (a lying write cache
// defeats any protocol), nor model a filesystem losing a just-created name
// (open_backing fsyncs the directory, and a lost data file is caught by its
// size).
#include "cache/cache_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "cache/cache_format.h"
#include "io/file_io.h"
#include "io/log.h"
#include "io/thread_name.h"

namespace lazyroot::cache {
namespace {

using ull = unsigned long long;

bool all_zero(std::span<const uint8_t> b) {
    return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

int sync_fd(int fd) { return ::fdatasync(fd) == 0 ? 0 : -errno; }

}  // namespace

std::unique_ptr<CacheStore> CacheStore::open(const CacheStoreOptions& o) {
    auto bad = [&](const std::string& what) { return std::runtime_error("cache " + o.path + ": " + what); };
    if (o.path.empty()) throw std::runtime_error("cache: no path given");
    if (!valid_chunk_size(o.chunk_size))
        throw bad("chunk size " + std::to_string(o.chunk_size) + " is not a power of two from 4 KiB to 16 MiB");
    if (o.image_size == 0) throw bad("image size is 0");
    if (o.commit_interval.count() <= 0) throw bad("commit interval must be positive");
    if (o.identity.size() > kMaxIdentityBytes)
        throw bad("image identity is longer than " + std::to_string(kMaxIdentityBytes) + " bytes");
    const uint64_t chunks = chunk_count_for(o.image_size, o.chunk_size);
    auto backing = open_backing(o.path, o.image_size, metadata_bytes(chunks), o.metadata_at_end);
    std::unique_ptr<CacheStore> s(new CacheStore(o, std::move(backing)));
    try {
        s->load_or_reset();
    } catch (...) {
        // Leave nothing this open created.
        for (const auto& f : s->created_files()) ::unlink(f.c_str());
        throw;
    }
    if (!s->crashed_) s->preallocate_metadata();
    if (!s->crashed_) s->committer_ = std::thread([p = s.get()] { p->committer_loop(); });
    return s;
}

CacheStore::CacheStore(const CacheStoreOptions& o, CacheBacking backing)
    : path_(o.path),
      chunk_size_(o.chunk_size),
      image_size_(o.image_size),
      identity_(o.identity),
      interval_(o.commit_interval),
      after_step_(o.after_step),
      backing_(std::move(backing)),
      map_(chunk_count_for(o.image_size, o.chunk_size)),
      durable_(map_.chunks()) {}

CacheStore::~CacheStore() {
    if (!committer_.joinable()) return;
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    wake_.notify_one();
    committer_.join();
}

void CacheStore::load_or_reset() {
    const int meta = backing_.meta_fd.get();
    const uint64_t off = backing_.meta_offset;
    std::vector<uint8_t> page(kHeaderBytes, 0);
    const int r = io::pread_full(meta, page, off);
    if (r < 0 && r != -ENODATA)
        throw std::runtime_error("cache " + backing_.meta_name + ": read: " + std::strerror(-r));
    // All zeros (or nothing): a new cache, or a reset that a crash interrupted.
    if (all_zero(page)) return reset("");
    auto h = r == 0 ? decode_header(page) : std::nullopt;
    if (!h) return reset("its metadata is corrupt");

    char why[512];
    if (h->identity != identity_) {
        std::snprintf(why, sizeof why, "the image identity changed (cached \"%.200s\", now \"%.200s\")",
                      h->identity.c_str(), identity_.c_str());
        return reset(why);
    }
    if (h->chunk_size != chunk_size_) {
        std::snprintf(why, sizeof why, "the chunk size changed (%u -> %u)", h->chunk_size, chunk_size_);
        return reset(why);
    }
    if (h->image_size != image_size_) {
        std::snprintf(why, sizeof why, "the image size changed (%llu -> %llu)", ull(h->image_size), ull(image_size_));
        return reset(why);
    }
    if (backing_.sidecar && backing_.data_file_size != image_size_) {
        // Truncated, or deleted and recreated: the bitmap describes other bytes.
        std::snprintf(why, sizeof why, "the data file is %llu bytes, not %llu", ull(backing_.data_file_size),
                      ull(image_size_));
        return reset(why);
    }
    std::vector<uint8_t> bits(h->bitmap_bytes);
    if (io::pread_full(meta, bits, off + h->bitmap_offset) < 0) return reset("its bitmap is unreadable");
    map_.load(bits);
    durable_.load(bits);
    durable_count_ = durable_.count_present();
    log::debug("cache %s: %llu of %llu chunks cached", path_.c_str(), ull(durable_count_.load()), ull(map_.chunks()));
}

void CacheStore::reset(const std::string& why) {
    if (why.empty()) {
        log::debug("cache %s: new, %llu chunks of %u KiB", path_.c_str(), ull(map_.chunks()), chunk_size_ / 1024);
    } else {
        log::warn("cache %s: %s; starting empty", path_.c_str(), why.c_str());
        was_reset_ = true;
    }
    map_.clear();
    durable_.clear();
    durable_count_ = 0;

    const int meta = backing_.meta_fd.get();
    const int data = backing_.data_fd.get();
    const uint64_t off = backing_.meta_offset;
    auto check = [&](int r, const char* what) {
        if (r < 0)
            throw std::runtime_error("cache " + backing_.meta_name + ": reset: " + what + ": " + std::strerror(-r));
    };
    // Invalidate first: until the last step below, a crash leaves no header at all.
    check(io::write_zeros(meta, off, kHeaderBytes), "clearing the header");
    check(sync_fd(meta), "fdatasync");
    if (crash_here(StoreStep::reset_invalidated_header)) return;

    if (backing_.regular_file) {
        if (backing_.sidecar && backing_.data_file_size != image_size_) {
            check(::ftruncate(data, static_cast<off_t>(image_size_)) == 0 ? 0 : -errno, "sizing the data file");
            // Not needed for safety (nothing is claimed yet), but a size lost
            // to a crash would cost one more reset at the next open.
            check(sync_fd(data), "fdatasync of the data file");
        }
        // The old chunks are worthless now; give their space back if the filesystem can.
        (void)::fallocate(data, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(image_size_));
    }
    const uint64_t meta_bytes = metadata_bytes(map_.chunks());
    if (backing_.sidecar) {
        // Truncating and extending zeroes the bitmap without writing it.
        check(::ftruncate(meta, kHeaderBytes) == 0 ? 0 : -errno, "truncating the metadata");
        check(::ftruncate(meta, static_cast<off_t>(meta_bytes)) == 0 ? 0 : -errno, "sizing the metadata");
    } else {
        check(io::write_zeros(meta, off + kHeaderBytes, meta_bytes - kHeaderBytes), "clearing the bitmap");
    }
    check(sync_fd(meta), "fdatasync");
    if (crash_here(StoreStep::reset_zeroed_bitmap)) return;

    check(io::pwrite_full(meta, encode_header(make_header(chunk_size_, image_size_, identity_)), off),
          "writing the header");
    check(sync_fd(meta), "fdatasync");
    crash_here(StoreStep::reset_wrote_header);
}

void CacheStore::chunk_written(uint64_t i) {
    std::lock_guard lk(mu_);
    if (failed_.load(std::memory_order_relaxed)) return;
    // Only a chunk new to the map needs committing: one already in it is
    // either durable or in a batch not yet committed.
    if (map_.set_present(i)) pending_.push_back(i);
}

int CacheStore::commit_now() {
    std::unique_lock lk(mu_);
    if (!committer_.joinable() || stopping_) return crashed_ ? -ECANCELED : -ESHUTDOWN;
    const uint64_t gen = ++requested_;
    wake_.notify_one();
    done_.wait(lk, [&] { return completed_ >= gen; });
    return last_result_;
}

void CacheStore::committer_loop() {
    io::name_this_thread("lr-commit");
    std::vector<uint64_t> batch;
    std::unique_lock lk(mu_);
    for (;;) {
        wake_.wait_for(lk, interval_, [&] { return stopping_ || requested_ > completed_; });
        const uint64_t gen = requested_;
        const bool last = stopping_;
        batch.clear();
        batch.swap(pending_);  // (1), under the lock chunk_written takes
        lk.unlock();
        const int r = commit(batch);
        lk.lock();
        completed_ = gen;
        last_result_ = r;
        done_.notify_all();
        if (last) return;
    }
}

int CacheStore::commit(const std::vector<uint64_t>& batch) {
    if (crashed_) return -ECANCELED;
    if (batch.empty() && dirty_pages_.empty()) return 0;
    if (crash_here(StoreStep::commit_took_batch)) return -ECANCELED;

    // (2) Every write in the batch completed before the batch was taken.
    if (!batch.empty()) {
        if (int r = sync_fd(backing_.data_fd.get()); r < 0) {
            stop_using_cache(r);
            return r;
        }
    }
    if (crash_here(StoreStep::commit_synced_data)) return -ECANCELED;

    // (3) Only the pages whose bits changed; a failed write or sync leaves
    // them dirty, to be written again next time.
    for (uint64_t i : batch)
        if (durable_.set_present(i)) dirty_pages_.push_back(i / 8 / kBitmapPageBytes);
    std::sort(dirty_pages_.begin(), dirty_pages_.end());
    dirty_pages_.erase(std::unique(dirty_pages_.begin(), dirty_pages_.end()), dirty_pages_.end());
    const int meta = backing_.meta_fd.get();
    const uint64_t bitmap_at = backing_.meta_offset + kHeaderBytes;
    std::vector<uint8_t> page(kBitmapPageBytes);
    for (uint64_t p : dirty_pages_) {
        durable_.copy_bytes(p * kBitmapPageBytes, page);  // zeros past the last chunk
        if (int r = io::pwrite_full(meta, page, bitmap_at + p * kBitmapPageBytes); r < 0)
            return metadata_failed(r, "write");
    }
    if (crash_here(StoreStep::commit_wrote_bitmap)) return -ECANCELED;

    // (4)
    if (int r = sync_fd(meta); r < 0) return metadata_failed(r, "fdatasync");
    dirty_pages_.clear();
    durable_count_ = durable_.count_present();
    if (meta_failing_) {
        meta_failing_ = false;
        log::info("cache %s: metadata writes work again", backing_.meta_name.c_str());
    }
    crash_here(StoreStep::commit_synced_bitmap);
    return 0;
}

int CacheStore::metadata_failed(int err, const char* what) {
    if (!meta_failing_)
        log::warn("cache %s: metadata %s failed (%s); retrying at the next commit", backing_.meta_name.c_str(), what,
                  std::strerror(-err));
    meta_failing_ = true;
    return err;
}

// After a failed fdatasync the kernel may have dropped the dirty pages, and a
// later fdatasync can succeed without having written them: nothing written
// since the last good commit can be trusted, now or later in this run.
void CacheStore::stop_using_cache(int err) {
    degrade(std::string("fdatasync of the data failed: ") + std::strerror(-err));
    {
        std::lock_guard lk(mu_);
        pending_.clear();
    }
    std::vector<uint8_t> bytes(durable_.bytes());
    durable_.copy_bytes(0, bytes);
    map_.load(bytes);
}

void CacheStore::degrade(const std::string& reason) {
    {
        std::lock_guard lk(mu_);
        if (failed_.load(std::memory_order_relaxed)) return;
        degraded_reason_ = reason;
        failed_.store(true, std::memory_order_release);
    }
    // Chunks already written stay (they commit as usual); no new ones are added.
    log::error("cache %s: %s; caching is off until restart, missing chunks are read from the source", path_.c_str(),
               reason.c_str());
}

std::string CacheStore::degraded_reason() const {
    std::lock_guard lk(mu_);
    return degraded_reason_;
}

std::vector<std::string> CacheStore::created_files() const {
    std::vector<std::string> out;
    if (backing_.meta_created) out.push_back(backing_.meta_name);
    if (backing_.data_created) out.push_back(backing_.data_name);
    return out;
}

// The sidecar is sized sparse: give its pages room now, so that a full
// filesystem later fails chunk writes (which degrade cleanly) rather than the
// commits of chunks already written.
void CacheStore::preallocate_metadata() {
    if (!backing_.sidecar) return;
    const auto bytes = static_cast<off_t>(metadata_bytes(map_.chunks()));
    if (::fallocate(backing_.meta_fd.get(), FALLOC_FL_KEEP_SIZE, 0, bytes) == 0 || errno == EOPNOTSUPP) return;
    degrade(std::string("no room for its metadata: ") + std::strerror(errno));
}

bool CacheStore::crash_here(StoreStep step) {
    if (!after_step_ || !after_step_(step)) return false;
    crashed_ = true;
    return true;
}

int CacheStore::drop_exclusive_claim() {
    if (backing_.regular_file) return 0;
    // Reopened through /proc: the same device, a new open file without O_EXCL.
    const std::string self = "/proc/self/fd/" + std::to_string(backing_.data_fd.get());
    io::UniqueFd plain(::open(self.c_str(), O_RDWR | O_CLOEXEC));
    if (!plain) return -errno;
    // dup3 replaces atomically; the O_EXCL claim goes with the last reference.
    if (::dup3(plain.get(), backing_.data_fd.get(), O_CLOEXEC) < 0) return -errno;
    if (backing_.meta_fd && ::dup3(plain.get(), backing_.meta_fd.get(), O_CLOEXEC) < 0) return -errno;
    return 0;
}

}  // namespace lazyroot::cache
