//===- llm-compile.cpp - ahead-of-time model builds -------------*- C++ -*-===//
//
// Model in, artifact out: reads llm IR (a .mlir file), lowers it with the
// llm-lower-to-cpu pipeline, emits an object through LLVM's TargetMachine and
// links it into libmodel.so, next to model.h and manifest.json (docs/ABI.md).
// `--emit` stops earlier. The artifact folder is built beside its target and
// renamed into place, so a failed compile leaves no partial artifact.
// An `.onnx` input goes through the ONNX importer; its weights (the
// initializers bound as llm.param arguments) are written into the artifact
// as model.safetensors.
//
//===----------------------------------------------------------------------===//

#include "PassStats.h"

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/InitAll.h"
#include "llm/Pipelines/Pipelines.h"
#include "llm/Support/ToolUtils.h"
#include "llm/Target/CPU/CPUTarget.h"
#include "llm/Target/HF/ModelBuilder.h"
#include "llm/Target/ONNX/ONNXImporter.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
using namespace llvm;

static constexpr StringLiteral kToolName = "llm-compile";

namespace {
enum class EmitKind { MLIR, LLVMIR, Object, SharedLibrary };
} // namespace

static cl::OptionCategory compileCategory("llm-compile options");

static cl::opt<std::string>
    inputPath(cl::Positional, cl::Required,
              cl::desc("<model.mlir | model.onnx | Hugging Face folder>"),
              cl::cat(compileCategory));
static cl::opt<std::string>
    outputPath("o", cl::value_desc("path"), cl::cat(compileCategory),
               cl::desc("Output: the artifact folder for --emit=so, a file "
                        "otherwise ('-' is standard output for text)"));
static cl::opt<EmitKind> emitKind(
    "emit", cl::desc("What to produce"), cl::init(EmitKind::SharedLibrary),
    cl::values(clEnumValN(EmitKind::MLIR, "mlir", "llm IR as read"),
               clEnumValN(EmitKind::LLVMIR, "llvm", "optimized LLVM IR"),
               clEnumValN(EmitKind::Object, "obj", "an object file"),
               clEnumValN(EmitKind::SharedLibrary, "so",
                          "the artifact: libmodel.so, model.h, "
                          "manifest.json")),
    cl::cat(compileCategory));
static cl::opt<unsigned> optLevel("O", cl::Prefix, cl::init(2),
                                  cl::desc("Optimization level (0-3)"),
                                  cl::value_desc("level"),
                                  cl::cat(compileCategory));
static cl::opt<std::string>
    targetTriple("target", cl::desc("Target triple (default: the host)"),
                 cl::value_desc("triple"), cl::cat(compileCategory));
static cl::opt<std::string>
    targetCPU("cpu", cl::desc("Target CPU (default: the host CPU)"),
              cl::value_desc("name"), cl::cat(compileCategory));
static cl::opt<std::string>
    targetFeatures("mattr", cl::desc("Target features, e.g. +avx512f"),
                   cl::value_desc("a1,+a2,-a3"), cl::cat(compileCategory));
static cl::opt<int64_t> maxSeq(
    "max-seq", cl::init(0), cl::value_desc("n"), cl::cat(compileCategory),
    cl::desc("Longest sequence the model accepts (default: a Hugging Face "
             "config's maximum positions; for ONNX, the rows of the largest "
             "table looked up with computed ids, i.e. the position table)"));
static cl::opt<bool> strictWeights(
    "strict", cl::init(false), cl::cat(compileCategory),
    cl::desc("Checkpoint tensors the model does not use are an error"));
static cl::opt<bool> generation(
    "generation", cl::init(true), cl::cat(compileCategory),
    cl::desc("Also emit the KV-cache prefill and decode entry points text "
             "generation uses (decoders only; given explicitly, a model "
             "that is not a decoder is an error)"));
static cl::opt<bool> train(
    "train", cl::init(false), cl::cat(compileCategory),
    cl::desc("Also emit train_step: cross-entropy loss, gradients, global-norm "
             "clipping and an AdamW update of the parameters and moments in "
             "place (llm-build-train-step; docs/ABI.md)"));
static cl::opt<bool> distill(
    "distill", cl::init(false), cl::cat(compileCategory),
    cl::desc("With --train, also emit distill_step: the update on a "
             "teacher's logits at a temperature mixed with the hard-label "
             "loss (llm-run train --distill-from)"));
static cl::opt<bool>
    serial("no-parallel", cl::init(false), cl::cat(compileCategory),
           cl::desc("Generate serial loops (no OpenMP, no libomp)"));
static cl::opt<bool> fuseAttention(
    "fuse-attention", cl::init(true), cl::cat(compileCategory),
    cl::desc("Lower attention as a tiled online softmax that never "
             "materializes the score matrix (llm-fuse-attention)"));
