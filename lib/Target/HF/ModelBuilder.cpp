//===- ModelBuilder.cpp - llm IR from Hugging Face model folders -*- C++
//-*-===//
//
// The driver of the HF importer: reads config.json, lets the family read its
// keys, opens the checkpoint with the runtime's safetensors reader (headers
// only: names, dtypes, shapes), binds every tensor the model reads to its
// checkpoint name, builds the signature of @forward and lets the family emit
// the body. Every user error ends in a diagnostic, never an assertion.
//
//===----------------------------------------------------------------------===//

#include "HFImporter.h"

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/runtime/SafeTensors.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::hf;
namespace rt = ::llm::rt;

/// At most this many tensor problems are reported one by one; the rest are
/// counted, so that a checkpoint of the wrong family does not flood the
/// output.
static constexpr unsigned kMaxTensorErrors = 10;
/// At most this many unused tensors are named in the warning.
static constexpr unsigned kMaxUnusedNames = 10;

//===----------------------------------------------------------------------===//
// Small helpers
//===----------------------------------------------------------------------===//

StringRef mlir::llm::stringifyHFModelFamily(HFModelFamily family) {
  switch (family) {
  case HFModelFamily::GPT2:
    return "gpt2";
  case HFModelFamily::BERT:
    return "bert";
  case HFModelFamily::LLaMA:
    return "llama";
  }
  return "unknown";
}

StringRef mlir::llm::stringifyHFInputKind(HFInputKind kind) {
  switch (kind) {
  case HFInputKind::Tokens:
    return "tokens";
  case HFInputKind::Mask:
    return "mask";
  case HFInputKind::TokenTypes:
    return "token_types";
  case HFInputKind::Param:
    return "param";
  }
  return "unknown";
}

llvm::json::Value mlir::llm::toJSON(const HFModelInfo &info) {
  llvm::json::Array inputs;
  for (const HFModelInput &input : info.inputs)
    inputs.push_back(
        llvm::json::Object{{"name", input.name},
                           {"kind", stringifyHFInputKind(input.kind)},
                           {"dtype", input.dtype},
                           {"shape", llvm::json::Array(input.shape)}});
  llvm::json::Object model{{"family", stringifyHFModelFamily(info.family)},
                           {"vocab_size", info.vocabSize},
                           {"max_positions", info.maxPositions}};
  if (info.typeVocabSize)
    model["type_vocab_size"] = info.typeVocabSize;
  llvm::json::Array results;
  for (const HFModelInfo::Result &result : info.results)
    results.push_back(
        llvm::json::Object{{"name", result.name},
                           {"dtype", "f32"},
                           {"shape", llvm::json::Array(result.shape)}});
  return llvm::json::Object{{"model", std::move(model)},
                            {"entry_point", llvm::json::Object{
                                                {"name", info.functionName},
                                                {"inputs", std::move(inputs)},
                                                {"results", std::move(results)},
                                            }}};
}

std::string mlir::llm::hf::formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::raw_string_ostream os(text);
  llvm::interleave(
      shape, os,
      [&](int64_t dim) {
        if (ShapedType::isDynamic(dim))
          os << "?";
        else
          os << dim;
      },
      ", ");
  os << "]";
  return text;
}

std::string mlir::llm::hf::layerPrefix(StringRef prefix, int64_t layer,
                                       StringRef suffix) {
  return (prefix + Twine(layer) + suffix).str();
}

std::optional<StringRef> mlir::llm::hf::stripLayerPrefix(StringRef name,
                                                         StringRef prefix) {
  if (!name.consume_front(prefix))
    return std::nullopt;
  size_t digits = name.find_first_not_of("0123456789");
  if (digits == 0 || digits == StringRef::npos || name[digits] != '.' ||
      digits + 1 == name.size())
    return std::nullopt;
  return name.drop_front(digits + 1);
}

/// The f32/f16/bf16 element type of a checkpoint dtype, or null.
static Type getParamElementType(MLIRContext *context, rt::DType dtype) {
  switch (dtype) {
  case rt::DType::F32:
    return Float32Type::get(context);
  case rt::DType::F16:
    return Float16Type::get(context);
  case rt::DType::BF16:
    return BFloat16Type::get(context);
  default:
    return nullptr;
  }
}

