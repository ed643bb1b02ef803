//===- Attention.cpp - llm.attention to linalg ------------------*- C++ -*-===//
//
// Attention as three contractions and a masked softmax over head groups. The heads packed in the feature dimension are split with
// `tensor.expand_shape`: queries become [batch, q_len, kv_heads, group,
// head_dim] and keys/values [batch, kv_len, kv_heads, head_dim], so grouped
// queries read their shared KV head through plain projected-permutation maps
// and no K/V copy is made. Scores are [batch, kv_heads, group, q_len,
// kv_len], computed in f32 or wider. A row whose every key is masked yields
// zeros rather than NaN.
//
// With a KV cache, an `scf.for` over the batch first writes each sequence's
// new keys and values into its cache rows (a transpose into a slice of the
// cache, which one-shot bufferization turns into a write in place), and the
// queries then attend to cache rows [0, max_b(position[b] + kv_len)); rows
// past a sequence's own end are masked per batch entry.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "llm/Conversion/LLMToLinalg/LLMToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
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

/// Writes `fresh` ([batch, kv_len, kv_heads * head_dim]) into `cache`
/// ([batch, kv_heads, capacity, head_dim]) at rows `start .. start + kv_len`
/// of batch entry `b`, transposing heads in the same write.
static Value writeCacheRows(OpBuilder &b, Location loc, Value cache,
                            Value fresh, Value batchIndex, Value start,
                            OpFoldResult kvLen, int64_t numKVHeads,
                            int64_t headDim) {
  auto cacheType = cast<RankedTensorType>(cache.getType());
  Type elementType = cacheType.getElementType();
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  // A constant length (decode's one row) makes the slices static.
  if (auto value = dyn_cast<Value>(kvLen))
    kvLen = getAsOpFoldResult(value);
  int64_t staticLen =
      getConstantIntValue(kvLen).value_or(ShapedType::kDynamic);
  // fresh[b] as [kv_len, kv_heads * head_dim], then [kv_len, kv_heads, dim].
  auto rowsType = RankedTensorType::get(
      {staticLen, numKVHeads * headDim}, elementType);
  Value rows = tensor::ExtractSliceOp::create(
      b, loc, rowsType, fresh, {OpFoldResult(batchIndex), zero, zero},
      {one, kvLen, b.getIndexAttr(numKVHeads * headDim)}, {one, one, one});
  Value heads = splitLastDim(b, loc, rows, {numKVHeads, headDim});
  // The destination rows of the cache, [kv_heads, kv_len, head_dim].
  SmallVector<OpFoldResult> offsets = {batchIndex, zero, start, zero};
  SmallVector<OpFoldResult> sizes = {one, b.getIndexAttr(numKVHeads), kvLen,
                                     b.getIndexAttr(headDim)};
  SmallVector<OpFoldResult> strides(4, one);
  auto slotType = RankedTensorType::get(
      {numKVHeads, staticLen, headDim}, elementType);
  Value slot = tensor::ExtractSliceOp::create(b, loc, slotType, cache, offsets,
                                              sizes, strides);
  Value transposed =
      linalg::TransposeOp::create(b, loc, heads, slot,
                                  ArrayRef<int64_t>{1, 0, 2})
          .getResult()[0];
  return tensor::InsertSliceOp::create(b, loc, transposed, cache, offsets,
                                       sizes, strides);
}

/// The cached form's first half: every batch entry's new keys and values go
/// into its cache rows `position[b] ..`. Returns the updated caches and the
/// number of cache rows any sequence now uses (the attended length).
/// `position` as an index clamped to [0, lastStart].
static Value clampedStart(OpBuilder &b, Location loc, Value position,
                          Value lastStart) {
  Value start = arith::IndexCastOp::create(b, loc, b.getIndexType(), position);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  return arith::MinSIOp::create(
      b, loc, arith::MaxSIOp::create(b, loc, start, zero), lastStart);
}