static cl::opt<bool> fuseQKV(
    "fuse-qkv", cl::init(true), cl::cat(compileCategory),
    cl::desc("Merge projections of one input (Q, K, V) into one over weights "
             "the runtime concatenates when it binds them (llm-fuse-qkv)"));
static cl::opt<bool> fuseGateUp(
    "fuse-gate-up", cl::init(true), cl::cat(compileCategory),
    cl::desc("With --fuse-qkv, merge a gated FFN's gate and up projections "
             "into one over their concatenated weights too (llm-fuse-qkv)"));
static cl::opt<bool> fuseEpilogue(
    "fuse-epilogue", cl::init(true), cl::cat(compileCategory),
    cl::desc("Fold each projection's residual add into its starting value "
             "and its activation into its kernel (llm-fuse-epilogue)"));
static cl::opt<bool> fuseNorm(
    "fuse-norm", cl::init(true), cl::cat(compileCategory),
    cl::desc("Compute each norm's statistics and the norm in one pass over "
             "tiles of rows (llm-fuse-norm)"));
static cl::opt<unsigned> lmHeadChunk(
    "lm-head-chunk", cl::init(128), cl::cat(compileCategory),
    cl::desc("Rows per chunk of the LM head, its cross-entropy and their "
             "gradients in the training step, which then never holds the "
             "whole logits (llm-chunk-lm-head; 0: off)"));
static cl::opt<bool> recomputeNorms(
    "recompute-norms", cl::init(true), cl::cat(compileCategory),
    cl::desc("In the training step, recompute each norm's output where the "
             "backward reads it instead of keeping it from the forward "
             "(llm-recompute-norms)"));
static cl::opt<int64_t> attentionQueryTile(
    "attention-query-tile", cl::init(64), cl::Hidden, cl::cat(compileCategory),
    cl::desc("Query rows per tile of the fused attention"));
static cl::opt<int64_t> attentionKeyTile(
    "attention-key-tile", cl::init(64), cl::Hidden, cl::cat(compileCategory),
    cl::desc("Keys per tile of the fused attention"));
static cl::opt<bool> planMemory(
    "plan-memory", cl::init(true), cl::cat(compileCategory),
    cl::desc("Place each entry point's intermediate buffers in one arena, "
             "planned at the sequence bound (llm-plan-memory; docs/ABI.md)"));

static raw_ostream &toolError() {
  return WithColor::error(errs(), kToolName);
}

//===----------------------------------------------------------------------===//
// The manifest
//===----------------------------------------------------------------------===//

static StringRef dtypeName(mlir::Type type) {
  if (type.isF32())
    return "f32";
  if (type.isF16())
    return "f16";
  if (type.isBF16())
    return "bf16";
  if (type.isF64())
    return "f64";
  if (type.isInteger(64))
    return "i64";
  if (type.isInteger(32))
    return "i32";
  if (type.isInteger(1))
    return "bool";
  return "";
}

static json::Array shapeJSON(RankedTensorType type) {
  json::Array shape;
  for (int64_t dim : type.getShape())
    shape.push_back(ShapedType::isDynamic(dim) ? int64_t(-1) : dim);
  return shape;
}

/// Describes one tensor of a function signature; fails on non-tensors.
static FailureOr<json::Object> describeValue(Location loc, mlir::Type type,
                                             StringRef name, StringRef kind) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  StringRef dtype = tensor ? dtypeName(tensor.getElementType()) : "";
  if (dtype.empty())
    return emitError(loc) << "'" << name << "' has type " << type
                          << "; entry points take and return ranked tensors "
                             "of f32, f16, bf16, f64, i64, i32 or i1";
  // json::Value borrows StringRefs: copy the strings into the object.
  json::Object value{{"name", name.str()},
                     {"dtype", dtype.str()},
                     {"shape", shapeJSON(tensor)}};
  if (!kind.empty())
    value["kind"] = kind.str();
  return value;
}

/// The module attribute bounding the sequence length of a model whose
/// positions have no table (set when importing a Hugging Face folder).
static constexpr StringLiteral kMaxPositionsAttrName = "llm.max_positions";

/// What the runtime checks inputs against, read off the llm IR: the
/// vocabulary of the table the token ids index, the rows of the token-type
/// table, the rows of a learned position table (or the bound an importer
/// set), the family.
static json::Object collectModelInfo(ModuleOp module) {
  json::Object model;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func.isPublic() || func.isExternal())
      continue;
    func.walk([&](llm::EmbeddingOp op) {
      auto ids = dyn_cast<BlockArgument>(op.getIds());
      if (!ids)
        return;
      auto input = func.getArgAttrOfType<StringAttr>(
          ids.getArgNumber(), llm::LLMDialect::kInputAttrName);
      int64_t rows = op.getTable().getType().getDimSize(0);
      if (input && input.getValue() == "token_type_ids")
        model["type_vocab_size"] = rows;
      else if (!model.get("vocab_size"))
        model["vocab_size"] = rows;
    });
    func.walk([&](llm::PositionalEncodingOp op) {
      if (mlir::Value table = op.getTable())
        model["max_positions"] =
            cast<RankedTensorType>(table.getType()).getDimSize(0);
    });
  }
  auto family = module->getAttrOfType<StringAttr>(
      llm::LLMDialect::kFamilyAttrName);
  model["family"] = family ? family.getValue().str() : std::string("custom");
  if (auto bound = module->getAttrOfType<IntegerAttr>(kMaxPositionsAttrName))
    model["max_positions"] = bound.getInt();
  if (auto labels = module->getAttrOfType<IntegerAttr>(
          llm::LLMDialect::kNumLabelsAttrName))
    model["num_labels"] = labels.getInt();
  if (auto token = module->getAttrOfType<StringAttr>(
          llm::LLMDialect::kClassifyTokenAttrName))
    model["classify_token"] = token.getValue().str();
  return model;
}

