//===- Weights.h - Binding checkpoint tensors to entry points ---*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares bindWeights, which finds the checkpoint tensor of every
// `param` input of an entry point and makes it callable:
//
//   - the tensor must exist, with exactly the manifest's shape;
//   - a tensor already in the manifest's dtype is bound zero-copy (the
//     descriptor points into the mmapped file) when it is suitably aligned,
//     and copied into an aligned buffer otherwise;
//   - an f16 or bf16 tensor for an f32 input is converted once into an owned
//     f32 buffer;
//   - any other dtype is an error naming the tensor;
//   - a packed param is packed once into panels (docs/ABI.md);
//   - a concatenated param (InputSpec::concat) is joined once from its
//     parts, each checked like a param of its own shape and converted to
//     f32, then packed if it is packed; its own name is not looked up.
//
// Checkpoint tensors that no input uses produce a warning naming them (an
// error in strict mode), except the non-parameter buffers real checkpoints
// carry (see isKnownUnusedBuffer).
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_WEIGHTS_H
#define LLM_RUNTIME_WEIGHTS_H

#include "llm/runtime/Manifest.h"
#include "llm/runtime/SafeTensors.h"
#include "llm/runtime/Status.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llm {
namespace rt {

/// Options of bindWeights.
struct BindOptions {
  /// Refuse checkpoint tensors that no input uses instead of warning.
  bool strict = false;
  /// Leave params the checkpoint lacks unbound (getData returns null) and
  /// list them in getMissing(), instead of refusing: a classification head
  /// new to a pretrained model, which the trainer initializes.
  bool allowMissing = false;
};

/// The bound parameters of one entry point. Zero-copy bindings point into
/// the checkpoint, which must outlive this object.
class BoundWeights {
public:
  BoundWeights() = default;
  BoundWeights(BoundWeights &&) = default;
  BoundWeights &operator=(BoundWeights &&) = default;

  /// Returns the data of input \p inputIndex of the entry point (the index
  /// into EntryPoint::inputs), or null for an input that is not a param.
  const void *getData(size_t inputIndex) const {
    return inputIndex < data.size() ? data[inputIndex] : nullptr;
  }

  /// Returns one message per checkpoint tensor that no input uses.
  const std::vector<std::string> &getWarnings() const { return warnings; }

  /// Returns the params the checkpoint lacks (only with allowMissing).
  const std::vector<std::string> &getMissing() const { return missing; }

  /// Returns the number of bytes held in owned (converted or realigned)
  /// buffers.
  uint64_t getOwnedBytes() const { return ownedBytes; }

  /// Returns the number of params bound zero-copy.
  size_t getNumZeroCopy() const { return numZeroCopy; }

private:
  friend Expected<BoundWeights> bindWeights(const EntryPoint &,
                                            const SafeTensorsModel &,
                                            const BindOptions &);
  struct FreeDeleter {
    void operator()(void *p) const { std::free(p); }
  };

  std::vector<const void *> data;
  std::vector<std::unique_ptr<void, FreeDeleter>> owned;
  std::vector<std::string> warnings;
  std::vector<std::string> missing;
  uint64_t ownedBytes = 0;
  size_t numZeroCopy = 0;
};

/// Returns true for checkpoint tensors that are buffers, not parameters,
/// and load silently when unused: GPT-2's `*.attn.bias` and
/// `*.attn.masked_bias` masks, BERT's `*.embeddings.position_ids` and
/// LLaMA's `*.rotary_emb.inv_freq`.
bool isKnownUnusedBuffer(std::string_view tensorName);

/// Binds the param inputs of \p entry to tensors of \p checkpoint. Errors
/// have code Weights (OutOfMemory when the converted copies would not fit
/// the machine's memory) and name the tensor and, for a mismatch, both
/// shapes or dtypes.
Expected<BoundWeights> bindWeights(const EntryPoint &entry,
                                   const SafeTensorsModel &checkpoint,
                                   const BindOptions &options = {});

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_WEIGHTS_H
