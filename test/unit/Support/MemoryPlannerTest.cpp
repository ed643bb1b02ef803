//===- MemoryPlannerTest.cpp - arena offsets, the checker, the bound -----===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// planArena on hand-made and adversarial interval sets: every plan must pass
// checkArenaPlan (which is itself tested on broken plans), stay within the
// sum of the sizes, and meet the live lower bound where the optimum is
// known.
//
//===----------------------------------------------------------------------===//

#include "llm/Support/MemoryPlanner.h"

#include "llvm/Support/MathExtras.h"

#include "gtest/gtest.h"

#include <random>

using namespace llm;

namespace {

/// The message of \p error, or "" for success.
std::string messageOf(llvm::Error error) {
  return error ? llvm::toString(std::move(error)) : std::string();
}

template <typename T> std::string messageOf(llvm::Expected<T> value) {
  return value ? std::string() : llvm::toString(value.takeError());
}

/// Plans \p requests and checks the plan.
ArenaPlan planAndCheck(llvm::ArrayRef<BufferRequest> requests) {
  llvm::Expected<ArenaPlan> plan = planArena(requests);
  if (!plan) {
    ADD_FAILURE() << llvm::toString(plan.takeError());
    return {};
  }
  EXPECT_EQ(messageOf(checkArenaPlan(requests, *plan)), "");
  EXPECT_GE(plan->arenaBytes, getLiveLowerBound(requests));
  return std::move(*plan);
}

TEST(MemoryPlannerTest, EmptyAndZeroSized) {
  EXPECT_EQ(planAndCheck({}).arenaBytes, 0u);
  EXPECT_EQ(planAndCheck({{0, 64, 0, 5}, {0, 1, 2, 3}}).arenaBytes, 0u);
  EXPECT_EQ(getLiveLowerBound({}), 0u);
}

TEST(MemoryPlannerTest, DisjointLivesShareOneSlot) {
  // A chain of temporaries, each dead when the next is born: one slot.
  std::vector<BufferRequest> chain;
  for (int64_t i = 0; i < 10; ++i)
    chain.push_back({1000 + static_cast<uint64_t>(i), 64, i, i});
  ArenaPlan plan = planAndCheck(chain);
  EXPECT_EQ(plan.arenaBytes, 1009u); // The largest, at offset 0.
  for (uint64_t offset : plan.offsets)
    EXPECT_EQ(offset, 0u);
}

TEST(MemoryPlannerTest, AllLiveTogetherAreStacked) {
  std::vector<BufferRequest> all = {
      {100, 64, 0, 9}, {30, 64, 0, 9}, {64, 64, 0, 9}, {1, 1, 0, 9}};
  ArenaPlan plan = planAndCheck(all);
  // Largest first, aligned: 100 at 0, 64 at 128, 30 at 192; the 1-byte
  // buffer fits the alignment padding at [100, 128).
  EXPECT_EQ(plan.offsets[0], 0u);
  EXPECT_EQ(plan.offsets[2], 128u);
  EXPECT_EQ(plan.offsets[1], 192u);
  EXPECT_EQ(plan.offsets[3], 100u);
  EXPECT_EQ(plan.arenaBytes, 222u);
  EXPECT_EQ(getLiveLowerBound(all), 195u);
  EXPECT_EQ(getTotalBytes(all), 195u);
}

TEST(MemoryPlannerTest, BestFitTakesTheSmallestGap) {
  // Buffers are placed largest first. The short-lived G1 and G2 leave two
  // holes among the long-lived P1, P2, P3 for buffers born after them: 300
  // bytes at [400, 700) and 200 at [950, 1150). N2 (250) only fits the
  // first; N (180) fits both and takes the smaller, leaving nothing wasted.
  std::vector<BufferRequest> requests = {
      {400, 1, 0, 10}, // P1: [0, 400)
      {300, 1, 0, 2},  // G1: [400, 700)
      {250, 1, 0, 10}, // P2: [700, 950)
      {200, 1, 0, 2},  // G2: [950, 1150)
      {150, 1, 0, 10}, // P3: [1150, 1300)
      {250, 1, 5, 10}, // N2
      {180, 1, 5, 10}, // N
  };
  ArenaPlan plan = planAndCheck(requests);
  EXPECT_EQ(plan.offsets[1], 400u);
  EXPECT_EQ(plan.offsets[3], 950u);
  EXPECT_EQ(plan.offsets[5], 400u);
  EXPECT_EQ(plan.offsets[6], 950u);
  EXPECT_EQ(plan.arenaBytes, 1300u);
  EXPECT_EQ(getLiveLowerBound(requests), 1300u);
}

TEST(MemoryPlannerTest, EqualSizesMeetTheBound) {
  // Four equal buffers, at most two live at once: a chain x -> y -> z and
  // a long-lived result born while z lives. Longest-lived first puts the
  // result at 0 and z above it; x then takes 0 and y needs a third slot.
  // Placed in order of birth, they fit two slots, the lower bound.
  std::vector<BufferRequest> requests = {
      {128, 64, 0, 3},  // x
      {128, 64, 2, 5},  // y
      {128, 64, 4, 9},  // z
      {128, 64, 8, 14}, // the result
  };
  ArenaPlan plan = planAndCheck(requests);
  EXPECT_EQ(getLiveLowerBound(requests), 256u);
  EXPECT_EQ(plan.arenaBytes, 256u);
}

TEST(MemoryPlannerTest, LongLivedBufferGoesFirstByArea) {
  // B lives throughout; A then C, and D with C, come and go beside it. By
  // size, A and C take offset 0, B goes above A and D finds no gap below
  // C's end: 190 bytes. By bytes x steps B goes first, at 0, and the
  // others above it fit the bound, 180.
  std::vector<BufferRequest> requests = {
      {100, 1, 0, 2}, // A
      {90, 1, 3, 5},  // C
      {60, 1, 0, 5},  // B
      {30, 1, 3, 5},  // D
  };
  ArenaPlan plan = planAndCheck(requests);
  EXPECT_EQ(getLiveLowerBound(requests), 180u);
  EXPECT_EQ(plan.arenaBytes, 180u);
  EXPECT_EQ(plan.offsets[2], 0u);
}

TEST(MemoryPlannerTest, AlignmentIsRespectedInGaps) {
  // A (0..100) and C (190..275) live throughout; B (100..190) dies at 3,
  // leaving a 90-byte hole for D, born at 5. 80 bytes aligned to 4 fit the
  // hole at 100. Aligned to 64 they would start at 128 and end past 190:
  // placed by size, D goes after C, at 320 (400 bytes). Placed by bytes x
  // steps, B goes above A and C (at 185) and D, aligned, at 192 over B's
  // bytes once B is dead: 275 bytes, which the planner keeps.
  for (auto [alignment, want] :
       {std::pair<uint64_t, uint64_t>{4, 100}, {64, 192}}) {
    std::vector<BufferRequest> requests = {
        {100, 1, 0, 9},        // A
        {90, 1, 0, 3},         // B
        {85, 1, 0, 9},         // C
        {80, alignment, 5, 9}, // D
    };
    ArenaPlan plan = planAndCheck(requests);
    EXPECT_EQ(plan.offsets[3], want) << "alignment " << alignment;
    EXPECT_EQ(plan.offsets[3] % alignment, 0u);
    EXPECT_EQ(plan.arenaBytes, 275u);
  }
}

TEST(MemoryPlannerTest, RandomIntervalSetsArePlannedSoundly) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    int n = 1 + static_cast<int>(rng() % 60);
    int64_t span = 1 + static_cast<int64_t>(rng() % 40);
    std::vector<BufferRequest> requests;
    for (int i = 0; i < n; ++i) {
      int64_t a = static_cast<int64_t>(rng() % span);
      int64_t b = static_cast<int64_t>(rng() % span);
      uint64_t size = rng() % 4 == 0 ? rng() % 8 : rng() % 5000;
      uint64_t alignment = uint64_t(1) << (rng() % 8);
      requests.push_back({size, alignment, std::min(a, b), std::max(a, b)});
    }
    ArenaPlan plan = planAndCheck(requests);
    uint64_t padding = 0;
    for (const BufferRequest &r : requests)
      padding += r.alignment - 1;
    EXPECT_LE(plan.arenaBytes, getTotalBytes(requests) + padding)
        << "trial " << trial;
  }
}