/// The KV cache of the generation entry points, for the manifest's model
/// object and llm-compile's report: layers, capacity, bytes per sequence.
static std::optional<json::Object> describeKVCache(ModuleOp module) {
  auto decode = module.lookupSymbol<func::FuncOp>("decode");
  if (!decode)
    return std::nullopt;
  int64_t caches = 0, capacity = 0, bytes = 0;
  for (unsigned i = 0, e = decode.getNumArguments(); i < e; ++i) {
    auto name = decode.getArgAttrOfType<StringAttr>(
        i, llm::LLMDialect::kInputAttrName);
    if (!name || !name.getValue().starts_with("cache."))
      continue;
    auto type = cast<RankedTensorType>(decode.getArgument(i).getType());
    int64_t perSequence = type.getElementTypeBitWidth() / 8;
    for (int64_t dim : type.getShape().drop_front())
      perSequence *= dim;
    bytes += perSequence;
    capacity = type.getDimSize(2);
    ++caches;
  }
  if (caches == 0)
    return std::nullopt;
  return json::Object{{"layers", caches / 2},
                      {"capacity", capacity},
                      {"bytes_per_sequence", bytes},
                      {"layout", "[batch, kv_heads, capacity, head_dim]"}};
}

/// The manifest of the public functions of `module`, whose signatures are
/// final (after buildLLMToLinalgPipeline: parameters may be packed).
static FailureOr<json::Object>
buildManifest(ModuleOp module, const llm::ResolvedCPUTarget &target,
              json::Object model) {
  json::Array entryPoints;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func.isPublic() || func.isExternal())
      continue;
    json::Array inputs, results;
    unsigned numTokenInputs = 0;
    for (auto [index, arg] : llvm::enumerate(func.getArguments())) {
      std::string name;
      std::string kind;
      if (auto param = func.getArgAttrOfType<StringAttr>(
              index, llm::LLMDialect::kParamAttrName)) {
        name = param.getValue().str();
        kind = "param";
      } else if (auto input = func.getArgAttrOfType<StringAttr>(
                     index, llm::LLMDialect::kInputAttrName)) {
        name = input.getValue().str();
        kind = name == "input_ids"                     ? "tokens"
               : name == "attention_mask"              ? "mask"
               : name == "token_type_ids"              ? "segments"
               : name == "cache_position"              ? "positions"
               : name == "lengths"                     ? "lengths"
               : StringRef(name).starts_with("cache.") ? "kv_cache"
               : name == "labels"                      ? "labels"
               : name == "next_sentence_labels"        ? "next_sentence_labels"
               : name == "optimizer"                   ? "optimizer"
               : name == "teacher_logits"              ? "teacher_logits"
               : name == "distill"                     ? "distill"
               : StringRef(name).starts_with("adam.")  ? "optimizer_state"
                                                       : "input";
        numTokenInputs += kind == "tokens";
      } else {
        auto tensor = dyn_cast<RankedTensorType>(arg.getType());
        bool integer = tensor && isa<mlir::IntegerType>(tensor.getElementType());
        if (integer && numTokenInputs++ == 0) {
          name = "input_ids";
          kind = "tokens";
        } else {
          name = ("input_" + Twine(index)).str();
          kind = "input";
        }
      }
      FailureOr<json::Object> value =
          describeValue(func.getLoc(), arg.getType(), name, kind);
      if (failed(value))
        return failure();
      // A packed param: the checkpoint tensor's shape, and how to pack it.
      if (auto packed = func.getArgAttrOfType<DictionaryAttr>(
              index, llm::LLMDialect::kPackedAttrName)) {
        json::Array shape;
        for (int64_t size :
             packed.getAs<DenseI64ArrayAttr>("shape").asArrayRef())
          shape.push_back(size);
        (*value)["shape"] = std::move(shape);
        (*value)["packing"] = json::Object{
            {"panel", packed.getAs<IntegerAttr>("panel").getInt()},
            {"layout", packed.getAs<StringAttr>("layout").getValue().str()}};
      }
      // A param concatenated from checkpoint tensors at bind time.
      if (auto concat = func.getArgAttrOfType<DictionaryAttr>(
              index, llm::LLMDialect::kConcatAttrName)) {
        json::Array parts;
        for (auto [part, size] :
             llvm::zip(concat.getAs<ArrayAttr>("parts"),
                       concat.getAs<DenseI64ArrayAttr>("sizes").asArrayRef()))
          parts.push_back(
              json::Object{{"name", cast<StringAttr>(part).getValue().str()},
                           {"size", size}});
        (*value)["concat"] =
            json::Object{{"axis", concat.getAs<IntegerAttr>("axis").getInt()},
                         {"parts", std::move(parts)}};
      }
      inputs.push_back(std::move(*value));
    }
    // Results that update an input in place (KV caches) are not returned.
    auto isInPlace = [&](unsigned index) {
      return static_cast<bool>(func.getResultAttr(index, "llm.in_place"));
    };
    unsigned numReturned = 0;
    for (unsigned i = 0, e = func.getNumResults(); i < e; ++i)
      numReturned += !isInPlace(i);
    for (auto [index, type] : llvm::enumerate(func.getResultTypes())) {
      if (isInPlace(index))
        continue;
      std::string name =
          numReturned == 1 ? "logits" : "result_" + std::to_string(index);
      if (auto given = func.getResultAttrOfType<StringAttr>(
              index, llm::LLMDialect::kNameAttrName))
        name = given.getValue().str();
      FailureOr<json::Object> value =
          describeValue(func.getLoc(), type, name, "");
      if (failed(value))
        return failure();
      results.push_back(std::move(*value));
    }
    if (func.getNumResults() == 0)
      return func.emitError("an entry point must return at least one tensor");
    entryPoints.push_back(json::Object{
        {"name", func.getName().str()},
        {"symbol", ("llm_" + func.getName()).str()},
        {"inputs", std::move(inputs)},
        {"results", std::move(results)}});
  }
  if (entryPoints.empty())
    return module.emitError("the module has no public function to compile");
  return json::Object{{"format", "llm-opt-artifact"},
                      {"abi_version", 2},
                      {"library", "libmodel.so"},
                      {"target", json::Object{{"triple", target.triple},
                                              {"cpu", target.cpu},
                                              {"features", target.features}}},
                      {"model", std::move(model)},
                      {"arena_bytes", 0},
                      {"entry_points", std::move(entryPoints)}};
}

