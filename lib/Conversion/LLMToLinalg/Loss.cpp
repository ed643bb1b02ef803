//===- Loss.cpp - llm.cross_entropy and llm.kl_div to linalg ----*- C++ -*-===//
//
// Cross-entropy per position as log-sum-exp minus the label's logit (mixed
// with the mean logit under label smoothing), computed in f32 or wider, then
// reduced over the counted positions as PyTorch's F.cross_entropy does. The
// distillation KL divergence is reduced the same way.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "llm/Conversion/LLMToLinalg/LLMToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

/// Reduces `input` over its last dim with `combine`, starting at `initial`.
static Value reduceClasses(
    OpBuilder &b, Location loc, Value input, FloatType compute, double initial,
    function_ref<Value(OpBuilder &, Location, Value x, Value acc)> combine) {
  auto type = cast<RankedTensorType>(input.getType());
  unsigned rank = type.getRank();
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, input);
  sizes.pop_back();
  Value init = createFilled(b, loc, sizes, compute, initial);
  return linalg::GenericOp::create(
             b, loc, init.getType(), input, init,
             {b.getMultiDimIdentityMap(rank),
              identityPrefix(b.getContext(), rank, rank - 1)},
             iterators(rank - 1, 1),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               yieldValue(
                   nb, l,
                   combine(nb, l, extendTo(nb, l, args[0], compute), args[1]));
             })
      .getResult(0);
}

/// Sums every element of `input` into a rank-0 tensor.
static Value reduceAll(OpBuilder &b, Location loc, Value input) {
  auto type = cast<RankedTensorType>(input.getType());
  unsigned rank = type.getRank();
  Value init = createFilled(b, loc, {}, type.getElementType(), 0.0);
  return linalg::GenericOp::create(
             b, loc, init.getType(), input, init,
             {b.getMultiDimIdentityMap(rank),
              AffineMap::get(rank, 0, {}, b.getContext())},
             iterators(0, rank),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               yieldValue(
                   nb, l, arith::AddFOp::create(nb, l, args[0], args[1]));
             })
      .getResult(0);
}

/// One pass over the positions of \p labels (and the per-position
/// \p inputs, shaped like them) giving each position's loss, computed by
/// \p loss from the inputs' values, where the label is not
/// \p ignoreIndex and 0 elsewhere, and a 0/1 count of the counted
/// positions.
static std::pair<Value, Value> maskedPositionLosses(
    OpBuilder &b, Location loc, Value labels, int64_t ignoreIndex,
    ValueRange inputs, FloatType compute,
    function_ref<Value(OpBuilder &, Location, ValueRange inputs)> loss) {
  unsigned rank = cast<RankedTensorType>(labels.getType()).getRank();
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, labels);
  Value lossInit = createEmpty(b, loc, sizes, compute);
  Value countInit = createEmpty(b, loc, sizes, compute);
  SmallVector<Value> operands = {labels};
  operands.append(inputs.begin(), inputs.end());
  auto perPosition = linalg::GenericOp::create(
      b, loc, TypeRange{lossInit.getType(), countInit.getType()}, operands,
      ValueRange{lossInit, countInit},
      SmallVector<AffineMap>(operands.size() + 2,
                             b.getMultiDimIdentityMap(rank)),
      iterators(rank), [&](OpBuilder &nb, Location l, ValueRange args) {
        Value label = args[0];
        Value ignore = arith::ConstantOp::create(
            nb, l, nb.getIntegerAttr(label.getType(), ignoreIndex));
        Value counted = arith::CmpIOp::create(
            nb, l, arith::CmpIPredicate::ne, label, ignore);
        Value value = loss(nb, l, args.slice(0, operands.size()));
        Value zero = floatConstant(nb, l, compute, 0.0);
        Value one = floatConstant(nb, l, compute, 1.0);
        linalg::YieldOp::create(
            nb, l,
            ValueRange{arith::SelectOp::create(nb, l, counted, value, zero),
                       arith::SelectOp::create(nb, l, counted, one, zero)});
      });
  return {perPosition.getResult(0), perPosition.getResult(1)};
}

/// sum(losses) / sum(counts) as a rank-0 tensor; with nothing counted this is
/// 0/0 = NaN, as in PyTorch.
static Value meanOfCounted(OpBuilder &b, Location loc, Value losses,
                           Value counts) {
  Value total = reduceAll(b, loc, losses);
  Value count = reduceAll(b, loc, counts);
  Value init = createEmpty(b, loc, {}, getElementTypeOrSelf(total));
  AffineMap scalar = AffineMap::get(0, 0, {}, b.getContext());
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{total, count}, init,
             {scalar, scalar, scalar}, iterators(0),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               yieldValue(nb, l,
                          arith::DivFOp::create(nb, l, args[0], args[1]));
             })
      .getResult(0);
}

