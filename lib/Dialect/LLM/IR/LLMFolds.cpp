//===- LLMFolds.cpp - folds and canonicalizations of llm ops ----*- C++ -*-===//
//
// Folders and canonicalization patterns. The canonical form of an llm op
// carries no operand or attribute that restates the default: a zero bias, a
// unit norm weight, an all-true mask, `positions` equal to 0..seq-1, a softmax
// scale equal to 1/sqrt(head_dim) and the like are dropped, so that later
// passes (fusion, KV-cache insertion, lowering) match one form only.
//
//===----------------------------------------------------------------------===//

#include "llm/Dialect/LLM/IR/LLMOps.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::llm;

//===----------------------------------------------------------------------===//
// Constant matchers
//===----------------------------------------------------------------------===//

/// True when `value` is a constant float tensor whose every element equals
/// `expected`.
static bool isFloatSplat(Value value, double expected) {
  DenseFPElementsAttr attr;
  if (!value || !matchPattern(value, m_Constant(&attr)) || !attr.isSplat())
    return false;
  return attr.getSplatValue<APFloat>().convertToDouble() == expected;
}

/// True when `value` is a constant i1 tensor that is all true.
static bool isAllTrue(Value value) {
  DenseIntElementsAttr attr;
  if (!value || !matchPattern(value, m_Constant(&attr)) ||
      !attr.getElementType().isInteger(1) || !attr.isSplat())
    return false;
  return attr.getSplatValue<APInt>().isAllOnes();
}

/// True when `positions` is a constant whose rows are 0, 1, ..., seq-1, i.e.
/// the positions an op assumes when it has none.
static bool isDefaultPositions(Value positions) {
  DenseIntElementsAttr attr;
  if (!positions || !matchPattern(positions, m_Constant(&attr)))
    return false;
  auto type = cast<RankedTensorType>(attr.getType());
  if (type.getRank() < 1 || !type.hasStaticShape())
    return false;
  int64_t seq = type.getShape().back();
  int64_t index = 0;
  for (const APInt &position : attr.getValues<APInt>())
    if (position.getSExtValue() != (index++ % seq))
      return false;
  return true;
}

//===----------------------------------------------------------------------===//
// Canonicalization patterns
//===----------------------------------------------------------------------===//

namespace {

/// Drops optional operands whose values restate the op's default: zero biases
/// and unit weights. `OperandAccessors` yields, for an op, each optional
/// operand's mutable range together with the value it defaults to.
template <typename OpTy>
struct DropDefaultOperands : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;

  struct DefaultOperand {
    MutableOperandRange range;
    double defaultValue;
  };

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    auto isDefault = [](DefaultOperand &operand) {
      return !operand.range.empty() &&
             isFloatSplat(operand.range[0].get(), operand.defaultValue);
    };
    // Look before touching the op: a modification notifies the driver,
    // which would revisit the op forever.
    if (llvm::none_of(getDefaultOperands(op), isDefault))
      return failure();
    rewriter.modifyOpInPlace(op, [&] {
      // Clear one operand at a time: clearing shifts the operand segments,
      // so ranges taken before a clear are stale after it.
      while (true) {
        SmallVector<DefaultOperand> operands = getDefaultOperands(op);
        auto it = llvm::find_if(operands, isDefault);
        if (it == operands.end())
          break;
        it->range.clear();
      }
    });
    return success();
  }

  static SmallVector<DefaultOperand> getDefaultOperands(OpTy op);
};

template <>
SmallVector<DropDefaultOperands<LinearOp>::DefaultOperand>
DropDefaultOperands<LinearOp>::getDefaultOperands(LinearOp op) {
  return {{op.getBiasMutable(), 0.0}};
}

template <>
SmallVector<DropDefaultOperands<LayerNormOp>::DefaultOperand>
DropDefaultOperands<LayerNormOp>::getDefaultOperands(LayerNormOp op) {
  return {{op.getWeightMutable(), 1.0}, {op.getBiasMutable(), 0.0}};
}

template <>
SmallVector<DropDefaultOperands<RMSNormOp>::DefaultOperand>
DropDefaultOperands<RMSNormOp>::getDefaultOperands(RMSNormOp op) {
  return {{op.getWeightMutable(), 1.0}};
}

template <>
SmallVector<DropDefaultOperands<FFNOp>::DefaultOperand>
DropDefaultOperands<FFNOp>::getDefaultOperands(FFNOp op) {
  return {{op.getUpBiasMutable(), 0.0},
          {op.getGateBiasMutable(), 0.0},
          {op.getDownBiasMutable(), 0.0}};
}

