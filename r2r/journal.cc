#include "r2r/journal.h"

#include <algorithm>

namespace xmesh::r2r {

namespace {
// Compaction moves the live bytes to the front; done only once the freed prefix is both
// large and at least half the buffer, so each byte moves O(1) times amortized.
constexpr size_t kCompactMin = 64 * 1024;
}  // namespace

void UnackedJournal::popFront(size_t n) {
  assert(n <= count() && !open_);
  if (n == 0) return;
  first_ += n;
  head_ = ends_[first_ - 1];
  if (count() == 0) {
    data_.clear();
    ends_.clear();
    head_ = first_ = 0;
    if (data_.capacity() > 4 * kCompactMin) std::string().swap(data_);
    return;
  }
  if (head_ >= kCompactMin && head_ * 2 >= data_.size()) {
    data_.erase(0, head_);
    ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(first_));
    for (size_t& end : ends_) end -= head_;
    head_ = first_ = 0;
    return;
  }
  if (first_ >= kCompactMin / 8 && first_ * 2 >= ends_.size()) {
    ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(first_));
    first_ = 0;
  }
}

}  // namespace xmesh::r2r
