//===- Linear.cpp - llm.linear and llm.ffn to linalg ------------*- C++ -*-===//
//
// Projections become contractions that read the weight in its stored layout
// (no transposed copy) and start from the broadcast bias. An FFN is its
// projections with the activation (and the gate product) applied between;
// `llm.glu` is that gate product alone.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "llm/Conversion/LLMToLinalg/LLMToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

/// act(gate) * up, elementwise, computed in the compute type of the
/// element type.
static Value buildGatedProduct(OpBuilder &rewriter, Location loc, Value gate,
                               Value up, Activation activation) {
  auto type = cast<RankedTensorType>(up.getType());
  FloatType compute = computeType(type.getElementType());
  unsigned rank = type.getRank();
  AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
  Value init = createEmpty(rewriter, loc, getSizes(rewriter, loc, up),
                           type.getElementType());
  return linalg::GenericOp::create(
             rewriter, loc, type, ValueRange{gate, up}, init,
             {identity, identity, identity}, iterators(rank),
             [&](OpBuilder &b, Location l, ValueRange args) {
               Value g = extendTo(b, l, args[0], compute);
               Value u = extendTo(b, l, args[1], compute);
               Value product = arith::MulFOp::create(
                   b, l, buildActivation(b, l, g, activation), u);
               yieldValue(b, l,
                          truncateTo(b, l, product, type.getElementType()));
             })
      .getResult(0);
}

namespace {

struct LinearToLinalg : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, buildProjection(rewriter, op.getLoc(),
                                           op.getInput(), op.getWeight(),
                                           op.getBias(),
                                           op.getWeightLayout()));
    return success();
  }
};

struct FFNToLinalg : OpRewritePattern<FFNOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(FFNOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    WeightLayout layout = op.getWeightLayout();
    Activation activation = op.getActivation();
    Value up = buildProjection(rewriter, loc, op.getInput(), op.getUpWeight(),
                               op.getUpBias(), layout);
    Value hidden;
    if (op.isGated()) {
      Value gate = buildProjection(rewriter, loc, op.getInput(),
                                   op.getGateWeight(), op.getGateBias(),
                                   layout);
      hidden = buildGatedProduct(rewriter, loc, gate, up, activation);
    } else {
      hidden = mapElementwise(rewriter, loc, up,
                              [&](OpBuilder &b, Location l, Value x) {
                                return buildActivation(b, l, x, activation);
                              });
    }
    rewriter.replaceOp(op, buildProjection(rewriter, loc, hidden,
                                           op.getDownWeight(),
                                           op.getDownBias(), layout));
    return success();
  }
};

struct GLUToLinalg : OpRewritePattern<GLUOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GLUOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op,
                       buildGatedProduct(rewriter, op.getLoc(), op.getGate(),
                                         op.getUp(), op.getActivation()));
    return success();
  }
};

} // namespace

void mlir::llm::populateLinearToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<LinearToLinalg, FFNToLinalg, GLUToLinalg>(patterns.getContext());
}
