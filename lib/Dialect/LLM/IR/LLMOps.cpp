//===- LLMOps.cpp - operations of the llm dialect ---------------*- C++ -*-===//
//
// Result-type inference and verification of the llm ops. Every op infers its
// result type from its operands and attributes; the inference checks every
// shape relation the types cannot express, so that the builders and the
// verifier (through InferTypeOpInterface) share one set of rules and one set
// of messages.
//
//===----------------------------------------------------------------------===//

#include "llm/Dialect/LLM/IR/LLMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mlir::llm;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

namespace {
/// Emits "'llm.x' op <message>" at the op's location when there is one (the
/// verifier), and stays silent otherwise (a builder probing for a type).
class InferDiag {
public:
  InferDiag(std::optional<Location> loc, StringRef opName)
      : loc(loc), opName(opName) {}

  template <typename... Args>
  LogicalResult fail(Args &&...args) const {
    return emitOptionalError(loc, "'", opName, "' op ",
                             std::forward<Args>(args)...);
  }

private:
  std::optional<Location> loc;
  StringRef opName;
};
} // namespace

/// Prints a shape the way MLIR types do: `2x?x64`.
static std::string formatShape(ArrayRef<int64_t> shape) {
  std::string result;
  llvm::raw_string_ostream os(result);
  llvm::interleave(
      shape, os,
      [&](int64_t dim) {
        if (ShapedType::isDynamic(dim))
          os << '?';
        else
          os << dim;
      },
      "x");
  if (shape.empty())
    os << "scalar";
  return result;
}

static bool compatibleDims(int64_t lhs, int64_t rhs) {
  return ShapedType::isDynamic(lhs) || ShapedType::isDynamic(rhs) ||
         lhs == rhs;
}

/// Picks the static one of two compatible dimensions.
static int64_t refineDim(int64_t lhs, int64_t rhs) {
  return ShapedType::isDynamic(lhs) ? rhs : lhs;
}

static bool compatibleShapes(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs) {
  return lhs.size() == rhs.size() &&
         llvm::all_of(llvm::zip_equal(lhs, rhs), [](auto dims) {
           return compatibleDims(std::get<0>(dims), std::get<1>(dims));
         });
}

/// Reads an optional default-valued attribute from an adaptor: builders may
/// leave it unset, and the ODS getters do not apply the default then.
template <typename AttrT, typename ValueT>
static ValueT valueOr(AttrT attr, ValueT defaultValue) {
  return attr ? static_cast<ValueT>(attr.getValue()) : defaultValue;
}

static double valueOr(FloatAttr attr, double defaultValue) {
  return attr ? attr.getValueAsDouble() : defaultValue;
}

static RankedTensorType rankedType(Value value) {
  return value ? dyn_cast<RankedTensorType>(value.getType()) : nullptr;
}

/// Checks that `value` (a per-feature parameter such as a norm weight or a
/// bias) is `[expected]` with the element type of the activation.
static LogicalResult checkVector(const InferDiag &diag, Value value,
                                 StringRef what, int64_t expected,
                                 Type elementType) {
  RankedTensorType type = rankedType(value);
  if (!type)
    return diag.fail(what, " must be a ranked tensor");
  if (type.getRank() != 1 || !compatibleDims(type.getDimSize(0), expected))
    return diag.fail(what, " must have shape [", formatShape({expected}),
                     "], got [", formatShape(type.getShape()), "]");
  if (type.getElementType() != elementType)
    return diag.fail(what, " element type ", type.getElementType(),
                     " does not match the input element type ", elementType);
  return success();
}

/// Checks a `positions` operand against an activation `[..., seq, dim]`: it
/// must be `[..., seq]` or `[seq]`.
static LogicalResult checkPositions(const InferDiag &diag, Value positions,
                                    RankedTensorType input) {
  if (!positions)
    return success();
  RankedTensorType type = rankedType(positions);
  ArrayRef<int64_t> tokenShape = input.getShape().drop_back();
  if (type && (compatibleShapes(type.getShape(), tokenShape) ||
               compatibleShapes(type.getShape(), tokenShape.take_back())))
    return success();
  return diag.fail("positions must have shape [", formatShape(tokenShape),
                   "] or [", formatShape(tokenShape.take_back()), "], got [",
                   type ? formatShape(type.getShape()) : "unranked", "]");
}