/// Adds what llm-plan-memory recorded (module attribute `llm.arenas`) to
/// \p manifest: each planned entry point's last input, `arena` (u8
/// [bytes]), its "arena" sizes, and the top-level "arena_bytes" (the
/// largest arena at batch 1 and the sequence bound). Returns the report for
/// llm-compile's last line.
static std::string addArenas(ModuleOp module, json::Object &manifest) {
  auto arenas = module->getAttrOfType<DictionaryAttr>("llm.arenas");
  json::Array *entries = manifest.getArray("entry_points");
  if (!arenas || !entries)
    return ", no arena (intermediates are allocated per call)";
  auto get = [](DictionaryAttr arena, StringRef key) -> int64_t {
    auto value = arena.getAs<IntegerAttr>(key);
    return value ? value.getInt() : 0;
  };
  int64_t largest = 0;
  std::string report;
  for (json::Value &value : *entries) {
    json::Object *entry = value.getAsObject();
    std::optional<StringRef> name = entry->getString("name");
    auto arena = name ? arenas.getAs<DictionaryAttr>(*name) : DictionaryAttr();
    if (!arena)
      continue;
    int64_t fixed = get(arena, "fixed_bytes");
    int64_t perSequence = get(arena, "bytes_per_sequence");
    entry->getArray("inputs")->push_back(
        json::Object{{"name", "arena"},
                     {"kind", "arena"},
                     {"dtype", "u8"},
                     {"shape", json::Array{int64_t(-1)}}});
    (*entry)["arena"] =
        json::Object{{"fixed_bytes", fixed},
                     {"bytes_per_sequence", perSequence},
                     {"max_seq", get(arena, "max_seq")},
                     {"total_bytes", get(arena, "total_bytes")},
                     {"live_bytes", get(arena, "live_bytes")},
                     {"result_bytes", get(arena, "result_bytes")}};
    largest = std::max(largest, fixed + perSequence);
    if (report.empty() || *name == "forward" || *name == "train_step")
      report = formatv(", {0} arena {1} bytes per sequence at {2} tokens "
                       "(live lower bound {3}, {4} without reuse, results "
                       "{7}; {5} buffers planned, {6} allocated)",
                       *name, fixed + perSequence, get(arena, "max_seq"),
                       get(arena, "live_bytes"), get(arena, "total_bytes"),
                       get(arena, "planned"), get(arena, "left_allocated"),
                       get(arena, "result_bytes"))
                   .str();
  }
  manifest["arena_bytes"] = largest;
  return report;
}

