// A log-linear latency histogram in the spirit of HdrHistogram: values are integers
// (microseconds here), recorded exactly below 128 and with 64 sub-buckets per power of
// two above, so every recorded value is known to within 1/64 of itself (reported values
// are the bucket's highest equivalent value, never below the truth, and within ~1.6%).
// Fixed memory (about 18 KiB), O(1) record, mergeable by adding bucket counts, and
// serializable as a sparse list so workers can ship per-second deltas to the coordinator.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace xmesh::loadgen {

class Histogram {
 public:
  // Values at or above 2^40 (about 12.7 days in µs) are clamped into the last bucket.
  static constexpr int kExactBelow = 128;
  static constexpr int kSubBuckets = 64;
  static constexpr int kMaxShift = 34;
  static constexpr size_t kBuckets = kExactBelow + static_cast<size_t>(kMaxShift) * kSubBuckets;

  void record(uint64_t value, uint64_t count = 1);
  void merge(const Histogram& other);
  void reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // The smallest recorded-bucket value v such that at least p percent of the values are
  // <= v (p in [0, 100]); 0 when empty. Never above max().
  uint64_t percentile(double p) const;

  // Sparse form: (bucket index, count) for non-empty buckets, plus the exact extrema.
  struct Sparse {
    std::vector<std::pair<uint32_t, uint64_t>> buckets;
    uint64_t min = 0, max = 0, sum = 0;
  };
  Sparse toSparse() const;
  // Adds a sparse delta; bucket indexes out of range are ignored (false returned).
  bool mergeSparse(const Sparse& s);

  static size_t bucketOf(uint64_t value);
  // The highest value that maps to bucket `index`.
  static uint64_t highestIn(size_t index);
  static uint64_t lowestIn(size_t index);

 private:
  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBuckets, 0);
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  uint64_t sum_ = 0;
};

}  // namespace xmesh::loadgen