//===----------------------------------------------------------------------===//
// BoundedTensorSizes
//===----------------------------------------------------------------------===//

/// The byte size of a statically shaped part of `type`, or nullopt when it
/// overflows int64. Dynamic dimensions count as one.
static std::optional<int64_t> staticByteSize(RankedTensorType type) {
  unsigned bitWidth = type.getElementType().getIntOrFloatBitWidth();
  int64_t bytes = std::max<int64_t>(1, (bitWidth + 7) / 8);
  for (int64_t dim : type.getShape()) {
    if (ShapedType::isDynamic(dim))
      continue;
    if (llvm::MulOverflow(bytes, dim, bytes))
      return std::nullopt;
  }
  return bytes;
}

LogicalResult mlir::llm::detail::verifyBoundedTensorSizes(Operation *op) {
  auto check = [&](Type type, StringRef kind,
                   unsigned index) -> LogicalResult {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || !tensor.getElementType().isIntOrFloat() ||
        staticByteSize(tensor))
      return success();
    return op->emitOpError()
           << kind << " #" << index << " of type " << type
           << " holds more bytes than a 64-bit size can count";
  };
  for (auto [index, type] : llvm::enumerate(op->getOperandTypes()))
    if (failed(check(type, "operand", index)))
      return failure();
  for (auto [index, type] : llvm::enumerate(op->getResultTypes()))
    if (failed(check(type, "result", index)))
      return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult
EmbeddingOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                              Adaptor adaptor,
                              SmallVectorImpl<Type> &inferredReturnTypes) {
  InferDiag diag(loc, getOperationName());
  RankedTensorType table = rankedType(adaptor.getTable());
  RankedTensorType ids = rankedType(adaptor.getIds());
  if (!table || !ids)
    return diag.fail("operands must be ranked tensors");
  if (table.getRank() != 2)
    return diag.fail("table must have rank 2 [vocab, dim], got rank ",
                     table.getRank());
  SmallVector<int64_t> shape(ids.getShape());
  shape.push_back(table.getDimSize(1));
  inferredReturnTypes.push_back(
      RankedTensorType::get(shape, table.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// PositionalEncodingOp
//===----------------------------------------------------------------------===//

LogicalResult PositionalEncodingOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferredReturnTypes) {
  InferDiag diag(loc, getOperationName());
  RankedTensorType input = rankedType(adaptor.getInput());
  if (!input)
    return diag.fail("input must be a ranked tensor");
  if (input.getRank() < 2)
    return diag.fail("input must have rank >= 2 [..., seq, dim], got rank ",
                     input.getRank());
  int64_t dim = input.getShape().back();
  int64_t seq = input.getShape().drop_back().back();
  Value tableValue = adaptor.getTable();
  if (!adaptor.getKindAttr())
    return diag.fail("requires attribute 'kind'");
  switch (adaptor.getKind()) {
  case PositionalEncodingKind::Learned: {
    if (!tableValue)
      return diag.fail("learned positional encoding requires a table");
    RankedTensorType table = rankedType(tableValue);
    if (!table || table.getRank() != 2)
      return diag.fail("table must have rank 2 [max_positions, dim]");
    if (!compatibleDims(table.getDimSize(1), dim))
      return diag.fail("table dim ", table.getDimSize(1),
                       " does not match the input dim ", dim);
    if (table.getElementType() != input.getElementType())
      return diag.fail("table element type ", table.getElementType(),
                       " does not match the input element type ",
                       input.getElementType());
    if (!ShapedType::isDynamic(seq) &&
        !ShapedType::isDynamic(table.getDimSize(0)) &&
        table.getDimSize(0) < seq)
      return diag.fail("table has ", table.getDimSize(0),
                       " positions, fewer than the sequence length ", seq);
    break;
  }
  case PositionalEncodingKind::Sinusoidal:
    if (tableValue)
      return diag.fail("sinusoidal positional encoding takes no table");
    if (ShapedType::isDynamic(dim) || dim % 2 != 0)
      return diag.fail("sinusoidal positional encoding needs a static even "
                       "dim, got ",
                       formatShape({dim}));
    break;
  }
  if (failed(checkPositions(diag, adaptor.getPositions(), input)))
    return failure();
  inferredReturnTypes.push_back(input);
  return success();
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult
RopeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                         Adaptor adaptor,
                         SmallVectorImpl<Type> &inferredReturnTypes) {
  InferDiag diag(loc, getOperationName());
  RankedTensorType input = rankedType(adaptor.getInput());
  if (!input)
    return diag.fail("input must be a ranked tensor");
  if (input.getRank() < 2)
    return diag.fail(
        "input must have rank >= 2 [..., seq, heads * head_dim], got rank ",
        input.getRank());
  if (!adaptor.getHeadDimAttr())
    return diag.fail("requires attribute 'head_dim'");
  int64_t headDim = adaptor.getHeadDim();
  if (headDim <= 0 || headDim % 2 != 0)
    return diag.fail("head_dim must be positive and even, got ", headDim);
  int64_t features = input.getShape().back();
  if (ShapedType::isDynamic(features) || features % headDim != 0)
    return diag.fail("feature dim ", formatShape({features}),
                     " is not a static multiple of head_dim ", headDim);
  if (std::optional<int64_t> rotary = adaptor.getRotaryDim()) {
    if (*rotary <= 0 || *rotary % 2 != 0 || *rotary > headDim)
      return diag.fail("rotary_dim must be even and in (0, head_dim = ",
                       headDim, "], got ", *rotary);
  }
  double theta = valueOr(adaptor.getThetaAttr(), 10000.0);
  if (!(theta > 0.0) || !std::isfinite(theta))
    return diag.fail("theta must be positive and finite, got ", theta);
  if (failed(checkPositions(diag, adaptor.getPositions(), input)))
    return failure();
  inferredReturnTypes.push_back(input);
  return success();
}

//===----------------------------------------------------------------------===//
// LayerNormOp and RMSNormOp
//===----------------------------------------------------------------------===//

/// The rules both norms share: an input `[..., dim]`, optional `[dim]`
/// parameters of the same element type, a non-negative epsilon.
static LogicalResult inferNormType(const InferDiag &diag, Value inputValue,
                                   Value weight, Value bias, double epsilon,
                                   SmallVectorImpl<Type> &inferredReturnTypes) {
  RankedTensorType input = rankedType(inputValue);
  if (!input)
    return diag.fail("input must be a ranked tensor");
  if (input.getRank() < 1)
    return diag.fail("input must have rank >= 1");
  int64_t dim = input.getShape().back();
  if (weight && failed(checkVector(diag, weight, "weight", dim,
                                   input.getElementType())))
    return failure();
  if (bias &&
      failed(checkVector(diag, bias, "bias", dim, input.getElementType())))
    return failure();
  if (!(epsilon >= 0.0) || !std::isfinite(epsilon))
    return diag.fail("epsilon must be non-negative and finite, got ",
                     epsilon);
  inferredReturnTypes.push_back(input);
  return success();
}

LogicalResult
LayerNormOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                              Adaptor adaptor,
                              SmallVectorImpl<Type> &inferredReturnTypes) {
  return inferNormType(InferDiag(loc, getOperationName()), adaptor.getInput(),
                       adaptor.getWeight(), adaptor.getBias(),
                       valueOr(adaptor.getEpsilonAttr(), 1e-5),
                       inferredReturnTypes);
}

LogicalResult
RMSNormOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                            Adaptor adaptor,
                            SmallVectorImpl<Type> &inferredReturnTypes) {
  return inferNormType(InferDiag(loc, getOperationName()), adaptor.getInput(),
                       adaptor.getWeight(), /*bias=*/Value(),
                       valueOr(adaptor.getEpsilonAttr(), 1e-6),
                       inferredReturnTypes);
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

/// Returns (in, out) of a 2-D projection weight in the given layout.
static std::pair<int64_t, int64_t> projectionDims(RankedTensorType weight,
                                                  WeightLayout layout) {
  if (layout == WeightLayout::OutIn)
    return {weight.getDimSize(1), weight.getDimSize(0)};
  return {weight.getDimSize(0), weight.getDimSize(1)};
}

LogicalResult
LinearOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                           Adaptor adaptor,
                           SmallVectorImpl<Type> &inferredReturnTypes) {
  InferDiag diag(loc, getOperationName());
  RankedTensorType input = rankedType(adaptor.getInput());
  RankedTensorType weight = rankedType(adaptor.getWeight());
  if (!input || !weight)
    return diag.fail("operands must be ranked tensors");
  if (input.getRank() < 1)
    return diag.fail("input must have rank >= 1");
  if (weight.getRank() != 2)
    return diag.fail("weight must have rank 2, got rank ", weight.getRank());
  if (weight.getElementType() != input.getElementType())
    return diag.fail("weight element type ", weight.getElementType(),
                     " does not match the input element type ",
                     input.getElementType());
  WeightLayout layout =
      valueOr(adaptor.getWeightLayoutAttr(), WeightLayout::OutIn);
  auto [in, out] = projectionDims(weight, layout);
  if (!compatibleDims(in, input.getShape().back()))
    return diag.fail("weight [", formatShape(weight.getShape()), "] (",
                     stringifyWeightLayout(layout),
                     ") projects ", in, " features but the input has ",
                     formatShape({input.getShape().back()}));
  if (Value bias = adaptor.getBias())
    if (failed(checkVector(diag, bias, "bias", out, input.getElementType())))
      return failure();
  SmallVector<int64_t> shape(input.getShape());
  shape.back() = out;
  inferredReturnTypes.push_back(
      RankedTensorType::get(shape, input.getElementType()));
  return success();
}

