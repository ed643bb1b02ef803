//===- Norm.cpp - llm.layer_norm and llm.rms_norm to linalg -----*- C++ -*-===//
//
// Norms over the last dimension: reductions for the statistics (computed in
// f32 or wider, like PyTorch), then one elementwise pass that normalizes and
// applies the optional weight and bias.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "llm/Conversion/LLMToLinalg/LLMToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

namespace {
/// Maps and sizes for "reduce the last dim of a rank-r tensor".
struct LastDimReduction {
  LastDimReduction(OpBuilder &b, Location loc, Value input) {
    auto type = cast<RankedTensorType>(input.getType());
    rank = type.getRank();
    sizes = getSizes(b, loc, input);
    reducedSizes.assign(sizes.begin(), sizes.end() - 1);
    identity = b.getMultiDimIdentityMap(rank);
    reduced = identityPrefix(b.getContext(), rank, rank - 1);
    lastDim = AffineMap::get(rank, 0, {b.getAffineDimExpr(rank - 1)},
                             b.getContext());
    reduceIterators = iterators(rank - 1, 1);
  }

  unsigned rank;
  SmallVector<OpFoldResult> sizes, reducedSizes;
  AffineMap identity, reduced, lastDim;
  SmallVector<utils::IteratorType> reduceIterators;
};
} // namespace

/// The number of elements along the last dim as a compute-type value.
static Value lastDimCount(OpBuilder &b, Location loc, Value input,
                          FloatType compute) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t dim = type.getShape().back();
  if (!ShapedType::isDynamic(dim))
    return floatConstant(b, loc, compute, static_cast<double>(dim));
  Value size = tensor::DimOp::create(b, loc, input, type.getRank() - 1);
  Value asInt = arith::IndexCastOp::create(b, loc, b.getI64Type(), size);
  return arith::SIToFPOp::create(b, loc, compute, asInt);
}

/// Sum over the last dim of `f(x, stats...)`, in the compute type.
static Value reduceLastDim(
    OpBuilder &b, Location loc, const LastDimReduction &r, Value input,
    ValueRange perRow, FloatType compute,
    function_ref<Value(OpBuilder &, Location, Value, ValueRange)> term) {
  Value init = createFilled(b, loc, r.reducedSizes, compute, 0.0);
  SmallVector<Value> inputs = {input};
  inputs.append(perRow.begin(), perRow.end());
  SmallVector<AffineMap> maps = {r.identity};
  maps.append(perRow.size(), r.reduced);
  maps.push_back(r.reduced);
  return linalg::GenericOp::create(
             b, loc, init.getType(), inputs, init, maps, r.reduceIterators,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value x = extendTo(nb, l, args[0], compute);
               Value t = term(nb, l, x, args.slice(1, perRow.size()));
               yieldValue(
                   nb, l, arith::AddFOp::create(nb, l, args.back(), t));
             })
      .getResult(0);
}

/// Divides every element of a reduced tensor by the row length.
static Value divideByCount(OpBuilder &b, Location loc, Value sum,
                           Value count) {
  return mapElementwise(b, loc, sum, [&](OpBuilder &nb, Location l, Value x) {
    return arith::DivFOp::create(nb, l, x, count);
  });
}

