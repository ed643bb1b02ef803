//===- Reduction.cpp - ONNX reductions and normalizations -------*- C++ -*-===//
//
// ReduceMean, Softmax (llm.softmax), LogSoftmax and LayerNormalization.
// Reductions are linalg.generic ops with reduction iterators that keep the
// reduced dims as size 1 (ONNX's keepdims form), so the elementwise steps
// that follow broadcast them back with the shared numpy-broadcast builder.
//
//===----------------------------------------------------------------------===//

#include "ONNXImporterImpl.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"

#include <limits>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::onnx_import;

/// Reduces `input` over the dims marked in `reduced`, keeping them as size-1
/// dims. Each element is folded into the accumulator (starting at
/// `initValue`) by `combine(element, accumulator)`.
static Value
buildKeepDimsReduction(OpBuilder &b, Location loc, Value input,
                       ArrayRef<bool> reduced, double initValue,
                       function_ref<Value(OpBuilder &, Location, Value, Value)>
                           combine) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  MLIRContext *context = b.getContext();
  SmallVector<OpFoldResult> sizes = getDimSizes(b, loc, input);
  SmallVector<AffineExpr> outExprs;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      sizes[d] = indexAttr(context, 1);
      outExprs.push_back(getAffineConstantExpr(0, context));
      iterators.push_back(utils::IteratorType::reduction);
    } else {
      outExprs.push_back(getAffineDimExpr(d, context));
      iterators.push_back(utils::IteratorType::parallel);
    }
  }
  Type elementType = type.getElementType();
  Value empty = tensor::EmptyOp::create(b, loc, sizes, elementType);
  Value init = linalg::FillOp::create(
                   b, loc, createScalarConstant(b, loc, elementType, initValue),
                   empty)
                   .getResult(0);
  SmallVector<AffineMap> maps{AffineMap::getMultiDimIdentityMap(rank, context),
                              AffineMap::get(rank, 0, outExprs, context)};
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{input},
             ValueRange{init}, maps, iterators,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl,
                                       combine(nb, nl, args[0], args[1]));
             })
      .getResult(0);
}

/// The number of elements in the reduced dims, as a float scalar.
static Value getReducedCount(OpBuilder &b, Location loc, Value input,
                             ArrayRef<bool> reduced, Type floatType) {
  OpFoldResult count = indexAttr(b.getContext(), 1);
  for (auto [d, isReduced] : llvm::enumerate(reduced))
    if (isReduced)
      count = foldIntOp(b, loc, IntOp::Mul, count, getDimSize(b, loc, input, d));
  if (std::optional<int64_t> constant = getConstantInt(count))
    return createScalarConstant(b, loc, floatType, double(*constant));
  return castScalar(b, loc, toIndexValue(b, loc, count), floatType);
}

/// Drops the size-1 dims a keepdims reduction left at `reduced`.
static Value dropReducedDims(OpBuilder &b, Location loc, Value value,
                             ArrayRef<bool> reduced) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape;
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices pending;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    pending.push_back(d);
    if (!reduced[d]) {
      shape.push_back(type.getDimSize(d));
      groups.push_back(pending);
      pending.clear();
    }
  }
  if (!pending.empty() && !groups.empty())
    groups.back().append(pending.begin(), pending.end());
  return tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), value,
      groups);
}

/// Applies `body` elementwise to `inputs` broadcast to the shape of the
/// first.
static Value mapLike(const NodeContext &ctx, ArrayRef<Value> inputs,
                     function_ref<Value(OpBuilder &, Location, ValueRange)>
                         body) {
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  SmallVector<OpFoldResult> sizes = getDimSizes(b, loc, inputs[0]);
  Type elementType =
      cast<RankedTensorType>(inputs[0].getType()).getElementType();
  return buildBroadcastGeneric(b, loc, inputs, sizes, elementType, body);
}

/// A float input of a normalization; `what` names it.
static FailureOr<Value> getFloatTensor(NodeContext &ctx, unsigned i) {
  FailureOr<Value> tensor = ctx.getTensor(i);
  if (failed(tensor))
    return failure();
  auto type = cast<RankedTensorType>(tensor->getType());
  if (!type.getElementType().isF32())
    return ctx.emitError() << "input #" << i << " must be FLOAT, got " << type;
  return *tensor;
}

