//===- Shape.cpp - ONNX shape and data-movement ops -------------*- C++ -*-===//
//
// Reshape, Transpose, Squeeze, Unsqueeze, Concat, Slice, Split, Expand,
// Shape, Range, ConstantOfShape, Gather, Identity, Cast and Constant.
//
// This is where the symbolic shape evaluation lives: Shape gives the dims
// of a tensor as index OpFoldResults (constants for static dims, tensor.dim
// for dynamic ones), and Gather, Concat, Unsqueeze, Squeeze, Slice, Cast,
// Range and ConstantOfShape keep computing on those elements while they
// stay small; Reshape, Expand, Range, ConstantOfShape and Slice read them
// back as the static-or-dynamic sizes of their results.
//
//===----------------------------------------------------------------------===//

#include "ONNXImporterImpl.h"
#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::onnx_import;

/// The largest dim a shape value may give a result.
static constexpr int64_t kMaxResultDim = int64_t(1) << 48;

/// A 1-D (or 0-D) symbolic integer tensor type of `count` elements.
static RankedTensorType getElementsType(MLIRContext *context, int64_t count,
                                        Type elementType, bool scalar = false) {
  if (scalar)
    return RankedTensorType::get({}, elementType);
  return RankedTensorType::get({count}, elementType);
}

/// Checks the constant sizes of a result: non-negative, bounded, with an
/// element count that fits int64.
static LogicalResult checkResultSizes(const NodeContext &ctx,
                                      ArrayRef<OpFoldResult> sizes,
                                      Type elementType) {
  if (int64_t(sizes.size()) > kMaxRank)
    return ctx.emitError() << "result rank " << sizes.size()
                           << " is over the limit of " << kMaxRank;
  SmallVector<int64_t> known;
  for (OpFoldResult size : sizes) {
    std::optional<int64_t> value = getConstantInt(size);
    if (!value)
      continue;
    if (*value < 0)
      return ctx.emitError() << "result dim " << *value << " is negative";
    if (*value > kMaxResultDim)
      return ctx.emitError() << "result dim " << *value
                             << " is over the limit of 2^48";
    known.push_back(*value);
  }
  if (failed(checkedElementCount(known, getElementByteSize(elementType))))
    return ctx.emitError() << "result shape's element count overflows int64";
  return success();
}

//===----------------------------------------------------------------------===//
// Reshape
//===----------------------------------------------------------------------===//

static SmallVector<ReassociationIndices>
groupUnitDims(int64_t rank, const SmallVector<bool> &unitDims);

/// Reshapes `tensor` (of `inSizes`) to `outSizes`: dims equal on both ends
/// stay, the dims in between are collapsed into one and expanded again
/// (tensor.collapse_shape / tensor.expand_shape, which stay views after
/// bufferization). Reshapes that only add or drop dims in between fall back
/// to tensor.reshape.
static Value buildReshape(OpBuilder &b, Location loc, Value tensor,
                          ArrayRef<OpFoldResult> inSizes,
                          ArrayRef<OpFoldResult> outSizes,
                          RankedTensorType resultType) {
  auto same = [](OpFoldResult x, OpFoldResult y) {
    std::optional<int64_t> cx = getConstantInt(x), cy = getConstantInt(y);
    if (cx || cy)
      return cx == cy;
    return cast<Value>(x) == cast<Value>(y);
  };
  int64_t inRank = inSizes.size(), outRank = outSizes.size();
  int64_t prefix = 0;
  while (prefix < inRank && prefix < outRank &&
         same(inSizes[prefix], outSizes[prefix]))
    ++prefix;
  int64_t suffix = 0;
  while (suffix < inRank - prefix && suffix < outRank - prefix &&
         same(inSizes[inRank - 1 - suffix], outSizes[outRank - 1 - suffix]))
    ++suffix;
  int64_t inMiddle = inRank - prefix - suffix;
  int64_t outMiddle = outRank - prefix - suffix;
  auto sourceType = cast<RankedTensorType>(tensor.getType());
  if (inMiddle == 0 && outMiddle == 0)
    return tensor;
  // Only unit dims added or dropped: one expand or collapse.
  auto unitMask = [&](ArrayRef<OpFoldResult> sizes, int64_t middle) {
    SmallVector<bool> mask(sizes.size(), false);
    for (int64_t d = prefix; d < prefix + middle; ++d) {
      if (getConstantInt(sizes[d]) != std::optional<int64_t>(1))
        return std::optional<SmallVector<bool>>();
      mask[d] = true;
    }
    return std::optional<SmallVector<bool>>(mask);
  };
  if (inMiddle == 0 && inRank > 0)
    if (std::optional<SmallVector<bool>> mask = unitMask(outSizes, outMiddle))
      return tensor::ExpandShapeOp::create(b, loc, resultType, tensor,
                                           groupUnitDims(outRank, *mask),
                                           outSizes);
  if (outMiddle == 0 && outRank > 0)
    if (std::optional<SmallVector<bool>> mask = unitMask(inSizes, inMiddle))
      return tensor::CollapseShapeOp::create(b, loc, resultType, tensor,
                                             groupUnitDims(inRank, *mask));
  if (inMiddle == 0 || outMiddle == 0) {
    auto shapeType = RankedTensorType::get({outRank}, b.getIndexType());
    Value shapeTensor = materializeElements(b, loc, shapeType, outSizes);
    return tensor::ReshapeOp::create(b, loc, resultType, tensor, shapeTensor);
  }
  // The groups: prefix dims alone, the middle together, suffix dims alone.
  auto groups = [&](int64_t middle) {
    SmallVector<ReassociationIndices> result;
    for (int64_t d = 0; d < prefix; ++d)
      result.push_back({d});
    ReassociationIndices group;
    for (int64_t d = prefix; d < prefix + middle; ++d)
      group.push_back(d);
    result.push_back(group);
    for (int64_t d = prefix + middle; d < prefix + middle + suffix; ++d)
      result.push_back({d});
    return result;
  };
  Value collapsed = tensor;
  if (inMiddle > 1)
    collapsed = tensor::CollapseShapeOp::create(b, loc, tensor, groups(inMiddle));
  if (outMiddle == 1)
    return collapsed.getType() == resultType
               ? collapsed
               : Value(tensor::CastOp::create(b, loc, resultType, collapsed));
  // expand_shape wants a static collapsed dim when its group is static.
  auto collapsedType = cast<RankedTensorType>(collapsed.getType());
  int64_t groupSize = 1;
  for (int64_t d = prefix; d < prefix + outMiddle; ++d)
    groupSize = resultType.isDynamicDim(d) ? ShapedType::kDynamic
                : ShapedType::isDynamic(groupSize)
                    ? groupSize
                    : groupSize * resultType.getDimSize(d);
  if (collapsedType.getDimSize(prefix) != groupSize) {
    SmallVector<int64_t> shape(collapsedType.getShape());
    shape[prefix] = groupSize;
    collapsed = tensor::CastOp::create(
        b, loc, RankedTensorType::get(shape, sourceType.getElementType()),
        collapsed);
  }
  return tensor::ExpandShapeOp::create(b, loc, resultType, collapsed,
                                       groups(outMiddle), outSizes);
}

