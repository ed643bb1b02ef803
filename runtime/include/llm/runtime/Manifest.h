//===- Manifest.h - The artifact manifest (manifest.json) -------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares the in-memory form of the manifest.json that
// llm-compile writes next to libmodel.so (see docs/ABI.md), and its strict
// parser. The parser checks the format tag, the ABI version and the type and
// range of every field, and every error names the offending field by its
// JSON path, e.g. "entry_points[0].inputs[2].shape[1]".
//
// Unknown keys are refused at the top level and inside entry points, inputs
// and results, because they would carry calling conventions this runtime
// does not honour; the descriptive "target" and "model" objects may carry
// extra keys.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_MANIFEST_H
#define LLM_RUNTIME_MANIFEST_H

#include "llm/runtime/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llm {
namespace rt {

/// The value of the manifest's "format" field.
constexpr const char *ArtifactFormat = "llm-opt-artifact";

/// The artifact ABI version this runtime implements ("abi_version" and the
/// value of llm_abi_version()).
constexpr int64_t ArtifactAbiVersion = 2;

/// The largest manifest.json accepted, in bytes.
constexpr uint64_t MaxManifestSize = 64u << 20;

/// The largest tensor rank accepted in a manifest.
constexpr unsigned MaxManifestRank = 32;

/// Element types of entry point inputs and results (docs/ABI.md spells them
/// in lower case).
enum class ElementType : uint8_t { F32, F16, BF16, I64, I32, U8 };

/// Returns the manifest spelling of \p type, e.g. "bf16".
const char *getElementTypeName(ElementType type);

/// Returns the size in bytes of one element of \p type.
uint64_t getElementTypeSize(ElementType type);

/// What an entry point input is, and so who provides it.
enum class InputKind : uint8_t {
  Tokens,         ///< Token ids, checked against the vocabulary.
  Mask,           ///< An attention mask the runtime builds.
  Segments,       ///< Segment (token type) ids; the runtime passes one segment.
  Param,          ///< A parameter bound by name from the checkpoint.
  Positions,      ///< Each sequence's first position in its KV cache, [batch].
  Lengths,        ///< Each sequence's number of real tokens, [batch].
  KVCache,        ///< A KV cache [batch, kv_heads, capacity, head_dim] the
                  ///< runtime owns; the entry point updates it in place.
  Labels,         ///< Target ids [batch, seq] of a training step (-100: none).
  Optimizer,      ///< A training step's AdamW settings, f32 [8] (docs/ABI.md).
  OptimizerState, ///< An AdamW moment of a parameter, updated in place.
  TeacherLogits,  ///< A teacher's logits [batch, seq, vocab], f32, for
                  ///< distill_step.
  Distill,        ///< distill_step's [temperature, alpha], f32 [2].
  NextSentenceLabels, ///< BERT pretraining's next-sentence targets, i64
                      ///< [batch]: 0 when segment B follows A, 1 when it
                      ///< is random.
  Arena, ///< The entry point's scratch memory, u8 [bytes], 64-byte aligned
         ///< (EntryPoint::getArenaBytes); the runtime owns it and reuses it
         ///< across calls.
};

/// Returns the manifest spelling of \p kind, e.g. "param".
const char *getInputKindName(InputKind kind);

/// The dimension value that marks a dynamic dimension in a shape.
constexpr int64_t DynamicDim = -1;

/// How a packed param is laid out (docs/ABI.md, "Packed parameters"): the
/// checkpoint's 2-D weight, [N, K] (out_in) or [K, N] (in_out), is passed
/// as [ceil(N / panel), K, panel], panel by panel, the last one padded with
/// zeros.
struct PackingSpec {
  int64_t panel = 0;
  /// The checkpoint tensor is [N, K] (true) or [K, N] (false).
  bool outIn = false;
};

/// One checkpoint tensor of a concatenated param.
struct ConcatPart {
  /// The checkpoint tensor's name.
  std::string name;
  /// Its size along ConcatSpec::axis.
  int64_t size = 0;

