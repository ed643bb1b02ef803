//===- Attention.cpp - llm.attention to linalg ------------------*- C++ -*-===//
//
// Attention without a KV cache, as three contractions and a masked softmax
// over head groups. The heads packed in the feature dimension are split with
// `tensor.expand_shape`: queries become [batch, q_len, kv_heads, group,
// head_dim] and keys/values [batch, kv_len, kv_heads, head_dim], so grouped
// queries read their shared KV head through plain projected-permutation maps
// and no K/V copy is made. Scores are [batch, kv_heads, group, q_len,
// kv_len], computed in f32 or wider. A row whose every key is masked yields
// zeros rather than NaN.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "llm/Conversion/LLMToLinalg/LLMToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

/// Splits the last dim of `value` ([..., A*B*...]) into `split` sizes.
static Value splitLastDim(OpBuilder &b, Location loc, Value value,
                          ArrayRef<int64_t> split) {
  auto type = cast<RankedTensorType>(value.getType());
  unsigned rank = type.getRank();
  SmallVector<OpFoldResult> outputShape = getSizes(b, loc, value);
  outputShape.pop_back();
  SmallVector<int64_t> shape(type.getShape().drop_back());
  SmallVector<ReassociationIndices> reassociation;
  for (unsigned i = 0; i + 1 < rank; ++i)
    reassociation.push_back({static_cast<int64_t>(i)});
  ReassociationIndices last;
  for (int64_t size : split) {
    last.push_back(shape.size());
    shape.push_back(size);
    outputShape.push_back(b.getIndexAttr(size));
  }
  reassociation.push_back(last);
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  return tensor::ExpandShapeOp::create(b, loc, resultType, value,
                                       reassociation, outputShape);
}

/// Splits dim `dim` of `value` into [numKVHeads, group].
static Value splitHeadDim(OpBuilder &b, Location loc, Value value,
                          unsigned dim, int64_t numKVHeads, int64_t group) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<OpFoldResult> outputShape = getSizes(b, loc, value);
  SmallVector<int64_t> shape(type.getShape());
  SmallVector<ReassociationIndices> reassociation;
  int64_t next = 0;
  for (unsigned i = 0; i < type.getRank(); ++i) {
    if (i == dim) {
      reassociation.push_back({next, next + 1});
      next += 2;
    } else {
      reassociation.push_back({next++});
    }
  }
  shape[dim] = numKVHeads;
  shape.insert(shape.begin() + dim + 1, group);
  outputShape[dim] = b.getIndexAttr(numKVHeads);
  outputShape.insert(outputShape.begin() + dim + 1, b.getIndexAttr(group));
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  return tensor::ExpandShapeOp::create(b, loc, resultType, value,
                                       reassociation, outputShape);
}

namespace {

struct AttentionToLinalg : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (op.hasKVCache())
      return rewriter.notifyMatchFailure(op, "KV-cache form not lowered yet");
    MLIRContext *context = getContext();
    Location loc = op.getLoc();
    Type elementType = op.getResult().getType().getElementType();
    FloatType compute = computeType(elementType);
    int64_t numHeads = op.getNumHeads();
    int64_t numKVHeads = op.getEffectiveNumKVHeads();
    int64_t group = numHeads / numKVHeads;
    int64_t headDim = op.getHeadDim();
    int64_t valueHeadDim = op.getValueHeadDim();

    Value q = splitLastDim(rewriter, loc, op.getQuery(),
                           {numKVHeads, group, headDim});
    Value k = splitLastDim(rewriter, loc, op.getKey(), {numKVHeads, headDim});
    Value v =
        splitLastDim(rewriter, loc, op.getValue(), {numKVHeads, valueHeadDim});
    SmallVector<OpFoldResult> qSizes = getSizes(rewriter, loc, op.getQuery());
    SmallVector<OpFoldResult> kSizes = getSizes(rewriter, loc, op.getKey());
    OpFoldResult batch = qSizes[0], qLen = qSizes[1], kvLen = kSizes[1];
    auto dims = [&](ArrayRef<int64_t> d, unsigned numDims) {
      return selectDims(context, numDims, d);
    };