static LogicalResult convertReshape(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)))
    return failure();
  int64_t allowZero = 0;
  if (ctx.getOpset() >= 14) {
    FailureOr<int64_t> attr = ctx.getIntAttr("allowzero", 0);
    if (failed(attr))
      return failure();
    allowZero = *attr;
  }
  FailureOr<ImportedValue *> data = ctx.getInput(0);
  FailureOr<SmallVector<OpFoldResult>> shape =
      ctx.getElements(1, "the shape (input #1)");
  if (failed(data) || failed(shape))
    return failure();
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  RankedTensorType inputType = (*data)->type;
  if (inputType.getRank() > 1 || !(*data)->elements) {
    // Sizes are read from the tensor below.
  }
  Value tensor = ctx.importer.materialize(**data, b, loc);
  SmallVector<OpFoldResult> inSizes = getDimSizes(b, loc, tensor);
  SmallVector<OpFoldResult> outSizes;
  std::optional<size_t> inferred;
  // Dims read from a runtime tensor: 0 copies the input dim (unless
  // allowzero) and -1 is inferred, both decided when the model runs. Dims
  // taken from tensor sizes (Shape chains) are sizes already and stay as
  // they are, so that equal dynamic factors still cancel below.
  SmallVector<std::pair<size_t, Value>> runtimeDims;
  for (auto [index, element] : llvm::enumerate(*shape)) {
    std::optional<int64_t> value = getConstantInt(element);
    auto isTensorSize = [](OpFoldResult size) {
      auto v = dyn_cast<Value>(size);
      return v && v.getDefiningOp<tensor::DimOp>();
    };
    if (!value && isTensorSize(element)) {
      outSizes.push_back(element);
      continue;
    }
    if (!value) {
      Value given = toIndexValue(b, loc, element);
      Value size = given;
      if (!allowZero && int64_t(index) < inputType.getRank()) {
        Value isZero = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::eq, given,
            arith::ConstantIndexOp::create(b, loc, 0));
        size = arith::SelectOp::create(b, loc, isZero,
                                       toIndexValue(b, loc, inSizes[index]),
                                       given);
      }
      runtimeDims.emplace_back(index, given);
      outSizes.push_back(size);
      continue;
    }
    if (*value == -1) {
      if (inferred)
        return ctx.emitError() << "the shape has two -1 dims (at #"
                               << *inferred << " and #" << index
                               << "); at most one can be inferred";
      inferred = index;
      outSizes.push_back(indexAttr(ctx.getContext(), 1));
      continue;
    }
    if (*value < -1)
      return ctx.emitError() << "the shape has a negative dim " << *value
                             << " at #" << index;
    if (*value == 0 && !allowZero) {
      if (int64_t(index) >= inputType.getRank())
        return ctx.emitError() << "the shape copies dim #" << index
                               << " (0) of an input of rank "
                               << inputType.getRank();
      outSizes.push_back(inSizes[index]);
      continue;
    }
    outSizes.push_back(element);
  }
  if (!inferred && !runtimeDims.empty()) {
    // One of the runtime dims may be -1: the element count over the
    // product of the others (a -1 counting as 1).
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value minusOne = arith::ConstantIndexOp::create(b, loc, -1);
    Value total = one, known = one;
    for (OpFoldResult size : inSizes)
      total = arith::MulIOp::create(b, loc, total, toIndexValue(b, loc, size));
    SmallVector<Value> isInferred(outSizes.size());
    for (auto [index, given] : runtimeDims)
      isInferred[index] = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::eq, given, minusOne);
    for (auto [index, size] : llvm::enumerate(outSizes)) {
      Value factor = toIndexValue(b, loc, size);
      if (isInferred[index])
        factor = arith::SelectOp::create(b, loc, isInferred[index], one, factor);
      known = arith::MulIOp::create(b, loc, known, factor);
    }
    // A zero count elsewhere leaves nothing to infer (ONNX: the dim is 0).
    Value safeKnown = arith::MaxSIOp::create(b, loc, known, one);
    Value quotient = arith::DivSIOp::create(b, loc, total, safeKnown);
    for (auto [index, given] : runtimeDims)
      outSizes[index] = Value(arith::SelectOp::create(
          b, loc, isInferred[index], quotient,
          toIndexValue(b, loc, outSizes[index])));
  }
  if (inferred) {
    // The inferred dim is the input's element count over the product of
    // the other dims; dynamic factors present on both sides cancel, so
    // [b, s, 8] -> [b, s, 2, -1] infers a static 4.
    int64_t staticTotal = 1, staticOthers = 1;
    SmallVector<Value> dynamicTotal, dynamicOthers;
    for (OpFoldResult size : inSizes) {
      if (std::optional<int64_t> value = getConstantInt(size))
        staticTotal *= *value;
      else
        dynamicTotal.push_back(cast<Value>(size));
    }
    for (auto [index, size] : llvm::enumerate(outSizes)) {
      if (index == *inferred)
        continue;
      if (std::optional<int64_t> value = getConstantInt(size)) {
        if (llvm::MulOverflow(staticOthers, *value, staticOthers))
          return ctx.emitError() << "the shape's element count overflows";
        continue;
      }
      Value factor = cast<Value>(size);
      auto *match = llvm::find(dynamicTotal, factor);
      if (match != dynamicTotal.end())
        dynamicTotal.erase(match);
      else
        dynamicOthers.push_back(factor);
    }
    if (staticOthers == 0)
      return ctx.emitError() << "cannot infer the -1 dim when another dim "
                                "is 0";
    if (dynamicOthers.empty() && staticTotal % staticOthers == 0) {
      OpFoldResult size = indexAttr(ctx.getContext(), staticTotal / staticOthers);
      for (Value factor : dynamicTotal)
        size = foldIntOp(b, loc, IntOp::Mul, size, factor);
      outSizes[*inferred] = size;
    } else {
      if (dynamicTotal.empty() && dynamicOthers.empty())
        return ctx.emitError()
               << "cannot infer the -1 dim: " << staticTotal
               << " elements do not divide into parts of " << staticOthers;
      OpFoldResult total = indexAttr(ctx.getContext(), 1);
      for (OpFoldResult size : inSizes)
        total = foldIntOp(b, loc, IntOp::Mul, total, size);
      OpFoldResult others = indexAttr(ctx.getContext(), 1);
      for (auto [index, size] : llvm::enumerate(outSizes))
        if (index != *inferred)
          others = foldIntOp(b, loc, IntOp::Mul, others, size);
      outSizes[*inferred] = foldIntOp(b, loc, IntOp::Div, total, others);
    }
  }
  if (failed(checkResultSizes(ctx, outSizes, inputType.getElementType())))
    return failure();
  RankedTensorType resultType =
      getTensorType(outSizes, inputType.getElementType());
  if (resultType.hasStaticShape() && inputType.hasStaticShape() &&
      resultType.getNumElements() != inputType.getNumElements())
    return ctx.emitError() << "cannot reshape " << inputType << " ("
                           << inputType.getNumElements() << " elements) to "
                           << resultType << " ("
                           << resultType.getNumElements() << " elements)";
  // Symbolic values stay symbolic through rank-0/1 reshapes.
  if ((*data)->elements && resultType.getRank() <= 1 &&
      resultType.hasStaticShape())
    return ctx.setElements(0, resultType, *(*data)->elements);
  return ctx.setOutput(0, buildReshape(b, loc, tensor, inSizes, outSizes,
                                       resultType));
}

//===----------------------------------------------------------------------===//
// Transpose, Squeeze, Unsqueeze
//===----------------------------------------------------------------------===//