int64_t LinearOp::getInFeatures() {
  return projectionDims(getWeight().getType(), getWeightLayout()).first;
}

int64_t LinearOp::getOutFeatures() {
  return projectionDims(getWeight().getType(), getWeightLayout()).second;
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

namespace {
/// The operands and attributes of an attention op, gathered so that the
/// inference can run from an adaptor (the verifier) or from plain values (the
/// builders) alike.
struct AttentionSpec {
  Value query, key, value, mask, kCache, vCache, cachePosition;
  int64_t numHeads = 0;
  std::optional<int64_t> numKVHeads;
  std::optional<double> scale;
};
} // namespace

static LogicalResult inferAttentionTypes(const InferDiag &diag,
                                         const AttentionSpec &spec,
                                         SmallVectorImpl<Type> &types) {
  RankedTensorType query = rankedType(spec.query);
  RankedTensorType key = rankedType(spec.key);
  RankedTensorType value = rankedType(spec.value);
  if (!query || !key || !value)
    return diag.fail("query, key and value must be ranked tensors");
  for (auto [name, type] : {std::pair<StringRef, RankedTensorType>{"query",
                                                                   query},
                            {"key", key},
                            {"value", value}})
    if (type.getRank() != 3)
      return diag.fail(name, " must have rank 3 [batch, seq, features], got ",
                       "rank ", type.getRank());
  Type elementType = query.getElementType();
  if (key.getElementType() != elementType ||
      value.getElementType() != elementType)
    return diag.fail("query, key and value must have the same element type");

  int64_t batch = query.getDimSize(0);
  if (!compatibleDims(batch, key.getDimSize(0)) ||
      !compatibleDims(batch, value.getDimSize(0)) ||
      !compatibleDims(key.getDimSize(0), value.getDimSize(0)))
    return diag.fail("query, key and value batch sizes differ: ",
                     formatShape({query.getDimSize(0)}), ", ",
                     formatShape({key.getDimSize(0)}), ", ",
                     formatShape({value.getDimSize(0)}));
  batch = refineDim(refineDim(batch, key.getDimSize(0)), value.getDimSize(0));
  if (!compatibleDims(key.getDimSize(1), value.getDimSize(1)))
    return diag.fail("key and value sequence lengths differ: ",
                     formatShape({key.getDimSize(1)}), " vs ",
                     formatShape({value.getDimSize(1)}));
  int64_t qLen = query.getDimSize(1);
  int64_t kvLen = refineDim(key.getDimSize(1), value.getDimSize(1));

  int64_t numHeads = spec.numHeads;
  if (numHeads <= 0)
    return diag.fail("num_heads must be positive, got ", numHeads);
  int64_t numKVHeads = spec.numKVHeads.value_or(numHeads);
  if (numKVHeads <= 0 || numHeads % numKVHeads != 0)
    return diag.fail("num_kv_heads (", numKVHeads,
                     ") must be positive and divide num_heads (", numHeads,
                     ")");
  int64_t qFeatures = query.getDimSize(2);
  if (ShapedType::isDynamic(qFeatures) || qFeatures % numHeads != 0)
    return diag.fail("query features ", formatShape({qFeatures}),
                     " are not a static multiple of num_heads ", numHeads);
  int64_t headDim = qFeatures / numHeads;
  if (key.getDimSize(2) != numKVHeads * headDim)
    return diag.fail("key features ", formatShape({key.getDimSize(2)}),
                     " must equal num_kv_heads * head_dim = ", numKVHeads,
                     " * ", headDim);
  int64_t vFeatures = value.getDimSize(2);
  if (ShapedType::isDynamic(vFeatures) || vFeatures % numKVHeads != 0)
    return diag.fail("value features ", formatShape({vFeatures}),
                     " are not a static multiple of num_kv_heads ",
                     numKVHeads);
  int64_t vHeadDim = vFeatures / numKVHeads;

  if (spec.scale && (!(*spec.scale > 0.0) || !std::isfinite(*spec.scale)))
    return diag.fail("scale must be positive and finite, got ", *spec.scale);

  // The KV cache: all three operands or none.
  int numCacheOperands = static_cast<int>(!!spec.kCache) +
                         static_cast<int>(!!spec.vCache) +
                         static_cast<int>(!!spec.cachePosition);
  if (numCacheOperands != 0 && numCacheOperands != 3)
    return diag.fail("a KV cache needs k_cache, v_cache and cache_position "
                     "together");
  int64_t attendedLen = kvLen;
  RankedTensorType kCache, vCache;
  if (numCacheOperands == 3) {
    kCache = rankedType(spec.kCache);
    vCache = rankedType(spec.vCache);
    RankedTensorType position = rankedType(spec.cachePosition);
    if (!kCache || !vCache || !position)
      return diag.fail("cache operands must be ranked tensors");
    if (kCache.getElementType() != elementType ||
        vCache.getElementType() != elementType)
      return diag.fail("caches must have the element type of the query");
    SmallVector<int64_t> kExpected = {batch, numKVHeads, ShapedType::kDynamic,
                                      headDim};
    SmallVector<int64_t> vExpected = {batch, numKVHeads, ShapedType::kDynamic,
                                      vHeadDim};
    if (!compatibleShapes(kCache.getShape(), kExpected))
      return diag.fail("k_cache must have shape [", formatShape(kExpected),
                       "] (batch, kv heads, capacity, head_dim), got [",
                       formatShape(kCache.getShape()), "]");
    if (!compatibleShapes(vCache.getShape(), vExpected))
      return diag.fail("v_cache must have shape [", formatShape(vExpected),
                       "] (batch, kv heads, capacity, v_head_dim), got [",
                       formatShape(vCache.getShape()), "]");
    if (!compatibleDims(kCache.getDimSize(2), vCache.getDimSize(2)))
      return diag.fail("k_cache and v_cache capacities differ");
    if (position.getRank() != 1 ||
        !compatibleDims(position.getDimSize(0), batch))
      return diag.fail("cache_position must have shape [",
                       formatShape({batch}), "], got [",
                       formatShape(position.getShape()), "]");
    attendedLen = refineDim(kCache.getDimSize(2), vCache.getDimSize(2));
  }

  if (spec.mask) {
    RankedTensorType mask = rankedType(spec.mask);
    if (!mask)
      return diag.fail("mask must be a ranked tensor");
    Type maskElement = mask.getElementType();
    if (!maskElement.isInteger(1) && maskElement != elementType)
      return diag.fail("mask element type must be i1 or ", elementType,
                       ", got ", maskElement);
    SmallVector<int64_t> scores = {batch, numHeads, qLen, attendedLen};
    if (mask.getRank() > 4)
      return diag.fail("mask must have rank <= 4, got rank ", mask.getRank());
    ArrayRef<int64_t> target = ArrayRef(scores).take_back(mask.getRank());
    for (auto [maskDim, targetDim] : llvm::zip_equal(mask.getShape(), target))
      if (maskDim != 1 && !compatibleDims(maskDim, targetDim))
        return diag.fail("mask [", formatShape(mask.getShape()),
                         "] does not broadcast to the scores [",
                         formatShape(scores), "]");
  }

  types.push_back(RankedTensorType::get({batch, qLen, numHeads * vHeadDim},
                                        elementType));
  if (kCache) {
    types.push_back(kCache);
    types.push_back(vCache);
  }
  return success();
}

LogicalResult
AttentionOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                              Adaptor adaptor,
                              SmallVectorImpl<Type> &inferredReturnTypes) {
  AttentionSpec spec;
  spec.query = adaptor.getQuery();
  spec.key = adaptor.getKey();
  spec.value = adaptor.getValue();
  spec.mask = adaptor.getMask();
  spec.kCache = adaptor.getKCache();
  spec.vCache = adaptor.getVCache();
  spec.cachePosition = adaptor.getCachePosition();
  if (!adaptor.getNumHeadsAttr())
    return emitOptionalError(loc, "'", getOperationName(),
                             "' op requires attribute 'num_heads'");
  spec.numHeads = adaptor.getNumHeads();
  spec.numKVHeads = adaptor.getNumKvHeads();
  if (std::optional<APFloat> scale = adaptor.getScale())
    spec.scale = scale->convertToDouble();
  return inferAttentionTypes(InferDiag(loc, getOperationName()), spec,
                             inferredReturnTypes);
}