    // scores[b, kv, g, i, j] = sum_d q[b, i, kv, g, d] * k[b, j, kv, d]
    // loops (b, kv, g, i, j, d).
    SmallVector<OpFoldResult> scoreSizes = {
        batch, rewriter.getIndexAttr(numKVHeads), rewriter.getIndexAttr(group),
        qLen, kvLen};
    Value scoresInit = createFilled(rewriter, loc, scoreSizes, compute, 0.0);
    Value scores =
        linalg::GenericOp::create(
            rewriter, loc, scoresInit.getType(), ValueRange{q, k}, scoresInit,
            {dims({0, 3, 1, 2, 5}, 6), dims({0, 4, 1, 5}, 6),
             dims({0, 1, 2, 3, 4}, 6)},
            iterators(5, 1),
            [&](OpBuilder &b, Location l, ValueRange args) {
              Value product = arith::MulFOp::create(
                  b, l, extendTo(b, l, args[0], compute),
                  extendTo(b, l, args[1], compute));
              yieldValue(
                  b, l, arith::AddFOp::create(b, l, args[2], product));
            })
            .getResult(0);

    // Scale and mask, loops (b, kv, g, i, j).
    SmallVector<Value> maskInputs = {scores};
    SmallVector<AffineMap> maskMaps = {dims({0, 1, 2, 3, 4}, 5)};
    bool booleanMask = false;
    if (Value mask = op.getMask()) {
      auto maskType = cast<RankedTensorType>(mask.getType());
      booleanMask = maskType.getElementType().isInteger(1);
      // Right-align the mask to [batch, heads, q_len, kv_len]; size-1 dims
      // broadcast; a heads dim splits into [kv_heads, group].
      unsigned maskRank = maskType.getRank();
      unsigned offset = 4 - maskRank;
      SmallVector<int64_t> maskDims;
      bool splitHeads = false;
      for (unsigned m = 0; m < maskRank; ++m) {
        unsigned target = offset + m;
        if (maskType.getDimSize(m) == 1) {
          maskDims.push_back(-1);
          continue;
        }
        switch (target) {
        case 0:
          maskDims.push_back(0);
          break;
        case 1:
          maskDims.append({1, 2});
          splitHeads = true;
          break;
        case 2:
          maskDims.push_back(3);
          break;
        default:
          maskDims.push_back(4);
          break;
        }
      }
      if (splitHeads)
        mask = splitHeadDim(rewriter, loc, mask, 1 - offset, numKVHeads, group);
      maskInputs.push_back(mask);
      maskMaps.push_back(dims(maskDims, 5));
    }
    maskMaps.push_back(dims({0, 1, 2, 3, 4}, 5));
    bool causal = op.getCausal();
    Value qLenValue = getValueOrCreateConstantIndexOp(rewriter, loc, qLen);
    Value kvLenValue = getValueOrCreateConstantIndexOp(rewriter, loc, kvLen);
    // Query i sits at absolute position i + (kv_len - q_len).
    Value queryOffset =
        arith::SubIOp::create(rewriter, loc, kvLenValue, qLenValue);
    double scale = op.getEffectiveScale();
    Value maskedInit = createEmpty(rewriter, loc, scoreSizes, compute);
    Value masked =
        linalg::GenericOp::create(
            rewriter, loc, maskedInit.getType(), maskInputs, maskedInit,
            maskMaps, iterators(5),
            [&](OpBuilder &b, Location l, ValueRange args) {
              Value minusInf = floatConstant(
                  b, l, compute, -std::numeric_limits<double>::infinity());
              Value s = arith::MulFOp::create(
                  b, l, args[0], floatConstant(b, l, compute, scale));
              if (maskInputs.size() > 1) {
                if (booleanMask)
                  s = arith::SelectOp::create(b, l, args[1], s, minusInf);
                else
                  s = arith::AddFOp::create(b, l, s,
                                            extendTo(b, l, args[1], compute));
              }
              if (causal) {
                Value i = linalg::IndexOp::create(b, l, 3);
                Value j = linalg::IndexOp::create(b, l, 4);
                Value limit = arith::AddIOp::create(b, l, i, queryOffset);
                Value future = arith::CmpIOp::create(
                    b, l, arith::CmpIPredicate::sgt, j, limit);
                s = arith::SelectOp::create(b, l, future, minusInf, s);
              }
              yieldValue(b, l, s);
            })
            .getResult(0);