static std::tuple<Value, Value, Value>
updateCaches(OpBuilder &b, Location loc, AttentionOp op, OpFoldResult batch,
             OpFoldResult kvLen, Value lastStart, int64_t numKVHeads) {
  Value kCache = op.getKCache(), vCache = op.getVCache();
  Value position = op.getCachePosition();
  Value kvLenValue = getValueOrCreateConstantIndexOp(b, loc, kvLen);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value batchValue = getValueOrCreateConstantIndexOp(b, loc, batch);
  auto loop = scf::ForOp::create(
      b, loc, zero, batchValue, one, ValueRange{kCache, vCache, zero},
      [&](OpBuilder &nb, Location l, Value index, ValueRange carried) {
        Value start = clampedStart(
            nb, l, tensor::ExtractOp::create(nb, l, position, index),
            lastStart);
        Value k = writeCacheRows(nb, l, carried[0], op.getKey(), index, start,
                                 kvLen, numKVHeads, op.getHeadDim());
        Value v = writeCacheRows(nb, l, carried[1], op.getValue(), index,
                                 start, kvLen, numKVHeads,
                                 op.getValueHeadDim());
        Value end = arith::MaxSIOp::create(
            nb, l, carried[2], arith::AddIOp::create(nb, l, start, kvLenValue));
        scf::YieldOp::create(nb, l, ValueRange{k, v, end});
      });
  return {loop.getResult(0), loop.getResult(1), loop.getResult(2)};
}

/// Rows [0, length) of a cache, [batch, kv_heads, length, dim].
static Value leadingRows(OpBuilder &b, Location loc, Value cache,
                         Value length) {
  auto type = cast<RankedTensorType>(cache.getType());
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, cache);
  sizes[2] = length;
  SmallVector<int64_t> shape(type.getShape());
  shape[2] = ShapedType::kDynamic;
  SmallVector<OpFoldResult> offsets(4, b.getIndexAttr(0));
  SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), cache,
      offsets, sizes, strides);
}

namespace {

struct AttentionToLinalg : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    MLIRContext *context = getContext();
    Location loc = op.getLoc();
    Type elementType = op.getResult().getType().getElementType();
    FloatType compute = computeType(elementType);
    int64_t numHeads = op.getNumHeads();
    int64_t numKVHeads = op.getEffectiveNumKVHeads();
    int64_t group = numHeads / numKVHeads;
    int64_t headDim = op.getHeadDim();
    int64_t valueHeadDim = op.getValueHeadDim();
    auto dims = [&](ArrayRef<int64_t> d, unsigned numDims) {
      return selectDims(context, numDims, d);
    };

    Value q = splitLastDim(rewriter, loc, op.getQuery(),
                           {numKVHeads, group, headDim});
    SmallVector<OpFoldResult> qSizes = getSizes(rewriter, loc, op.getQuery());
    SmallVector<OpFoldResult> kSizes = getSizes(rewriter, loc, op.getKey());
    OpFoldResult batch = qSizes[0], qLen = qSizes[1], kvLen = kSizes[1];
    Value qLenValue = getValueOrCreateConstantIndexOp(rewriter, loc, qLen);
    Value kvLenValue = getValueOrCreateConstantIndexOp(rewriter, loc, kvLen);

