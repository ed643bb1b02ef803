//===- RaiseGelu.cpp - decomposed GELU to llm.gelu --------------*- C++ -*-===//
//
// The two GELUs torch exports op by op:
//
//   exact (BERT):      (x * 0.5) * (1 + erf(x / sqrt(2)))
//   tanh (gelu_new):   (x * 0.5) * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
//
// with x^3 as Pow(x, 3) or x * x * x, divisions by a constant also as
// multiplications by its inverse, and commuted operands. Each match becomes
// one llm.gelu.
//
//===----------------------------------------------------------------------===//

#include "RaiseMatch.h"
#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

namespace mlir::llm {
#define GEN_PASS_DEF_LLMRAISEGELU
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::raise;

/// Relative closeness of exported f32 constants to their exact values.
static bool near(double value, double expected) {
  return std::abs(value - expected) <= 1e-6 * std::abs(expected);
}

/// `x * c` (either order) or `x / (1 / c)`: returns x when the factor is c.
static Value matchScaled(Value value, double factor) {
  std::optional<Elementwise> e = matchElementwise(value);
  if (!e)
    return {};
  if (isa<arith::MulFOp>(e->body)) {
    for (unsigned i = 0; i < 2; ++i)
      if (e->fullInput(i) && e->scalar(1 - i) && near(*e->scalar(1 - i), factor))
        return e->fullInput(i);
  }
  if (isa<arith::DivFOp>(e->body) && e->fullInput(0) && e->scalar(1) &&
      near(1.0 / *e->scalar(1), factor))
    return e->fullInput(0);
  return {};
}

/// `1 + f(inner)` for the unary `OpTy`: returns inner.
template <typename OpTy>
static Value matchOnePlus(Value value) {
  std::optional<Elementwise> add = matchElementwiseOf<arith::AddFOp>(value);
  if (!add)
    return {};
  for (unsigned i = 0; i < 2; ++i) {
    if (!add->scalar(1 - i) || *add->scalar(1 - i) != 1.0)
      continue;
    if (auto f = matchElementwiseOf<OpTy>(add->fullInput(i)))
      return f->fullInput(0);
  }
  return {};
}

/// x^3 as powf(x, 3), (x * x) * x or x * (x * x); returns x.
static Value matchCube(Value value) {
  if (auto pow = matchElementwiseOf<math::PowFOp>(value);
      pow && pow->fullInput(0) && pow->scalar(1) && *pow->scalar(1) == 3.0)
    return pow->fullInput(0);
  auto mul = matchElementwiseOf<arith::MulFOp>(value);
  if (!mul)
    return {};
  for (unsigned i = 0; i < 2; ++i) {
    Value x = mul->fullInput(i);
    if (x && matchSquare(mul->fullInput(1 - i)) == x)
      return x;
  }
  return {};
}

/// `x + 0.044715 x^3` (either order); returns x.
static Value matchTanhArgument(Value value) {
  auto add = matchElementwiseOf<arith::AddFOp>(value);
  if (!add)
    return {};
  for (unsigned i = 0; i < 2; ++i) {
    Value x = add->fullInput(i);
    if (x && matchCube(matchScaled(add->fullInput(1 - i), 0.044715)) == x)
      return x;
  }
  return {};
}

namespace {

struct RaiseGeluPattern : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getNumResults() != 1)
      return failure();
    auto mul = matchElementwiseOf<arith::MulFOp>(op.getResult(0));
    if (!mul)
      return failure();
    for (unsigned i = 0; i < 2; ++i) {
      Value x = matchScaled(mul->fullInput(i), 0.5);
      Value other = mul->fullInput(1 - i);
      if (!x || !other || x.getType() != op.getResult(0).getType())
        continue;
      std::optional<GeluApproximation> kind;
      if (matchScaled(matchOnePlus<math::ErfOp>(other), M_SQRT1_2) == x)
        kind = GeluApproximation::None;
      else if (matchTanhArgument(matchScaled(matchOnePlus<math::TanhOp>(other),
                                             std::sqrt(2.0 / M_PI))) == x)
        kind = GeluApproximation::Tanh;
      if (!kind)
        continue;
      rewriter.replaceOpWithNewOp<GeluOp>(
          op, x, GeluApproximationAttr::get(getContext(), *kind));
      return success();
    }
    return failure();
  }
};

struct LLMRaiseGelu : mlir::llm::impl::LLMRaiseGeluBase<LLMRaiseGelu> {
  void runOnOperation() override {
    if (failed(applyRaisingPattern<RaiseGeluPattern>(getOperation())))
      signalPassFailure();
  }
};

} // namespace