/// The manifest's spelling of an element type.
static std::string getManifestDType(Type type) {
  if (type.isF32())
    return "f32";
  if (type.isF16())
    return "f16";
  if (type.isBF16())
    return "bf16";
  if (type.isInteger(64))
    return "i64";
  return "unknown";
}

/// Shapes with -1 for dynamic dimensions, as the manifest writes them.
static SmallVector<int64_t> getManifestShape(ShapedType type) {
  SmallVector<int64_t> shape;
  for (int64_t dim : type.getShape())
    shape.push_back(ShapedType::isDynamic(dim) ? -1 : dim);
  return shape;
}

//===----------------------------------------------------------------------===//
// ForwardBuilder
//===----------------------------------------------------------------------===//

Value ForwardBuilder::param(StringRef name) {
  auto arg = paramArgs.find(name);
  if (arg == paramArgs.end())
    return Value();
  auto type = cast<RankedTensorType>(arg->second.getType());
  if (type.getElementType().isF32())
    return arg->second;
  Value &value = widened[name];
  if (!value)
    value = arith::ExtFOp::create(builder, arg->second.getLoc(),
                                  type.clone(builder.getF32Type()), arg->second,
                                  /*fastmath=*/nullptr);
  return value;
}

Location ForwardBuilder::loc(const Twine &scope) {
  return NameLoc::get(builder.getStringAttr(scope));
}

OpFoldResult ForwardBuilder::getInputDim(unsigned dim, Value &cache) {
  auto type = cast<RankedTensorType>(inputIds.getType());
  if (!type.isDynamicDim(dim))
    return builder.getIndexAttr(type.getDimSize(dim));
  if (!cache) {
    // Built once, at the top of the body, so that every use is dominated.
    OpBuilder::InsertionGuard guard(builder);
    if (lastDimOp)
      builder.setInsertionPointAfter(lastDimOp);
    else
      builder.setInsertionPointAfterValue(inputIds);
    auto dimOp =
        tensor::DimOp::create(builder, inputIds.getLoc(), inputIds, dim);
    lastDimOp = dimOp;
    cache = dimOp;
  }
  return cache;
}

OpFoldResult ForwardBuilder::getBatchSize() { return getInputDim(0, batchDim); }

OpFoldResult ForwardBuilder::getSeqLen() { return getInputDim(1, seqDim); }

