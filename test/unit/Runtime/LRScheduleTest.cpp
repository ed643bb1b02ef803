//===- LRScheduleTest.cpp - Tests of the learning-rate schedules ----------===//
//
// Part of the llm-opt project.
//
// Values computed by hand from the formulas of LRSchedule.h, Hugging Face's
// get_cosine_schedule_with_warmup written out as transformers writes it, and
// the refusals of bad settings.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/LRSchedule.h"

#include "RuntimeTestUtils.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

using namespace llm::rt;
using namespace llm::rt::test;

namespace {

LRScheduleConfig makeConfig(LRScheduleKind kind, double peak, double min,
                            int64_t warmup, int64_t total) {
  LRScheduleConfig c;
  c.kind = kind;
  c.peakLR = peak;
  c.minLR = min;
  c.warmupSteps = warmup;
  c.totalSteps = total;
  return c;
}

LRSchedule makeSchedule(const LRScheduleConfig &config) {
  Expected<LRSchedule> schedule = LRSchedule::create(config);
  EXPECT_TRUE(schedule.hasValue()) << schedule.message();
  return schedule ? *schedule
                  : LRSchedule::create(
                        makeConfig(LRScheduleKind::Constant, 0, 0, 0, 0))
                        .take();
}

void expectError(const LRScheduleConfig &c,
                 const std::vector<std::string> &parts) {
  Expected<LRSchedule> schedule = LRSchedule::create(c);
  ASSERT_FALSE(schedule.hasValue());
  EXPECT_EQ(schedule.getStatus().code(), ErrorCode::InvalidArgument);
  expectContains(schedule.message(), parts);
}

TEST(LRScheduleTest, CosineWithWarmupAndMinimum) {
  // Warmup over 10 steps to 1e-3, then 100 steps of cosine decay to 1e-4.
  LRSchedule s =
      makeSchedule(makeConfig(LRScheduleKind::Cosine, 1e-3, 1e-4, 10, 110));
  EXPECT_DOUBLE_EQ(s.lr(0), 0.0);
  EXPECT_DOUBLE_EQ(s.lr(1), 1e-4);
  EXPECT_DOUBLE_EQ(s.lr(5), 5e-4);
  EXPECT_DOUBLE_EQ(s.lr(10), 1e-3);
  // progress 1/4: 1e-4 + 9e-4 * (1 + cos(pi/4)) / 2.
  EXPECT_NEAR(s.lr(35), 8.681980515339464e-4, 1e-18);
  EXPECT_NEAR(s.lr(60), 5.5e-4, 1e-18);
  EXPECT_NEAR(s.lr(85), 2.3180194846605365e-4, 1e-18);
  EXPECT_DOUBLE_EQ(s.lr(110), 1e-4);
  // Past the end the rate stays at the minimum (Hugging Face's would rise).
  EXPECT_DOUBLE_EQ(s.lr(111), 1e-4);
  EXPECT_DOUBLE_EQ(s.lr(100000), 1e-4);
  EXPECT_DOUBLE_EQ(s.lr(-5), 0.0);
}

TEST(LRScheduleTest, CosineMatchesHuggingFaceWithoutMinimum) {
  const int64_t warmup = 7, total = 53;
  LRSchedule s = makeSchedule(
      makeConfig(LRScheduleKind::Cosine, 2.5e-4, 0, warmup, total));
  for (int64_t step = 0; step <= total; ++step) {
    // transformers.optimization._get_cosine_schedule_with_warmup_lr_lambda
    // with num_cycles = 0.5, times the base rate.
    double factor;
    if (step < warmup) {
      factor = double(step) / double(std::max<int64_t>(1, warmup));
    } else {
      double progress =
          double(step - warmup) / double(std::max<int64_t>(1, total - warmup));
      factor = std::max(0.0, 0.5 * (1.0 + std::cos(3.141592653589793 * 0.5 *
                                                   2.0 * progress)));
    }
    EXPECT_NEAR(s.lr(step), 2.5e-4 * factor, 1e-18) << "step " << step;
  }
}

TEST(LRScheduleTest, LinearDecay) {
  LRSchedule s =
      makeSchedule(makeConfig(LRScheduleKind::Linear, 2.0, 0, 4, 14));
  EXPECT_DOUBLE_EQ(s.lr(0), 0.0);
  EXPECT_DOUBLE_EQ(s.lr(2), 1.0);
  EXPECT_DOUBLE_EQ(s.lr(4), 2.0);
  EXPECT_DOUBLE_EQ(s.lr(9), 1.0);
  EXPECT_NEAR(s.lr(11), 0.6, 1e-15);
  EXPECT_DOUBLE_EQ(s.lr(14), 0.0);
  EXPECT_DOUBLE_EQ(s.lr(20), 0.0);

  LRSchedule withMin =
      makeSchedule(makeConfig(LRScheduleKind::Linear, 1.0, 0.5, 0, 10));
  EXPECT_DOUBLE_EQ(withMin.lr(0), 1.0);
  EXPECT_DOUBLE_EQ(withMin.lr(5), 0.75);
  EXPECT_DOUBLE_EQ(withMin.lr(10), 0.5);
}

TEST(LRScheduleTest, ConstantWithWarmup) {
  LRSchedule s =
      makeSchedule(makeConfig(LRScheduleKind::Constant, 0.5, 0, 2, 0));
  EXPECT_DOUBLE_EQ(s.lr(0), 0.0);
  EXPECT_DOUBLE_EQ(s.lr(1), 0.25);
  EXPECT_DOUBLE_EQ(s.lr(2), 0.5);
  EXPECT_DOUBLE_EQ(s.lr(int64_t(1) << 40), 0.5);

  LRSchedule noWarmup =
      makeSchedule(makeConfig(LRScheduleKind::Constant, 0.5, 0, 0, 0));
  EXPECT_DOUBLE_EQ(noWarmup.lr(0), 0.5);
}

TEST(LRScheduleTest, WarmupAsLongAsTheRun) {
  LRSchedule s =
      makeSchedule(makeConfig(LRScheduleKind::Cosine, 1.0, 0.1, 4, 4));
  EXPECT_DOUBLE_EQ(s.lr(3), 0.75);
  EXPECT_DOUBLE_EQ(s.lr(4), 0.1);
}

TEST(LRScheduleTest, KindNames) {
  for (LRScheduleKind kind : {LRScheduleKind::Constant, LRScheduleKind::Linear,
                              LRScheduleKind::Cosine}) {
    std::optional<LRScheduleKind> parsed =
        parseLRScheduleKind(getLRScheduleKindName(kind));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_STREQ(getLRScheduleKindName(LRScheduleKind::Cosine), "cosine");
  EXPECT_FALSE(parseLRScheduleKind("Cosine").has_value());
  EXPECT_FALSE(parseLRScheduleKind("").has_value());
}

TEST(LRScheduleTest, RefusesBadSettings) {
  expectError(makeConfig(LRScheduleKind::Cosine, 1e-3, 0, 200, 100),
              {"warmup of 200 steps is longer than the 100 steps"});
  expectError(makeConfig(LRScheduleKind::Constant, 1e-3, 0, 200, 100),
              {"warmup of 200 steps"});
  expectError(makeConfig(LRScheduleKind::Cosine, -1e-3, 0, 0, 100),
              {"peak learning rate", "-0.001"});
  expectError(makeConfig(LRScheduleKind::Cosine, std::nan(""), 0, 0, 100),
              {"peak learning rate", "nan"});
  expectError(makeConfig(LRScheduleKind::Linear, INFINITY, 0, 0, 100),
              {"peak learning rate"});
  expectError(makeConfig(LRScheduleKind::Cosine, 1e-3, -1e-5, 0, 100),
              {"minimum learning rate"});
  expectError(makeConfig(LRScheduleKind::Cosine, 1e-3, 2e-3, 0, 100),
              {"minimum learning rate 0.002", "above the peak"});
  expectError(makeConfig(LRScheduleKind::Cosine, 1e-3, 0, -1, 100),
              {"warmup steps must be >= 0, not -1"});
  expectError(makeConfig(LRScheduleKind::Cosine, 1e-3, 0, 0, 0),
              {"cosine schedule needs the total number of steps"});
  expectError(makeConfig(LRScheduleKind::Linear, 1e-3, 0, 0, -4),
              {"total number of steps must be >= 0, not -4"});
  // The constant schedule ignores the minimum.
  EXPECT_TRUE(
      LRSchedule::create(makeConfig(LRScheduleKind::Constant, 1e-3, 5e-3, 0, 0))
          .hasValue());
}

} // namespace