/// model.h: C declarations of the entry points, with their signatures in
/// comments.
static std::string buildHeader(const json::Object &manifest) {
  std::string text;
  raw_string_ostream os(text);
  os << "/* Generated by llm-compile. The calling convention is described in\n"
        "   llm-opt's docs/ABI.md: args holds one memref descriptor pointer\n"
        "   per input, then one per result. */\n"
        "#ifndef LLM_MODEL_H\n#define LLM_MODEL_H\n\n#include <stdint.h>\n\n"
        "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
        "int32_t llm_abi_version(void);\n"
        "void llm_set_num_threads(int32_t num_threads);\n";
  if (const json::Array *entries = manifest.getArray("entry_points")) {
    for (const json::Value &entry : *entries) {
      const json::Object *object = entry.getAsObject();
      os << "\n/* " << *object->getString("name") << "\n";
      for (StringRef section : {"inputs", "results"})
        for (const json::Value &value : *object->getArray(section)) {
          const json::Object *v = value.getAsObject();
          os << " *   " << section.drop_back() << " " << *v->getString("name")
             << ": " << *v->getString("dtype") << "[";
          llvm::interleave(
              *v->getArray("shape"), os,
              [&](const json::Value &d) {
                int64_t dim = *d.getAsInteger();
                if (dim < 0)
                  os << "?";
                else
                  os << dim;
              },
              ", ");
          os << "]\n";
        }
      os << " */\nint32_t " << *object->getString("symbol")
         << "(void **args);\n";
      if (object->getObject("arena"))
        os << "/* The bytes of its arena for a batch (docs/ABI.md). */\n"
           << "int64_t " << *object->getString("symbol")
           << "_arena_bytes(int64_t batch);\n";
    }
  }
  os << "\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* LLM_MODEL_H */\n";
  return text;
}

//===----------------------------------------------------------------------===//
// Writing the artifact
//===----------------------------------------------------------------------===//

static LogicalResult writeFile(StringRef path, StringRef contents) {
  std::error_code error;
  raw_fd_ostream os(path, error, sys::fs::OF_None);
  if (error) {
    toolError() << "cannot write '" << path << "': " << error.message() << "\n";
    return failure();
  }
  os << contents;
  os.close();
  if (os.has_error()) {
    toolError() << "cannot write '" << path << "': " << os.error().message()
                << "\n";
    os.clear_error();
    return failure();
  }
  return success();
}

/// A folder beside the artifact's final place, removed unless committed.
class StagingFolder {
public:
  static FailureOr<StagingFolder> create(StringRef finalPath) {
    SmallString<256> parent(finalPath);
    if (std::error_code error = sys::fs::make_absolute(parent)) {
      toolError() << "cannot resolve '" << finalPath
                  << "': " << error.message() << "\n";
      return failure();
    }
    sys::path::remove_dots(parent, /*remove_dot_dot=*/true);
    if (parent.ends_with("/"))
      parent.pop_back();
    SmallString<256> finalClean = parent;
    sys::path::remove_filename(parent);
    if (parent.empty())
      parent = ".";
    if (!sys::fs::is_directory(parent)) {
      toolError() << "output folder '" << parent << "' does not exist\n";
      return failure();
    }
    if (sys::fs::exists(finalClean) && !sys::fs::is_directory(finalClean)) {
      toolError() << "output '" << finalClean
                  << "' exists and is not a folder\n";
      return failure();
    }
    SmallString<256> model(parent);
    sys::path::append(model, ".llm-compile");
    SmallString<256> staging;
    if (std::error_code error = sys::fs::createUniqueDirectory(model, staging)) {
      toolError() << "cannot create a folder in '" << parent
                  << "': " << error.message() << "\n";
      return failure();
    }
    // createUniqueDirectory appends a random suffix to the prefix.
    return StagingFolder(staging.str().str(), finalClean.str().str());
  }

  StagingFolder(StagingFolder &&other)
      : path(std::move(other.path)), finalPath(std::move(other.finalPath)) {
    other.path.clear();
  }
  ~StagingFolder() {
    if (!path.empty())
      sys::fs::remove_directories(path);
  }

  std::string file(StringRef name) const {
    SmallString<256> result(path);
    sys::path::append(result, name);
    return result.str().str();
  }

  /// Replaces the final folder with this one.
  LogicalResult commit() {
    std::string old;
    if (sys::fs::exists(finalPath)) {
      old = finalPath + ".old-llm-compile";
      sys::fs::remove_directories(old);
      if (std::error_code error = sys::fs::rename(finalPath, old)) {
        toolError() << "cannot replace '" << finalPath
                    << "': " << error.message() << "\n";
        return failure();
      }
    }
    if (std::error_code error = sys::fs::rename(path, finalPath)) {
      toolError() << "cannot move the artifact to '" << finalPath
                  << "': " << error.message() << "\n";
      if (!old.empty())
        (void)sys::fs::rename(old, finalPath);
      return failure();
    }
    path.clear();
    if (!old.empty())
      sys::fs::remove_directories(old);
    return success();
  }

private:
  StagingFolder(std::string path, std::string finalPath)
      : path(std::move(path)), finalPath(std::move(finalPath)) {}