Value ForwardBuilder::sliceFeatures(Location loc, Value value, int64_t offset,
                                    int64_t size) {
  SmallVector<OpFoldResult> offsets = {builder.getIndexAttr(0),
                                       builder.getIndexAttr(0),
                                       builder.getIndexAttr(offset)};
  SmallVector<OpFoldResult> sizes = {getBatchSize(), getSeqLen(),
                                     builder.getIndexAttr(size)};
  SmallVector<OpFoldResult> strides(3, builder.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(builder, loc, value, offsets, sizes,
                                        strides);
}

Value ForwardBuilder::splat(Location loc, ArrayRef<OpFoldResult> sizes,
                            double value) {
  Value scalar =
      arith::ConstantOp::create(builder, loc, builder.getF32FloatAttr(value));
  return tensor::SplatOp::create(builder, loc, scalar, sizes);
}

//===----------------------------------------------------------------------===//
// The driver
//===----------------------------------------------------------------------===//

namespace {
/// Reports tensor problems one by one up to kMaxTensorErrors, then counts.
class TensorErrorReporter {
public:
  explicit TensorErrorReporter(MLIRContext *context) : context(context) {}

  /// Starts an error at `file` (a checkpoint file) or returns std::nullopt
  /// once the budget is spent.
  std::optional<InFlightDiagnostic> report(StringRef file) {
    if (++count > kMaxTensorErrors)
      return std::nullopt;
    return mlir::emitError(NameLoc::get(StringAttr::get(context, file)));
  }

  /// Reports how many problems went unreported; true if there were any.
  bool finish(StringRef checkpoint) {
    if (count > kMaxTensorErrors)
      mlir::emitError(NameLoc::get(StringAttr::get(context, checkpoint)))
          << (count - kMaxTensorErrors)
          << " more tensor problems are not shown";
    return count != 0;
  }

private:
  MLIRContext *context;
  unsigned count = 0;
};

/// A checkpoint tensor bound to the parameter it provides.
struct BoundParam {
  const ParamSpec *spec;
  const rt::TensorView *tensor;
  Type elementType;
};
} // namespace

/// Checks the options against each other and against the config; returns
/// the sequence bound.
static FailureOr<int64_t> checkOptions(const HFBuildOptions &options,
                                       const HFConfig &config,
                                       const FamilyImporter &family) {
  MLIRContext *context = config.getFileLoc()->getContext();
  Location optionsLoc = UnknownLoc::get(context);
  auto nonNegative = [&](int64_t value, StringRef what) -> LogicalResult {
    if (value >= 0 && value <= HFConfig::kMaxSize)
      return success();
    emitError(optionsLoc) << what << " must be between 0 and "
                          << HFConfig::kMaxSize << ", got " << value;
    return failure();
  };
  if (failed(nonNegative(options.maxSequenceLength, "the sequence bound")) ||
      failed(nonNegative(options.batchSize, "the batch size")) ||
      failed(nonNegative(options.sequenceLength, "the sequence length")))
    return failure();

  int64_t maxPositions = family.getMaxPositions();
  int64_t bound =
      options.maxSequenceLength ? options.maxSequenceLength : maxPositions;
  if (family.hasLearnedPositions() && bound > maxPositions) {
    config.emitError(family.getMaxPositionsKey())
        << "the sequence bound " << bound << " exceeds "
        << family.getMaxPositionsKey() << " = " << maxPositions
        << ", the size of the learned position table";
    return failure();
  }
  if (options.sequenceLength > bound) {
    emitError(optionsLoc) << "the static sequence length "
                          << options.sequenceLength
                          << " exceeds the sequence bound " << bound;
    return failure();
  }
  return bound;
}

FailureOr<OwningOpRef<ModuleOp>>
mlir::llm::buildModelFromHFFolder(MLIRContext *context, StringRef folder,
                                  const HFBuildOptions &options,
                                  HFModelInfo *info) {
  context->loadDialect<LLMDialect, arith::ArithDialect, func::FuncDialect,
                       math::MathDialect, tensor::TensorDialect>();
  Location folderLoc = NameLoc::get(StringAttr::get(context, folder));
  if (!llvm::sys::fs::is_directory(folder)) {
    emitError(folderLoc) << "'" << folder
                         << "' is not a folder; expected a Hugging Face "
                            "model folder (config.json + model.safetensors)";
    return failure();
  }

  // The config decides the family and every size.
  SmallString<256> configPath(folder);
  llvm::sys::path::append(configPath, "config.json");
  FailureOr<HFConfig> config = HFConfig::load(context, configPath);
  if (failed(config))
    return failure();
  FailureOr<std::string> modelType = config->getString("model_type");
  if (failed(modelType))
    return failure();
  std::unique_ptr<FamilyImporter> family;
  if (*modelType == "gpt2")
    family = createGPT2Importer();
  else if (*modelType == "bert")
    family = createBERTImporter();
  else if (*modelType == "llama")
    family = createLLaMAImporter();
  if (!family) {
    config->emitError("model_type") << "unsupported model_type '" << *modelType
                                    << "'; expected one of gpt2, bert, llama";
    return failure();
  }
  config->setModelType(*modelType);
  if (failed(family->readConfig(*config)))
    return failure();
  FailureOr<int64_t> bound = checkOptions(options, *config, *family);
  if (failed(bound))
    return failure();

  // The checkpoint: the reader validates every file it opens.
  rt::Expected<std::unique_ptr<rt::SafeTensorsModel>> opened =
      rt::SafeTensorsModel::open(folder.str());
  if (!opened) {
    emitError(folderLoc) << "cannot load the checkpoint: " << opened.message();
    return failure();
  }
  const rt::SafeTensorsModel &checkpoint = **opened;
  // Problems with the checkpoint as a whole are reported at the index of a
  // sharded checkpoint, or at its single file.
  SmallString<256> indexPath(folder);
  llvm::sys::path::append(indexPath, "model.safetensors.index.json");
  std::string checkpointPath = checkpoint.isSharded()
                                   ? indexPath.str().str()
                                   : checkpoint.getShards().front()->getPath();
  auto fileOf = [&](const rt::TensorView *tensor) -> std::string {
    const rt::SafeTensorsFile *file = checkpoint.getFileOf(tensor->name);
    return file ? file->getPath() : checkpointPath;
  };

  // Every layer reads several tensors: a layer count beyond the number of
  // tensors is a wrong config, refused before the specs are listed.
  if (static_cast<uint64_t>(family->getNumLayers()) >
      checkpoint.getTensors().size()) {
    config->emitError(family->getNumLayersKey())
        << family->getNumLayersKey() << " = " << family->getNumLayers()
        << " layers cannot fit in a checkpoint of "
        << checkpoint.getTensors().size() << " tensors";
    return failure();
  }

  // Map every checkpoint tensor to the parameter it provides.
  SmallVector<ParamSpec> specs = family->getParamSpecs();
  llvm::StringSet<> specNames;
  for (const ParamSpec &spec : specs)
    specNames.insert(spec.name);
  auto inCheckpoint = [&](StringRef name) {
    return checkpoint.lookup(name.str()) != nullptr;
  };
  TensorErrorReporter errors(context);
  llvm::StringMap<const rt::TensorView *> byCanonicalName;
  SmallVector<const rt::TensorView *> unused;
  for (const rt::TensorView *tensor : checkpoint.getTensors()) {
    std::optional<std::string> canonical =
        family->mapTensorName(tensor->name, inCheckpoint);
    if (!canonical)
      continue;
    if (!specNames.contains(*canonical)) {
      unused.push_back(tensor);
      continue;
    }
    auto [it, inserted] = byCanonicalName.try_emplace(*canonical, tensor);
    if (!inserted)
      if (auto diag = errors.report(fileOf(tensor)))
        *diag << "tensors '" << it->second->name << "' and '" << tensor->name
              << "' both provide '" << *canonical << "'";
  }

  // Check each parameter's presence, dtype and shape.
  SmallVector<BoundParam> params;
  for (const ParamSpec &spec : specs) {
    const rt::TensorView *tensor = byCanonicalName.lookup(spec.name);
    if (!tensor) {
      if (spec.optional)
        continue;
      if (auto diag = errors.report(checkpointPath))
        *diag << "tensor '" << spec.name
              << "' is missing from the checkpoint (expected shape "
              << formatShape(spec.shape) << " = " << spec.shapeText << ")";
      continue;
    }
    Type elementType = getParamElementType(context, tensor->dtype);
    if (!elementType) {
      if (auto diag = errors.report(fileOf(tensor)))
        *diag << "tensor '" << tensor->name << "' (at byte "
              << tensor->fileOffset << ") has dtype "
              << rt::getDTypeName(tensor->dtype)
              << "; expected F32, F16 or BF16";
      continue;
    }
    if (ArrayRef<int64_t>(tensor->shape) != ArrayRef<int64_t>(spec.shape)) {
      if (auto diag = errors.report(fileOf(tensor)))
        *diag << "tensor '" << tensor->name << "' (at byte "
              << tensor->fileOffset << ") has shape "
              << formatShape(tensor->shape) << "; the config needs "
              << formatShape(spec.shape) << " = " << spec.shapeText;
      continue;
    }
    params.push_back({&spec, tensor, elementType});
  }
  bool hasTensorErrors = errors.finish(checkpointPath);

  if (!unused.empty()) {
    Location loc = NameLoc::get(StringAttr::get(context, checkpointPath));
    InFlightDiagnostic diag =
        options.strict ? emitError(loc) : emitWarning(loc);
    diag << "the checkpoint holds " << unused.size()
         << (unused.size() == 1 ? " tensor" : " tensors") << " that the "
         << *modelType << " model does not use: ";
    llvm::interleaveComma(ArrayRef(unused).take_front(kMaxUnusedNames), diag,
                          [&](const rt::TensorView *tensor) {
                            diag << "'" << tensor->name << "'";
                          });
    if (unused.size() > kMaxUnusedNames)
      diag << " and " << (unused.size() - kMaxUnusedNames) << " more";
    if (options.strict)
      hasTensorErrors = true;
  }
  if (hasTensorErrors)
    return failure();

  // The signature: activations, then parameters in checkpoint order.
  auto hasParam = [&](StringRef name) {
    return byCanonicalName.count(name) != 0;
  };
  int64_t typeVocabSize = family->getTypeVocabSize(hasParam);
  OpBuilder builder(context);
  Type f32 = builder.getF32Type();
  Type i64 = builder.getI64Type();
  int64_t batch = options.batchSize ? options.batchSize : ShapedType::kDynamic;
  int64_t seq =
      options.sequenceLength ? options.sequenceLength : ShapedType::kDynamic;
  auto activationType = RankedTensorType::get({batch, seq}, i64);

  struct Argument {
    std::string name;
    HFInputKind kind;
    RankedTensorType type;
  };
  SmallVector<Argument> arguments;
  arguments.push_back({"input_ids", HFInputKind::Tokens, activationType});
  if (family->takesAttentionMask())
    arguments.push_back({"attention_mask", HFInputKind::Mask, activationType});
  if (typeVocabSize)
    arguments.push_back(
        {"token_type_ids", HFInputKind::TokenTypes, activationType});
  for (const BoundParam &param : params)
    arguments.push_back(
        {param.tensor->name, HFInputKind::Param,
         RankedTensorType::get(param.tensor->shape, param.elementType)});
  int64_t numLabels = family->getNumLabels();
  auto resultType = RankedTensorType::get(
      {batch, seq, numLabels ? numLabels : family->getVocabSize()}, f32);

  Location moduleLoc = config->getFileLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(moduleLoc);
  if (numLabels) {
    (*module)->setAttr(LLMDialect::kNumLabelsAttrName,
                       builder.getI64IntegerAttr(numLabels));
    (*module)->setAttr(LLMDialect::kClassifyTokenAttrName,
                       builder.getStringAttr(
                           family->classifiesFirstToken() ? "first" : "last"));
  }
  builder.setInsertionPointToEnd(module->getBody());
  SmallVector<Type> argumentTypes;
  for (const Argument &argument : arguments)
    argumentTypes.push_back(argument.type);
  auto func =
      func::FuncOp::create(builder, moduleLoc, "forward",
                           builder.getFunctionType(argumentTypes, resultType));
  Block *entry = new Block();
  func.getBody().push_back(entry);
  for (const Argument &argument : arguments)
    entry->addArgument(argument.type,
                       NameLoc::get(builder.getStringAttr(argument.name)));
  // Parameters follow the activations; the body finds them by canonical
  // name, the runtime by their exact checkpoint name.
  unsigned numActivations = arguments.size() - params.size();
  for (unsigned index = 0; index < numActivations; ++index)
    func.setArgAttr(index, LLMDialect::kInputAttrName,
                    builder.getStringAttr(arguments[index].name));
  llvm::StringMap<BlockArgument> paramArgs;
  for (auto [index, param] : llvm::enumerate(params)) {
    unsigned argIndex = numActivations + index;
    func.setArgAttr(argIndex, LLMDialect::kParamAttrName,
                    builder.getStringAttr(param.tensor->name));
    paramArgs[param.spec->name] = entry->getArgument(argIndex);
  }

  // The body.
  builder.setInsertionPointToStart(entry);
  unsigned next = 1;
  Value attentionMask =
      family->takesAttentionMask() ? entry->getArgument(next++) : Value();
  Value tokenTypeIds = typeVocabSize ? entry->getArgument(next++) : Value();
  ForwardBuilder forward(builder, entry->getArgument(0), attentionMask,
                         tokenTypeIds, std::move(paramArgs));
  Value logits = family->buildLogits(forward);
  SmallVector<Value> results = {logits};
  SmallVector<StringRef> resultNames = {"logits"};
  for (const auto &[name, value] : forward.getExtraResults()) {
    results.push_back(value);
    resultNames.push_back(name);
  }
  func::ReturnOp::create(builder, NameLoc::get(builder.getStringAttr("logits")),
                         results);
  func.setType(
      builder.getFunctionType(argumentTypes, ValueRange(results).getTypes()));
  if (results.size() > 1)
    for (auto [index, name] : llvm::enumerate(resultNames))
      func.setResultAttr(index, LLMDialect::kNameAttrName,
                         builder.getStringAttr(name));

  if (failed(verify(*module))) {
    emitError(folderLoc) << "the " << *modelType
                         << " model built from this folder does not verify "
                            "(see the errors above)";
    return failure();
  }

  if (info) {
    info->family = family->getFamily();
    info->vocabSize = family->getVocabSize();
    info->maxPositions = *bound;
    info->typeVocabSize = typeVocabSize;
    info->functionName = "forward";
    info->inputs.clear();
    for (const Argument &argument : arguments)
      info->inputs.push_back({argument.name, argument.kind,
                              getManifestDType(argument.type.getElementType()),
                              getManifestShape(argument.type)});
    info->results.clear();
    for (auto [name, value] : llvm::zip_equal(resultNames, results))
      info->results.push_back(
          {name.str(),
           getManifestShape(cast<RankedTensorType>(value.getType()))});
  }
  return module;
}
