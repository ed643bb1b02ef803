//===- HFImporter.h - pieces shared by the HF model importers ---*- C++ -*-===//
//
// Internal to lib/Target/HF. The importer is split into a driver
// (ModelBuilder.cpp: folder, checkpoint binding, function signature), the
// config reader (HFConfig.cpp: config.json with the position of every key,
// so that diagnostics point into the file) and one file per model family
// (GPT2.cpp, BERT.cpp, LLaMA.cpp), each of which reads its config keys,
// names the tensors its model reads and emits its graph through
// ForwardBuilder.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_LIB_TARGET_HF_HFIMPORTER_H
#define LLM_LIB_TARGET_HF_HFIMPORTER_H

#include "llm/Target/HF/ModelBuilder.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/JSON.h"

#include <memory>
#include <optional>
#include <string>

namespace mlir::llm::hf {

//===----------------------------------------------------------------------===//
// config.json
//===----------------------------------------------------------------------===//

/// A parsed config.json that remembers where each top-level key is written,
/// so that every complaint about a key is located at it. The getters report
/// a missing, null-when-required, ill-typed or out-of-range value themselves
/// and return failure.
class HFConfig {
public:
  /// The largest size (vocabulary, width, heads, layers, positions) accepted
  /// from a config; products of two sizes then fit in int64.
  static constexpr int64_t kMaxSize = int64_t(1) << 30;

  /// Reads and parses `path`. Reports an unreadable or oversized file,
  /// invalid JSON (at the offending line and column), nesting deeper than
  /// the parser can take, a duplicate top-level key or a top level that is
  /// not an object.
  static FailureOr<HFConfig> load(MLIRContext *context, StringRef path);

  /// The location of the first character of `key` in the file, or of the
  /// file's start when the key is absent.
  Location getLoc(StringRef key) const;
  /// The location of the file's start.
  Location getFileLoc() const;

  /// Names the model type in messages about missing keys.
  void setModelType(StringRef modelType) { this->modelType = modelType.str(); }

  /// The value of `key`; null when absent or JSON null.
  const llvm::json::Value *lookup(StringRef key) const;

  /// A required size in [1, kMaxSize].
  FailureOr<int64_t> getSize(StringRef key) const;
  /// An optional size in [1, kMaxSize]; absent or null gives `fallback`.
  FailureOr<int64_t> getSize(StringRef key, int64_t fallback) const;
  /// An optional finite number >= 0 (a norm's epsilon).
  FailureOr<double> getNonNegative(StringRef key, double fallback) const;
  /// An optional finite number > 0 (RoPE's theta).
  FailureOr<double> getPositive(StringRef key, double fallback) const;
  /// An optional boolean.
  FailureOr<bool> getBool(StringRef key, bool fallback) const;
  /// A required string.
  FailureOr<std::string> getString(StringRef key) const;
  /// An optional string.
  FailureOr<std::string> getString(StringRef key, StringRef fallback) const;

  /// Whether the "architectures" list names `name`.
  bool hasArchitecture(StringRef name) const;
  /// The classes of a sequence-classification head: "num_labels", else the
  /// size of "id2label", else 2 (transformers' default).
  FailureOr<int64_t> getNumLabels() const;

  /// Starts an error located at `key` (or the file's start when absent).
  InFlightDiagnostic emitError(StringRef key) const;

private:
  HFConfig(MLIRContext *context, std::string path, std::string text,
           llvm::json::Object root, llvm::StringMap<size_t> keyOffsets)
      : context(context), path(std::move(path)), text(std::move(text)),
        root(std::move(root)), keyOffsets(std::move(keyOffsets)) {}

  /// Reports that the required `key` is missing.
  LogicalResult missing(StringRef key) const;
  /// Reports that `key` holds `value` where `expected` was wanted.
  LogicalResult illTyped(StringRef key, const llvm::json::Value &value,
                         StringRef expected) const;
  FailureOr<int64_t> checkSize(StringRef key,
                               const llvm::json::Value &value) const;

  MLIRContext *context;
  std::string path;
  std::string text;
  llvm::json::Object root;
  llvm::StringMap<size_t> keyOffsets;
  std::string modelType;
};

//===----------------------------------------------------------------------===//
// Families
//===----------------------------------------------------------------------===//

/// A tensor the model reads, under its canonical checkpoint name.
struct ParamSpec {
  /// The canonical name (what save_pretrained writes today).
  std::string name;
  /// The shape the config implies.
  SmallVector<int64_t, 2> shape;
  /// How the config gives that shape, for messages: "[n_embd, 3 * n_embd]".
  std::string shapeText;
  /// An optional tensor may be absent; the model is then built without it.
  bool optional = false;
};

class ForwardBuilder;

/// One model family: its config keys, the tensors it reads, its graph.
class FamilyImporter {
public:
  virtual ~FamilyImporter() = default;

  virtual HFModelFamily getFamily() const = 0;

  /// Reads and checks the family's config keys; reports the first problem.
  virtual LogicalResult readConfig(const HFConfig &config) = 0;

  virtual int64_t getVocabSize() const = 0;
  /// The config key giving the maximum number of positions, and its value.
  virtual StringRef getMaxPositionsKey() const = 0;
  virtual int64_t getMaxPositions() const = 0;
  /// The config key giving the number of layers, and its value.
  virtual StringRef getNumLayersKey() const = 0;
  virtual int64_t getNumLayers() const = 0;
  /// True when positions index a learned table, which bounds the sequence.
  virtual bool hasLearnedPositions() const = 0;