static LogicalResult convertReduceMean(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  FailureOr<std::optional<SmallVector<int64_t>>> axes = ctx.getIntsAttr("axes");
  FailureOr<int64_t> keepDims = ctx.getIntAttr("keepdims", 1);
  FailureOr<Value> input = getFloatTensor(ctx, 0);
  if (failed(axes) || failed(keepDims) || failed(input))
    return failure();
  int64_t rank = cast<RankedTensorType>(input->getType()).getRank();
  SmallVector<bool> reduced(rank, !*axes);
  if (*axes) {
    for (int64_t axis : **axes) {
      FailureOr<int64_t> normalized = ctx.normalizeAxis(axis, rank, "axis");
      if (failed(normalized))
        return failure();
      if (reduced[*normalized])
        return ctx.emitError() << "axis " << axis << " is given twice";
      reduced[*normalized] = true;
    }
  }
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  Type f32 = b.getF32Type();
  Value sum = buildKeepDimsReduction(
      b, loc, *input, reduced, 0.0,
      [](OpBuilder &nb, Location nl, Value x, Value acc) {
        return Value(arith::AddFOp::create(nb, nl, acc, x));
      });
  Value count = getReducedCount(b, loc, *input, reduced, f32);
  Value mean = mapLike(ctx, {sum}, [&](OpBuilder &nb, Location nl,
                                       ValueRange args) {
    return Value(arith::DivFOp::create(nb, nl, args[0], count));
  });
  if (!*keepDims)
    mean = dropReducedDims(b, loc, mean, reduced);
  return ctx.setOutput(0, mean);
}

/// The float input and normalized `axis` attribute (default -1) of
/// Softmax and LogSoftmax (opset 13 semantics: one axis).
static LogicalResult getSoftmaxOperands(NodeContext &ctx, Value &input,
                                        int64_t &axis) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  FailureOr<int64_t> axisAttr = ctx.getIntAttr("axis", -1);
  FailureOr<Value> value = getFloatTensor(ctx, 0);
  if (failed(axisAttr) || failed(value))
    return failure();
  FailureOr<int64_t> normalized = ctx.normalizeAxis(
      *axisAttr, cast<RankedTensorType>(value->getType()).getRank(), "axis");
  if (failed(normalized))
    return failure();
  input = *value;
  axis = *normalized;
  return success();
}

static LogicalResult convertSoftmax(NodeContext &ctx) {
  Value input;
  int64_t axis;
  if (failed(getSoftmaxOperands(ctx, input, axis)))
    return failure();
  // llm.softmax: the attention raising matches it, and its lowering is the
  // one llm models use.
  return ctx.setOutput(
      0, llm::SoftmaxOp::create(ctx.getBuilder(), ctx.getLoc(), input,
                                static_cast<uint64_t>(axis)));
}

static LogicalResult convertLogSoftmax(NodeContext &ctx) {
  Value input;
  int64_t axis;
  if (failed(getSoftmaxOperands(ctx, input, axis)))
    return failure();
  auto type = cast<RankedTensorType>(input.getType());
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  SmallVector<bool> reduced(type.getRank(), false);
  reduced[axis] = true;
  // x - max - log(sum(exp(x - max))), max-subtracted for stability.
  Value max = buildKeepDimsReduction(
      b, loc, input, reduced, -std::numeric_limits<double>::infinity(),
      [](OpBuilder &nb, Location nl, Value x, Value acc) {
        return Value(arith::MaximumFOp::create(nb, nl, acc, x));
      });
  Value shifted = mapLike(ctx, {input, max},
                          [](OpBuilder &nb, Location nl, ValueRange args) {
                            return Value(
                                arith::SubFOp::create(nb, nl, args[0], args[1]));
                          });
  Value sum = buildKeepDimsReduction(
      b, loc, shifted, reduced, 0.0,
      [](OpBuilder &nb, Location nl, Value x, Value acc) {
        return Value(arith::AddFOp::create(
            nb, nl, acc, math::ExpOp::create(nb, nl, x)));
      });
  Value result = mapLike(ctx, {shifted, sum},
                         [](OpBuilder &nb, Location nl, ValueRange args) {
                           return Value(arith::SubFOp::create(
                               nb, nl, args[0],
                               math::LogOp::create(nb, nl, args[1])));
                         });
  return ctx.setOutput(0, result);
}