static LogicalResult convertTranspose(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  FailureOr<ImportedValue *> input = ctx.getInput(0);
  FailureOr<std::optional<SmallVector<int64_t>>> permAttr =
      ctx.getIntsAttr("perm");
  if (failed(input) || failed(permAttr))
    return failure();
  int64_t rank = (*input)->type.getRank();
  SmallVector<int64_t> perm;
  if (*permAttr) {
    perm = **permAttr;
  } else {
    for (int64_t d = rank - 1; d >= 0; --d)
      perm.push_back(d);
  }
  if (int64_t(perm.size()) != rank)
    return ctx.emitError() << "attribute 'perm' has " << perm.size()
                           << " entries for an input of rank " << rank;
  SmallVector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[p])
      return ctx.emitError() << "attribute 'perm' is not a permutation of 0.."
                             << rank - 1;
    seen[p] = true;
  }
  if (rank <= 1)
    return ctx.setOutput(0, **input);
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  Value tensor = ctx.importer.materialize(**input, b, loc);
  SmallVector<OpFoldResult> inSizes = getDimSizes(b, loc, tensor), outSizes;
  for (int64_t p : perm)
    outSizes.push_back(inSizes[p]);
  Value init = tensor::EmptyOp::create(b, loc, outSizes,
                                       (*input)->type.getElementType());
  Value result =
      linalg::TransposeOp::create(b, loc, tensor, init, perm).getResult()[0];
  return ctx.setOutput(0, result);
}

/// The reassociation that groups each dim not in `unitDims` with the unit
/// dims around it (leading unit dims join the first group).
static SmallVector<ReassociationIndices>
groupUnitDims(int64_t rank, const SmallVector<bool> &unitDims) {
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices pending;
  for (int64_t d = 0; d < rank; ++d) {
    pending.push_back(d);
    if (!unitDims[d]) {
      groups.push_back(pending);
      pending.clear();
    }
  }
  if (!pending.empty() && !groups.empty())
    groups.back().append(pending.begin(), pending.end());
  return groups;
}

static LogicalResult convertSqueeze(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 2)))
    return failure();
  FailureOr<ImportedValue *> input = ctx.getInput(0);
  if (failed(input))
    return failure();
  RankedTensorType type = (*input)->type;
  int64_t rank = type.getRank();
  SmallVector<bool> squeezed(rank, false);
  if (ctx.hasInput(1)) {
    FailureOr<SmallVector<int64_t>> axes =
        ctx.getConstantElements(1, "the axes (input #1)");
    if (failed(axes))
      return failure();
    for (int64_t axis : *axes) {
      FailureOr<int64_t> normalized = ctx.normalizeAxis(axis, rank, "axis");
      if (failed(normalized))
        return failure();
      int64_t size = type.getDimSize(*normalized);
      if (!ShapedType::isDynamic(size) && size != 1)
        return ctx.emitError() << "cannot squeeze dim #" << *normalized
                               << " of size " << size;
      squeezed[*normalized] = true;
    }
  } else {
    for (int64_t d = 0; d < rank; ++d)
      squeezed[d] = type.getDimSize(d) == 1;
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d)
    if (!squeezed[d])
      shape.push_back(type.getDimSize(d));
  if ((*input)->elements && shape.size() <= 1)
    return ctx.setElements(
        0, RankedTensorType::get(shape, type.getElementType()),
        *(*input)->elements);
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  Value tensor = ctx.importer.materialize(**input, b, loc);
  Value result = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), tensor,
      groupUnitDims(rank, squeezed));
  return ctx.setOutput(0, result);
}

static LogicalResult convertUnsqueeze(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)))
    return failure();
  FailureOr<ImportedValue *> input = ctx.getInput(0);
  FailureOr<SmallVector<int64_t>> axes =
      ctx.getConstantElements(1, "the axes (input #1)");
  if (failed(input) || failed(axes))
    return failure();
  RankedTensorType type = (*input)->type;
  int64_t outRank = type.getRank() + int64_t(axes->size());
  if (outRank > kMaxRank)
    return ctx.emitError() << "result rank " << outRank
                           << " is over the limit of " << kMaxRank;
  SmallVector<bool> inserted(outRank, false);
  for (int64_t axis : *axes) {
    FailureOr<int64_t> normalized = ctx.normalizeAxis(axis, outRank, "axis");
    if (failed(normalized))
      return failure();
    if (inserted[*normalized])
      return ctx.emitError() << "axis " << axis << " is given twice";
    inserted[*normalized] = true;
  }
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  if ((*input)->elements && outRank <= 1)
    return ctx.setElements(
        0, RankedTensorType::get({1}, type.getElementType()),
        *(*input)->elements);
  Value tensor = ctx.importer.materialize(**input, b, loc);
  SmallVector<OpFoldResult> inSizes = getDimSizes(b, loc, tensor), outSizes;
  for (int64_t d = 0, next = 0; d < outRank; ++d)
    outSizes.push_back(inserted[d] ? indexAttr(ctx.getContext(), 1)
                                   : inSizes[next++]);
  Value result = tensor::ExpandShapeOp::create(
      b, loc, getTensorType(outSizes, type.getElementType()), tensor,
      groupUnitDims(outRank, inserted), outSizes);
  return ctx.setOutput(0, result);
}

//===----------------------------------------------------------------------===//
// Concat, Slice, Split
//===----------------------------------------------------------------------===//

static LogicalResult convertConcat(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1024)))
    return failure();
  FailureOr<int64_t> axisAttr = ctx.getIntAttr("axis", std::nullopt);
  if (failed(axisAttr))
    return failure();
  SmallVector<ImportedValue *> inputs;
  for (unsigned i = 0; i < ctx.getNumInputs(); ++i) {
    FailureOr<ImportedValue *> input = ctx.getInput(i);
    if (failed(input))
      return failure();
    inputs.push_back(*input);
  }
  RankedTensorType first = inputs[0]->type;
  for (auto [index, input] : llvm::enumerate(inputs)) {
    if (input->type.getElementType() != first.getElementType())
      return ctx.emitError() << "dtype mismatch: input #0 is "
                             << first.getElementType() << " but input #"
                             << index << " is "
                             << input->type.getElementType();
    if (input->type.getRank() != first.getRank())
      return ctx.emitError() << "rank mismatch: input #0 is " << first
                             << " but input #" << index << " is "
                             << input->type;
  }
  FailureOr<int64_t> axis =
      ctx.normalizeAxis(*axisAttr, first.getRank(), "axis");
  if (failed(axis))
    return failure();
  if (first.getRank() == 1 && llvm::all_of(inputs, [](ImportedValue *value) {
        return value->elements.has_value();
      })) {
    SmallVector<OpFoldResult> elements;
    for (ImportedValue *input : inputs)
      elements.append(input->elements->begin(), input->elements->end());
    if (int64_t(elements.size()) <= kMaxSymbolicElements)
      return ctx.setElements(
          0,
          getElementsType(ctx.getContext(), elements.size(),
                          first.getElementType()),
          std::move(elements));
  }
  for (int64_t d = 0; d < first.getRank(); ++d) {
    if (d == *axis)
      continue;
    for (auto [index, input] : llvm::enumerate(inputs)) {
      int64_t a = first.getDimSize(d), c = input->type.getDimSize(d);
      if (!ShapedType::isDynamic(a) && !ShapedType::isDynamic(c) && a != c)
        return ctx.emitError() << "dim #" << d << " differs: input #0 is "
                               << first << " but input #" << index << " is "
                               << input->type;
    }
  }
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  SmallVector<Value> tensors;
  for (ImportedValue *input : inputs)
    tensors.push_back(ctx.importer.materialize(*input, b, loc));
  if (tensors.size() == 1)
    return ctx.setOutput(0, tensors[0]);
  Value result = tensor::ConcatOp::create(b, loc, *axis, tensors);
  return ctx.setOutput(0, result);
}

