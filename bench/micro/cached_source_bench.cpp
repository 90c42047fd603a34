// Google Benchmark: the cost of the cache layer on the host, no kernel
// involved: 4k random reads at QD 32 through CachedSource (cold: every read a
// miss; warm: every read a hit) against the same reads from the file source.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <vector>

#include "cache/cache_store.h"
#include "cache/cached_source.h"
#include "cache/metered_source.h"
#include "io/event_loop.h"
#include "io/file_source.h"

using namespace lazyroot;

namespace {

constexpr size_t kImage = 256 << 20;
constexpr unsigned kDepth = 32;

std::string make_image() {
    static std::string path;
    if (!path.empty()) return path;
    path = "/tmp/lazyroot-bench-image";
    std::vector<char> buf(1 << 20);
    std::mt19937_64 rng(1);
    for (auto& c : buf) c = static_cast<char>(rng());
    FILE* f = std::fopen(path.c_str(), "w");
    for (size_t i = 0; i < kImage / buf.size(); ++i) std::fwrite(buf.data(), 1, buf.size(), f);
    std::fclose(f);
    return path;
}

struct Op final : io::ReadCallback {
    std::vector<std::byte> buf = std::vector<std::byte>(4096);
    unsigned* done = nullptr;
    void on_read_done(int r) override {
        if (r != 0) std::abort();
        ++*done;
    }
};

// Keeps kDepth reads in flight until `total` have completed.
void drive(io::EventLoop& loop, io::QueueReader& reader, size_t total, std::mt19937_64& rng) {
    std::vector<Op> ops(kDepth);
    unsigned done = 0;
    size_t issued = 0;
    std::uniform_int_distribution<uint64_t> block(0, kImage / 4096 - 1);
    for (auto& op : ops) {
        op.done = &done;
        reader.read(block(rng) * 4096, op.buf, op);
        ++issued;
    }
    while (done < total) {
        unsigned before = done;
        loop.run_once();
        // Re-issue one read per completion, reusing the ops round-robin.
        for (unsigned i = before; i < done && issued < total; ++i, ++issued)
            reader.read(block(rng) * 4096, ops[issued % kDepth].buf, ops[issued % kDepth]);
    }
}

void BM_FileSource(benchmark::State& state) {
    auto src = io::FileSource::open(make_image());
    io::EventLoop loop;
    loop.init(256);
    auto reader = src->open_queue(loop, kDepth);
    std::mt19937_64 rng(2);
    for (auto _ : state) drive(loop, *reader, 4096, rng);
    state.SetItemsProcessed(state.iterations() * 4096);
}

void BM_CachedSource(benchmark::State& state, bool warm) {
    const std::string cache = "/tmp/lazyroot-bench-cache";
    std::filesystem::remove(cache);
    std::filesystem::remove(cache + ".lzmeta");
    cache::IoStats stats;
    auto inner = io::FileSource::open(make_image());
    cache::CacheStoreOptions so;
    so.path = cache;
    so.image_size = inner->size();
    so.identity = inner->identity();
    auto store = cache::CacheStore::open(so);
    auto metered = std::make_unique<cache::MeteredSource>(std::move(inner), stats, false);
    cache::CachedSource src(std::move(metered), std::move(store), stats);
    io::EventLoop loop;
    loop.init(256);
    auto reader = src.open_queue(loop, kDepth);
    std::mt19937_64 rng(3);
    if (warm) drive(loop, *reader, kImage / 4096 * 4, rng);
    for (auto _ : state) drive(loop, *reader, 4096, rng);
    state.SetItemsProcessed(state.iterations() * 4096);
    state.counters["hit_ratio"] = static_cast<double>(stats.cache_hit_reads) / static_cast<double>(stats.reads);
}

}  // namespace

BENCHMARK(BM_FileSource)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CachedSource, cold, false)->Unit(benchmark::kMillisecond)->Iterations(8);
BENCHMARK_CAPTURE(BM_CachedSource, warm, true)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