TEST(MemoryPlannerTest, StaircaseAndNestedLives) {
  // Staircase: buffer i lives [i, i + 3]; at most 4 are live together.
  std::vector<BufferRequest> stairs;
  for (int64_t i = 0; i < 50; ++i)
    stairs.push_back({256, 64, i, i + 3});
  EXPECT_EQ(planAndCheck(stairs).arenaBytes, 4 * 256u);
  // Nested: buffer i lives [i, 99 - i], sizes growing inwards.
  std::vector<BufferRequest> nested;
  for (int64_t i = 0; i < 50; ++i)
    nested.push_back({64 * static_cast<uint64_t>(i + 1), 64, i, 99 - i});
  ArenaPlan plan = planAndCheck(nested);
  EXPECT_EQ(plan.arenaBytes, getLiveLowerBound(nested));
}

TEST(MemoryPlannerTest, CheckerFindsEveryViolation) {
  std::vector<BufferRequest> requests = {{100, 64, 0, 5}, {100, 64, 3, 9}};
  ArenaPlan good = planAndCheck(requests);
  ASSERT_EQ(good.offsets.size(), 2u);

  ArenaPlan overlap = good;
  overlap.offsets = {0, 64};
  EXPECT_EQ(messageOf(checkArenaPlan(requests, overlap)),
            "buffers 0 and 1 are both live at point 3 and share "
                        "bytes [64, 100)");
  ArenaPlan misaligned = good;
  misaligned.offsets[1] = 130;
  misaligned.arenaBytes = 1000;
  EXPECT_EQ(messageOf(checkArenaPlan(requests, misaligned)),
            "buffer 1: offset 130 is not a "
                                            "multiple of its alignment 64");
  ArenaPlan outside = good;
  outside.arenaBytes = 150;
  EXPECT_EQ(messageOf(checkArenaPlan(requests, outside)),
            "buffer 0: [128, 128 + 100) is outside the 150-byte arena");
  ArenaPlan short_ = good;
  short_.offsets.pop_back();
  EXPECT_EQ(messageOf(checkArenaPlan(requests, short_)),
            "the plan has 1 offsets for 2 buffers");
  // Sharing bytes is fine when the lives do not intersect.
  std::vector<BufferRequest> apart = {{100, 64, 0, 2}, {100, 64, 3, 9}};
  ArenaPlan shared{{0, 0}, 100};
  EXPECT_EQ(messageOf(checkArenaPlan(apart, shared)), "");
}

