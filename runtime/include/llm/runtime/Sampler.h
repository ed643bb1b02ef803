//===- Sampler.h - Composable next-token samplers ---------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
// A sampler chain turns one row of logits into the next token id. Its steps
// run in the order they were added, each narrowing or reshaping the
// candidate distribution, as llama.cpp's sampler chains do:
//
//   repetition penalty  logits of ids already in the history are divided by
//                       the penalty when positive, multiplied when negative
//                       (the CTRL / Hugging Face rule)
//   temperature         logits are divided by the temperature
//   top-k               the k most likely candidates stay
//   top-p               the smallest set of most likely candidates whose
//                       probability reaches p stays (at least one)
//   min-p               candidates below p times the top probability go
//   greedy              the most likely candidate is chosen
//
// Without a greedy step, the token is drawn from the softmax of what remains
// with the chain's own generator (seeded: the same seed, logits and history
// give the same tokens on every machine).
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_SAMPLER_H
#define LLM_RUNTIME_SAMPLER_H

#include "llm/runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace llm::rt {

class SamplerChain {
public:
  explicit SamplerChain(uint64_t seed = 0) : generator(seed) {}

  /// Each adds a step at the end of the chain; a parameter out of range
  /// is an error and adds nothing.
  Status addRepetitionPenalty(float penalty);  // > 0; 1 is no penalty
  Status addTemperature(float temperature);    // > 0
  Status addTopK(int64_t k);                   // >= 1
  Status addTopP(float p);                     // in (0, 1]
  Status addMinP(float p);                     // in [0, 1]
  void addGreedy();

  /// The next token for `logits` (`vocabSize` values) given the ids
  /// generated or read so far. Non-finite logits are an error.
  Status sample(const float *logits, size_t vocabSize,
                const std::vector<int64_t> &history, int64_t &token);

  size_t size() const { return steps.size(); }
  /// Restarts the random stream from \p seed (a copy of a chain for
  /// another sequence of a batch).
  void reseed(uint64_t seed) { generator.seed(seed); }

private:
  enum class Kind { RepetitionPenalty, Temperature, TopK, TopP, MinP, Greedy };
  struct Step {
    Kind kind;
    double value;
  };
  std::vector<Step> steps;
  std::mt19937_64 generator;
};

} // namespace llm::rt

#endif // LLM_RUNTIME_SAMPLER_H
