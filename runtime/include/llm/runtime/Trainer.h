//===- Trainer.h - The compiled training step, with its state ---*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares llm::rt::Trainer: an artifact's `train_step` and
// `eval_step` entry points (llm-compile --train; docs/Training.md) with the
// parameters and AdamW moments the runtime owns. step() runs one update in
// place; evaluate() computes the loss without changing anything. The
// weights and moments are exposed as NamedTensors for checkpoints
// (Checkpoint.h) and can be restored from one.
//
// A Trainer is not safe for concurrent calls from several threads.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_TRAINER_H
#define LLM_RUNTIME_TRAINER_H

#include "llm/runtime/Artifact.h"
#include "llm/runtime/Checkpoint.h"
#include "llm/runtime/MemRef.h"
#include "llm/runtime/Model.h"
#include "llm/runtime/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llm {
namespace rt {

/// The optimizer settings of one step (AdamW, PyTorch's formulas).
struct StepSettings {
  double learningRate = 3e-4;
  AdamWSettings adamW;
  /// Clip the global gradient norm to this; 0 disables clipping.
  double maxGradNorm = 1.0;
  /// The 1-based AdamW step (bias corrections).
  int64_t step = 1;
};

/// How Trainer::open treats parameters the checkpoint lacks.
struct TrainerInitOptions {
  /// Initialize them instead of refusing the checkpoint: matrices from
  /// N(0, stddev^2) (seeded), vectors at zero (as transformers initializes
  /// a new classification head). getInitialized() lists them.
  bool initializeMissing = false;
  double stddev = 0.02;
  uint64_t seed = 0;
};

/// The knowledge-distillation loss of distill_step (llm-compile --train
/// --distill): alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
/// + (1 - alpha) * cross-entropy, over the labelled positions.
struct DistillSettings {
  double temperature = 2.0;
  double alpha = 0.5;
};

/// The sentence-pair inputs of BERT pretraining (BertForPreTraining's
/// masked-LM plus next-sentence loss), besides the tokens and labels.
struct SentencePairs {
  /// The segment (token type) ids, [batch, seq]: 0 over [CLS] A [SEP], 1
  /// over B [SEP].
  const std::vector<int64_t> *segments = nullptr;
  /// [batch]: 0 when segment B follows A in the corpus, 1 when it is random.
  const std::vector<int64_t> *nextSentenceLabels = nullptr;
};

/// What evaluate() reports of a next-sentence head.
struct NextSentenceScores {
  /// The mean next-sentence cross-entropy (part of evaluate()'s loss).
  double loss = 0;
  /// [batch, 2] row-major.
  std::vector<float> logits;
};

/// What one step reports.
struct StepResult {
  double loss = 0;
  double gradNorm = 0;
};

class Trainer {
public:
  /// Loads the artifact (which must have train_step and eval_step) and
  /// copies the checkpoint at \p weightsPath into owned, writable buffers;
  /// the moments start at zero.
  static Expected<std::unique_ptr<Trainer>>
  open(const std::string &artifactDir, const std::string &weightsPath,
       const ModelOptions &options = {},
       const TrainerInitOptions &init = {});
  ~Trainer();
  Trainer(const Trainer &) = delete;
  Trainer &operator=(const Trainer &) = delete;

  int64_t getVocabSize() const { return vocabSize; }
  int64_t getMaxPositions() const { return maxPositions; }
  /// A sequence classifier's classes; 0 for a language model.
  int64_t getNumLabels() const { return numLabels; }
  /// The logits' last dim: the classes, or the vocabulary.
  int64_t getNumOutputs() const { return numLabels ? numLabels : vocabSize; }
  /// Whether a classifier answers at each sequence's first token (BERT's
  /// [CLS]) rather than its last.
  bool classifiesFirstToken() const { return firstTokenClassifier; }
  /// Whether the model also predicts the next sentence (BertForPreTraining):
  /// its steps then take SentencePairs.
  bool predictsNextSentence() const { return nextSentenceHead; }
  Status setNumThreads(int32_t n);