TEST(MemoryPlannerTest, RefusesBadRequests) {
  EXPECT_EQ(messageOf(planArena({{8, 3, 0, 1}})),
            "buffer 0: alignment 3 is not a power of two");
  EXPECT_EQ(messageOf(planArena({{8, 0, 0, 1}})),
            "buffer 0: alignment 0 is not a power of two");
  EXPECT_EQ(messageOf(planArena({{8, 8, 0, 1}, {8, 8, 4, 2}})),
            "buffer 1: its life [4, 2] ends before it starts");
  EXPECT_EQ(messageOf(planArena({{UINT64_MAX / 2, 8, 0, 1}, {UINT64_MAX / 2, 8, 0, 1}})),
            "buffer 1: the buffers' sizes overflow 64 bits");
}

TEST(MemoryPlannerTest, LiveLowerBoundCountsEndsBeforeStarts) {
  // One dies at 4, the next is born at 5: never live together.
  EXPECT_EQ(getLiveLowerBound({{10, 1, 0, 4}, {20, 1, 5, 9}}), 20u);
  // Both live at 4.
  EXPECT_EQ(getLiveLowerBound({{10, 1, 0, 4}, {20, 1, 4, 9}}), 30u);
}

/// Plans \p requests with planScaledArena, checks the plan, and checks it
/// again as concrete plans at n = 1 to 4 with checkArenaPlan.
ScaledArenaPlan planScaledAndCheck(llvm::ArrayRef<BufferRequest> requests,
                                   uint64_t alignment = 64) {
  llvm::Expected<ScaledArenaPlan> plan = planScaledArena(requests, alignment);
  if (!plan) {
    ADD_FAILURE() << llvm::toString(plan.takeError());
    return {};
  }
  EXPECT_EQ(messageOf(checkScaledArenaPlan(requests, *plan)), "");
  EXPECT_GE(plan->bytesAtOne(), getLiveLowerBound(requests));
  EXPECT_EQ(plan->fixedBytes % alignment, 0u);
  EXPECT_EQ(plan->scaledBytes % alignment, 0u);
  for (uint64_t n = 1; n <= 4; ++n) {
    std::vector<BufferRequest> concrete(requests.begin(), requests.end());
    ArenaPlan atN;
    atN.arenaBytes = plan->fixedBytes + n * plan->scaledBytes;
    for (auto [i, r] : llvm::enumerate(concrete)) {
      if (r.scaled)
        r.size *= n;
      atN.offsets.push_back(plan->offsets[i] + n * plan->scaledOffsets[i]);
    }
    EXPECT_EQ(messageOf(checkArenaPlan(concrete, atN)), "") << "n = " << n;
  }
  return std::move(*plan);
}

TEST(MemoryPlannerTest, ScaledFixedBufferTakesADeadScaledSlot) {
  // x, y, z scale (128 bytes each per unit of n), x -> y -> z in a chain;
  // t (64 bytes, fixed) lives with z only. Planned apart, the arena would be
  // 64 + n x 256; together t sits in y's dead slot at n x 128.
  std::vector<BufferRequest> requests = {{128, 64, 0, 1, true},
                                         {128, 64, 1, 2, true},
                                         {128, 64, 2, 4, true},
                                         {64, 64, 3, 4, false}};
  ScaledArenaPlan plan = planScaledAndCheck(requests);
  EXPECT_EQ(plan.fixedBytes, 0u);
  EXPECT_EQ(plan.scaledBytes, 256u);
  EXPECT_EQ(plan.offsets[3], 0u);
  EXPECT_EQ(plan.scaledOffsets[3], 128u);
}