  bool operator==(const ConcatPart &other) const {
    return name == other.name && size == other.size;
  }
};

/// How a concatenated param is assembled (docs/ABI.md, "Concatenated
/// parameters"): the parts, checkpoint tensors of the param's shape except
/// along `axis`, joined in order along `axis` (torch.cat) into one f32
/// tensor when the checkpoint is bound. llm-fuse-qkv asks for this to run
/// the Q, K and V projections as one matmul.
struct ConcatSpec {
  int64_t axis = 0;
  /// At least two, with distinct names; their sizes sum to shape[axis].
  std::vector<ConcatPart> parts;

  bool operator==(const ConcatSpec &other) const {
    return axis == other.axis && parts == other.parts;
  }
  bool operator!=(const ConcatSpec &other) const { return !(*this == other); }
};

/// One input of an entry point.
struct InputSpec {
  std::string name;
  InputKind kind = InputKind::Param;
  ElementType dtype = ElementType::F32;
  /// Dimensions; DynamicDim marks a dynamic one. For a packed param, the
  /// checkpoint tensor's.
  std::vector<int64_t> shape;
  /// Set for params the entry point takes packed.
  std::optional<PackingSpec> packing;
  /// Set for params concatenated from several checkpoint tensors; `name`
  /// is then only a key (the parts' names joined by '+'), never looked up.
  /// `shape` is the concatenation's, and packing applies to it.
  std::optional<ConcatSpec> concat;

  /// The shape of the buffer the entry point takes: `shape`, or the packed
  /// shape of a packed param.
  std::vector<int64_t> getBufferShape() const;
};

/// One result of an entry point.
struct ResultSpec {
  std::string name;
  ElementType dtype = ElementType::F32;
  std::vector<int64_t> shape;
};

/// One exported function `int32_t SYMBOL(void **args)`.
struct EntryPoint {
  std::string name;
  std::string symbol;
  std::vector<InputSpec> inputs;
  std::vector<ResultSpec> results;
  /// The arena an entry point with an `arena` input needs (manifest
  /// "arena": {"fixed_bytes", "bytes_per_sequence"}): fixed bytes plus
  /// bytes per sequence of the batch, planned at the longest sequence.
  uint64_t arenaFixedBytes = 0;
  uint64_t arenaBytesPerSequence = 0;

  /// The bytes of the arena for a batch of \p batch sequences; 0 on
  /// overflow.
  uint64_t getArenaBytes(int64_t batch) const;
};

/// The code generation target the library was built for.
struct TargetInfo {
  std::string triple;
  std::string cpu;
  std::string features;
};

/// Facts about the model the runtime needs for checking inputs.
struct ModelInfo {
  std::string family;
  int64_t vocabSize = 0;
  /// The longest sequence the model takes; 0 when the manifest sets no
  /// bound (models without a position table).
  int64_t maxPositions = 0;
  /// A sequence classifier's classes (its logits' last dim); 0 for a
  /// language model, whose logits are over the vocabulary.
  int64_t numLabels = 0;
  /// Whether a classifier answers at each sequence's first token (BERT's
  /// [CLS]) rather than its last (manifest "classify_token").
  bool classifiesFirstToken = false;
  /// The rows of the token-type (segment) table; 0 when the model takes no
  /// segment ids or the manifest does not say (manifest
  /// "type_vocab_size").
  int64_t typeVocabSize = 0;
};

/// A parsed and validated manifest.json.
struct Manifest {
  std::string format;
  int64_t abiVersion = 0;
  /// The library's file name, relative to the artifact folder.
  std::string library;
  TargetInfo target;
  ModelInfo model;
  uint64_t arenaBytes = 0;
  std::vector<EntryPoint> entryPoints;

  /// Returns the entry point called \p name, or null.
  const EntryPoint *findEntryPoint(std::string_view name) const;
};

/// Parses and validates manifest text. \p sourceName (usually the file's
/// path) starts every error message; errors have code Artifact.
Expected<Manifest> parseManifest(std::string_view text,
                                 const std::string &sourceName);

/// Reads and parses the manifest at \p path.
Expected<Manifest> readManifest(const std::string &path);

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_MANIFEST_H
