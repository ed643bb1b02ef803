//===- Model.h - A compiled model with its weights, callable ----*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares llm::rt::Model, the runtime's C++ entry point: an
// artifact (see Artifact.h) with the weights of a checkpoint bound to its
// forward entry point (see Weights.h), callable on batches of token ids.
// The C API in llmrt.h is a thin layer over this class.
//
// forward() checks the tokens (see validateTokens), builds one memref
// descriptor per input and result, calls the entry point, checks the result
// descriptor the library filled in, and either hands the library's
// allocation over to the returned Tensor (contiguous results) or copies it
// out and frees it. Each result allocation is freed exactly once; results
// in the arena (ABI version 2) are copied out and not freed.
//
// A Model is not safe for concurrent calls from several threads.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_MODEL_H
#define LLM_RUNTIME_MODEL_H

#include "llm/runtime/Artifact.h"
#include "llm/runtime/Manifest.h"
#include "llm/runtime/MemRef.h"
#include "llm/runtime/SafeTensors.h"
#include "llm/runtime/Status.h"
#include "llm/runtime/Tokens.h"
#include "llm/runtime/Weights.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llm {
namespace rt {

/// Options of Model::open.
struct ModelOptions {
  /// Refuse checkpoint tensors the model does not use instead of warning.
  bool strict = false;
  /// Threads for the compiled code's parallel loops; 0 keeps the library's
  /// default.
  int32_t numThreads = 0;
  /// The entry point that computes logits from token ids.
  std::string entryPoint = "forward";
};

/// A row-major f32 tensor owned by the runtime's caller; its storage is
/// released with std::free when the Tensor dies.
class Tensor {
public:
  Tensor() = default;
  ~Tensor();
  Tensor(Tensor &&other) noexcept;
  Tensor &operator=(Tensor &&other) noexcept;
  Tensor(const Tensor &) = delete;
  Tensor &operator=(const Tensor &) = delete;

  /// Returns the dimensions.
  const std::vector<int64_t> &getShape() const { return shape; }

  /// Returns the number of elements (0 for an empty Tensor).
  uint64_t getNumElements() const;

  /// Returns the first element (contiguous, row-major).
  const float *getData() const { return data; }
  float *getData() { return data; }

  /// Gives up ownership: returns the pointer to pass to std::free() (null
  /// when the tensor owns nothing) and leaves the tensor empty.
  void *release();

private:
  friend class Model;
  friend class Generator;

  std::vector<int64_t> shape;
  float *data = nullptr;
  /// What std::free releases; data points into it.
  void *allocation = nullptr;
};

/// A compiled model with its weights bound.
class Model {
public:
  /// The largest thread count setNumThreads accepts.
  static constexpr int32_t MaxThreads = Artifact::MaxThreads;

  /// Loads the artifact in \p artifactDir and binds the checkpoint at
  /// \p weightsPath (a safetensors file, a folder holding model.safetensors
  /// or model.safetensors.index.json, or such an index).
  static Expected<std::unique_ptr<Model>>
  open(const std::string &artifactDir, const std::string &weightsPath,
       const ModelOptions &options = {});

  ~Model();
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  /// Computes the logits [batch, seq, vocab] of \p tokens.
  Expected<Tensor> forward(const TokenView &tokens) const;
  Expected<Tensor> forward(const TokenBatch &tokens) const {
    return forward(tokens.getView());
  }

  /// Computes the logits of \p tokens into \p logits, which holds
  /// \p capacity floats (at least batch * seq * vocab, checked before the
  /// call).
  Status forwardInto(const TokenView &tokens, float *logits,
                     uint64_t capacity) const;

  /// Returns batch * seq * vocab for \p tokens, or an error if it overflows.
  Expected<uint64_t> getLogitsCount(const TokenView &tokens) const;

  /// Sets the threads of the compiled code's parallel loops, 1..MaxThreads.
  /// Does nothing when the library does not export llm_set_num_threads.
  Status setNumThreads(int32_t n);

  /// Returns true if the library exports llm_set_num_threads.
  bool canSetNumThreads() const { return artifact->canSetNumThreads(); }

  int64_t getVocabSize() const { return getManifest().model.vocabSize; }
  int64_t getMaxPositions() const { return getManifest().model.maxPositions; }
  const Manifest &getManifest() const { return artifact->getManifest(); }
  const Artifact &getArtifact() const { return *artifact; }
  const EntryPoint &getEntryPoint() const { return *entry; }
  /// The scratch memory of the entry point's intermediates (when it takes
  /// an arena): allocated at the first call, grown only for a larger batch.
  const ArenaBuffer &getArena() const { return arena; }

  /// Returns the warnings of loading, one message each (unused checkpoint
  /// tensors).
  const std::vector<std::string> &getWarnings() const {
    return weights.getWarnings();
  }

private:
  Model() = default;

  /// Validates \p tokens, calls the entry point and returns the result
  /// descriptors, whose allocations the caller now owns.
  Status call(const TokenView &tokens,
              std::vector<MemRefDescriptor> &results) const;

  /// Checks the logits result in \p results and copies it to \p dst or
  /// hands it to \p out; frees every other result allocation.
  Status collectLogits(std::vector<MemRefDescriptor> &results,
                       const TokenView &tokens, float *dst, Tensor *out) const;

  // Members die in reverse order: the bound weights (which may point into
  // the checkpoint's mappings) first, then the checkpoint, and the library
  // last.
  std::unique_ptr<Artifact> artifact;
  std::unique_ptr<SafeTensorsModel> checkpoint;
  BoundWeights weights;
  const EntryPoint *entry = nullptr;
  EntryFunction function = nullptr;
  mutable ArenaBuffer arena;
};

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_MODEL_H