TEST(MemoryPlannerTest, ScaledArenaOfOneKindIsPlanArenas) {
  std::vector<BufferRequest> requests = {
      {300, 64, 0, 3}, {200, 64, 2, 5}, {100, 64, 4, 8}, {250, 64, 6, 9}};
  uint64_t arena = planAndCheck(requests).arenaBytes;
  ScaledArenaPlan fixed = planScaledAndCheck(requests);
  EXPECT_EQ(fixed.scaledBytes, 0u);
  EXPECT_EQ(fixed.fixedBytes, llvm::alignTo(arena, 64));
  for (BufferRequest &r : requests)
    r.scaled = true;
  ScaledArenaPlan scaled = planScaledAndCheck(requests);
  EXPECT_EQ(scaled.fixedBytes, 0u);
  EXPECT_EQ(scaled.scaledBytes, llvm::alignTo(arena, 64));
}

TEST(MemoryPlannerTest, RandomScaledSetsArePlannedSoundly) {
  std::mt19937_64 rng(11);
  int together = 0;
  for (int trial = 0; trial < 300; ++trial) {
    int n = 1 + static_cast<int>(rng() % 50);
    int64_t span = 1 + static_cast<int64_t>(rng() % 30);
    std::vector<BufferRequest> requests;
    uint64_t fixedOnly = 0, scaledOnly = 0;
    for (int i = 0; i < n; ++i) {
      int64_t a = static_cast<int64_t>(rng() % span);
      int64_t b = static_cast<int64_t>(rng() % span);
      uint64_t size = rng() % 4 == 0 ? rng() % 8 : rng() % 5000;
      uint64_t alignment = uint64_t(1) << (rng() % 7);
      bool scaled = rng() % 2;
      requests.push_back(
          {size, alignment, std::min(a, b), std::max(a, b), scaled});
    }
    // Never worse at n = 1, nor at n = 8, than the two kinds planned
    // apart.
    std::vector<BufferRequest> kinds[2];
    for (BufferRequest r : requests)
      kinds[r.scaled].push_back(r);
    fixedOnly = llvm::alignTo(planAndCheck(kinds[0]).arenaBytes, 64);
    scaledOnly = llvm::alignTo(planAndCheck(kinds[1]).arenaBytes, 64);
    ScaledArenaPlan plan = planScaledAndCheck(requests);
    EXPECT_LE(plan.bytesAtOne(), fixedOnly + scaledOnly) << "trial " << trial;
    EXPECT_LE(plan.fixedBytes + 8 * plan.scaledBytes,
              fixedOnly + 8 * scaledOnly)
        << "trial " << trial;
    together += plan.bytesAtOne() < fixedOnly + scaledOnly;
  }
  // Both layouts are exercised.
  EXPECT_GT(together, 0);
  EXPECT_LT(together, 300);
}

TEST(MemoryPlannerTest, ScaledCheckerFindsEveryViolation) {
  // A scaled buffer under a fixed one: apart at n = 1, not at n = 2.
  std::vector<BufferRequest> requests = {{128, 64, 0, 5, true},
                                         {64, 64, 3, 9, false}};
  ScaledArenaPlan growsInto;
  growsInto.offsets = {0, 128};
  growsInto.scaledOffsets = {0, 0};
  growsInto.fixedBytes = 192;
  growsInto.scaledBytes = 128;
  EXPECT_EQ(messageOf(checkScaledArenaPlan(requests, growsInto)),
            "buffers 0 and 1 are both live at point 3 and are not apart for "
            "every n: [0 + n x 0, + 128) and [128 + n x 0, + 64)");
  ScaledArenaPlan good = growsInto;
  good.offsets = {0, 0};
  good.scaledOffsets = {0, 128};
  good.fixedBytes = 64;
  EXPECT_EQ(messageOf(checkScaledArenaPlan(requests, good)), "");
  ScaledArenaPlan outside = good;
  outside.scaledBytes = 64;
  EXPECT_EQ(messageOf(checkScaledArenaPlan(requests, outside)),
            "buffer 0: [0 + n x 0, + 128 x n) is outside the arena of 64 + "
            "n x 64 bytes");
  ScaledArenaPlan misaligned = good;
  misaligned.scaledOffsets[1] = 130;
  EXPECT_EQ(messageOf(checkScaledArenaPlan(requests, misaligned)),
            "buffer 1: offsets 0 + n x 130 are not multiples of its "
            "alignment 64");
  EXPECT_EQ(messageOf(planScaledArena(requests, 32)),
            "buffer 0: alignment 64 exceeds the arena's 32");
  EXPECT_EQ(messageOf(planScaledArena(requests, 48)),
            "the arena's alignment 48 is not a power of two");
}

} // namespace