/// Clamps a start or end index of ONNX Slice to [0, dim] after adding dim to
/// negative values.
static OpFoldResult clampSliceIndex(OpBuilder &b, Location loc,
                                    OpFoldResult index, OpFoldResult dim) {
  std::optional<int64_t> constant = getConstantInt(index);
  std::optional<int64_t> size = getConstantInt(dim);
  MLIRContext *context = b.getContext();
  if (constant && size) {
    int64_t value = *constant < 0 ? *constant + *size : *constant;
    return indexAttr(context, std::clamp<int64_t>(value, 0, *size));
  }
  if (constant && *constant == 0)
    return index;
  if (constant && *constant >= 0)
    return foldIntOp(b, loc, IntOp::Min, index, dim);
  if (constant) {
    if (*constant <= -kMaxResultDim)
      return indexAttr(context, 0);
    return foldIntOp(b, loc, IntOp::Max, indexAttr(context, 0),
                     foldIntOp(b, loc, IntOp::Add, dim, index));
  }
  Value value = toIndexValue(b, loc, index);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value negative =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, value, zero);
  Value shifted =
      arith::AddIOp::create(b, loc, value, toIndexValue(b, loc, dim));
  Value wrapped = arith::SelectOp::create(b, loc, negative, shifted, value);
  return foldIntOp(b, loc, IntOp::Max, indexAttr(context, 0),
                   foldIntOp(b, loc, IntOp::Min, Value(wrapped), dim));
}

/// A slice of `tensor`; an empty tensor when a size is known to be 0 (an
/// empty slice may start at the end of its dim, which extract_slice rejects).
static Value sliceOrEmpty(OpBuilder &b, Location loc, Value tensor,
                          ArrayRef<OpFoldResult> offsets,
                          ArrayRef<OpFoldResult> sizes,
                          ArrayRef<OpFoldResult> strides) {
  Type elementType = cast<RankedTensorType>(tensor.getType()).getElementType();
  if (llvm::any_of(sizes, [](OpFoldResult size) {
        std::optional<int64_t> constant = getConstantInt(size);
        return constant && *constant == 0;
      }))
    return tensor::EmptyOp::create(b, loc, sizes, elementType);
  return tensor::ExtractSliceOp::create(
      b, loc, getTensorType(sizes, elementType), tensor, offsets, sizes,
      strides);
}

static LogicalResult convertSlice(NodeContext &ctx) {
  if (failed(ctx.checkArity(3, 5)))
    return failure();
  FailureOr<ImportedValue *> input = ctx.getInput(0);
  FailureOr<SmallVector<OpFoldResult>> starts =
      ctx.getElements(1, "the starts (input #1)");
  FailureOr<SmallVector<OpFoldResult>> ends =
      ctx.getElements(2, "the ends (input #2)");
  if (failed(input) || failed(starts) || failed(ends))
    return failure();
  RankedTensorType type = (*input)->type;
  int64_t rank = type.getRank();
  if (rank == 0)
    return ctx.emitError() << "cannot slice a scalar";
  size_t count = starts->size();
  if (ends->size() != count)
    return ctx.emitError() << "starts has " << count << " entries but ends has "
                           << ends->size();
  SmallVector<int64_t> axes, steps(count, 1);
  if (ctx.hasInput(3)) {
    FailureOr<SmallVector<int64_t>> given =
        ctx.getConstantElements(3, "the axes (input #3)");
    if (failed(given))
      return failure();
    axes = *given;
  } else {
    for (size_t k = 0; k < count; ++k)
      axes.push_back(k);
  }
  if (ctx.hasInput(4)) {
    FailureOr<SmallVector<int64_t>> given =
        ctx.getConstantElements(4, "the steps (input #4)");
    if (failed(given))
      return failure();
    steps = *given;
  }
  if (axes.size() != count || steps.size() != count)
    return ctx.emitError() << "starts, ends, axes and steps differ in length";
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  MLIRContext *context = ctx.getContext();
  Value tensor = ctx.importer.materialize(**input, b, loc);
  SmallVector<OpFoldResult> sizes = getDimSizes(b, loc, tensor);
  SmallVector<OpFoldResult> offsets(rank, indexAttr(context, 0));
  SmallVector<OpFoldResult> strides(rank, indexAttr(context, 1));
  SmallVector<OpFoldResult> resultSizes(sizes);
  SmallVector<bool> seen(rank, false);
  bool backwards = false;
  for (size_t k = 0; k < count; ++k) {
    FailureOr<int64_t> axis = ctx.normalizeAxis(axes[k], rank, "axis");
    if (failed(axis))
      return failure();
    if (seen[*axis])
      return ctx.emitError() << "axis " << axes[k] << " is given twice";
    seen[*axis] = true;
    if (steps[k] == 0)
      return ctx.emitError() << "a step is 0";
    OpFoldResult dim = sizes[*axis];
    if (steps[k] < 0) {
      // Backwards: start clamps to [0, dim - 1], end to [-1, dim - 1].
      std::optional<int64_t> size = getConstantInt(dim);
      std::optional<int64_t> first = getConstantInt((*starts)[k]);
      std::optional<int64_t> last = getConstantInt((*ends)[k]);
      if (!size || !first || !last)
        return ctx.emitError() << "a negative step needs a static dim and "
                                  "constant starts and ends";
      int64_t start = *first < 0 ? *first + *size : *first;
      int64_t end = *last < 0 ? *last + *size : *last;
      start = std::clamp<int64_t>(start, 0, std::max<int64_t>(*size - 1, 0));
      end = std::clamp<int64_t>(end, -1, *size - 1);
      int64_t stride = -steps[k];
      int64_t length =
          *size == 0 ? 0 : std::max<int64_t>(0, (start - end + stride - 1) / stride);
      offsets[*axis] = indexAttr(context, start);
      resultSizes[*axis] = indexAttr(context, length);
      strides[*axis] = indexAttr(context, steps[k]);
      backwards = true;
      continue;
    }
    OpFoldResult start = clampSliceIndex(b, loc, (*starts)[k], dim);
    OpFoldResult end = clampSliceIndex(b, loc, (*ends)[k], dim);
    OpFoldResult length = foldIntOp(
        b, loc, IntOp::Max, indexAttr(context, 0),
        foldIntOp(b, loc, IntOp::Sub, end, start));
    if (steps[k] != 1)
      length = foldIntOp(
          b, loc, IntOp::Div,
          foldIntOp(b, loc, IntOp::Add, length,
                    indexAttr(context, steps[k] - 1)),
          indexAttr(context, steps[k]));
    offsets[*axis] = start;
    resultSizes[*axis] = length;
    strides[*axis] = indexAttr(context, steps[k]);
  }
  // Slices of symbolic values with known bounds stay symbolic.
  if ((*input)->elements && rank == 1) {
    std::optional<int64_t> offset = getConstantInt(offsets[0]);
    std::optional<int64_t> length = getConstantInt(resultSizes[0]);
    std::optional<int64_t> stride = getConstantInt(strides[0]);
    if (offset && length && stride) {
      SmallVector<OpFoldResult> elements;
      for (int64_t k = 0; k < *length; ++k)
        elements.push_back((*(*input)->elements)[*offset + k * *stride]);
      return ctx.setElements(
          0, getElementsType(context, *length, type.getElementType()),
          std::move(elements));
    }
  }
  bool empty = llvm::any_of(resultSizes, [](OpFoldResult size) {
    std::optional<int64_t> constant = getConstantInt(size);
    return constant && *constant == 0;
  });
  if (!backwards || empty)
    return ctx.setOutput(
        0, sliceOrEmpty(b, loc, tensor, offsets, resultSizes, strides));
  // Negative strides: a gather, result[i] = input[offset + i * stride].
  Value init =
      tensor::EmptyOp::create(b, loc, resultSizes, type.getElementType());
  auto resultType = cast<RankedTensorType>(init.getType());
  SmallVector<Value> offsetValues, strideValues;
  for (int64_t d = 0; d < rank; ++d) {
    offsetValues.push_back(toIndexValue(b, loc, offsets[d]));
    strideValues.push_back(toIndexValue(b, loc, strides[d]));
  }
  auto gather = linalg::GenericOp::create(
      b, loc, TypeRange{resultType}, ValueRange{}, ValueRange{init},
      ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(rank, context)},
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nl, ValueRange) {
        SmallVector<Value> source;
        for (int64_t d = 0; d < rank; ++d) {
          Value i = linalg::IndexOp::create(nb, nl, d);
          source.push_back(arith::AddIOp::create(
              nb, nl, offsetValues[d],
              arith::MulIOp::create(nb, nl, i, strideValues[d])));
        }
        linalg::YieldOp::create(
            nb, nl, ValueRange{tensor::ExtractOp::create(nb, nl, tensor, source)});
      });
  return ctx.setOutput(0, gather.getResult(0));
}

