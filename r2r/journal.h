// The sender's resend queue: the bytes of every counted unit not yet acknowledged, in
// order, in one contiguous buffer (no allocation per unit; a link to a busy peer may
// hold hundreds of thousands of small units).
#pragma once
#include <cassert>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace xmesh::r2r {

class UnackedJournal {
 public:
  // Units are serialized straight into the buffer: append to the string beginUnit()
  // returns, then commitUnit() or rollbackUnit(). Nothing else may touch it in between.
  std::string& beginUnit() {
    assert(!open_);
    open_ = true;
    return data_;
  }
  size_t openUnitBytes() const { return data_.size() - committedEnd(); }
  void commitUnit() {
    assert(open_);
    open_ = false;
    ends_.push_back(data_.size());
  }
  void rollbackUnit() {
    assert(open_);
    open_ = false;
    data_.resize(committedEnd());
  }

  size_t count() const { return ends_.size() - first_; }
  size_t bytes() const { return committedEnd() - head_; }
  bool empty() const { return count() == 0; }

  // The i-th unacked unit, 0 = the oldest.
  std::string_view unit(size_t i) const {
    const size_t begin = first_ + i == first_ ? head_ : ends_[first_ + i - 1];
    return std::string_view(data_).substr(begin, ends_[first_ + i] - begin);
  }
  std::string_view last() const { return unit(count() - 1); }

  // Frees the `n` oldest units (n <= count()).
  void popFront(size_t n);

 private:
  size_t committedEnd() const { return ends_.empty() ? 0 : ends_.back(); }

  std::string data_;
  size_t head_ = 0;           // data_ before head_ is freed (compacted lazily)
  std::vector<size_t> ends_;  // end offset in data_ of each unit
  size_t first_ = 0;          // ends_ before first_ are freed
  bool open_ = false;
};

}  // namespace xmesh::r2r
