//===- CollectiveTest.cpp - buckets and a run of one, without a GPU -------===//

#include "attn/Runtime/Collective.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>

using namespace attn::rt;

extern "C" {
void mgpuAllReduceStart(void *in, void *out, int64_t count, int32_t element,
                        void *stream);
void mgpuAllReduceWait(void *stream);
}

namespace {

PendingReduce reduceOf(size_t count,
                       CollectiveElement e = CollectiveElement::F32) {
  return {nullptr, nullptr, count, static_cast<int32_t>(e)};
}

TEST(ReduceBuckets, ElementSizes) {
  EXPECT_EQ(collectiveElementSize(0), 4u); // f32
  EXPECT_EQ(collectiveElementSize(1), 2u); // bf16
  EXPECT_EQ(collectiveElementSize(2), 2u); // f16
  EXPECT_EQ(collectiveElementSize(3), 8u); // f64
  EXPECT_EQ(collectiveElementSize(4), 0u);
  EXPECT_EQ(collectiveElementSize(-1), 0u);
  EXPECT_EQ(reduceOf(10, CollectiveElement::BF16).bytes(), 20u);
}

// A bucket goes out when it holds at least the bucket size, in start order;
// a wait takes what is left.
TEST(ReduceBuckets, IssuesFullBucketsInStartOrder) {
  ReduceBuckets buckets(1000);
  EXPECT_TRUE(buckets.add(reduceOf(100)).empty()); // 400 bytes
  EXPECT_EQ(buckets.queuedBytes(), 400u);
  EXPECT_TRUE(buckets.add(reduceOf(100)).empty());             // 800
  std::vector<PendingReduce> full = buckets.add(reduceOf(50)); // 1000
  ASSERT_EQ(full.size(), 3u);
  EXPECT_EQ(full[0].count, 100u);
  EXPECT_EQ(full[2].count, 50u);
  EXPECT_EQ(buckets.queuedBytes(), 0u);
  // One tensor larger than a bucket is a bucket of its own.
  std::vector<PendingReduce> big = buckets.add(reduceOf(1000));
  ASSERT_EQ(big.size(), 1u);
  EXPECT_TRUE(buckets.add(reduceOf(1, CollectiveElement::F64)).empty());
  EXPECT_TRUE(buckets.add(reduceOf(3, CollectiveElement::F16)).empty());
  std::vector<PendingReduce> rest = buckets.drain();
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].element, 3);
  EXPECT_EQ(rest[1].element, 2);
  EXPECT_TRUE(buckets.drain().empty());
}

// Bucket size 0: every start is issued at once (no batching).
TEST(ReduceBuckets, ZeroSizeIssuesEachStart) {
  ReduceBuckets buckets(0);
  EXPECT_EQ(buckets.add(reduceOf(1)).size(), 1u);
  EXPECT_EQ(buckets.add(reduceOf(7)).size(), 1u);
  EXPECT_TRUE(buckets.drain().empty());
}

// Before joining a run (or in a run of one) a process is rank 0 of 1; the
// averages are the inputs, the waits and sums do nothing, and no GPU, no
// NCCL is needed for that.
TEST(Collective, RunOfOne) {
  EXPECT_EQ(runRank().rank, 0);
  EXPECT_EQ(runRank().world, 1);
  std::string error;
  EXPECT_TRUE(joinRun(0, 1, "/nonexistent/id", 1, &error)) << error;
  EXPECT_EQ(runRank().world, 1);
  double values[3] = {1, 2, 3};
  EXPECT_TRUE(allReduceSum(values, 3, &error)) << error;
  EXPECT_EQ(values[2], 3);
  float buffer[4] = {1, 2, 3, 4};
  mgpuAllReduceStart(buffer, buffer, 4, 0, nullptr); // in place: nothing
  mgpuAllReduceWait(nullptr);
  EXPECT_EQ(buffer[3], 4);
  EXPECT_FALSE(collectiveError());
  CollectiveStats stats = takeCollectiveStats();
  EXPECT_EQ(stats.buckets, 0);
}

TEST(Collective, JoinRejectsBadRanks) {
  std::string error;
  EXPECT_FALSE(joinRun(2, 2, "/tmp/unused", 1, &error));
  EXPECT_NE(error.find("rank 2 of 2: the rank must be in [0, world size)"),
            std::string::npos)
      << error;
  EXPECT_FALSE(joinRun(-1, 1, "/tmp/unused", 1, &error));
  EXPECT_FALSE(joinRun(0, 0, "/tmp/unused", 1, &error));
}

// Rank 0 refuses an id file that exists: the other ranks might read it
// before rank 0 replaces it, and join a communicator that is not there.
TEST(Collective, RankZeroRefusesAStaleIdFile) {
  std::string path =
      (std::filesystem::temp_directory_path() / "attn-collective-test.id")
          .string();
  std::ofstream(path) << "stale";
  std::string error;
  EXPECT_FALSE(joinRun(0, 2, path, 1, &error));
  EXPECT_NE(error.find("exists: it is from an earlier launch"),
            std::string::npos)
      << error;
  std::filesystem::remove(path);
}

} // namespace
