//===- Generator.h - Text generation with a KV cache ------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares llm::rt::Generator: the `prefill` and `decode` entry
// points llm-compile derives from a decoder (docs/ABI.md, "Generation"),
// bound to one checkpoint, with KV caches the runtime owns.
//
// The low-level interface runs one step at a time: startBatch() allocates
// zeroed caches for B sequences, prefill() feeds each sequence a prompt
// (a right-padded batch; each sequence's cache position advances by its own
// length) and returns the logits of each prompt's last token, decode()
// feeds one token per sequence. No call copies a cache: the compiled code
// writes each step's keys and values into the runtime's buffers in place.
// Positions past the cache capacity are refused before the call, so the
// compiled code never writes outside a cache.
//
// generate() is the loop on top: prefill, then sample and decode until each
// sequence stops (end-of-sequence token, the caller's callback, the token
// budget, or a full context, which either stops the sequence or slides the
// window: the caches are rebuilt from the most recent half of the context).
//
// A Generator is not safe for concurrent calls from several threads.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_GENERATOR_H
#define LLM_RUNTIME_GENERATOR_H

#include "llm/runtime/Artifact.h"
#include "llm/runtime/MemRef.h"
#include "llm/runtime/Model.h"
#include "llm/runtime/SafeTensors.h"
#include "llm/runtime/Sampler.h"
#include "llm/runtime/Status.h"
#include "llm/runtime/Weights.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llm {
namespace rt {

/// What happens when a sequence's context (the cache capacity) is full.
enum class ContextPolicy : uint8_t {
  Stop,  ///< The sequence stops (StopReason::Context).
  Slide, ///< Keep the newest half of the context and continue.
};

/// Why a sequence stopped.
enum class StopReason : uint8_t {
  None,      ///< Still running.
  EOS,       ///< It produced the end-of-sequence token.
  Callback,  ///< The token callback asked to stop (e.g. a stop string).
  MaxTokens, ///< It produced the maximum number of new tokens.
  Context,   ///< The context is full (ContextPolicy::Stop).
};

/// Returns a word for \p reason, e.g. "eos".
const char *getStopReasonName(StopReason reason);

/// Options of Generator::generate.
struct GenerationOptions {
  /// New tokens per sequence at most; >= 0.
  int64_t maxNewTokens = 64;
  /// The end-of-sequence token (not emitted to the callback); none when
  /// unset or when ignoreEOS.
  std::optional<int64_t> eos;
  bool ignoreEOS = false;
  ContextPolicy contextPolicy = ContextPolicy::Stop;
  /// Sequence b's sampler is a copy of the chain seeded with seed + b.
  uint64_t seed = 0;
};

/// Called once per generated token with the sequence index and the token;
/// returning false stops that sequence (StopReason::Callback) after the
/// token.
using TokenCallback = std::function<bool(size_t sequence, int64_t token)>;

/// Counts and times of one generate() call.
struct GenerationStats {
  int64_t promptTokens = 0;    ///< Real prompt tokens over all sequences.
  int64_t generatedTokens = 0; ///< Tokens sampled over all sequences.
  int64_t decodeSteps = 0;     ///< decode() calls.
  double prefillSeconds = 0;   ///< Time in prefill() (slides included).
  double decodeSeconds = 0;    ///< Time in decode() and sampling.
  int64_t slides = 0;          ///< Times the window slid.
};

/// The outcome of generate().
struct GenerationResult {
  /// The new tokens of each sequence (without the prompt; an EOS that
  /// stopped it is not included).
  std::vector<std::vector<int64_t>> tokens;
  std::vector<StopReason> stopReasons;
  GenerationStats stats;
};

/// A decoder's generation entry points with a checkpoint bound.
class Generator {
public:
  /// Loads the artifact in \p artifactDir (which must have `prefill` and
  /// `decode` entry points) and binds the checkpoint at \p weightsPath.
  /// ModelOptions::entryPoint is ignored.
  static Expected<std::unique_ptr<Generator>>
  open(const std::string &artifactDir, const std::string &weightsPath,
       const ModelOptions &options = {});
  ~Generator();
  Generator(const Generator &) = delete;
  Generator &operator=(const Generator &) = delete;

  int64_t getVocabSize() const { return vocabSize; }
  /// The rows of each cache: the longest context.
  int64_t getCapacity() const { return capacity; }
  /// Bytes of KV cache per sequence.
  uint64_t getCacheBytesPerSequence() const { return cacheBytesPerSequence; }
  /// Bytes of the parameters one decode step reads.
  uint64_t getWeightBytes() const { return weightBytes; }
  const Manifest &getManifest() const { return artifact->getManifest(); }
  Status setNumThreads(int32_t n);

  /// Allocates zeroed caches for \p batch sequences, all at position 0.
  Status startBatch(int64_t batch);
  int64_t getBatchSize() const { return batch; }
  /// The number of tokens sequence \p b has in its cache.
  int64_t getPosition(size_t b) const { return positions[b]; }

  /// Feeds prompts[b] to sequence b (one per sequence; different lengths,
  /// none empty) and returns the logits [batch, vocab] of each prompt's
  /// last token.
  Expected<Tensor> prefill(const std::vector<std::vector<int64_t>> &prompts);
  /// Feeds tokens[b] to sequence b and returns the logits [batch, vocab].
  /// Sequences listed in \p frozen (may be empty) do not advance: their
  /// token is written past their end and ignored.
  Expected<Tensor> decode(const std::vector<int64_t> &tokens,
                          const std::vector<bool> &frozen = {});

  /// Generates from \p prompts (a batch) with \p sampler's steps.
  Expected<GenerationResult>
  generate(const std::vector<std::vector<int64_t>> &prompts,
           const SamplerChain &sampler, const GenerationOptions &options,
           const TokenCallback &callback = {});

private:
  Generator() = default;
  struct Entry;
  struct Cache;
  Expected<Tensor> run(Entry &entry, const std::vector<int64_t> &ids,
                       int64_t seq, const std::vector<int64_t> &start,
                       const std::vector<int64_t> &lengths);

  std::unique_ptr<Artifact> artifact;
  std::unique_ptr<SafeTensorsModel> checkpoint;
  std::vector<BoundWeights> weights;
  std::unique_ptr<Entry> prefillEntry, decodeEntry;
  std::vector<Cache> caches;
  /// The scratch memory prefill and decode share.
  ArenaBuffer arena;
  std::vector<int64_t> positions;
  int64_t batch = 0;
  int64_t vocabSize = 0;
  int64_t capacity = 0;
  uint64_t cacheBytesPerSequence = 0;
  uint64_t weightBytes = 0;
};

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_GENERATOR_H
