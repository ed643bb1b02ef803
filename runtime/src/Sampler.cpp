//===- Sampler.cpp - Composable next-token samplers -------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Sampler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>

using namespace llm::rt;

namespace {
struct Candidate {
  int64_t id;
  double logit;
};

/// Sorts by logit, highest first (ids break ties, so the order is total).
/// The order of the chain: larger logits first, ties by smaller id.
bool ranksBefore(const Candidate &a, const Candidate &b) {
  return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
}

void sortByLogit(std::vector<Candidate> &candidates) {
  std::sort(candidates.begin(), candidates.end(), ranksBefore);
}

/// Keeps the first \p k candidates in sorted order (as sortByLogit then
/// resize would), in O(n + k log k).
void keepTop(std::vector<Candidate> &candidates, size_t k) {
  if (k >= candidates.size())
    return sortByLogit(candidates);
  if (k == 1) {
    candidates[0] =
        *std::min_element(candidates.begin(), candidates.end(), ranksBefore);
  } else {
    std::nth_element(candidates.begin(), candidates.begin() + k,
                     candidates.end(), ranksBefore);
    std::sort(candidates.begin(), candidates.begin() + k, ranksBefore);
  }
  candidates.resize(k);
}

/// Softmax probabilities of the candidates (any order).
std::vector<double> probabilities(const std::vector<Candidate> &candidates) {
  double top = -INFINITY;
  for (const Candidate &c : candidates)
    top = std::max(top, c.logit);
  std::vector<double> p(candidates.size());
  double sum = 0;
  for (size_t i = 0; i < candidates.size(); ++i)
    sum += p[i] = std::exp(candidates[i].logit - top);
  for (double &x : p)
    x /= sum;
  return p;
}
} // namespace

Status SamplerChain::addRepetitionPenalty(float penalty) {
  if (!(penalty > 0) || !std::isfinite(penalty))
    return Status::error("repetition penalty must be a positive number, got " +
                         std::to_string(penalty));
  steps.push_back({Kind::RepetitionPenalty, penalty});
  return Status::success();
}

Status SamplerChain::addTemperature(float temperature) {
  if (!(temperature > 0) || !std::isfinite(temperature))
    return Status::error("temperature must be a positive number, got " +
                         std::to_string(temperature));
  steps.push_back({Kind::Temperature, temperature});
  return Status::success();
}

Status SamplerChain::addTopK(int64_t k) {
  if (k < 1)
    return Status::error("top-k must be at least 1, got " + std::to_string(k));
  steps.push_back({Kind::TopK, double(k)});
  return Status::success();
}

Status SamplerChain::addTopP(float p) {
  if (!(p > 0 && p <= 1))
    return Status::error("top-p must be in (0, 1], got " + std::to_string(p));
  steps.push_back({Kind::TopP, p});
  return Status::success();
}

Status SamplerChain::addMinP(float p) {
  if (!(p >= 0 && p <= 1))
    return Status::error("min-p must be in [0, 1], got " + std::to_string(p));
  steps.push_back({Kind::MinP, p});
  return Status::success();
}

void SamplerChain::addGreedy() { steps.push_back({Kind::Greedy, 0}); }

Status SamplerChain::sample(const float *logits, size_t vocabSize,
                            const std::vector<int64_t> &history,
                            int64_t &token) {
  if (vocabSize == 0)
    return Status::error("cannot sample from an empty vocabulary");
  std::vector<Candidate> candidates(vocabSize);
  for (size_t i = 0; i < vocabSize; ++i) {
    if (!std::isfinite(logits[i]))
      return Status::error("logit of id " + std::to_string(i) +
                           " is not finite");
    candidates[i] = {int64_t(i), logits[i]};
  }
  bool sorted = false;
  auto ensureSorted = [&] {
    if (!sorted)
      sortByLogit(candidates);
    sorted = true;
  };
  for (const Step &step : steps) {
    switch (step.kind) {
    case Kind::RepetitionPenalty: {
      std::unordered_set<int64_t> seen(history.begin(), history.end());
      for (Candidate &c : candidates)
        if (seen.count(c.id))
          c.logit = c.logit > 0 ? c.logit / step.value : c.logit * step.value;
      sorted = false;
      break;
    }
    case Kind::Temperature:
      for (Candidate &c : candidates)
        c.logit /= step.value;
      break;
    case Kind::TopK:
      // Selecting is enough: the rest is dropped (and the kept ones end up
      // sorted).
      if (!sorted)
        keepTop(candidates, size_t(step.value));
      else if (candidates.size() > size_t(step.value))
        candidates.resize(size_t(step.value));
      sorted = true;
      break;
    case Kind::TopP: {
      ensureSorted();
      std::vector<double> p = probabilities(candidates);
      double mass = 0;
      size_t keep = 0;
      while (keep < candidates.size() && (keep == 0 || mass < step.value))
        mass += p[keep++];
      candidates.resize(keep);
      break;
    }
    case Kind::MinP: {
      ensureSorted();
      std::vector<double> p = probabilities(candidates);
      size_t keep = 1;
      while (keep < candidates.size() && p[keep] >= step.value * p[0])
        ++keep;
      candidates.resize(keep);
      break;
    }
    case Kind::Greedy:
      if (!sorted)
        keepTop(candidates, 1);
      candidates.resize(1);
      break;
    }
  }
  if (candidates.size() == 1) {
    token = candidates[0].id;
    return Status::success();
  }
  // A draw from the softmax of what remains: 53 uniform bits of the
  // generator, so the result does not depend on the library's distributions.
  std::vector<double> p = probabilities(candidates);
  double u = double(generator() >> 11) * 0x1.0p-53;
  double cumulative = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    cumulative += p[i];
    if (u < cumulative) {
      token = candidates[i].id;
      return Status::success();
    }
  }
  token = candidates.back().id;
  return Status::success();
}
