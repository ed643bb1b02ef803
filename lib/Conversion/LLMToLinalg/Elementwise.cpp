//===- Elementwise.cpp - llm.gelu and llm.softmax to linalg -----*- C++ -*-===//
//
// GELU is an elementwise map. Softmax is a max reduction, an exp map, a sum
// reduction and a division, all along the op's axis; subtracting the max
// keeps exp from overflowing.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "llm/Conversion/LLMToLinalg/LLMToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

/// Softmax of `input` along `axis`, with every reduction done in the compute
/// type.
static Value buildSoftmax(OpBuilder &b, Location loc, Value input,
                          int64_t axis) {
  MLIRContext *context = b.getContext();
  auto type = cast<RankedTensorType>(input.getType());
  Type elementType = type.getElementType();
  FloatType compute = computeType(elementType);
  unsigned rank = type.getRank();
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, input);
  SmallVector<OpFoldResult> reducedSizes(sizes);
  reducedSizes.erase(reducedSizes.begin() + axis);

  // Loops: every dim, with `axis` as the reduction.
  SmallVector<utils::IteratorType> reductionIterators = iterators(rank);
  reductionIterators[axis] = utils::IteratorType::reduction;
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  SmallVector<AffineExpr> reducedExprs;
  for (unsigned i = 0; i < rank; ++i)
    if (static_cast<int64_t>(i) != axis)
      reducedExprs.push_back(b.getAffineDimExpr(i));
  AffineMap reducedMap = AffineMap::get(rank, 0, reducedExprs, context);

  Value maxInit = createFilled(b, loc, reducedSizes, compute,
                               -std::numeric_limits<double>::infinity());
  Value max = linalg::GenericOp::create(
                  b, loc, maxInit.getType(), input, maxInit,
                  {identity, reducedMap}, reductionIterators,
                  [&](OpBuilder &nb, Location l, ValueRange args) {
                    Value x = extendTo(nb, l, args[0], compute);
                    yieldValue(
                        nb, l, arith::MaximumFOp::create(nb, l, x, args[1]));
                  })
                  .getResult(0);

  Value expInit = createEmpty(b, loc, sizes, compute);
  Value exp = linalg::GenericOp::create(
                  b, loc, expInit.getType(), ValueRange{input, max}, expInit,
                  {identity, reducedMap, identity}, iterators(rank),
                  [&](OpBuilder &nb, Location l, ValueRange args) {
                    Value x = extendTo(nb, l, args[0], compute);
                    Value shifted = arith::SubFOp::create(nb, l, x, args[1]);
                    yieldValue(nb, l,
                                            math::ExpOp::create(nb, l, shifted));
                  })
                  .getResult(0);

  Value sumInit = createFilled(b, loc, reducedSizes, compute, 0.0);
  Value sum = linalg::GenericOp::create(
                  b, loc, sumInit.getType(), exp, sumInit,
                  {identity, reducedMap}, reductionIterators,
                  [&](OpBuilder &nb, Location l, ValueRange args) {
                    yieldValue(
                        nb, l, arith::AddFOp::create(nb, l, args[0], args[1]));
                  })
                  .getResult(0);

  Value resultInit = createEmpty(b, loc, sizes, elementType);
  return linalg::GenericOp::create(
             b, loc, resultInit.getType(), ValueRange{exp, sum}, resultInit,
             {identity, reducedMap, identity}, iterators(rank),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value quotient = arith::DivFOp::create(nb, l, args[0], args[1]);
               yieldValue(
                   nb, l, truncateTo(nb, l, quotient, elementType));
             })
      .getResult(0);
}

namespace {

struct GeluToLinalg : OpRewritePattern<GeluOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GeluOp op,
                                PatternRewriter &rewriter) const override {
    bool useTanh = op.getApproximate() == GeluApproximation::Tanh;
    rewriter.replaceOp(
        op, mapElementwise(rewriter, op.getLoc(), op.getInput(),
                           [&](OpBuilder &b, Location l, Value x) {
                             return buildGelu(b, l, x, useTanh);
                           }));
    return success();
  }
};

struct SoftmaxToLinalg : OpRewritePattern<SoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SoftmaxOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, buildSoftmax(rewriter, op.getLoc(), op.getInput(),
                                        op.getNormalizedAxis()));
    return success();
  }
};

} // namespace

void mlir::llm::populateElementwiseToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<GeluToLinalg, SoftmaxToLinalg>(patterns.getContext());
}