/// Builds an attention op from a spec, inferring its result types. Invalid
/// operands are a programming error here: callers verify user input first.
static void buildAttention(OpBuilder &builder, OperationState &state,
                           const AttentionSpec &spec, bool causal) {
  SmallVector<Type, 3> types;
  if (failed(inferAttentionTypes(InferDiag(std::nullopt, ""), spec, types)))
    llvm::report_fatal_error("llm.attention built with invalid operands");
  IntegerAttr numKVHeads =
      spec.numKVHeads ? builder.getI64IntegerAttr(*spec.numKVHeads) : nullptr;
  FloatAttr scale = spec.scale ? builder.getF64FloatAttr(*spec.scale) : nullptr;
  AttentionOp::build(builder, state, types[0], ArrayRef(types).drop_front(),
                     spec.query, spec.key, spec.value, spec.mask, spec.kCache,
                     spec.vCache, spec.cachePosition,
                     builder.getI64IntegerAttr(spec.numHeads), numKVHeads,
                     causal ? builder.getUnitAttr() : nullptr, scale);
}

void AttentionOp::build(OpBuilder &builder, OperationState &state,
                        Value query, Value key, Value value, int64_t numHeads,
                        int64_t numKVHeads, bool causal, Value mask,
                        std::optional<double> scale) {
  AttentionSpec spec;
  spec.query = query;
  spec.key = key;
  spec.value = value;
  spec.mask = mask;
  spec.numHeads = numHeads;
  if (numKVHeads > 0)
    spec.numKVHeads = numKVHeads;
  spec.scale = scale;
  buildAttention(builder, state, spec, causal);
}