static LogicalResult convertLayerNormalization(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 3, 1, 3)))
    return failure();
  FailureOr<int64_t> axisAttr = ctx.getIntAttr("axis", -1);
  FailureOr<float> epsilon = ctx.getFloatAttr("epsilon", 1e-5f);
  FailureOr<int64_t> stashType = ctx.getIntAttr("stash_type", 1);
  FailureOr<Value> input = getFloatTensor(ctx, 0);
  FailureOr<Value> scale = getFloatTensor(ctx, 1);
  if (failed(axisAttr) || failed(epsilon) || failed(stashType) ||
      failed(input) || failed(scale))
    return failure();
  auto type = cast<RankedTensorType>(input->getType());
  int64_t rank = type.getRank();
  FailureOr<int64_t> axis = ctx.normalizeAxis(*axisAttr, rank, "axis");
  if (failed(axis))
    return failure();
  SmallVector<Value> affine{*scale};
  if (ctx.hasInput(2)) {
    FailureOr<Value> bias = getFloatTensor(ctx, 2);
    if (failed(bias))
      return failure();
    affine.push_back(*bias);
  }
  // Scale and bias broadcast to the normalized dims [axis, rank).
  for (Value operand : affine) {
    auto operandType = cast<RankedTensorType>(operand.getType());
    if (operandType.getRank() > rank - *axis)
      return ctx.emitError() << "scale and bias must broadcast to the "
                                "normalized dims of "
                             << type << ", got " << operandType;
    for (int64_t d = 0; d < operandType.getRank(); ++d) {
      int64_t size = operandType.getDimSize(d);
      int64_t target = type.getDimSize(rank - operandType.getRank() + d);
      if (!ShapedType::isDynamic(size) && !ShapedType::isDynamic(target) &&
          size != 1 && size != target)
        return ctx.emitError() << "scale and bias must broadcast to the "
                                  "normalized dims of "
                               << type << ", got " << operandType;
    }
  }
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  // The Transformer case, normalizing the last dim with [dim] scale and bias
  // and no statistics requested, is llm.layer_norm.
  int64_t lastDim = type.getDimSize(rank - 1);
  bool vectorsOverLastDim = llvm::all_of(affine, [&](Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    return t.getRank() == 1 && t.getElementType() == type.getElementType() &&
           t.getDimSize(0) == lastDim;
  });
  if (*axis == rank - 1 && !ShapedType::isDynamic(lastDim) &&
      vectorsOverLastDim && !ctx.hasOutput(1) && !ctx.hasOutput(2)) {
    Value bias = affine.size() > 1 ? affine[1] : Value();
    Value normalized =
        LayerNormOp::create(b, loc, *input, *scale, bias,
                            b.getF64FloatAttr(static_cast<double>(*epsilon)));
    return ctx.setOutput(0, normalized);
  }
  SmallVector<bool> reduced(rank, false);
  for (int64_t d = *axis; d < rank; ++d)
    reduced[d] = true;
  Type f32 = b.getF32Type();
  Value count = getReducedCount(b, loc, *input, reduced, f32);
  auto add = [](OpBuilder &nb, Location nl, Value x, Value acc) {
    return Value(arith::AddFOp::create(nb, nl, acc, x));
  };
  Value sum = buildKeepDimsReduction(b, loc, *input, reduced, 0.0, add);
  Value mean = mapLike(ctx, {sum}, [&](OpBuilder &nb, Location nl,
                                       ValueRange args) {
    return Value(arith::DivFOp::create(nb, nl, args[0], count));
  });
  Value centered = mapLike(ctx, {*input, mean},
                           [](OpBuilder &nb, Location nl, ValueRange args) {
                             return Value(arith::SubFOp::create(
                                 nb, nl, args[0], args[1]));
                           });
  Value squares = buildKeepDimsReduction(
      b, loc, centered, reduced, 0.0,
      [](OpBuilder &nb, Location nl, Value x, Value acc) {
        return Value(arith::AddFOp::create(
            nb, nl, acc, arith::MulFOp::create(nb, nl, x, x)));
      });
  float eps = *epsilon;
  Value invStdDev = mapLike(ctx, {squares}, [&](OpBuilder &nb, Location nl,
                                                ValueRange args) {
    Value variance = arith::DivFOp::create(nb, nl, args[0], count);
    Value shiftedVariance = arith::AddFOp::create(
        nb, nl, variance, createScalarConstant(nb, nl, f32, eps));
    return Value(math::RsqrtOp::create(nb, nl, shiftedVariance));
  });
  SmallVector<Value> operands{centered, invStdDev};
  operands.append(affine);
  Value result = mapLike(ctx, operands, [](OpBuilder &nb, Location nl,
                                           ValueRange args) {
    Value normalized = arith::MulFOp::create(nb, nl, args[0], args[1]);
    Value scaled = arith::MulFOp::create(nb, nl, normalized, args[2]);
    if (args.size() > 3)
      return Value(arith::AddFOp::create(nb, nl, scaled, args[3]));
    return scaled;
  });
  if (failed(ctx.setOutput(0, result)) || failed(ctx.setOutput(1, mean)))
    return failure();
  return ctx.setOutput(2, invStdDev);
}

void onnx_import::addReductionConverters(std::vector<ConverterEntry> &entries) {
  entries.insert(entries.end(),
                 {
                     {"ReduceMean", 13, convertReduceMean},
                     {"Softmax", 13, convertSoftmax},
                     {"LogSoftmax", 13, convertLogSoftmax},
                     {"LayerNormalization", 17, convertLayerNormalization},
                 });
}
