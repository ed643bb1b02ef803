//===- SamplerTest.cpp - Tests of the sampler chain -----------------------===//
//
// Part of the llm-opt project.
//
// Statistics on fixed logits: what a step may never pick, and draw
// frequencies against the softmax they should follow (tolerances sized for
// the number of draws: 5 standard deviations).
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

using namespace llm::rt;

namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 0.5f, 2.0f, -1.0f, 2.5f};

std::vector<double> softmax(const std::vector<float> &logits, double t = 1) {
  std::vector<double> p;
  double sum = 0;
  for (float l : logits)
    sum += std::exp(l / t);
  for (float l : logits)
    p.push_back(std::exp(l / t) / sum);
  return p;
}

std::map<int64_t, int> draw(SamplerChain &chain, int n,
                            const std::vector<int64_t> &history = {}) {
  std::map<int64_t, int> counts;
  for (int i = 0; i < n; ++i) {
    int64_t token = -1;
    EXPECT_TRUE(chain.sample(kLogits.data(), kLogits.size(), history, token)
                    .isOk());
    ++counts[token];
  }
  return counts;
}

void expectFrequencies(const std::map<int64_t, int> &counts,
                       const std::vector<double> &want, int n) {
  for (size_t id = 0; id < want.size(); ++id) {
    double got = counts.count(id) ? counts.at(id) / double(n) : 0;
    double sigma = std::sqrt(want[id] * (1 - want[id]) / n);
    EXPECT_NEAR(got, want[id], 5 * sigma + 1e-9) << "id " << id;
  }
}

TEST(SamplerTest, GreedyPicksTheLargestLogit) {
  SamplerChain chain;
  chain.addGreedy();
  int64_t token = -1;
  ASSERT_TRUE(chain.sample(kLogits.data(), kLogits.size(), {}, token).isOk());
  EXPECT_EQ(token, 1);
}

TEST(SamplerTest, PlainDrawsFollowTheSoftmax) {
  SamplerChain chain(7);
  const int n = 20000;
  expectFrequencies(draw(chain, n), softmax(kLogits), n);
}

TEST(SamplerTest, TemperatureSharpensAndFlattens) {
  for (double t : {0.5, 2.0}) {
    SamplerChain chain(11);
    ASSERT_TRUE(chain.addTemperature(float(t)).isOk());
    const int n = 20000;
    expectFrequencies(draw(chain, n), softmax(kLogits, t), n);
  }
}

TEST(SamplerTest, TopKNeverLeavesTheTopK) {
  SamplerChain chain(3);
  ASSERT_TRUE(chain.addTopK(2).isOk());
  const int n = 10000;
  auto counts = draw(chain, n);
  for (auto [id, count] : counts)
    EXPECT_TRUE(id == 1 || id == 5) << "id " << id << " drawn " << count;
  // Renormalized over {3.0, 2.5}.
  double p1 = std::exp(3.0) / (std::exp(3.0) + std::exp(2.5));
  std::vector<double> want(kLogits.size(), 0);
  want[1] = p1;
  want[5] = 1 - p1;
  expectFrequencies(counts, want, n);
}

TEST(SamplerTest, TopPKeepsTheSmallestSetReachingP) {
  // Sorted probabilities: id1 .469, id5 .285, id3 .173, id0 .063, ...
  SamplerChain chain(5);
  ASSERT_TRUE(chain.addTopP(0.7f).isOk());  // needs id1 + id5 (.754)
  auto counts = draw(chain, 10000);
  for (auto [id, count] : counts)
    EXPECT_TRUE(id == 1 || id == 5) << "id " << id;
  SamplerChain tiny(5);
  ASSERT_TRUE(tiny.addTopP(0.01f).isOk());  // the top one alone
  for (auto [id, count] : draw(tiny, 100))
    EXPECT_EQ(id, 1);
}

TEST(SamplerTest, MinPDropsTheUnlikely) {
  // p(id) / p(top): id5 .61, id3 .37, id0 .14, id2 .08, id4 .02.
  SamplerChain chain(9);
  ASSERT_TRUE(chain.addMinP(0.3f).isOk());
  for (auto [id, count] : draw(chain, 10000))
    EXPECT_TRUE(id == 1 || id == 5 || id == 3) << "id " << id;
}

TEST(SamplerTest, RepetitionPenaltyFollowsTheCTRLRule) {
  // Penalty 4 on id1 (3.0 -> 0.75) and id4 (-1.0 -> -4.0): id5 is top.
  SamplerChain chain;
  ASSERT_TRUE(chain.addRepetitionPenalty(4.0f).isOk());
  chain.addGreedy();
  int64_t token = -1;
  ASSERT_TRUE(
      chain.sample(kLogits.data(), kLogits.size(), {1, 4, 1}, token).isOk());
  EXPECT_EQ(token, 5);
}

TEST(SamplerTest, StepsRunInTheOrderGiven) {
  // Penalizing id1 then keeping the top one gives id5; keeping the top one
  // first leaves only id1 to penalize.
  SamplerChain penaltyFirst(1);
  ASSERT_TRUE(penaltyFirst.addRepetitionPenalty(4.0f).isOk());
  ASSERT_TRUE(penaltyFirst.addTopK(1).isOk());
  for (auto [id, count] : draw(penaltyFirst, 100, {1}))
    EXPECT_EQ(id, 5);
  SamplerChain topKFirst(1);
  ASSERT_TRUE(topKFirst.addTopK(1).isOk());
  ASSERT_TRUE(topKFirst.addRepetitionPenalty(4.0f).isOk());
  for (auto [id, count] : draw(topKFirst, 100, {1}))
    EXPECT_EQ(id, 1);
}

TEST(SamplerTest, TheSeedMakesDrawsReproducible) {
  SamplerChain a(42), b(42), c(43);
  std::vector<int64_t> ta, tb, tc;
  for (int i = 0; i < 50; ++i) {
    int64_t x, y, z;
    ASSERT_TRUE(a.sample(kLogits.data(), kLogits.size(), {}, x).isOk());
    ASSERT_TRUE(b.sample(kLogits.data(), kLogits.size(), {}, y).isOk());
    ASSERT_TRUE(c.sample(kLogits.data(), kLogits.size(), {}, z).isOk());
    ta.push_back(x);
    tb.push_back(y);
    tc.push_back(z);
  }
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta, tc);
}

TEST(SamplerTest, BadParametersAndLogitsAreErrors) {
  SamplerChain chain;
  EXPECT_TRUE(chain.addTemperature(0).isError());
  EXPECT_TRUE(chain.addTemperature(NAN).isError());
  EXPECT_TRUE(chain.addTopK(0).isError());
  EXPECT_TRUE(chain.addTopP(0).isError());
  EXPECT_TRUE(chain.addTopP(1.5f).isError());
  EXPECT_TRUE(chain.addMinP(-0.1f).isError());
  EXPECT_TRUE(chain.addRepetitionPenalty(0).isError());
  EXPECT_EQ(chain.size(), 0u);
  std::vector<float> bad = {1.0f, NAN};
  int64_t token;
  Status s = chain.sample(bad.data(), bad.size(), {}, token);
  ASSERT_TRUE(s.isError());
  EXPECT_EQ(s.message(), "logit of id 1 is not finite");
  EXPECT_TRUE(chain.sample(bad.data(), 0, {}, token).isError());
}

} // namespace