void AttentionOp::build(OpBuilder &builder, OperationState &state,
                        Value query, Value key, Value value, Value kCache,
                        Value vCache, Value cachePosition, int64_t numHeads,
                        int64_t numKVHeads, bool causal, Value mask) {
  AttentionSpec spec;
  spec.query = query;
  spec.key = key;
  spec.value = value;
  spec.mask = mask;
  spec.kCache = kCache;
  spec.vCache = vCache;
  spec.cachePosition = cachePosition;
  spec.numHeads = numHeads;
  if (numKVHeads > 0)
    spec.numKVHeads = numKVHeads;
  buildAttention(builder, state, spec, causal);
}

int64_t AttentionOp::getHeadDim() {
  return getQuery().getType().getDimSize(2) / getNumHeads();
}

int64_t AttentionOp::getValueHeadDim() {
  return getValue().getType().getDimSize(2) / getEffectiveNumKVHeads();
}

double AttentionOp::getEffectiveScale() {
  if (std::optional<APFloat> scale = getScale())
    return scale->convertToDouble();
  return 1.0 / std::sqrt(static_cast<double>(getHeadDim()));
}

//===----------------------------------------------------------------------===//
// AttentionGradOp
//===----------------------------------------------------------------------===//

LogicalResult
AttentionGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                  Adaptor adaptor,
                                  SmallVectorImpl<Type> &inferredReturnTypes) {
  InferDiag diag(loc, getOperationName());
  AttentionSpec spec;
  spec.query = adaptor.getQuery();
  spec.key = adaptor.getKey();
  spec.value = adaptor.getValue();
  spec.mask = adaptor.getMask();
  if (!adaptor.getNumHeadsAttr())
    return diag.fail("requires attribute 'num_heads'");
  spec.numHeads = adaptor.getNumHeads();
  spec.numKVHeads = adaptor.getNumKvHeads();
  if (std::optional<APFloat> scale = adaptor.getScale())
    spec.scale = scale->convertToDouble();
  SmallVector<Type, 1> forward;
  if (failed(inferAttentionTypes(diag, spec, forward)))
    return failure();
  auto expected = cast<RankedTensorType>(forward[0]);
  for (auto [name, operand] :
       {std::pair<StringRef, Value>{"output", adaptor.getOutput()},
        std::pair<StringRef, Value>{"output_grad", adaptor.getOutputGrad()}}) {
    RankedTensorType type = rankedType(operand);
    if (!type || type.getElementType() != expected.getElementType() ||
        !compatibleShapes(type.getShape(), expected.getShape()))
      return diag.fail(name, " must match the attention's result [",
                       formatShape(expected.getShape()), "] x ",
                       expected.getElementType(), ", got ", operand.getType());
  }
  inferredReturnTypes.assign({adaptor.getQuery().getType(),
                              adaptor.getKey().getType(),
                              adaptor.getValue().getType()});
  return success();
}