static LogicalResult convertSplit(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 2, 1, 1024)))
    return failure();
  FailureOr<int64_t> axisAttr = ctx.getIntAttr("axis", 0);
  FailureOr<Value> tensorOr = ctx.getTensor(0);
  if (failed(axisAttr) || failed(tensorOr))
    return failure();
  Value tensor = *tensorOr;
  auto type = cast<RankedTensorType>(tensor.getType());
  FailureOr<int64_t> axis =
      ctx.normalizeAxis(*axisAttr, type.getRank(), "axis");
  if (failed(axis))
    return failure();
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  MLIRContext *context = ctx.getContext();
  unsigned numOutputs = ctx.getNumOutputs();
  SmallVector<OpFoldResult> sizes = getDimSizes(b, loc, tensor);
  OpFoldResult dim = sizes[*axis];
  SmallVector<OpFoldResult> parts;
  if (ctx.hasInput(1)) {
    FailureOr<SmallVector<int64_t>> split =
        ctx.getConstantElements(1, "the split (input #1)");
    if (failed(split))
      return failure();
    if (split->size() != numOutputs)
      return ctx.emitError() << "the split has " << split->size()
                             << " entries for " << numOutputs << " outputs";
    int64_t sum = 0;
    for (int64_t part : *split) {
      if (part < 0)
        return ctx.emitError() << "the split has a negative entry " << part;
      sum += part;
      parts.push_back(indexAttr(context, part));
    }
    if (std::optional<int64_t> size = getConstantInt(dim); size && *size != sum)
      return ctx.emitError() << "the split sums to " << sum << " but dim #"
                             << *axis << " is " << *size;
  } else {
    std::optional<int64_t> size = getConstantInt(dim);
    if (size && *size % numOutputs != 0)
      return ctx.emitError() << "dim #" << *axis << " of size " << *size
                             << " does not split evenly into " << numOutputs
                             << " outputs";
    OpFoldResult part = foldIntOp(b, loc, IntOp::Div, dim,
                                  indexAttr(context, numOutputs));
    parts.assign(numOutputs, part);
  }
  OpFoldResult offset = indexAttr(context, 0);
  for (unsigned i = 0; i < numOutputs; ++i) {
    SmallVector<OpFoldResult> offsets(type.getRank(), indexAttr(context, 0));
    SmallVector<OpFoldResult> strides(type.getRank(), indexAttr(context, 1));
    SmallVector<OpFoldResult> partSizes(sizes);
    offsets[*axis] = offset;
    partSizes[*axis] = parts[i];
    Value part = sliceOrEmpty(b, loc, tensor, offsets, partSizes, strides);
    if (failed(ctx.setOutput(i, part)))
      return failure();
    offset = foldIntOp(b, loc, IntOp::Add, offset, parts[i]);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Expand, Shape, Range, ConstantOfShape
//===----------------------------------------------------------------------===//

static LogicalResult convertExpand(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)))
    return failure();
  FailureOr<Value> tensorOr = ctx.getTensor(0);
  FailureOr<SmallVector<OpFoldResult>> shape =
      ctx.getElements(1, "the shape (input #1)");
  if (failed(tensorOr) || failed(shape))
    return failure();
  Value tensor = *tensorOr;
  auto type = cast<RankedTensorType>(tensor.getType());
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  int64_t rank = std::max<int64_t>(type.getRank(), shape->size());
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t in = d - (rank - type.getRank());
    int64_t sh = d - (rank - int64_t(shape->size()));
    if (sh < 0) {
      sizes.push_back(getDimSize(b, loc, tensor, in));
      continue;
    }
    OpFoldResult wanted = (*shape)[sh];
    std::optional<int64_t> value = getConstantInt(wanted);
    if (value && *value < 0)
      return ctx.emitError() << "the shape has a negative dim " << *value;
    if (in < 0) {
      sizes.push_back(wanted);
      continue;
    }
    int64_t inSize = type.getDimSize(in);
    if (value == 1 || (!value && inSize != 1)) {
      sizes.push_back(getDimSize(b, loc, tensor, in));
      continue;
    }
    if (inSize == 1) {
      sizes.push_back(wanted);
      continue;
    }
    if (!ShapedType::isDynamic(inSize) && *value != inSize)
      return ctx.emitError() << "cannot expand dim #" << in << " of size "
                             << inSize << " to " << *value;
    sizes.push_back(wanted);
  }
  if (failed(checkResultSizes(ctx, sizes, type.getElementType())))
    return failure();
  Value result = buildBroadcastGeneric(
      b, loc, {tensor}, sizes, type.getElementType(),
      [](OpBuilder &, Location, ValueRange args) { return args[0]; });
  return ctx.setOutput(0, result);
}

static LogicalResult convertShape(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  FailureOr<ImportedValue *> input = ctx.getInput(0);
  if (failed(input))
    return failure();
  int64_t rank = (*input)->type.getRank();
  int64_t start = 0, end = rank;
  if (ctx.getOpset() >= 15) {
    FailureOr<int64_t> startAttr = ctx.getIntAttr("start", 0);
    FailureOr<int64_t> endAttr = ctx.getIntAttr("end", rank);
    if (failed(startAttr) || failed(endAttr))
      return failure();
    auto clamp = [&](int64_t v) {
      return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank);
    };
    start = clamp(*startAttr);
    end = std::max(start, clamp(*endAttr));
  }
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  SmallVector<OpFoldResult> elements;
  Value tensor;
  for (int64_t d = start; d < end; ++d) {
    int64_t size = (*input)->type.getDimSize(d);
    if (!ShapedType::isDynamic(size)) {
      elements.push_back(indexAttr(ctx.getContext(), size));
      continue;
    }
    if (!tensor)
      tensor = ctx.importer.materialize(**input, b, loc);
    elements.push_back(getDimSize(b, loc, tensor, d));
  }
  return ctx.setElements(
      0, getElementsType(ctx.getContext(), elements.size(), b.getI64Type()),
      std::move(elements));
}

