#include "loadgen/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace xmesh::loadgen {

size_t Histogram::bucketOf(uint64_t value) {
  if (value < kExactBelow) return static_cast<size_t>(value);
  int msb = 63 - std::countl_zero(value);  // >= 7
  int shift = msb - 6;                     // value >> shift is in [64, 127]
  if (shift > kMaxShift) return kBuckets - 1;
  uint64_t top = value >> shift;
  return kExactBelow + static_cast<size_t>(shift - 1) * kSubBuckets + static_cast<size_t>(top - 64);
}

uint64_t Histogram::lowestIn(size_t index) {
  if (index < kExactBelow) return index;
  size_t rel = index - kExactBelow;
  int shift = static_cast<int>(rel / kSubBuckets) + 1;
  uint64_t top = 64 + rel % kSubBuckets;
  return top << shift;
}

uint64_t Histogram::highestIn(size_t index) {
  if (index < kExactBelow) return index;
  size_t rel = index - kExactBelow;
  int shift = static_cast<int>(rel / kSubBuckets) + 1;
  uint64_t top = 64 + rel % kSubBuckets;
  return ((top + 1) << shift) - 1;
}

void Histogram::record(uint64_t value, uint64_t count) {
  if (count == 0) return;
  counts_[bucketOf(value)] += count;
  count_ += count;
  sum_ += value * count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  auto target = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  target = std::max<uint64_t>(target, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= target) return std::clamp(highestIn(i), min_, max_);
  }
  return max_;
}

Histogram::Sparse Histogram::toSparse() const {
  Sparse s;
  for (size_t i = 0; i < kBuckets; ++i)
    if (counts_[i]) s.buckets.emplace_back(static_cast<uint32_t>(i), counts_[i]);
  s.min = min();
  s.max = max_;
  s.sum = sum_;
  return s;
}

bool Histogram::mergeSparse(const Sparse& s) {
  bool ok = true;
  uint64_t added = 0;
  for (const auto& [index, n] : s.buckets) {
    if (index >= kBuckets) {
      ok = false;
      continue;
    }
    counts_[index] += n;
    added += n;
  }
  if (added == 0) return ok;
  count_ += added;
  sum_ += s.sum;
  min_ = std::min(min_, s.min);
  max_ = std::max(max_, s.max);
  return ok;
}

}  // namespace xmesh::loadgen
