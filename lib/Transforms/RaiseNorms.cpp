//===- RaiseNorms.cpp - decomposed norms to llm.layer_norm/rms_norm -*- C++ -*-===//
//
// LayerNorm as exported op by op (ReduceMean, Sub, Pow, ReduceMean, Add,
// Sqrt, Div, Mul, Add):
//
//   c = x - mean(x);  y = c / sqrt(mean(c * c) + eps) * weight + bias
//
// and RMSNorm (Pow, ReduceMean, Add, Sqrt, Div or Reciprocal, Mul, Mul):
//
//   y = x * (1 / sqrt(mean(x * x) + eps)) * weight
//
// where the means run over the last dim, the weight and bias are [dim]
// vectors (optional), and 1/sqrt may be a division or an rsqrt. Each match
// becomes one llm.layer_norm or llm.rms_norm.
//
//===----------------------------------------------------------------------===//

#include "RaiseMatch.h"
#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMRAISENORMS
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::raise;

namespace {

/// A statistic plus epsilon under a square root, or its inverse.
struct Deviation {
  Value statistic;
  double epsilon = 0.0;
  bool inverse = false;
};

/// `stat + eps` with a scalar eps.
static std::optional<std::pair<Value, double>> matchPlusEpsilon(Value value) {
  std::optional<Elementwise> e = matchElementwiseOf<arith::AddFOp>(value);
  if (!e)
    return std::nullopt;
  for (unsigned i = 0; i < 2; ++i)
    if (Value stat = e->fullInput(i); stat && e->scalar(1 - i))
      return std::make_pair(stat, *e->scalar(1 - i));
  return std::nullopt;
}

/// sqrt(stat + eps), rsqrt(stat + eps) or 1 / sqrt(stat + eps).
static std::optional<Deviation> matchDeviation(Value value) {
  std::optional<Elementwise> e = matchElementwise(value);
  if (!e)
    return std::nullopt;
  if (isa<math::SqrtOp, math::RsqrtOp>(e->body)) {
    auto inner = matchPlusEpsilon(e->fullInput(0));
    if (!inner)
      return std::nullopt;
    return Deviation{inner->first, inner->second,
                     isa<math::RsqrtOp>(e->body)};
  }
  if (isa<arith::DivFOp>(e->body) && e->scalar(0) && *e->scalar(0) == 1.0) {
    std::optional<Deviation> root = matchDeviation(e->fullInput(1));
    if (!root || root->inverse)
      return std::nullopt;
    root->inverse = true;
    return root;
  }
  return std::nullopt;
}

/// `c / dev` or `c * inverse dev`, dev a keep-dim statistic of the last dim.
static std::optional<std::pair<Value, Deviation>>
matchNormalized(Value value) {
  std::optional<Elementwise> e = matchElementwise(value);
  if (!e || !isa<arith::DivFOp, arith::MulFOp>(e->body))
    return std::nullopt;
  bool divide = isa<arith::DivFOp>(e->body);
  std::optional<BinaryOperands> operands =
      splitFullOperand(*e, /*commutative=*/!divide);
  unsigned rank = cast<ShapedType>(value.getType()).getRank();
  if (!operands || !isLastDimBroadcast(operands->otherMap, rank))
    return std::nullopt;
  std::optional<Deviation> deviation = matchDeviation(operands->other);
  if (!deviation || deviation->inverse == divide)
    return std::nullopt;
  return std::make_pair(operands->full, *deviation);
}

/// `full op vector` with a [dim] vector along the last dim.
static std::optional<BinaryOperands> matchVectorOperand(Value value,
                                                        bool multiply) {
  std::optional<Elementwise> e =
      multiply ? matchElementwiseOf<arith::MulFOp>(value)
               : matchElementwiseOf<arith::AddFOp>(value);
  if (!e)
    return std::nullopt;
  std::optional<BinaryOperands> operands = splitFullOperand(*e, true);
  auto type = cast<ShapedType>(value.getType());
  if (!operands || !isLastDimVector(operands->otherMap, type.getRank()) ||
      cast<ShapedType>(operands->other.getType()).getElementType() !=
          type.getElementType())
    return std::nullopt;
  return operands;
}

/// True when the one user of `value` would extend the match (a weight or
/// bias vector not consumed yet): the user is the better anchor.
static bool userExtends(Value value, bool mayTakeWeight) {
  if (!value.hasOneUse())
    return false;
  Operation *user = *value.getUsers().begin();
  if (user->getNumResults() != 1)
    return false;
  Value next = user->getResult(0);
  auto full = [&](std::optional<BinaryOperands> ops) {
    return ops && ops->full == value;
  };
  return full(matchVectorOperand(next, /*multiply=*/false)) ||
         (mayTakeWeight && full(matchVectorOperand(next, /*multiply=*/true)));
}

struct RaiseNormPattern : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getNumResults() != 1 || !matchElementwise(op.getResult(0)))
      return failure();
    Value result = op.getResult(0);
    Value t = result, weight, bias;
    if (auto add = matchVectorOperand(t, /*multiply=*/false)) {
      bias = add->other;
      t = add->full;
    }
    if (auto mul = matchVectorOperand(t, /*multiply=*/true)) {
      weight = mul->other;
      t = mul->full;
    }
    if (bias && !weight)
      return failure();
    auto normalized = matchNormalized(t);
    if (!normalized)
      return failure();
    auto [centered, deviation] = *normalized;

    // LayerNorm centers first; RMSNorm does not.
    Value x;
    bool rms = false;
    if (auto sub = matchElementwiseOf<arith::SubFOp>(centered);
        sub && sub->fullInput(0) &&
        isLastDimBroadcast(sub->input(1).second,
                           cast<ShapedType>(centered.getType()).getRank()) &&
        matchLastDimMean(sub->input(1).first) == sub->fullInput(0)) {
      x = sub->fullInput(0);
      if (matchSquare(matchLastDimMean(deviation.statistic)) != centered)
        return failure();
    } else {
      x = centered;
      rms = true;
      if (matchSquare(matchLastDimMean(deviation.statistic)) != x || bias)
        return failure();
    }
    if (x.getType() != result.getType() ||
        userExtends(result, /*mayTakeWeight=*/!weight))
      return failure();

    FloatAttr epsilon = rewriter.getF64FloatAttr(deviation.epsilon);
    Value replacement =
        rms ? Value(RMSNormOp::create(rewriter, op.getLoc(), x, weight,
                                      epsilon))
            : Value(LayerNormOp::create(rewriter, op.getLoc(), x, weight,
                                        bias, epsilon));
    rewriter.replaceOp(op, replacement);
    return success();
  }
};

struct LLMRaiseNorms : mlir::llm::impl::LLMRaiseNormsBase<LLMRaiseNorms> {
  void runOnOperation() override {
    if (failed(applyRaisingPattern<RaiseNormPattern>(getOperation())))
      signalPassFailure();
  }
};

} // namespace