int64_t AttentionGradOp::getHeadDim() {
  return getQuery().getType().getDimSize(2) / getNumHeads();
}

int64_t AttentionGradOp::getValueHeadDim() {
  return getValue().getType().getDimSize(2) / getEffectiveNumKVHeads();
}

double AttentionGradOp::getEffectiveScale() {
  if (std::optional<APFloat> scale = getScale())
    return scale->convertToDouble();
  return 1.0 / std::sqrt(static_cast<double>(getHeadDim()));
}

//===----------------------------------------------------------------------===//
// FFNOp
//===----------------------------------------------------------------------===//

LogicalResult
FFNOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                        Adaptor adaptor,
                        SmallVectorImpl<Type> &inferredReturnTypes) {
  InferDiag diag(loc, getOperationName());
  RankedTensorType input = rankedType(adaptor.getInput());
  if (!input)
    return diag.fail("input must be a ranked tensor");
  if (input.getRank() < 1)
    return diag.fail("input must have rank >= 1");
  if (!adaptor.getActivationAttr())
    return diag.fail("requires attribute 'activation'");
  Activation activation = adaptor.getActivation();
  bool gated = isGatedActivation(activation);
  if (gated && !adaptor.getGateWeight())
    return diag.fail("gated activation ", stringifyActivation(activation),
                     " requires a gate weight");
  if (!gated && adaptor.getGateWeight())
    return diag.fail("activation ", stringifyActivation(activation),
                     " is not gated and takes no gate weight");
  if (adaptor.getGateBias() && !adaptor.getGateWeight())
    return diag.fail("a gate bias requires a gate weight");

  Type elementType = input.getElementType();
  int64_t dim = input.getShape().back();
  WeightLayout layout =
      valueOr(adaptor.getWeightLayoutAttr(), WeightLayout::OutIn);
  StringRef layoutName = stringifyWeightLayout(layout);
  auto checkWeight = [&](Value weightValue, StringRef what, int64_t expectIn,
                         int64_t expectOut) -> FailureOr<int64_t> {
    RankedTensorType weight = rankedType(weightValue);
    if (!weight || weight.getRank() != 2)
      return diag.fail(what, " weight must have rank 2");
    if (weight.getElementType() != elementType)
      return diag.fail(what, " weight element type ", weight.getElementType(),
                       " does not match the input element type ",
                       elementType);
    auto [in, out] = projectionDims(weight, layout);
    if (!compatibleDims(in, expectIn) || !compatibleDims(out, expectOut))
      return diag.fail(what, " weight [", formatShape(weight.getShape()),
                       "] (", layoutName, ") must map ",
                       formatShape({expectIn}), " to ",
                       formatShape({expectOut}), " features");
    return out;
  };
  FailureOr<int64_t> hidden =
      checkWeight(adaptor.getUpWeight(), "up", dim, ShapedType::kDynamic);
  if (failed(hidden))
    return failure();
  if (Value gate = adaptor.getGateWeight())
    if (failed(checkWeight(gate, "gate", dim, *hidden)))
      return failure();
  if (failed(checkWeight(adaptor.getDownWeight(), "down", *hidden, dim)))
    return failure();
  if (Value bias = adaptor.getUpBias())
    if (failed(checkVector(diag, bias, "up bias", *hidden, elementType)))
      return failure();
  if (Value bias = adaptor.getGateBias())
    if (failed(checkVector(diag, bias, "gate bias", *hidden, elementType)))
      return failure();
  if (Value bias = adaptor.getDownBias())
    if (failed(checkVector(diag, bias, "down bias", dim, elementType)))
      return failure();
  inferredReturnTypes.push_back(input);
  return success();
}