  std::string path, finalPath;
};

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

/// The widest vector register of the target, which picks the contraction
/// kernels' schedule (docs: llm-lower-contractions-to-vector).
static unsigned vectorBitsOf(const TargetMachine &machine) {
  // Feature names are per architecture; asking x86 names of another target
  // is a fatal error in LLVM.
  if (!machine.getTargetTriple().isX86())
    return 128;
  const MCSubtargetInfo *subtarget = machine.getMCSubtargetInfo();
  if (subtarget->checkFeatures("+avx512f"))
    return 512;
  if (subtarget->checkFeatures("+avx2") || subtarget->checkFeatures("+avx"))
    return 256;
  return 128;
}

/// Builds the module of a Hugging Face folder and records on it what the
/// manifest needs: the family, the sequence bound and the input names.
static OwningOpRef<ModuleOp> importHFFolder(MLIRContext &context) {
  llm::HFBuildOptions options;
  options.maxSequenceLength = maxSeq;
  options.strict = strictWeights;
  llm::HFModelInfo info;
  FailureOr<OwningOpRef<ModuleOp>> module =
      llm::buildModelFromHFFolder(&context, inputPath, options, &info);
  if (failed(module))
    return nullptr;
  ModuleOp op = **module;
  Builder b(&context);
  op->setAttr(llm::LLMDialect::kFamilyAttrName,
              b.getStringAttr(llm::stringifyHFModelFamily(info.family)));
  if (info.maxPositions > 0)
    op->setAttr(kMaxPositionsAttrName,
                b.getI64IntegerAttr(options.maxSequenceLength > 0
                                        ? options.maxSequenceLength
                                        : info.maxPositions));
  for (auto func : op.getOps<func::FuncOp>()) {
    if (func.getName() != info.functionName)
      continue;
    for (auto [index, input] : llvm::enumerate(info.inputs))
      if (input.kind != llm::HFInputKind::Param &&
          index < func.getNumArguments())
        func.setArgAttr(index, llm::LLMDialect::kInputAttrName,
                        b.getStringAttr(input.name));
  }
  return std::move(*module);
}

static cl::list<std::string> freezeInputs(
    "freeze-input",
    cl::desc("For an ONNX model: graph input NAME becomes a constant read "
             "from FILE (a serialized onnx TensorProto, as in ONNX test "
             "data); for inputs that decide shapes. Repeatable"),
    cl::value_desc("NAME=FILE"), cl::cat(compileCategory));

/// Whether the input is an ONNX model (by its `.onnx` extension).
static bool inputIsONNX = false;
/// The data of the ONNX model's llm.param arguments, for model.safetensors.
static std::vector<llm::ONNXParamData> onnxParams;

/// Imports the ONNX model; its parameter data is kept when an artifact is
/// written.
static OwningOpRef<ModuleOp> importONNXFile(MLIRContext &context) {
  llm::ONNXImportOptions options;
  std::string error;
  if (!options.addFrozenInputs(freezeInputs, error)) {
    toolError() << "--freeze-input: " << error << "\n";
    return nullptr;
  }
  FailureOr<OwningOpRef<ModuleOp>> module = llm::importONNXModel(
      &context, inputPath,
      emitKind == EmitKind::SharedLibrary ? &onnxParams : nullptr, options);
  if (failed(module))
    return nullptr;
  // The sequence bound of the dynamic axes: --max-seq, else the position
  // table (the largest embedding table read with ids the graph computes).
  int64_t bound = maxSeq;
  if (bound <= 0)
    (**module).walk([&](llm::EmbeddingOp op) {
      if (!isa<BlockArgument>(op.getIds()))
        bound = std::max(bound, op.getTable().getType().getDimSize(0));
    });
  if (bound > 0)
    (**module)->setAttr(kMaxPositionsAttrName,
                        Builder(&context).getI64IntegerAttr(bound));
  return std::move(*module);
}