  /// One update on \p inputs and \p labels ([batch, seq] each; label -100
  /// is ignored). The weights and moments change in place. A non-finite
  /// loss is returned as it is: the caller decides (the update has
  /// happened). \p attentionMask ([batch, seq], 1 for tokens, 0 for
  /// padding) goes to a model that takes one; without it every token is
  /// attended to. A model that predicts the next sentence needs \p pairs
  /// (its loss is the masked-LM plus the next-sentence cross-entropy);
  /// other models take segment 0 throughout.
  Expected<StepResult> step(const std::vector<int64_t> &inputs,
                            const std::vector<int64_t> &labels, int64_t batch,
                            int64_t seq, const StepSettings &settings,
                            const std::vector<int64_t> *attentionMask = nullptr,
                            const SentencePairs *pairs = nullptr);
  /// True when the artifact has distill_step (llm-compile --train
  /// --distill).
  bool canDistill() const { return distillEntry != nullptr; }
  /// One update on the distillation loss: step() with a teacher's logits
  /// for the same inputs, [batch, seq, getNumOutputs()] row-major, as soft
  /// targets.
  Expected<StepResult> distillStep(const std::vector<int64_t> &inputs,
                                   const std::vector<int64_t> &labels,
                                   const std::vector<float> &teacherLogits,
                                   int64_t batch, int64_t seq,
                                   const StepSettings &settings,
                                   const DistillSettings &distill,
                                   const std::vector<int64_t> *attentionMask =
                                       nullptr);
  /// The mean loss of \p labels, without an update. With \p logits, also
  /// the logits, [batch, seq, getNumOutputs()] row-major. \p pairs as for
  /// step(); with \p nextSentence, the next-sentence head's own loss and
  /// logits.
  Expected<double> evaluate(const std::vector<int64_t> &inputs,
                            const std::vector<int64_t> &labels, int64_t batch,
                            int64_t seq, std::vector<float> *logits = nullptr,
                            const std::vector<int64_t> *attentionMask = nullptr,
                            const SentencePairs *pairs = nullptr,
                            NextSentenceScores *nextSentence = nullptr);

  /// The parameters Trainer::open initialized (TrainerInitOptions).
  const std::vector<std::string> &getInitialized() const {
    return initialized;
  }

  /// The parameters (checkpoint names) and moments ("<name>.exp_avg",
  /// "<name>.exp_avg_sq"), views of the owned buffers.
  std::vector<NamedTensor> getWeights() const;
  std::vector<NamedTensor> getMoments() const;
  /// Copies weights and moments from \p checkpoint, which must match.
  Status restore(const LoadedCheckpoint &checkpoint);

private:
  Trainer() = default;
  struct Buffer;
  Status checkTokens(const std::vector<int64_t> &inputs,
                     const std::vector<int64_t> &labels, int64_t batch,
                     int64_t seq) const;
  struct CallInputs;
  Expected<std::vector<double>>
  call(const EntryPoint &entry, EntryFunction function, const CallInputs &in,
       std::vector<float> *logits,
       std::vector<float> *sentenceLogits = nullptr);
  Expected<StepResult> update(const EntryPoint &entry, EntryFunction function,
                              CallInputs &in, const StepSettings &settings);

  std::unique_ptr<Artifact> artifact;
  const EntryPoint *trainEntry = nullptr, *evalEntry = nullptr,
                   *distillEntry = nullptr;
  EntryFunction trainFunction = nullptr, evalFunction = nullptr,
                distillFunction = nullptr;
  std::vector<Buffer> params, moments;
  /// The scratch memory of the steps (one arena, the largest they need).
  ArenaBuffer arena;
  std::vector<std::string> initialized;
  int64_t vocabSize = 0, maxPositions = 0, numLabels = 0, typeVocabSize = 0;
  bool firstTokenClassifier = false, nextSentenceHead = false;
};

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_TRAINER_H