/// The float value of a 0-D or 1-element input known at import time.
static std::optional<double> getKnownScalar(ImportedValue &value) {
  if (value.splat)
    return value.splat;
  if (value.elements && value.elements->size() == 1)
    if (std::optional<int64_t> v = getConstantInt(value.elements->front()))
      return double(*v);
  return std::nullopt;
}

static LogicalResult convertRange(NodeContext &ctx) {
  if (failed(ctx.checkArity(3, 3)))
    return failure();
  SmallVector<ImportedValue *> operands;
  for (unsigned i = 0; i < 3; ++i) {
    FailureOr<ImportedValue *> input = ctx.getInput(i);
    if (failed(input))
      return failure();
    if ((*input)->type.getRank() != 0 ||
        (!operands.empty() && (*input)->type.getElementType() !=
                                  operands[0]->type.getElementType()))
      return ctx.emitError()
             << "takes three scalars of one dtype, got input #" << i
             << " of type " << (*input)->type;
    operands.push_back(*input);
  }
  Type elementType = operands[0]->type.getElementType();
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  MLIRContext *context = ctx.getContext();
  if (elementType.isInteger(1))
    return ctx.emitError() << "does not take bool inputs";

  if (isFloatType(elementType)) {
    // Float ranges need their bounds at import time.
    std::optional<double> start = getKnownScalar(*operands[0]);
    std::optional<double> limit = getKnownScalar(*operands[1]);
    std::optional<double> delta = getKnownScalar(*operands[2]);
    if (!start || !limit || !delta) {
      // Bounds known at run time only: count = ceil((limit - start) / delta).
      SmallVector<Value> scalars;
      for (ImportedValue *operand : operands)
        scalars.push_back(tensor::ExtractOp::create(
            b, loc, ctx.importer.materialize(*operand, b, loc),
            ValueRange{}));
      Value span = arith::SubFOp::create(b, loc, scalars[1], scalars[0]);
      Value steps = math::CeilOp::create(
          b, loc, arith::DivFOp::create(b, loc, span, scalars[2]));
      Value count = arith::MaxSIOp::create(
          b, loc, arith::ConstantIndexOp::create(b, loc, 0),
          castScalar(b, loc, castScalar(b, loc, steps, b.getI64Type()),
                     b.getIndexType()));
      Value result = buildBroadcastGeneric(
          b, loc, {}, {OpFoldResult(count)}, elementType,
          [&](OpBuilder &nb, Location nl, ValueRange) {
            Value index = linalg::IndexOp::create(nb, nl, 0);
            Value i = castScalar(nb, nl, index, elementType);
            Value scaled = arith::MulFOp::create(nb, nl, i, scalars[2]);
            return Value(arith::AddFOp::create(nb, nl, scaled, scalars[0]));
          });
      return ctx.setOutput(0, result);
    }
    if (*delta == 0)
      return ctx.emitError() << "delta is 0";
    double steps = std::ceil((*limit - *start) / *delta);
    if (!(steps < double(kMaxResultDim)))
      return ctx.emitError() << "the range has too many elements";
    int64_t count = std::max<int64_t>(0, int64_t(steps));
    SmallVector<OpFoldResult> sizes{indexAttr(context, count)};
    Value result = buildBroadcastGeneric(
        b, loc, {}, sizes, elementType,
        [&](OpBuilder &nb, Location nl, ValueRange) {
          Value index = linalg::IndexOp::create(nb, nl, 0);
          Value i = castScalar(nb, nl, index, elementType);
          Value scaled = arith::MulFOp::create(
              nb, nl, i, createScalarConstant(nb, nl, elementType, *delta));
          return Value(arith::AddFOp::create(
              nb, nl, scaled,
              createScalarConstant(nb, nl, elementType, *start)));
        });
    return ctx.setOutput(0, result);
  }

  SmallVector<OpFoldResult> scalars;
  for (unsigned i = 0; i < 3; ++i) {
    FailureOr<SmallVector<OpFoldResult>> element =
        ctx.getElements(i, "a Range operand");
    if (failed(element))
      return failure();
    scalars.push_back(element->front());
  }
  std::optional<int64_t> delta = getConstantInt(scalars[2]);
  if (!delta) {
    // A delta known at run time: count = max(0, ceildiv(limit - start,
    // delta)).
    Value start = toIndexValue(b, loc, scalars[0]);
    Value step = toIndexValue(b, loc, scalars[2]);
    Value span = toIndexValue(
        b, loc, foldIntOp(b, loc, IntOp::Sub, scalars[1], scalars[0]));
    Value count = arith::MaxSIOp::create(
        b, loc, arith::ConstantIndexOp::create(b, loc, 0),
        arith::CeilDivSIOp::create(b, loc, span, step));
    Value result = buildBroadcastGeneric(
        b, loc, {}, {OpFoldResult(count)}, elementType,
        [&](OpBuilder &nb, Location nl, ValueRange) {
          Value index = linalg::IndexOp::create(nb, nl, 0);
          Value scaled = arith::MulIOp::create(nb, nl, index, step);
          Value value = arith::AddIOp::create(nb, nl, start, scaled);
          return castScalar(nb, nl, value, elementType);
        });
    return ctx.setOutput(0, result);
  }
  if (*delta == 0)
    return ctx.emitError() << "delta is 0";
  OpFoldResult diff = foldIntOp(b, loc, IntOp::Sub, scalars[1], scalars[0]);
  if (*delta < 0)
    diff = foldIntOp(b, loc, IntOp::Sub, indexAttr(context, 0), diff);
  int64_t step = std::abs(*delta);
  OpFoldResult count = foldIntOp(
      b, loc, IntOp::Max, indexAttr(context, 0),
      foldIntOp(b, loc, IntOp::Div,
                foldIntOp(b, loc, IntOp::Add, diff,
                          indexAttr(context, step - 1)),
                indexAttr(context, step)));
  if (std::optional<int64_t> known = getConstantInt(count)) {
    if (*known > kMaxResultDim)
      return ctx.emitError() << "the range has " << *known
                             << " elements, over the limit of 2^48";
    if (*known <= kMaxSymbolicElements) {
      SmallVector<OpFoldResult> elements;
      for (int64_t k = 0; k < *known; ++k)
        elements.push_back(foldIntOp(b, loc, IntOp::Add, scalars[0],
                                     indexAttr(context, k * *delta)));
      return ctx.setElements(0, getElementsType(context, *known, elementType),
                             std::move(elements));
    }
  }
  Value start = toIndexValue(b, loc, scalars[0]);
  Value result = buildBroadcastGeneric(
      b, loc, {}, {count}, elementType,
      [&](OpBuilder &nb, Location nl, ValueRange) {
        Value index = linalg::IndexOp::create(nb, nl, 0);
        Value scaled = arith::MulIOp::create(
            nb, nl, index, arith::ConstantIndexOp::create(nb, nl, *delta));
        Value value = arith::AddIOp::create(nb, nl, start, scaled);
        return castScalar(nb, nl, value, elementType);
      });
  return ctx.setOutput(0, result);
}