/// y = (x - mean) * invStd * weight + bias, elementwise over the input.
static Value normalize(OpBuilder &b, Location loc, const LastDimReduction &r,
                       Value input, Value mean, Value invStd, Value weight,
                       Value bias) {
  auto type = cast<RankedTensorType>(input.getType());
  Type elementType = type.getElementType();
  FloatType compute = computeType(elementType);
  SmallVector<Value> inputs = {input, invStd};
  SmallVector<AffineMap> maps = {r.identity, r.reduced};
  if (mean) {
    inputs.push_back(mean);
    maps.push_back(r.reduced);
  }
  if (weight) {
    inputs.push_back(weight);
    maps.push_back(r.lastDim);
  }
  if (bias) {
    inputs.push_back(bias);
    maps.push_back(r.lastDim);
  }
  maps.push_back(r.identity);
  Value init = createEmpty(b, loc, r.sizes, elementType);
  return linalg::GenericOp::create(
             b, loc, init.getType(), inputs, init, maps, iterators(r.rank),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               unsigned next = 2;
               Value y = extendTo(nb, l, args[0], compute);
               if (mean)
                 y = arith::SubFOp::create(nb, l, y, args[next++]);
               y = arith::MulFOp::create(nb, l, y, args[1]);
               if (weight)
                 y = arith::MulFOp::create(
                     nb, l, y, extendTo(nb, l, args[next++], compute));
               if (bias)
                 y = arith::AddFOp::create(
                     nb, l, y, extendTo(nb, l, args[next++], compute));
               yieldValue(nb, l, truncateTo(nb, l, y, elementType));
             })
      .getResult(0);
}

/// 1 / sqrt(variance + epsilon), elementwise over a reduced tensor.
static Value inverseStd(OpBuilder &b, Location loc, Value variance,
                        double epsilon) {
  return mapElementwise(b, loc, variance,
                        [&](OpBuilder &nb, Location l, Value x) {
                          Value eps = floatConstant(nb, l, x.getType(), epsilon);
                          return math::RsqrtOp::create(
                              nb, l, arith::AddFOp::create(nb, l, x, eps));
                        });
}

/// Carries a recomputed norm's mark (llm-recompute-norms) to the first
/// reduction of its lowering: every later op reads that reduction's result,
/// so CSE cannot fold the recomputed norm into the forward's.
static void keepRecomputed(Operation *norm, Value firstReduction) {
  if (Attribute mark = norm->getAttr(LLMDialect::kRecomputedAttrName))
    firstReduction.getDefiningOp()->setAttr(LLMDialect::kRecomputedAttrName,
                                            mark);
}

namespace {

struct LayerNormToLinalg : OpRewritePattern<LayerNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LayerNormOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    FloatType compute = computeType(op.getType().getElementType());
    LastDimReduction r(rewriter, loc, input);
    Value count = lastDimCount(rewriter, loc, input, compute);
    Value sum = reduceLastDim(rewriter, loc, r, input, {}, compute,
                              [](OpBuilder &, Location, Value x, ValueRange) {
                                return x;
                              });
    keepRecomputed(op, sum);
    Value mean = divideByCount(rewriter, loc, sum, count);
    Value squares = reduceLastDim(
        rewriter, loc, r, input, mean, compute,
        [](OpBuilder &b, Location l, Value x, ValueRange stats) {
          Value centered = arith::SubFOp::create(b, l, x, stats[0]);
          return arith::MulFOp::create(b, l, centered, centered).getResult();
        });
    Value variance = divideByCount(rewriter, loc, squares, count);
    Value invStd = inverseStd(rewriter, loc, variance,
                              op.getEpsilon().convertToDouble());
    rewriter.replaceOp(op, normalize(rewriter, loc, r, input, mean, invStd,
                                     op.getWeight(), op.getBias()));
    return success();
  }
};

struct RMSNormToLinalg : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    FloatType compute = computeType(op.getType().getElementType());
    LastDimReduction r(rewriter, loc, input);
    Value count = lastDimCount(rewriter, loc, input, compute);
    Value squares = reduceLastDim(
        rewriter, loc, r, input, {}, compute,
        [](OpBuilder &b, Location l, Value x, ValueRange) {
          return arith::MulFOp::create(b, l, x, x).getResult();
        });
    keepRecomputed(op, squares);
    Value meanSquare = divideByCount(rewriter, loc, squares, count);
    Value invRms = inverseStd(rewriter, loc, meanSquare,
                              op.getEpsilon().convertToDouble());
    rewriter.replaceOp(op, normalize(rewriter, loc, r, input, /*mean=*/Value(),
                                     invRms, op.getWeight(), /*bias=*/Value()));
    return success();
  }
};

} // namespace

void mlir::llm::populateNormToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<LayerNormToLinalg, RMSNormToLinalg>(patterns.getContext());
}
