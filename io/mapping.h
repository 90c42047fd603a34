#pragma once
#include <sys/mman.h>

#include <cstddef>
#include <utility>

namespace lazyroot::io {

// Owns one mmap()ed region; unmaps it exactly once.
class Mapping {
public:
    Mapping() = default;
    Mapping(void* addr, size_t len) : addr_(addr), len_(len) {}
    Mapping(Mapping&& o) noexcept : addr_(std::exchange(o.addr_, MAP_FAILED)), len_(std::exchange(o.len_, 0)) {}
    Mapping& operator=(Mapping&& o) noexcept {
        if (this != &o) {
            reset();
            addr_ = std::exchange(o.addr_, MAP_FAILED);
            len_ = std::exchange(o.len_, 0);
        }
        return *this;
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping() { reset(); }

    // Anonymous private memory; pages are only committed when touched.
    static Mapping anonymous(size_t len) {
        void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? Mapping() : Mapping(p, len);
    }

    void* get() const { return addr_; }
    size_t size() const { return len_; }
    explicit operator bool() const { return addr_ != MAP_FAILED; }
    void reset() {
        if (addr_ != MAP_FAILED) ::munmap(addr_, len_);
        addr_ = MAP_FAILED;
        len_ = 0;
    }

private:
    void* addr_ = MAP_FAILED;
    size_t len_ = 0;
};

}  // namespace lazyroot::io