static LogicalResult convertConstantOfShape(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  FailureOr<SmallVector<OpFoldResult>> shape =
      ctx.getElements(0, "the shape (input #0)");
  FailureOr<std::optional<TensorData>> valueAttr = ctx.getTensorAttr("value");
  if (failed(shape) || failed(valueAttr))
    return failure();
  Type elementType = Float32Type::get(ctx.getContext());
  double fill = 0.0;
  if (*valueAttr) {
    const TensorData &data = **valueAttr;
    if (data.numElements != 1)
      return ctx.emitError() << "attribute 'value' must hold one element, got "
                             << data.numElements;
    FailureOr<std::vector<char>> bytes =
        readTensorBytes(data, ctx.getLoc(), "attribute 'value'");
    if (failed(bytes))
      return failure();
    elementType = data.elementType;
    if (elementType.isF32()) {
      float v;
      std::memcpy(&v, bytes->data(), 4);
      fill = v;
    } else if (elementType.isInteger(64)) {
      int64_t v;
      std::memcpy(&v, bytes->data(), 8);
      fill = double(v);
    } else if (elementType.isInteger(32)) {
      int32_t v;
      std::memcpy(&v, bytes->data(), 4);
      fill = v;
    } else {
      fill = (*bytes)[0] != 0;
    }
  }
  if (failed(checkResultSizes(ctx, *shape, elementType)))
    return failure();
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  // A small integer result stays symbolic (torch's expand(-1) pattern).
  if (shape->size() == 1 && isa<IntegerType>(elementType))
    if (std::optional<int64_t> count = getConstantInt(shape->front());
        count && *count <= kMaxSymbolicElements)
      return ctx.setElements(
          0, getElementsType(ctx.getContext(), *count, elementType),
          SmallVector<OpFoldResult>(*count,
                                    indexAttr(ctx.getContext(), int64_t(fill))));
  Value empty = tensor::EmptyOp::create(b, loc, *shape, elementType);
  Value value = createScalarConstant(b, loc, elementType, fill);
  Value result = linalg::FillOp::create(b, loc, value, empty).getResult(0);
  ImportedValue imported;
  imported.type = cast<RankedTensorType>(result.getType());
  imported.tensor = result;
  if (isFloatType(elementType))
    imported.splat = fill;
  return ctx.setOutput(0, std::move(imported));
}

//===----------------------------------------------------------------------===//
// Gather
//===----------------------------------------------------------------------===//

static LogicalResult convertGather(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)))
    return failure();
  FailureOr<int64_t> axisAttr = ctx.getIntAttr("axis", 0);
  FailureOr<ImportedValue *> data = ctx.getInput(0);
  FailureOr<ImportedValue *> indices = ctx.getInput(1);
  if (failed(axisAttr) || failed(data) || failed(indices))
    return failure();
  RankedTensorType dataType = (*data)->type;
  RankedTensorType indicesType = (*indices)->type;
  if (!isa<IntegerType>(indicesType.getElementType()) ||
      indicesType.getElementType().isInteger(1))
    return ctx.emitError() << "indices must be INT64 or INT32, got "
                           << indicesType;
  if (dataType.getRank() == 0)
    return ctx.emitError() << "cannot gather from a scalar";
  FailureOr<int64_t> axis =
      ctx.normalizeAxis(*axisAttr, dataType.getRank(), "axis");
  if (failed(axis))
    return failure();
  int64_t outRank = dataType.getRank() - 1 + indicesType.getRank();
  if (outRank > kMaxRank)
    return ctx.emitError() << "result rank " << outRank
                           << " is over the limit of " << kMaxRank;
  // Gathers from a symbolic shape with known indices fold.
  if ((*data)->elements && (*indices)->elements && dataType.getRank() == 1) {
    int64_t size = (*data)->elements->size();
    SmallVector<OpFoldResult> elements;
    bool known = true;
    for (OpFoldResult index : *(*indices)->elements) {
      std::optional<int64_t> i = getConstantInt(index);
      if (!i) {
        known = false;
        break;
      }
      if (*i < -size || *i >= size)
        return ctx.emitError() << "index " << *i
                               << " is out of range for a dim of size "
                               << size;
      elements.push_back((*(*data)->elements)[*i < 0 ? *i + size : *i]);
    }
    if (known)
      return ctx.setElements(
          0, RankedTensorType::get(indicesType.getShape(),
                                   dataType.getElementType()),
          std::move(elements));
  }
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  Value dataTensor = ctx.importer.materialize(**data, b, loc);
  Value indexTensor = ctx.importer.materialize(**indices, b, loc);
  // Rows of a 2-D float parameter: an embedding lookup, llm.embedding.
  // Negative ids count from the end in ONNX; ids that are not a graph input
  // (whose range the runtime checks) are wrapped first.
  auto param = dyn_cast<BlockArgument>(dataTensor);
  auto func = param ? dyn_cast<func::FuncOp>(param.getOwner()->getParentOp())
                    : nullptr;
  if (*axis == 0 && dataType.getRank() == 2 && !dataType.isDynamicDim(0) &&
      isa<FloatType>(dataType.getElementType()) && func &&
      func.getArgAttr(param.getArgNumber(), LLMDialect::kParamAttrName)) {
    Value ids = indexTensor;
    if (!isa<BlockArgument>(ids)) {
      Value rows = arith::ConstantOp::create(
          b, loc, b.getIntegerAttr(indicesType.getElementType(),
                                   dataType.getDimSize(0)));
      ids = buildBroadcastGeneric(
          b, loc, {ids}, getDimSizes(b, loc, ids),
          indicesType.getElementType(),
          [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value zero = arith::ConstantOp::create(
            nb, nl, nb.getIntegerAttr(args[0].getType(), 0));
        Value negative = arith::CmpIOp::create(
            nb, nl, arith::CmpIPredicate::slt, args[0], zero);
        return Value(arith::SelectOp::create(
            nb, nl, negative, arith::AddIOp::create(nb, nl, args[0], rows),
            args[0]));
      });
    }
    return ctx.setOutput(0, EmbeddingOp::create(b, loc, dataTensor, ids));
  }
  SmallVector<OpFoldResult> dataSizes = getDimSizes(b, loc, dataTensor);
  SmallVector<OpFoldResult> indexSizes = getDimSizes(b, loc, indexTensor);
  SmallVector<OpFoldResult> sizes(dataSizes.begin(),
                                  dataSizes.begin() + *axis);
  sizes.append(indexSizes.begin(), indexSizes.end());
  sizes.append(dataSizes.begin() + *axis + 1, dataSizes.end());
  MLIRContext *context = ctx.getContext();
  SmallVector<AffineExpr> indexExprs;
  for (int64_t d = 0; d < indicesType.getRank(); ++d)
    indexExprs.push_back(getAffineDimExpr(*axis + d, context));
  SmallVector<AffineMap> maps{
      AffineMap::get(outRank, 0, indexExprs, context),
      AffineMap::getMultiDimIdentityMap(outRank, context)};
  Value dimSize = toIndexValue(b, loc, dataSizes[*axis]);
  Value init =
      tensor::EmptyOp::create(b, loc, sizes, dataType.getElementType());
  SmallVector<utils::IteratorType> iterators(outRank,
                                             utils::IteratorType::parallel);
  int64_t indicesRank = indicesType.getRank();
  int64_t dataRank = dataType.getRank();
  int64_t axisValue = *axis;
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{indexTensor},
      ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        // Negative indices count from the end; out-of-range ones are
        // clamped, so the code never reads out of bounds.
        Value index = arith::IndexCastOp::create(nb, nl, nb.getIndexType(),
                                                 args[0]);
        Value zero = arith::ConstantIndexOp::create(nb, nl, 0);
        Value one = arith::ConstantIndexOp::create(nb, nl, 1);
        Value negative = arith::CmpIOp::create(
            nb, nl, arith::CmpIPredicate::slt, index, zero);
        Value wrapped = arith::SelectOp::create(
            nb, nl, negative, arith::AddIOp::create(nb, nl, index, dimSize),
            index);
        Value last = arith::SubIOp::create(nb, nl, dimSize, one);
        Value clamped = arith::MaxSIOp::create(
            nb, nl, zero, arith::MinSIOp::create(nb, nl, wrapped, last));
        SmallVector<Value> coords;
        for (int64_t d = 0; d < axisValue; ++d)
          coords.push_back(linalg::IndexOp::create(nb, nl, d));
        coords.push_back(clamped);
        for (int64_t d = axisValue + 1; d < dataRank; ++d)
          coords.push_back(
              linalg::IndexOp::create(nb, nl, d - 1 + indicesRank));
        Value element = tensor::ExtractOp::create(nb, nl, dataTensor, coords);
        linalg::YieldOp::create(nb, nl, element);
      });
  return ctx.setOutput(0, generic.getResult(0));
}

