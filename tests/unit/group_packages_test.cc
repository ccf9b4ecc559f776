// layering.max-layers: which packages share layers (group_packages).
#include <gtest/gtest.h>

#include "build/packages.h"

using namespace distill;

namespace {

std::vector<std::vector<size_t>> groups_of(const std::vector<uint64_t>& sizes, size_t max) {
  std::vector<LockedPackage> packages(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) packages[i].size = sizes[i];
  return group_packages(packages, max);
}

using Groups = std::vector<std::vector<size_t>>;

}  // namespace

TEST(GroupPackages, ZeroOrEnoughKeepsOnePackagePerLayer) {
  EXPECT_EQ(groups_of({5, 1, 7}, 0), (Groups{{0}, {1}, {2}}));
  EXPECT_EQ(groups_of({5, 1, 7}, 3), (Groups{{0}, {1}, {2}}));
  EXPECT_EQ(groups_of({5, 1, 7}, 10), (Groups{{0}, {1}, {2}}));
}

TEST(GroupPackages, SmallPackagesMergeAcrossLargeOnes) {
  // Merging only neighbours would put a small package in a large layer;
  // here the three small ones share one and both large ones stay alone.
  EXPECT_EQ(groups_of({1, 100, 1, 100, 1}, 3), (Groups{{0, 2, 4}, {1}, {3}}));
}

TEST(GroupPackages, MergesTheTwoSmallestAgainAndAgain) {
  // 2+3 = 5; then 4+5 = 9, a group in package 0's place; then the two 9s;
  // then the rest.
  EXPECT_EQ(groups_of({4, 2, 3, 9, 20}, 4), (Groups{{0}, {1, 2}, {3}, {4}}));
  EXPECT_EQ(groups_of({4, 2, 3, 9, 20}, 3), (Groups{{0, 1, 2}, {3}, {4}}));
  EXPECT_EQ(groups_of({4, 2, 3, 9, 20}, 2), (Groups{{0, 1, 2, 3}, {4}}));
  EXPECT_EQ(groups_of({4, 2, 3, 9, 20}, 1), (Groups{{0, 1, 2, 3, 4}}));
}

TEST(GroupPackages, TiesTakeTheEarlierGroups) {
  EXPECT_EQ(groups_of({3, 3, 3, 3}, 3), (Groups{{0, 1}, {2}, {3}}));
  EXPECT_EQ(groups_of({3, 3, 3, 3}, 2), (Groups{{0, 1}, {2, 3}}));
  EXPECT_EQ(groups_of({5, 1, 5, 1}, 3), (Groups{{0}, {1, 3}, {2}}));
  // {1,3} weighs 2: with the first 5 it is the smallest pair.
  EXPECT_EQ(groups_of({5, 1, 5, 1}, 2), (Groups{{0, 1, 3}, {2}}));
}
