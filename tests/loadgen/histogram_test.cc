// Histogram: bucket mapping precision, percentiles, merge and the sparse wire form.
#include "loadgen/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace xmesh::loadgen {
namespace {

TEST(HistogramTest, SmallValuesAreExact) {
  for (uint64_t v = 0; v < 128; ++v) {
    EXPECT_EQ(Histogram::bucketOf(v), v);
    EXPECT_EQ(Histogram::highestIn(Histogram::bucketOf(v)), v);
  }
}

TEST(HistogramTest, BucketsCoverValuesWithinOnePointSixPercent) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    uint64_t v = rng() >> (rng() % 40 + 24);
    size_t b = Histogram::bucketOf(v);
    ASSERT_LE(Histogram::lowestIn(b), v);
    ASSERT_GE(Histogram::highestIn(b), v);
    if (v >= 128) {
      ASSERT_LE(static_cast<double>(Histogram::highestIn(b) - v), 0.016 * static_cast<double>(v)) << v;
    }
  }
}

TEST(HistogramTest, BucketsAreContiguousAndMonotonic) {
  for (size_t b = 1; b + 1 < Histogram::kBuckets; ++b)
    ASSERT_EQ(Histogram::lowestIn(b), Histogram::highestIn(b - 1) + 1) << b;
}

TEST(HistogramTest, PercentilesOfUniformValuesWithinOnePercent) {
  Histogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100000u);
  EXPECT_NEAR(h.mean(), 50000.5, 0.01);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    double truth = p * 1000.0;
    double got = static_cast<double>(h.percentile(p));
    EXPECT_GE(got, truth);
    EXPECT_LE(got, truth * 1.016) << p;
  }
  EXPECT_EQ(h.percentile(100), 100000u);
  EXPECT_EQ(h.percentile(0), 1u);
}

TEST(HistogramTest, PercentileNeverExceedsMax) {
  Histogram h;
  h.record(1000);
  EXPECT_EQ(h.percentile(99), 1000u);
  EXPECT_EQ(h.percentile(50), 1000u);
}

TEST(HistogramTest, EmptyHistogramReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.percentile(99), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(HistogramTest, HugeValuesClampIntoLastBucket) {
  Histogram h;
  h.record(UINT64_MAX / 2);
  EXPECT_EQ(Histogram::bucketOf(UINT64_MAX / 2), Histogram::kBuckets - 1);
  EXPECT_EQ(h.count(), 1u);
}

TEST(HistogramTest, MergeEqualsRecordingEverythingInOne) {
  Histogram a, b, all;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 10000; ++i) {
    uint64_t v = rng() % 5'000'000;
    (i % 2 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double p : {50.0, 90.0, 99.0, 99.9}) EXPECT_EQ(a.percentile(p), all.percentile(p));
}

TEST(HistogramTest, SparseRoundTripPreservesEverything) {
  Histogram h;
  for (uint64_t v : {3u, 300u, 3000u, 30000u, 300000u, 300000u}) h.record(v);
  Histogram copy;
  EXPECT_TRUE(copy.mergeSparse(h.toSparse()));
  EXPECT_EQ(copy.count(), h.count());
  EXPECT_EQ(copy.min(), 3u);
  EXPECT_EQ(copy.max(), 300000u);
  EXPECT_EQ(copy.mean(), h.mean());
  EXPECT_EQ(copy.percentile(50), h.percentile(50));
  EXPECT_EQ(h.toSparse().buckets.size(), 5u);
}

TEST(HistogramTest, SparseMergeRejectsOutOfRangeBuckets) {
  Histogram::Sparse s;
  s.buckets = {{static_cast<uint32_t>(Histogram::kBuckets), 1}, {5, 2}};
  s.min = 5;
  s.max = 5;
  s.sum = 10;
  Histogram h;
  EXPECT_FALSE(h.mergeSparse(s));
  EXPECT_EQ(h.count(), 2u);
}

TEST(HistogramTest, ResetEmpties) {
  Histogram h;
  h.record(42);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
}

}  // namespace
}  // namespace xmesh::loadgen