//===----------------------------------------------------------------------===//
// Identity, Cast, Constant
//===----------------------------------------------------------------------===//

static LogicalResult convertIdentity(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  FailureOr<ImportedValue *> input = ctx.getInput(0);
  if (failed(input))
    return failure();
  return ctx.setOutput(0, **input);
}

static LogicalResult convertCast(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  FailureOr<int64_t> to = ctx.getIntAttr("to", std::nullopt);
  FailureOr<ImportedValue *> input = ctx.getInput(0);
  if (failed(to) || failed(input))
    return failure();
  Type target = convertValueElementType(ctx.getContext(), int32_t(*to));
  if (!target || *to != int32_t(*to))
    return ctx.emitError()
           << "unsupported target data type " << getDataTypeName(int32_t(*to))
           << "; supported: FLOAT, FLOAT16, DOUBLE, INT64, INT32, BOOL";
  RankedTensorType type = (*input)->type;
  RankedTensorType resultType =
      RankedTensorType::get(type.getShape(), target);
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  if ((*input)->elements && isa<IntegerType>(target)) {
    SmallVector<OpFoldResult> elements;
    for (OpFoldResult element : *(*input)->elements) {
      if (target.isInteger(1))
        element = foldIntOp(
            b, loc, IntOp::Sub, indexAttr(ctx.getContext(), 1),
            foldIntOp(b, loc, IntOp::Eq, element,
                      indexAttr(ctx.getContext(), 0)));
      else if (target.isInteger(32))
        if (std::optional<int64_t> value = getConstantInt(element))
          element = indexAttr(ctx.getContext(), int32_t(*value));
      elements.push_back(element);
    }
    return ctx.setElements(0, resultType, std::move(elements));
  }
  Value tensor = ctx.importer.materialize(**input, b, loc);
  if (type.getElementType() == target)
    return ctx.setOutput(0, tensor);
  FailureOr<SmallVector<OpFoldResult>> sizes =
      broadcastShapes(ctx, ArrayRef<Value>{tensor});
  if (failed(sizes))
    return failure();
  Value result = buildBroadcastGeneric(
      b, loc, {tensor}, *sizes, target,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        return castScalar(nb, nl, args[0], target);
      });
  return ctx.setOutput(0, result);
}

static LogicalResult convertConstant(NodeContext &ctx) {
  if (failed(ctx.checkArity(0, 0)))
    return failure();
  if (ctx.node.attribute_size() != 1)
    return ctx.emitError() << "takes exactly one of the attributes value, "
                              "value_float, value_floats, value_int, "
                              "value_ints; got "
                           << ctx.node.attribute_size() << " attributes";
  StringRef name = ctx.node.attribute(0).name();
  TensorData data;
  MLIRContext *context = ctx.getContext();
  auto fromValues = [&](auto values, Type elementType, bool scalar) {
    data.elementType = elementType;
    if (!scalar)
      data.shape.push_back(values.size());
    data.numElements = values.size();
    data.byteSize = values.size() * sizeof(values[0]);
    data.bytes.resize(data.byteSize);
    if (!values.empty())
      std::memcpy(data.bytes.data(), values.data(), data.byteSize);
  };
  if (name == "value") {
    FailureOr<std::optional<TensorData>> tensor = ctx.getTensorAttr("value");
    if (failed(tensor))
      return failure();
    data = std::move(**tensor);
  } else if (name == "value_float") {
    FailureOr<float> value = ctx.getFloatAttr(name, std::nullopt);
    if (failed(value))
      return failure();
    fromValues(SmallVector<float>{*value}, Float32Type::get(context), true);
  } else if (name == "value_int") {
    FailureOr<int64_t> value = ctx.getIntAttr(name, std::nullopt);
    if (failed(value))
      return failure();
    fromValues(SmallVector<int64_t>{*value}, IntegerType::get(context, 64),
               true);
  } else if (name == "value_ints") {
    FailureOr<std::optional<SmallVector<int64_t>>> values =
        ctx.getIntsAttr(name);
    if (failed(values))
      return failure();
    fromValues(values->value_or(SmallVector<int64_t>()),
               IntegerType::get(context, 64), false);
  } else if (name == "value_floats") {
    const onnx::AttributeProto &attribute = ctx.node.attribute(0);
    if (attribute.type() != onnx::AttributeProto::FLOATS &&
        attribute.type() != onnx::AttributeProto::UNDEFINED)
      return ctx.emitError() << "attribute 'value_floats' must be FLOATS";
    SmallVector<float> values(attribute.floats().begin(),
                              attribute.floats().end());
    fromValues(values, Float32Type::get(context), false);
  } else {
    return ctx.emitError() << "attribute '" << name
                           << "' is not supported (sparse and string "
                              "constants are not)";
  }
  FailureOr<ImportedValue> value = ctx.importConstant(data);
  if (failed(value))
    return failure();
  return ctx.setOutput(0, std::move(*value));
}

void onnx_import::addShapeConverters(std::vector<ConverterEntry> &entries) {
  entries.insert(entries.end(),
                 {
                     {"Reshape", 13, convertReshape},
                     {"Reshape", 14, convertReshape},
                     {"Transpose", 13, convertTranspose},
                     {"Squeeze", 13, convertSqueeze},
                     {"Unsqueeze", 13, convertUnsqueeze},
                     {"Concat", 13, convertConcat},
                     {"Slice", 13, convertSlice},
                     {"Split", 13, convertSplit},
                     {"Expand", 13, convertExpand},
                     {"Shape", 13, convertShape},
                     {"Shape", 15, convertShape},
                     {"Range", 11, convertRange},
                     {"ConstantOfShape", 9, convertConstantOfShape},
                     {"Gather", 13, convertGather},
                     {"Identity", 13, convertIdentity},
                     {"Identity", 14, convertIdentity},
                     {"Identity", 16, convertIdentity},
                     {"Cast", 13, convertCast},
                     {"Constant", 13, convertConstant},
                 });
}