/// Drops `positions` equal to 0..seq-1 from ops that assume them by default.
template <typename OpTy>
struct DropDefaultPositions : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    if (!isDefaultPositions(op.getPositions()))
      return failure();
    rewriter.modifyOpInPlace(op, [&] { op.getPositionsMutable().clear(); });
    return success();
  }
};

/// `rotary_dim` equal to `head_dim` is the default.
struct DropFullRotaryDim : OpRewritePattern<RopeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RopeOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getRotaryDim() != op.getHeadDim())
      return failure();
    rewriter.modifyOpInPlace(op, [&] { op.removeRotaryDimAttr(); });
    return success();
  }
};

/// Drops a mask that masks nothing (all true, or all zero when additive), a
/// scale equal to 1/sqrt(head_dim) and num_kv_heads equal to num_heads.
struct CanonicalizeAttentionDefaults : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Value mask = op.getMask();
    bool trivialMask = mask && (isAllTrue(mask) || isFloatSplat(mask, 0.0));
    std::optional<APFloat> scale = op.getScale();
    bool defaultScale =
        scale && scale->convertToDouble() ==
                     1.0 / std::sqrt(static_cast<double>(op.getHeadDim()));
    bool defaultKVHeads = op.getNumKvHeads() == op.getNumHeads();
    if (!trivialMask && !defaultScale && !defaultKVHeads)
      return failure();
    rewriter.modifyOpInPlace(op, [&] {
      if (trivialMask)
        op.getMaskMutable().clear();
      if (defaultScale)
        op.removeScaleAttr();
      if (defaultKVHeads)
        op.removeNumKvHeadsAttr();
    });
    return success();
  }
};

/// A negative softmax axis becomes the equivalent non-negative one.
struct NormalizeSoftmaxAxis : OpRewritePattern<SoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SoftmaxOp op,
                                PatternRewriter &rewriter) const override {
    // I64Attr reads back as uint64_t: compare as signed.
    if (static_cast<int64_t>(op.getAxis()) >= 0)
      return failure();
    rewriter.modifyOpInPlace(op, [&] { op.setAxis(op.getNormalizedAxis()); });
    return success();
  }
};

} // namespace

void LinearOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                           MLIRContext *context) {
  results.add<DropDefaultOperands<LinearOp>>(context);
}

void LayerNormOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<DropDefaultOperands<LayerNormOp>>(context);
}

void RMSNormOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add<DropDefaultOperands<RMSNormOp>>(context);
}

void FFNOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                        MLIRContext *context) {
  results.add<DropDefaultOperands<FFNOp>>(context);
}

void PositionalEncodingOp::getCanonicalizationPatterns(
    RewritePatternSet &results, MLIRContext *context) {
  results.add<DropDefaultPositions<PositionalEncodingOp>>(context);
}

void RopeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                         MLIRContext *context) {
  results.add<DropDefaultPositions<RopeOp>, DropFullRotaryDim>(context);
}

void AttentionOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<CanonicalizeAttentionDefaults>(context);
}

void SoftmaxOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add<NormalizeSoftmaxAxis>(context);
}

//===----------------------------------------------------------------------===//
// Folders
//===----------------------------------------------------------------------===//

/// GELU of one value in double precision.
static double computeGelu(double x, GeluApproximation approximation) {
  if (approximation == GeluApproximation::Tanh) {
    constexpr double kSqrt2OverPi = 0.7978845608028654;
    return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
  }
  return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
}

OpFoldResult GeluOp::fold(FoldAdaptor adaptor) {
  auto input = dyn_cast_if_present<DenseFPElementsAttr>(adaptor.getInput());
  if (!input)
    return {};
  auto floatType = cast<FloatType>(input.getElementType());
  GeluApproximation approximation = getApproximate();
  auto apply = [&](const APFloat &value) {
    APFloat result(computeGelu(value.convertToDouble(), approximation));
    bool losesInfo = false;
    result.convert(floatType.getFloatSemantics(),
                   APFloat::rmNearestTiesToEven, &losesInfo);
    return result;
  };
  if (input.isSplat())
    return DenseElementsAttr::get(input.getType(),
                                  apply(input.getSplatValue<APFloat>()));
  SmallVector<APFloat> values;
  values.reserve(input.getNumElements());
  for (const APFloat &value : input.getValues<APFloat>())
    values.push_back(apply(value));
  return DenseElementsAttr::get(input.getType(), values);
}

OpFoldResult SoftmaxOp::fold(FoldAdaptor) {
  // softmax over a single element is exactly one, whatever the input.
  RankedTensorType type = getType();
  if (!type.hasStaticShape() || type.getDimSize(getNormalizedAxis()) != 1)
    return {};
  auto floatType = cast<FloatType>(type.getElementType());
  return DenseElementsAttr::get(type, APFloat::getOne(
                                          floatType.getFloatSemantics()));
}