    // Keys and values per head: [b, j, kv, d] from the operands, or
    // [b, kv, j, d] from the caches. The maps index them in the score loops
    // (b, kv, g, i, j, d) and the output loops (b, i, kv, g, e, j).
    Value k, v, mask = op.getMask();
    AffineMap kMap, vMap;
    OpFoldResult attendedLen = kvLen;
    SmallVector<Value> updatedCaches;
    Value lastStart;
    if (op.hasKVCache()) {
      // The highest first row that still fits kv_len rows. Positions are
      // clamped to [0, lastStart] so that a bad position never writes outside
      // the cache (the runtime refuses such positions before the call).
      Value capacity = tensor::DimOp::create(rewriter, loc, op.getKCache(), 2);
      Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
      lastStart = arith::MaxSIOp::create(
          rewriter, loc,
          arith::SubIOp::create(rewriter, loc, capacity, kvLenValue), zero);
      auto [kCache, vCache, end] = updateCaches(
          rewriter, loc, op, batch, kvLen, lastStart, numKVHeads);
      updatedCaches = {kCache, vCache};
      k = leadingRows(rewriter, loc, kCache, end);
      v = leadingRows(rewriter, loc, vCache, end);
      kMap = dims({0, 1, 4, 5}, 6);
      vMap = dims({0, 2, 5, 4}, 6);
      attendedLen = end;
      // An explicit mask spans the capacity; keep its attended columns.
      if (mask) {
        auto maskType = cast<RankedTensorType>(mask.getType());
        unsigned last = maskType.getRank() - 1;
        if (maskType.getDimSize(last) != 1) {
          SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, mask);
          sizes[last] = end;
          SmallVector<int64_t> shape(maskType.getShape());
          shape[last] = ShapedType::kDynamic;
          mask = tensor::ExtractSliceOp::create(
              rewriter, loc,
              RankedTensorType::get(shape, maskType.getElementType()), mask,
              SmallVector<OpFoldResult>(last + 1, rewriter.getIndexAttr(0)),
              sizes,
              SmallVector<OpFoldResult>(last + 1, rewriter.getIndexAttr(1)));
        }
      }
    } else {
      k = splitLastDim(rewriter, loc, op.getKey(), {numKVHeads, headDim});
      v = splitLastDim(rewriter, loc, op.getValue(),
                       {numKVHeads, valueHeadDim});
      kMap = dims({0, 4, 1, 5}, 6);
      vMap = dims({0, 5, 2, 4}, 6);
    }

    // scores[b, kv, g, i, j] = sum_d q[b, i, kv, g, d] * k[b, j, kv, d]
    // loops (b, kv, g, i, j, d).
    SmallVector<OpFoldResult> scoreSizes = {
        batch, rewriter.getIndexAttr(numKVHeads), rewriter.getIndexAttr(group),
        qLen, attendedLen};
    Value scoresInit = createFilled(rewriter, loc, scoreSizes, compute, 0.0);
    Value scores =
        linalg::GenericOp::create(
            rewriter, loc, scoresInit.getType(), ValueRange{q, k}, scoresInit,
            {dims({0, 3, 1, 2, 5}, 6), kMap, dims({0, 1, 2, 3, 4}, 6)},
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
    if (mask) {
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
    unsigned positionArg = maskInputs.size();
    if (Value position = op.getCachePosition()) {
      maskInputs.push_back(position);
      maskMaps.push_back(dims({0}, 5));
    }
    maskMaps.push_back(dims({0, 1, 2, 3, 4}, 5));
    bool causal = op.getCausal();
    bool cached = op.hasKVCache();
    // Query i sits at absolute position start + i + (kv_len - q_len), where
    // start is the sequence's cache position (0 without a cache).
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
              if (mask) {
                if (booleanMask)
                  s = arith::SelectOp::create(b, l, args[1], s, minusInf);
                else
                  s = arith::AddFOp::create(b, l, s,
                                            extendTo(b, l, args[1], compute));
              }
              Value j = linalg::IndexOp::create(b, l, 4);
              Value offset = queryOffset;
              if (cached) {
                // Rows at or past this sequence's end belong to no key yet
                // (or to a longer sequence of the batch).
                Value start =
                    clampedStart(b, l, args[positionArg], lastStart);
                Value end = arith::AddIOp::create(b, l, start, kvLenValue);
                Value unwritten = arith::CmpIOp::create(
                    b, l, arith::CmpIPredicate::sge, j, end);
                s = arith::SelectOp::create(b, l, unwritten, minusInf, s);
                offset = arith::AddIOp::create(b, l, start, queryOffset);
              }
              if (causal) {
                Value i = linalg::IndexOp::create(b, l, 3);
                Value limit = arith::AddIOp::create(b, l, i, offset);
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
            {dims({0, 2, 3, 1, 5}, 6), vMap, dims({0, 1, 2, 3, 4}, 6)},
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
    SmallVector<Value> results = {collapsed};
    results.append(updatedCaches);
    rewriter.replaceOp(op, results);
    return success();
  }
};

} // namespace

void mlir::llm::populateAttentionToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<AttentionToLinalg>(patterns.getContext());
}