  /// The tensors the model reads, in the order save_pretrained writes them.
  virtual SmallVector<ParamSpec> getParamSpecs() const = 0;

  /// Maps the name of a checkpoint tensor to the canonical name it provides
  /// (accepted legacy spellings included), or returns std::nullopt for a
  /// tensor to skip silently: a buffer real checkpoints carry or a tied copy
  /// of the embedding. `inCheckpoint` tells whether the checkpoint holds a
  /// given name. A returned name that no ParamSpec has is an unused tensor.
  virtual std::optional<std::string>
  mapTensorName(StringRef name,
                function_ref<bool(StringRef)> inCheckpoint) const = 0;

  /// The classes of a sequence-classification head (the logits' last dim,
  /// read at each sequence's last token unless classifiesFirstToken()); 0
  /// for a language-model head.
  virtual int64_t getNumLabels() const { return 0; }
  /// True when a classifier's answer is at each sequence's first token
  /// (BERT's pooled [CLS]) rather than its last.
  virtual bool classifiesFirstToken() const { return false; }

  /// True when the function takes BERT's attention_mask.
  virtual bool takesAttentionMask() const { return false; }
  /// The number of token types when the function takes token_type_ids
  /// (decided once the checkpoint is bound), 0 otherwise.
  virtual int64_t
  getTypeVocabSize(function_ref<bool(StringRef)> hasParam) const {
    return 0;
  }

  /// Emits the body of @forward and returns the f32 logits
  /// `[batch, seq, vocab]` (`[batch, seq, num_labels]` for a classifier).
  /// Further results (BERT pretraining's next-sentence logits) are added
  /// with ForwardBuilder::addResult.
  virtual Value buildLogits(ForwardBuilder &fb) = 0;
};

std::unique_ptr<FamilyImporter> createGPT2Importer();
std::unique_ptr<FamilyImporter> createBERTImporter();
std::unique_ptr<FamilyImporter> createLLaMAImporter();

//===----------------------------------------------------------------------===//
// Emitting the graph
//===----------------------------------------------------------------------===//

/// What a family's buildLogits works with: the builder positioned in the
/// body of @forward, the activation inputs, the parameters by canonical name
/// (widened to f32 on first use) and helpers for the dynamic batch and
/// sequence dimensions.
class ForwardBuilder {
public:
  ForwardBuilder(OpBuilder &builder, Value inputIds, Value attentionMask,
                 Value tokenTypeIds, llvm::StringMap<BlockArgument> paramArgs)
      : builder(builder), inputIds(inputIds), attentionMask(attentionMask),
        tokenTypeIds(tokenTypeIds), paramArgs(std::move(paramArgs)) {}

  OpBuilder &getBuilder() { return builder; }
  Value getInputIds() const { return inputIds; }
  /// BERT's `[batch, seq]` i64 padding mask; null for other families.
  Value getAttentionMask() const { return attentionMask; }
  /// BERT's `[batch, seq]` i64 token types; null when not taken.
  Value getTokenTypeIds() const { return tokenTypeIds; }

  /// True when the checkpoint provides the tensor `name` (canonical).
  bool hasParam(StringRef name) const { return paramArgs.count(name); }
  /// The f32 value of the parameter `name` (canonical), or null when an
  /// optional parameter is absent. Parameters stored as f16/bf16 are widened
  /// once, where first used.
  Value param(StringRef name);

  /// A location naming the module path of what is built
  /// ("transformer.h.0.attn").
  Location loc(const Twine &scope);

  /// The batch and sequence sizes: constants when static, `tensor.dim` of
  /// the token ids (built once) when dynamic.
  OpFoldResult getBatchSize();
  OpFoldResult getSeqLen();

  /// `[batch, seq, size]` features `offset .. offset + size - 1` of `value`.
  Value sliceFeatures(Location loc, Value value, int64_t offset, int64_t size);

  /// An f32 tensor of `sizes` filled with `value`.
  Value splat(Location loc, ArrayRef<OpFoldResult> sizes, double value);

  /// Returns `value` from @forward after the logits, as result `name`.
  void addResult(StringRef name, Value value) {
    extraResults.push_back({name.str(), value});
  }
  /// The results added with addResult, in order.
  ArrayRef<std::pair<std::string, Value>> getExtraResults() const {
    return extraResults;
  }

private:
  OpFoldResult getInputDim(unsigned dim, Value &cache);

  OpBuilder &builder;
  Value inputIds, attentionMask, tokenTypeIds;
  llvm::StringMap<BlockArgument> paramArgs;
  llvm::StringMap<Value> widened;
  Value batchDim, seqDim;
  Operation *lastDimOp = nullptr;
  SmallVector<std::pair<std::string, Value>> extraResults;
};

/// Renders a shape as "[2, 3]" for messages.
std::string formatShape(ArrayRef<int64_t> shape);

/// Joins the decimal name of `layer` to a prefix: ("h.", 3, ".") gives
/// "h.3.".
std::string layerPrefix(StringRef prefix, int64_t layer, StringRef suffix);

/// When `name` is `prefix`, a decimal layer number and a dot followed by
/// more, returns the rest: ("h.7.attn.bias", "h.") gives "attn.bias".
std::optional<StringRef> stripLayerPrefix(StringRef name, StringRef prefix);

} // namespace mlir::llm::hf

#endif // LLM_LIB_TARGET_HF_HFIMPORTER_H
