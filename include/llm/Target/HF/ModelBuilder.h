//===- ModelBuilder.h - llm IR from Hugging Face model folders --*- C++ -*-===//
//
// Builds the llm-dialect IR of a Transformer from a Hugging-Face-style folder:
// config.json plus model.safetensors (or a sharded checkpoint described by
// model.safetensors.index.json). GPT-2, BERT (masked LM) and LLaMA are
// supported with the tensor names and layouts of the real checkpoints.
//
// The result is a module holding `func.func @forward`: token ids first, then
// the other activations the family takes (BERT: attention_mask and, when the
// checkpoint has a token-type table, token_type_ids), then one argument per
// checkpoint tensor the model reads, carrying `llm.param = "<exact name>"`.
// It returns the logits `[batch, seq, vocab]` in f32. Only the checkpoint's
// header (names, dtypes, shapes) is read; parameter data is bound later by
// the runtime. Parameters stored as f16/bf16 keep their dtype in the
// signature and are widened to f32 inside the function, as the reference
// models do.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_TARGET_HF_MODELBUILDER_H
#define LLM_TARGET_HF_MODELBUILDER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace mlir::llm {

/// The model families the importer understands (config.json `model_type`).
enum class HFModelFamily { GPT2, BERT, LLaMA };

/// Returns the `model_type` spelling of `family`: "gpt2", "bert", "llama".
StringRef stringifyHFModelFamily(HFModelFamily family);

/// What an argument of the built `@forward` carries.
enum class HFInputKind {
  /// Token ids `[batch, seq]` (i64), checked against the vocabulary size.
  Tokens,
  /// BERT's padding mask `[batch, seq]` (i64, 1 = attend, 0 = padding), as
  /// Hugging Face takes it; the function turns it into an additive mask.
  Mask,
  /// BERT's segment ids `[batch, seq]` (i64), below `typeVocabSize`.
  TokenTypes,
  /// A checkpoint tensor, bound by name.
  Param,
};

/// Returns the artifact-manifest spelling of `kind`: "tokens", "mask",
/// "token_types", "param".
StringRef stringifyHFInputKind(HFInputKind kind);

/// One argument of `@forward`, in argument order.
struct HFModelInput {
  /// "input_ids", "attention_mask", "token_type_ids", or the exact checkpoint
  /// tensor name of a parameter.
  std::string name;
  HFInputKind kind = HFInputKind::Param;
  /// The element type in the manifest's spelling: "i64", "f32", "f16",
  /// "bf16".
  std::string dtype;
  /// The dimensions; -1 marks a dynamic one.
  SmallVector<int64_t> shape;
};

/// What llm-compile needs to describe the built model in its manifest.
struct HFModelInfo {
  HFModelFamily family = HFModelFamily::GPT2;
  /// Token ids must lie in [0, vocabSize).
  int64_t vocabSize = 0;
  /// The longest sequence the model accepts (the sequence bound).
  int64_t maxPositions = 0;
  /// Token-type ids must lie in [0, typeVocabSize); 0 without token types.
  int64_t typeVocabSize = 0;
  /// The name of the built function ("forward").
  std::string functionName;
  /// The function's arguments, in order.
  std::vector<HFModelInput> inputs;
  /// One result of the function; its dtype is always "f32".
  struct Result {
    /// "logits" (first), "next_sentence_logits".
    std::string name;
    /// The dimensions; -1 marks a dynamic one.
    SmallVector<int64_t> shape;
  };
  /// The results: the logits `[batch, seq, vocab]` first, then BERT
  /// pretraining's next-sentence logits `[batch, 1, 2]`.
  std::vector<Result> results;
};

/// Returns `info` as the JSON object llm-compile's manifest uses for the
/// model and its entry point: {"model": {...}, "entry_point": {...}}.
llvm::json::Value toJSON(const HFModelInfo &info);

/// Knobs of the import.
struct HFBuildOptions {
  /// The longest sequence the built model accepts; 0 takes the config's
  /// maximum positions. Models with a learned position table cannot exceed
  /// its size.
  int64_t maxSequenceLength = 0;
  /// A static batch size for the activations; 0 keeps the dimension dynamic.
  int64_t batchSize = 0;
  /// A static sequence length (at most the sequence bound); 0 keeps the
  /// dimension dynamic.
  int64_t sequenceLength = 0;
  /// Makes checkpoint tensors the model does not use an error instead of a
  /// warning. Buffers real checkpoints carry (GPT-2's attention masks, BERT's
  /// position ids, LLaMA's inverse frequencies) and tied copies of the
  /// embedding are accepted silently either way.
  bool strict = false;
};

/// Builds the module of the model in `folder`. Every problem with the folder
/// (missing or malformed config.json or checkpoint, unknown model_type,
/// missing, ill-typed or inconsistent config keys, missing tensors, tensors
/// of the wrong shape or an unsupported dtype) is reported as an error
/// diagnostic on `context`: config problems at the key's position in
/// config.json, tensor problems at the checkpoint file naming the tensor.
/// Tensors the model does not use get one warning naming them (an error with
/// `options.strict`). On success, fills `info` when given.
FailureOr<OwningOpRef<ModuleOp>>
buildModelFromHFFolder(MLIRContext *context, StringRef folder,
                       const HFBuildOptions &options = {},
                       HFModelInfo *info = nullptr);

} // namespace mlir::llm

#endif // LLM_TARGET_HF_MODELBUILDER_H