int64_t FFNOp::getHiddenSize() {
  return projectionDims(getUpWeight().getType(), getWeightLayout()).second;
}

//===----------------------------------------------------------------------===//
// GLUOp
//===----------------------------------------------------------------------===//

LogicalResult GLUOp::verify() {
  if (!isGatedActivation(getActivation()))
    return emitOpError("activation ") << stringifyActivation(getActivation())
                                      << " is not gated (swiglu or geglu)";
  return success();
}

//===----------------------------------------------------------------------===//
// SoftmaxOp
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  int64_t rank = getInput().getType().getRank();
  int64_t axis = getAxis();
  if (axis < -rank || axis >= rank)
    return emitOpError("axis ")
           << axis << " is out of range for rank " << rank;
  return success();
}

int64_t SoftmaxOp::getNormalizedAxis() {
  int64_t axis = getAxis();
  return axis < 0 ? axis + getInput().getType().getRank() : axis;
}

//===----------------------------------------------------------------------===//
// CrossEntropyOp
//===----------------------------------------------------------------------===//

LogicalResult
CrossEntropyOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                 Adaptor adaptor,
                                 SmallVectorImpl<Type> &inferredReturnTypes) {
  InferDiag diag(loc, getOperationName());
  RankedTensorType logits = rankedType(adaptor.getLogits());
  RankedTensorType labels = rankedType(adaptor.getLabels());
  if (!logits || !labels)
    return diag.fail("operands must be ranked tensors");
  if (logits.getRank() < 1)
    return diag.fail("logits must have rank >= 1 [..., classes]");
  ArrayRef<int64_t> positions = logits.getShape().drop_back();
  if (!compatibleShapes(labels.getShape(), positions))
    return diag.fail("labels must have shape [", formatShape(positions),
                     "], got [", formatShape(labels.getShape()), "]");
  double smoothing = valueOr(adaptor.getLabelSmoothingAttr(), 0.0);
  if (!(smoothing >= 0.0 && smoothing < 1.0))
    return diag.fail("label_smoothing must be in [0, 1), got ", smoothing);
  if (valueOr(adaptor.getReductionAttr(), Reduction::Mean) ==
      Reduction::None) {
    SmallVector<int64_t> shape(positions);
    for (auto [dim, labelDim] : llvm::zip_equal(shape, labels.getShape()))
      dim = refineDim(dim, labelDim);
    inferredReturnTypes.push_back(
        RankedTensorType::get(shape, logits.getElementType()));
  } else {
    inferredReturnTypes.push_back(
        RankedTensorType::get({}, logits.getElementType()));
  }
  return success();
}

//===----------------------------------------------------------------------===//
// KLDivOp
//===----------------------------------------------------------------------===//

LogicalResult
KLDivOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                          Adaptor adaptor,
                          SmallVectorImpl<Type> &inferredReturnTypes) {
  InferDiag diag(loc, getOperationName());
  RankedTensorType logits = rankedType(adaptor.getLogits());
  RankedTensorType target = rankedType(adaptor.getTarget());
  RankedTensorType labels = rankedType(adaptor.getLabels());
  RankedTensorType temperature = rankedType(adaptor.getTemperature());
  if (!logits || !target || !labels || !temperature)
    return diag.fail("operands must be ranked tensors");
  if (logits.getRank() < 1)
    return diag.fail("logits must have rank >= 1 [..., classes]");
  if (!compatibleShapes(target.getShape(), logits.getShape()))
    return diag.fail("target must have the logits' shape [",
                     formatShape(logits.getShape()), "], got [",
                     formatShape(target.getShape()), "]");
  if (target.getElementType() != logits.getElementType() ||
      temperature.getElementType() != logits.getElementType())
    return diag.fail("target and temperature must have the logits' element "
                     "type");
  if (temperature.getRank() != 0)
    return diag.fail("temperature must be a rank-0 tensor");
  ArrayRef<int64_t> positions = logits.getShape().drop_back();
  if (!compatibleShapes(labels.getShape(), positions))
    return diag.fail("labels must have shape [", formatShape(positions),
                     "], got [", formatShape(labels.getShape()), "]");
  inferredReturnTypes.push_back(
      RankedTensorType::get({}, logits.getElementType()));
  return success();
}

#define GET_OP_CLASSES
#include "llm/Dialect/LLM/IR/LLMOps.cpp.inc"