    // Softmax over j, loops (b, kv, g, i, j).
    SmallVector<OpFoldResult> rowSizes(scoreSizes.begin(),
                                       scoreSizes.end() - 1);
    AffineMap all = dims({0, 1, 2, 3, 4}, 5);
    AffineMap rows = dims({0, 1, 2, 3}, 5);
    Value maxInit = createFilled(rewriter, loc, rowSizes, compute,
                                 -std::numeric_limits<double>::infinity());
    Value max = linalg::GenericOp::create(
                    rewriter, loc, maxInit.getType(), masked, maxInit,
                    {all, rows}, iterators(4, 1),
                    [&](OpBuilder &b, Location l, ValueRange args) {
                      yieldValue(
                          b, l,
                          arith::MaximumFOp::create(b, l, args[0], args[1]));
                    })
                    .getResult(0);
    Value expInit = createEmpty(rewriter, loc, scoreSizes, compute);
    Value exp =
        linalg::GenericOp::create(
            rewriter, loc, expInit.getType(), ValueRange{masked, max}, expInit,
            {all, rows, all}, iterators(5),
            [&](OpBuilder &b, Location l, ValueRange args) {
              // A fully masked row has max -inf: its weights are all zero.
              Value minusInf = floatConstant(
                  b, l, compute, -std::numeric_limits<double>::infinity());
              Value emptyRow = arith::CmpFOp::create(
                  b, l, arith::CmpFPredicate::OEQ, args[1], minusInf);
              Value e = math::ExpOp::create(
                  b, l, arith::SubFOp::create(b, l, args[0], args[1]));
              Value zero = floatConstant(b, l, compute, 0.0);
              yieldValue(
                  b, l, arith::SelectOp::create(b, l, emptyRow, zero, e));
            })
            .getResult(0);
    Value sumInit = createFilled(rewriter, loc, rowSizes, compute, 0.0);
    Value sum = linalg::GenericOp::create(
                    rewriter, loc, sumInit.getType(), exp, sumInit,
                    {all, rows}, iterators(4, 1),
                    [&](OpBuilder &b, Location l, ValueRange args) {
                      yieldValue(
                          b, l, arith::AddFOp::create(b, l, args[0], args[1]));
                    })
                    .getResult(0);
    Value probsInit = createEmpty(rewriter, loc, scoreSizes, compute);
    Value probs =
        linalg::GenericOp::create(
            rewriter, loc, probsInit.getType(), ValueRange{exp, sum},
            probsInit, {all, rows, all}, iterators(5),
            [&](OpBuilder &b, Location l, ValueRange args) {
              Value zero = floatConstant(b, l, compute, 0.0);
              Value emptyRow = arith::CmpFOp::create(
                  b, l, arith::CmpFPredicate::OEQ, args[1], zero);
              Value p = arith::DivFOp::create(b, l, args[0], args[1]);
              yieldValue(
                  b, l, arith::SelectOp::create(b, l, emptyRow, zero, p));
            })
            .getResult(0);

    // out[b, i, kv, g, e] = sum_j p[b, kv, g, i, j] * v[b, j, kv, e]
    // loops (b, i, kv, g, e, j).
    SmallVector<OpFoldResult> outSizes = {
        batch, qLen, rewriter.getIndexAttr(numKVHeads),
        rewriter.getIndexAttr(group), rewriter.getIndexAttr(valueHeadDim)};
    Value outInit = createFilled(rewriter, loc, outSizes, compute, 0.0);
    Value out =
        linalg::GenericOp::create(
            rewriter, loc, outInit.getType(), ValueRange{probs, v}, outInit,
            {dims({0, 2, 3, 1, 5}, 6), dims({0, 5, 2, 4}, 6),
             dims({0, 1, 2, 3, 4}, 6)},
            iterators(5, 1),
            [&](OpBuilder &b, Location l, ValueRange args) {
              Value product = arith::MulFOp::create(
                  b, l, args[0], extendTo(b, l, args[1], compute));
              yieldValue(
                  b, l, arith::AddFOp::create(b, l, args[2], product));
            })
            .getResult(0);

    // Merge the heads back: [b, i, kv, g, e] -> [b, i, heads * e].
    auto collapsedType = RankedTensorType::get(
        op.getResult().getType().getShape(), compute);
    Value collapsed = tensor::CollapseShapeOp::create(
        rewriter, loc, collapsedType, out,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3, 4}});
    if (compute != elementType)
      collapsed = mapElementwise(
          rewriter, loc, collapsed,
          [](OpBuilder &, Location, Value x) { return x; }, elementType);
    rewriter.replaceOp(op, collapsed);
    return success();
  }
};

} // namespace

void mlir::llm::populateAttentionToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<AttentionToLinalg>(patterns.getContext());
}