static LogicalResult compile(MLIRContext &context, llvm::SourceMgr *sourceMgr) {
  OwningOpRef<ModuleOp> module =
      sourceMgr     ? parseSourceFile<ModuleOp>(*sourceMgr, ParserConfig(&context))
      : inputIsONNX ? importONNXFile(context)
                    : importHFFolder(context);
  if (!module)
    return failure();
  Location loc = module->getLoc();

  if (emitKind == EmitKind::MLIR)
    return llm::writeOutputAtomically(
        kToolName, outputPath, [&](raw_ostream &os) { module->print(os); });

  llm::CPUTargetOptions targetOptions;
  targetOptions.triple = targetTriple;
  targetOptions.cpu = targetCPU;
  targetOptions.features = targetFeatures;
  targetOptions.optLevel = optLevel;
  llm::ResolvedCPUTarget resolved;
  FailureOr<std::unique_ptr<TargetMachine>> machine =
      llm::createTargetMachine(loc, targetOptions, resolved);
  if (failed(machine))
    return failure();
  if (emitKind == EmitKind::SharedLibrary && !resolved.isHost) {
    emitError(loc) << "linking a shared library for '" << resolved.triple
                   << "' (not the host) is not supported; use --emit=obj";
    return failure();
  }

  // Two stages: the manifest describes the signatures the first one
  // settles (packed parameters included).
  json::Object modelInfo = collectModelInfo(*module);
  if (generation) {
    mlir::PassManager derive(&context);
    llm::LLMDeriveGenerationOptions deriveOptions;
    deriveOptions.ifDecoder = generation.getNumOccurrences() == 0;
    derive.addPass(llm::createLLMDeriveGeneration(deriveOptions));
    if (failed(derive.run(*module)))
      return failure();
    if (std::optional<json::Object> cache = describeKVCache(*module))
      modelInfo["kv_cache"] = std::move(*cache);
  }
  if (train) {
    mlir::PassManager trainStep(&context);
    llm::LLMBuildTrainStepOptions trainOptions;
    trainOptions.distill = distill;
    trainStep.addPass(llm::createLLMBuildTrainStep(trainOptions));
    if (failed(trainStep.run(*module)))
      return failure();
  }
  llm::LowerToCPUOptions pipelineOptions;
  pipelineOptions.parallel = !serial;
  pipelineOptions.planMemory = planMemory;
  pipelineOptions.fuseAttention = fuseAttention;
  pipelineOptions.fuseEpilogue = fuseEpilogue;
  pipelineOptions.fuseNorm = fuseNorm;
  pipelineOptions.fuseGateUp = fuseGateUp;
  pipelineOptions.fuseQKV = fuseQKV;
  pipelineOptions.lmHeadChunk = lmHeadChunk;
  pipelineOptions.recomputeNorms = recomputeNorms;
  pipelineOptions.attentionQueryTile = attentionQueryTile;
  pipelineOptions.attentionKeyTile = attentionKeyTile;
  if (std::optional<int64_t> bound = modelInfo.getInteger("max_positions"))
    pipelineOptions.maxSeq = *bound;
  pipelineOptions.vectorBits = vectorBitsOf(**machine);
  mlir::PassManager toLinalg(&context), toLLVM(&context);
  if (failed(applyPassManagerCLOptions(toLinalg)) ||
      failed(applyPassManagerCLOptions(toLLVM)))
    return failure();
  llm::buildLLMToLinalgPipeline(toLinalg, pipelineOptions);
  llm::buildLinalgToLLVMPipeline(toLLVM, pipelineOptions);
  // LLVM's own -stats (its statistics are compiled out of release builds).
  bool printStats = AreStatisticsEnabled();
  llm::PassStats stats(pipelineOptions.maxSeq);
  if (printStats) {
    // One pass instance per pipeline position (threads clone pipelines).
    context.disableMultithreading();
    toLinalg.addInstrumentation(stats.instrument());
    toLLVM.addInstrumentation(stats.instrument());
  }
  if (failed(toLinalg.run(*module)))
    return failure();
  FailureOr<json::Object> manifest =
      buildManifest(*module, resolved, std::move(modelInfo));
  if (failed(manifest) || failed(toLLVM.run(*module)))
    return failure();
  std::string arenaReport = addArenas(*module, *manifest);
  if (printStats)
    stats.print(outs());

  LLVMContext llvmContext;
  FailureOr<std::unique_ptr<llvm::Module>> llvmModule =
      llm::translateAndOptimize(*module, llvmContext, **machine, optLevel);
  if (failed(llvmModule))
    return failure();
  if (emitKind == EmitKind::LLVMIR)
    return llm::writeOutputAtomically(
        kToolName, outputPath,
        [&](raw_ostream &os) { (*llvmModule)->print(os, nullptr); });

  SmallVector<char, 0> object;
  if (failed(llm::emitObject(loc, **llvmModule, **machine, object)))
    return failure();
  if (emitKind == EmitKind::Object)
    return llm::writeOutputAtomically(
        kToolName, outputPath,
        [&](raw_ostream &os) { os.write(object.data(), object.size()); });

  FailureOr<StagingFolder> staging = StagingFolder::create(outputPath);
  if (failed(staging))
    return failure();
  std::string objectPath = staging->file("model.o");
  if (failed(writeFile(objectPath, StringRef(object.data(), object.size()))) ||
      failed(llm::linkSharedLibrary(loc, objectPath,
                                    staging->file("libmodel.so"),
                                    /*useOpenMP=*/!serial)))
    return failure();
  sys::fs::remove(objectPath);
  std::string header = buildHeader(*manifest);
  std::string manifestText;
  raw_string_ostream manifestStream(manifestText);
  std::string cacheReport;
  if (const json::Object *model = manifest->getObject("model"))
    if (const json::Object *cache = model->getObject("kv_cache"))
      cacheReport = formatv(", prefill/decode with a KV cache of {0} tokens "
                            "({1} bytes per sequence)",
                            *cache->getInteger("capacity"),
                            *cache->getInteger("bytes_per_sequence"))
                        .str();
  json::Value manifestValue(std::move(*manifest));
  manifestStream << formatv("{0:2}", manifestValue) << "\n";
  if (failed(writeFile(staging->file("manifest.json"), manifestText)) ||
      failed(writeFile(staging->file("model.h"), header)))
    return failure();
  if (inputIsONNX &&
      failed(llm::writeONNXParams(loc, staging->file("model.safetensors"),
                                  onnxParams)))
    return failure();
  if (failed(staging->commit()))
    return failure();
  outs() << "llm-compile: wrote " << outputPath << " (libmodel.so, model.h, "
         << "manifest.json" << (inputIsONNX ? ", model.safetensors" : "")
         << ") for " << resolved.triple << " " << resolved.cpu << cacheReport
         << arenaReport << "\n";
  return success();
}

