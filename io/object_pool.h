#pragma once
#include <memory>
#include <utility>
#include <vector>

namespace lazyroot::io {

// Per-request state of one queue's reader, reused instead of allocated for
// each read: a warm queue serves its reads without touching the heap. One
// pool per reader (per queue thread): no locks. Objects come back to the pool
// with release(), and are all freed with the pool, in flight or not, so the
// pool must outlive every callback that can still reach one of them.
//
// T needs a default constructor and move assignment (take() hands out a
// fresh T{}); it may be incomplete where the pool is declared, as long as it
// is complete where the owner's constructor and destructor are defined.
template <class T>
class ObjectPool {
public:
    ObjectPool() = default;
    ObjectPool(const ObjectPool&) = delete;
    ObjectPool& operator=(const ObjectPool&) = delete;

    // An object in its default state.
    T& take() {
        if (free_.empty()) return *all_.emplace_back(std::make_unique<T>());
        T* t = free_.back();
        free_.pop_back();
        *t = T{};
        return *t;
    }
    // `t` came from take() and nothing refers to it any more.
    void release(T& t) { free_.push_back(&t); }
    // Hands `t` (taken, not released) over to the caller, who frees it.
    std::unique_ptr<T> detach(T& t) {
        for (auto& p : all_)
            if (p.get() == &t) {
                auto out = std::move(p);
                std::swap(p, all_.back());
                all_.pop_back();
                return out;
            }
        return nullptr;
    }

    size_t allocated() const { return all_.size(); }
    size_t in_use() const { return all_.size() - free_.size(); }

private:
    std::vector<std::unique_ptr<T>> all_;
    std::vector<T*> free_;
};

}  // namespace lazyroot::io
