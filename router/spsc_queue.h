// Bounded single-producer/single-consumer ring used for cross-loop hand-off. One queue
// per (source loop, destination loop) pair, so no queue ever has two producers and the
// stanza path needs no lock (Seastar's smp queues, libuv's async contract).
#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace xmesh::router {

template <typename T>
class SpscQueue {
 public:
  explicit SpscQueue(size_t capacityPow2) : mask_(capacityPow2 - 1), slots_(new T[capacityPow2]) {}
  SpscQueue(const SpscQueue&) = delete;
  SpscQueue& operator=(const SpscQueue&) = delete;

  // Producer side. Returns false when full; the producer keeps the item (back-pressure).
  bool tryPush(T& item) {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head - tailCache_ > mask_) {
      tailCache_ = tail_.load(std::memory_order_acquire);
      if (head - tailCache_ > mask_) return false;
    }
    slots_[head & mask_] = std::move(item);
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer side: calls fn(T&&) for up to `max` items; returns how many were taken.
  template <typename Fn>
  size_t drain(Fn&& fn, size_t max = static_cast<size_t>(-1)) {
    size_t tail = tail_.load(std::memory_order_relaxed);
    const size_t head = head_.load(std::memory_order_acquire);
    size_t n = 0;
    while (tail != head && n < max) {
      T item = std::move(slots_[tail & mask_]);
      slots_[tail & mask_] = T{};
      ++tail;
      ++n;
      tail_.store(tail, std::memory_order_release);
      fn(std::move(item));
    }
    return n;
  }

  size_t sizeApprox() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }
  size_t capacity() const { return mask_ + 1; }

 private:
  static constexpr size_t kLine = 64;
  const size_t mask_;
  std::unique_ptr<T[]> slots_;
  alignas(kLine) std::atomic<size_t> head_{0};
  size_t tailCache_ = 0;  // producer-private copy of tail_
  alignas(kLine) std::atomic<size_t> tail_{0};
};

}  // namespace xmesh::router