int main(int argc, char **argv) {
  InitLLVM initLLVM(argc, argv);
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerAsmPrinterCLOptions();
  cl::HideUnrelatedOptions({&compileCategory});
  // LLVM registers -stats; llm-compile also prints its pass table with it.
  if (cl::Option *stats = cl::getRegisteredOptions().lookup("stats")) {
    stats->addCategory(compileCategory);
    stats->setHiddenFlag(cl::NotHidden);
    stats->setDescription("Print, per pass of the lowering, the ops and "
                          "kernels (llm ops, linalg ops, loop nests) before "
                          "and after it");
  }
  cl::ParseCommandLineOptions(
      argc, argv,
      "llm-compile: ahead-of-time builds of Transformer models\n\n"
      "  llm-compile model.mlir -o out/    writes out/libmodel.so, "
      "out/model.h, out/manifest.json\n"
      "  llm-compile hf-folder/ -o out/    the same from config.json + "
      "model.safetensors (gpt2, bert, llama)\n"
      "  llm-compile model.onnx -o out/    the same from an ONNX model, plus "
      "out/model.safetensors (its weights)\n");

  if (optLevel > 3) {
    toolError() << "-O" << optLevel << " is not a level; use -O0 to -O3\n";
    return 1;
  }
  if (distill && !train) {
    toolError() << "--distill needs --train (distill_step is a training "
                   "step)\n";
    return 1;
  }
  if (outputPath.empty()) {
    if (emitKind == EmitKind::MLIR || emitKind == EmitKind::LLVMIR) {
      outputPath = "-";
    } else {
      toolError() << "-o is required for --emit="
                  << (emitKind == EmitKind::Object ? "obj" : "so") << "\n";
      return 1;
    }
  }
  if (failed(llm::checkOutputIsNotInput(kToolName, inputPath, outputPath)))
    return 1;

  DialectRegistry registry;
  llm::registerLLMDialects(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  MLIRContext context(registry);

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  if (!freezeInputs.empty() && !StringRef(inputPath).ends_with(".onnx")) {
    toolError() << "--freeze-input applies to ONNX models (.onnx) only\n";
    return 1;
  }
  // A folder is a Hugging Face model (config.json + safetensors).
  if (sys::fs::is_directory(inputPath))
    return failed(compile(context, /*sourceMgr=*/nullptr)) ? 1 : 0;
  // An ONNX model: a binary file, so diagnostics name the file and the node
  // instead of quoting source lines.
  if (StringRef(inputPath).ends_with(".onnx")) {
    if (!llm::openToolInput(kToolName, inputPath))
      return 1;
    inputIsONNX = true;
    ScopedDiagnosticHandler onnxDiagnostics(&context, [](Diagnostic &diag) {
      Location loc = diag.getLocation();
      if (auto name = dyn_cast<NameLoc>(loc))
        errs() << name.getName().getValue() << ": ";
      else if (auto file = dyn_cast<FileLineColLoc>(loc))
        errs() << file.getFilename().getValue() << ":" << file.getLine()
               << ":" << file.getColumn() << ": ";
      (diag.getSeverity() == mlir::DiagnosticSeverity::Error
           ? WithColor::error(errs())
           : WithColor::warning(errs()))
          << diag << "\n";
      for (Diagnostic &note : diag.getNotes())
        WithColor::note(errs()) << note << "\n";
      return success();
    });
    return failed(compile(context, /*sourceMgr=*/nullptr)) ? 1 : 0;
  }
  std::unique_ptr<MemoryBuffer> input = llm::openToolInput(kToolName, inputPath);
  if (!input)
    return 1;
  sourceMgr.AddNewSourceBuffer(std::move(input), SMLoc());
  if (failed(llm::checkNestingDepth(sourceMgr)))
    return 1;
  return failed(compile(context, &sourceMgr)) ? 1 : 0;
}