/// \p value (computed in a wider type) converted to \p elementType.
static Value resultIn(OpBuilder &b, Location loc, Value value,
                      Type elementType) {
  if (getElementTypeOrSelf(value) == elementType)
    return value;
  return mapElementwise(
      b, loc, value, [](OpBuilder &, Location, Value x) { return x; },
      elementType);
}

namespace {

struct CrossEntropyToLinalg : OpRewritePattern<CrossEntropyOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CrossEntropyOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value logits = op.getLogits();
    Value labels = op.getLabels();
    auto logitsType = cast<RankedTensorType>(logits.getType());
    Type elementType = logitsType.getElementType();
    FloatType compute = computeType(elementType);
    unsigned rank = logitsType.getRank();
    unsigned positionRank = rank - 1;
    int64_t ignoreIndex = static_cast<int64_t>(op.getIgnoreIndex());
    double smoothing = op.getLabelSmoothing().convertToDouble();

    Value max = reduceClasses(
        rewriter, loc, logits, compute,
        -std::numeric_limits<double>::infinity(),
        [](OpBuilder &b, Location l, Value x, Value acc) {
          return arith::MaximumFOp::create(b, l, x, acc).getResult();
        });
    // sum_c exp(x_c - max), then per position: lse, picked logit, mean logit.
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, logits);
    SmallVector<OpFoldResult> positionSizes(sizes.begin(), sizes.end() - 1);
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap positions = identityPrefix(getContext(), rank, positionRank);
    Value sumInit = createFilled(rewriter, loc, positionSizes, compute, 0.0);
    Value sumExp =
        linalg::GenericOp::create(
            rewriter, loc, sumInit.getType(), ValueRange{logits, max}, sumInit,
            {identity, positions, positions}, iterators(positionRank, 1),
            [&](OpBuilder &b, Location l, ValueRange args) {
              Value x = extendTo(b, l, args[0], compute);
              Value e = math::ExpOp::create(
                  b, l, arith::SubFOp::create(b, l, x, args[1]));
              yieldValue(b, l,
                                      arith::AddFOp::create(b, l, args[2], e));
            })
            .getResult(0);
    Value sumLogits = reduceClasses(
        rewriter, loc, logits, compute, 0.0,
        [](OpBuilder &b, Location l, Value x, Value acc) {
          return arith::AddFOp::create(b, l, x, acc).getResult();
        });

    Value numClasses = tensor::DimOp::create(rewriter, loc, logits, rank - 1);
    // Per-position loss (0 where ignored) and a 0/1 count of counted ones;
    // the inputs are [label, max, sum exp, sum of logits].
    auto [losses, counts] = maskedPositionLosses(
        rewriter, loc, labels, ignoreIndex, ValueRange{max, sumExp, sumLogits},
        compute, [&](OpBuilder &b, Location l, ValueRange args) {
          Value label = args[0];
          // Read logits[..., label] with the label clamped into range.
          Value index =
              arith::IndexCastOp::create(b, l, b.getIndexType(), label);
          Value zeroIndex = arith::ConstantIndexOp::create(b, l, 0);
          Value lastIndex = arith::SubIOp::create(
              b, l, numClasses, arith::ConstantIndexOp::create(b, l, 1));
          index = arith::MinSIOp::create(
              b, l, arith::MaxSIOp::create(b, l, index, zeroIndex), lastIndex);
          SmallVector<Value> indices;
          for (unsigned d = 0; d < positionRank; ++d)
            indices.push_back(linalg::IndexOp::create(b, l, d));
          indices.push_back(index);
          Value picked = extendTo(
              b, l, tensor::ExtractOp::create(b, l, logits, indices), compute);
          Value lse = arith::AddFOp::create(
              b, l, math::LogOp::create(b, l, args[2]), args[1]);
          Value nll = arith::SubFOp::create(b, l, lse, picked);
          Value loss = nll;
          if (smoothing != 0.0) {
            Value classes = arith::SIToFPOp::create(
                b, l, compute,
                arith::IndexCastOp::create(b, l, b.getI64Type(), numClasses));
            Value meanLogit = arith::DivFOp::create(b, l, args[3], classes);
            Value uniform = arith::SubFOp::create(b, l, lse, meanLogit);
            loss = arith::AddFOp::create(
                b, l,
                arith::MulFOp::create(
                    b, l, floatConstant(b, l, compute, 1.0 - smoothing), nll),
                arith::MulFOp::create(
                    b, l, floatConstant(b, l, compute, smoothing), uniform));
          }
          return loss;
        });

    Value result;
    switch (op.getReduction()) {
    case Reduction::None:
      result = losses;
      break;
    case Reduction::Sum:
      result = reduceAll(rewriter, loc, losses);
      break;
    case Reduction::Mean:
      result = meanOfCounted(rewriter, loc, losses, counts);
      break;
    }
    rewriter.replaceOp(op, resultIn(rewriter, loc, result, elementType));
    return success();
  }
};

