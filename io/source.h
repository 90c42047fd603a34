#pragma once
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace lazyroot::io {

class EventLoop;

// A read result besides 0 and -errno: some block of the range failed its
// dm-verity check from every source tried. The blocks around it may be good,
// so a layer that fetched more than was asked (the cache, whole chunks)
// retries just the asked-for range, uncached, instead of failing it. The ublk
// queue is the one place it becomes EIO, the error the block layer is told.
inline constexpr int kFailedVerification = -EBADMSG;

// Told when one read finishes: 0 when every byte of the range is in the
// buffer, -errno (or kFailedVerification) otherwise. Never anything in
// between: a short read is an error.
class ReadCallback {
public:
    virtual void on_read_done(int result) = 0;

protected:
    ~ReadCallback() = default;
};

// A buffer in the ring's registered-buffer table: its index, and the address
// io_uring knows its first byte by (0 for pages the kernel registered, such
// as a ublk request's; the iov_base of one registered from user memory).
struct FixedBuffer {
    uint16_t index = 0;
    uint64_t base = 0;
};

// The per-queue half of a source: lives on one queue thread, is driven by that
// thread's loop, and never blocks it.
class QueueReader {
public:
    virtual ~QueueReader() = default;
    // `offset + dst.size()` must not exceed Source::size(). The callback always
    // runs later, from the loop, never from inside read().
    virtual void read(uint64_t offset, std::span<std::byte> dst, ReadCallback& cb) = 0;
    // Zero copy: reads [offset, offset+len) straight into a buffer registered
    // with the loop's ring (a ublk request's pages), from its start. False,
    // with `cb` never called, when this reader can't (the bytes are not in a
    // file as they are, or a layer must see or transform them); the caller
    // then uses read(). The default: can't.
    virtual bool read_fixed(uint64_t /*offset*/, uint32_t /*len*/, FixedBuffer /*buf*/, ReadCallback& /*cb*/) {
        return false;
    }
    // Bytes from the current server failed a check above this layer: use
    // another one (a mirror) for what follows, and forget anything buffered.
    virtual void prefer_another_source() {}
    // Where the next read goes, for logs ("" when there is only one place).
    virtual std::string current_source() const { return {}; }
};

// Where image bytes come from (a file, HTTP, NVMe/TCP). Shared by all queues;
// each queue opens its own reader on its own loop.
class Source {
public:
    virtual ~Source() = default;
    virtual uint64_t size() const = 0;
    // A short human-readable name, such as the URI, for logs and status.
    virtual std::string describe() const = 0;
    // What says "same image" across attaches: a persistent cache made from
    // one identity is never used for another.
    virtual std::string identity() const { return describe() + ";size=" + std::to_string(size()); }
    // `depth` is the most reads the queue will have in flight at once.
    virtual std::unique_ptr<QueueReader> open_queue(EventLoop& loop, unsigned depth) = 0;
    // A reader for a cache fill (a profile's chunks, hydrate, full mode): its
    // runs are whole and already in flight side by side, so no layer below
    // fetches ahead of it (readahead would fetch what the fill did not ask
    // for, and keep it nowhere). Layers between pass the choice on.
    virtual std::unique_ptr<QueueReader> open_fill_queue(EventLoop& loop, unsigned depth) {
        return open_queue(loop, depth);
    }
};

}  // namespace lazyroot::io