/// Per position, with p = softmax(t / T) and q = softmax(s / T):
///   KL(p || q) = sum_c p_c (t_c - s_c) / T - lse(t / T) + lse(s / T),
/// from one pass over the classes that sums exp((s - max s) / T),
/// exp((t - max t) / T) and exp((t - max t) / T) * (t - s).
struct KLDivToLinalg : OpRewritePattern<KLDivOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(KLDivOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value logits = op.getLogits(), target = op.getTarget();
    auto logitsType = cast<RankedTensorType>(logits.getType());
    Type elementType = logitsType.getElementType();
    FloatType compute = computeType(elementType);
    unsigned rank = logitsType.getRank();
    unsigned positionRank = rank - 1;
    int64_t ignoreIndex = op.getIgnoreIndex();
    Value temperature = extendTo(
        rewriter, loc,
        tensor::ExtractOp::create(rewriter, loc, op.getTemperature(),
                                  ValueRange{}),
        compute);

    auto rowMax = [&](Value x) {
      return reduceClasses(
          rewriter, loc, x, compute, -std::numeric_limits<double>::infinity(),
          [](OpBuilder &b, Location l, Value v, Value acc) {
            return arith::MaximumFOp::create(b, l, v, acc).getResult();
          });
    };
    Value maxS = rowMax(logits), maxT = rowMax(target);
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, logits);
    SmallVector<OpFoldResult> positionSizes(sizes.begin(), sizes.end() - 1);
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap positions = identityPrefix(getContext(), rank, positionRank);
    Value zeros = createFilled(rewriter, loc, positionSizes, compute, 0.0);
    auto sums = linalg::GenericOp::create(
        rewriter, loc, TypeRange{zeros.getType(), zeros.getType(),
                                 zeros.getType()},
        ValueRange{logits, target, maxS, maxT},
        ValueRange{zeros, zeros, zeros},
        {identity, identity, positions, positions, positions, positions,
         positions},
        iterators(positionRank, 1),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value s = extendTo(b, l, args[0], compute);
          Value t = extendTo(b, l, args[1], compute);
          auto scaledExp = [&](Value x, Value max) -> Value {
            return math::ExpOp::create(
                b, l,
                arith::DivFOp::create(
                    b, l, arith::SubFOp::create(b, l, x, max), temperature));
          };
          Value es = scaledExp(s, args[2]), et = scaledExp(t, args[3]);
          Value weighted = arith::MulFOp::create(
              b, l, et, arith::SubFOp::create(b, l, t, s));
          linalg::YieldOp::create(
              b, l,
              ValueRange{arith::AddFOp::create(b, l, args[4], es),
                         arith::AddFOp::create(b, l, args[5], et),
                         arith::AddFOp::create(b, l, args[6], weighted)});
        });

    // The inputs are [label, max s, max t, sum exp s, sum exp t, weighted].
    auto [losses, counts] = maskedPositionLosses(
        rewriter, loc, op.getLabels(), ignoreIndex,
        ValueRange{maxS, maxT, sums.getResult(0), sums.getResult(1),
                   sums.getResult(2)},
        compute, [&](OpBuilder &b, Location l, ValueRange args) {
          auto lse = [&](Value max, Value sumExp) -> Value {
            return arith::AddFOp::create(
                b, l, arith::DivFOp::create(b, l, max, temperature),
                math::LogOp::create(b, l, sumExp));
          };
          Value cross = arith::DivFOp::create(
              b, l, args[5], arith::MulFOp::create(b, l, args[4], temperature));
          return arith::AddFOp::create(
                     b, l,
                     arith::SubFOp::create(b, l, cross, lse(args[2], args[4])),
                     lse(args[1], args[3]))
              .getResult();
        });
    Value result = meanOfCounted(rewriter, loc, losses, counts);
    rewriter.replaceOp(op, resultIn(rewriter, loc, result, elementType));
    return success();
  }
};

} // namespace

void mlir::llm::populateLossToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<CrossEntropyToLinalg, KLDivToLinalg>(patterns.getContext());
}
