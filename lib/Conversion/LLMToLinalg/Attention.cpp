//===- Attention.cpp - llm.attention to linalg ------------------*- C++ -*-===//
//
// Attention as contractions and a masked softmax over head groups. The
// heads packed in the feature dimension are split with
// `tensor.expand_shape`: queries become [batch, q_len, kv_heads, group,
// head_dim] and keys/values [batch, kv_len, kv_heads, head_dim], so grouped
// queries read their shared KV head through plain projected-permutation maps
// and no K/V copy is made. Scores are [batch, kv_heads, group, q_len,
// kv_len], computed in f32 or wider. A row whose every key is masked yields
// zeros rather than NaN.
//
// Two lowerings share that layout. convert-llm-to-linalg materializes the
// whole score matrix and takes a softmax over its rows. llm-fuse-attention
// (populateFusedAttentionPatterns) instead loops over tiles of query rows
// and, inside, over tiles of keys with an online softmax (a running maximum
// and sum per row rescale the partial output), so the scores live one
// [q tile x key tile] block at a time and memory grows linearly with the
// sequence; with a causal mask the key tiles past a query tile are skipped.
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
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
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

/// One llm.attention's operands in the layouts both lowerings read.
struct AttentionInputs {
  FloatType compute;
  int64_t numKVHeads, group, valueHeadDim;
  double scale;
  bool causal;
  /// Queries [b, i, kv, g, d].
  Value q;
  /// Keys and values [b, j, kv, d], or from the caches [b, kv, j, d].
  Value k, v;
  bool cached = false;
  /// The mask right-aligned to the score loops (b, kv, g, i, j) with its
  /// heads split, and the loop each of its dims follows (-1: a broadcast
  /// size-1 dim).
  Value mask;
  SmallVector<int64_t> maskDims;
  bool booleanMask = false;
  /// The cache form's positions [b] and the highest first row that fits.
  Value position, lastStart;
  OpFoldResult batch, qLen;
  Value kvLen;
  /// The keys attended: kv_len, or the cache rows any sequence uses.
  OpFoldResult attended;
  SmallVector<Value> updatedCaches;
  /// Temporaries are `bufferization.alloc_tensor`s rather than
  /// `tensor.empty`s, which CSE would merge: the tiled form's temporaries
  /// must each get their own buffer, or bufferization copies them in the
  /// loops.
  bool freshTemporaries = false;

  /// The dim of k and v that runs over keys.
  unsigned keyDim() const { return cached ? 2 : 1; }
  /// k in the score loops (b, kv, g, i, j, d).
  AffineMap keyMap(MLIRContext *context) const {
    return selectDims(context, 6,
                      cached ? ArrayRef<int64_t>{0, 1, 4, 5}
                             : ArrayRef<int64_t>{0, 4, 1, 5});
  }
  /// v in the output loops (b, i, kv, g, e, j).
  AffineMap valueMap(MLIRContext *context) const {
    return selectDims(context, 6,
                      cached ? ArrayRef<int64_t>{0, 2, 5, 4}
                             : ArrayRef<int64_t>{0, 5, 2, 4});
  }
};

} // namespace

/// An uninitialized temporary of the given sizes (see freshTemporaries).
static Value createTemporary(OpBuilder &b, Location loc,
                             const AttentionInputs &in,
                             ArrayRef<OpFoldResult> sizes) {
  if (!in.freshTemporaries)
    return createEmpty(b, loc, sizes, in.compute);
  SmallVector<int64_t> shape;
  SmallVector<Value> dynamicSizes;
  dispatchIndexOpFoldResults(sizes, dynamicSizes, shape);
  return bufferization::AllocTensorOp::create(
      b, loc, RankedTensorType::get(shape, in.compute), dynamicSizes);
}

/// A temporary filled with `value`.
static Value createFilledTemporary(OpBuilder &b, Location loc,
                                   const AttentionInputs &in,
                                   ArrayRef<OpFoldResult> sizes,
                                   double value) {
  return linalg::FillOp::create(b, loc,
                                floatConstant(b, loc, in.compute, value),
                                createTemporary(b, loc, in, sizes))
      .getResult(0);
}

/// Splits the heads of q, k and v, writes the new keys and values into the
/// caches (the cache form), and lines the mask up with the score loops.
/// `OpTy`: llm.attention or llm.attention_grad (never a cache).
template <typename OpTy>
static AttentionInputs prepareInputs(OpBuilder &b, OpTy op) {
  Location loc = op.getLoc();
  AttentionInputs in;
  in.compute = computeType(op.getQuery().getType().getElementType());
  int64_t numHeads = op.getNumHeads();
  in.numKVHeads = op.getEffectiveNumKVHeads();
  in.group = numHeads / in.numKVHeads;
  in.valueHeadDim = op.getValueHeadDim();
  in.scale = op.getEffectiveScale();
  in.causal = op.getCausal();
  int64_t headDim = op.getHeadDim();

  in.q = splitLastDim(b, loc, op.getQuery(), {in.numKVHeads, in.group, headDim});
  SmallVector<OpFoldResult> qSizes = getSizes(b, loc, op.getQuery());
  SmallVector<OpFoldResult> kSizes = getSizes(b, loc, op.getKey());
  in.batch = qSizes[0];
  in.qLen = qSizes[1];
  in.kvLen = getValueOrCreateConstantIndexOp(b, loc, kSizes[1]);
  in.attended = kSizes[1];
  in.mask = op.getMask();
  if (op.hasKVCache()) {
    if constexpr (std::is_same_v<OpTy, AttentionOp>) {
      // The highest first row that still fits kv_len rows. Positions are
      // clamped to [0, lastStart] so that a bad position never writes outside
      // the cache (the runtime refuses such positions before the call).
      Value capacity = tensor::DimOp::create(b, loc, op.getKCache(), 2);
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      in.lastStart = arith::MaxSIOp::create(
          b, loc, arith::SubIOp::create(b, loc, capacity, in.kvLen), zero);
      auto [kCache, vCache, end] = updateCaches(b, loc, op, in.batch, kSizes[1],
                                                in.lastStart, in.numKVHeads);
      in.updatedCaches = {kCache, vCache};
      in.cached = true;
      in.position = op.getCachePosition();
      in.k = leadingRows(b, loc, kCache, end);
      in.v = leadingRows(b, loc, vCache, end);
      in.attended = end;
      // An explicit mask spans the capacity; keep its attended columns.
      if (Value mask = in.mask) {
        auto maskType = cast<RankedTensorType>(mask.getType());
        unsigned last = maskType.getRank() - 1;
        if (maskType.getDimSize(last) != 1) {
          SmallVector<OpFoldResult> sizes = getSizes(b, loc, mask);
          sizes[last] = end;
          SmallVector<int64_t> shape(maskType.getShape());
          shape[last] = ShapedType::kDynamic;
          in.mask = tensor::ExtractSliceOp::create(
              b, loc, RankedTensorType::get(shape, maskType.getElementType()),
              mask, SmallVector<OpFoldResult>(last + 1, b.getIndexAttr(0)),
              sizes, SmallVector<OpFoldResult>(last + 1, b.getIndexAttr(1)));
        }
      }
    }
  } else {
    in.k = splitLastDim(b, loc, op.getKey(), {in.numKVHeads, headDim});
    in.v = splitLastDim(b, loc, op.getValue(),
                        {in.numKVHeads, in.valueHeadDim});
  }

  if (!in.mask)
    return in;
  // Right-align the mask to [batch, heads, q_len, kv_len]; size-1 dims
  // broadcast; a heads dim splits into [kv_heads, group].
  auto maskType = cast<RankedTensorType>(in.mask.getType());
  in.booleanMask = maskType.getElementType().isInteger(1);
  unsigned maskRank = maskType.getRank();
  unsigned offset = 4 - maskRank;
  bool splitHeads = false;
  for (unsigned m = 0; m < maskRank; ++m) {
    if (maskType.getDimSize(m) == 1) {
      in.maskDims.push_back(-1);
      continue;
    }
    switch (offset + m) {
    case 0:
      in.maskDims.push_back(0);
      break;
    case 1:
      in.maskDims.append({1, 2});
      splitHeads = true;
      break;
    case 2:
      in.maskDims.push_back(3);
      break;
    default:
      in.maskDims.push_back(4);
      break;
    }
  }
  if (splitHeads)
    in.mask = splitHeadDim(b, loc, in.mask, 1 - offset, in.numKVHeads,
                           in.group);
  return in;
}

/// `init` + the sum of lhs * rhs (each extended to `compute`) over the
/// reduction loops of `maps` (lhs, rhs, init).
static Value multiplyAccumulate(OpBuilder &b, Location loc, FloatType compute,
                                Value lhs, Value rhs, Value init,
                                ArrayRef<AffineMap> maps,
                                ArrayRef<utils::IteratorType> loops) {
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{lhs, rhs}, init, maps, loops,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value product = arith::MulFOp::create(
                   nb, l, extendTo(nb, l, args[0], compute),
                   extendTo(nb, l, args[1], compute));
               yieldValue(nb, l,
                          arith::AddFOp::create(nb, l, args[2], product));
             })
      .getResult(0);
}

/// scores[b, kv, g, i, j] = sum_d q[b, i, kv, g, d] * k[b, j, kv, d] over
/// the loops (b, kv, g, i, j, d), for the given query rows and key rows.
static Value buildScores(OpBuilder &b, Location loc, const AttentionInputs &in,
                         Value q, Value k, ArrayRef<OpFoldResult> sizes) {
  MLIRContext *context = b.getContext();
  return multiplyAccumulate(
      b, loc, in.compute, q, k, createFilledTemporary(b, loc, in, sizes, 0.0),
      {selectDims(context, 6, {0, 3, 1, 2, 5}), in.keyMap(context),
       selectDims(context, 6, {0, 1, 2, 3, 4})},
      iterators(5, 1));
}

/// Scales and masks scores over the loops (b, kv, g, i, j): `mask` (null
/// when none) has the score tile's rows and columns. Row i of the tile is
/// query `rowStart + i` and column j is key `colStart + j` (0 when null);
/// columns before key `colFloor` and rows before query `rowFloor` (when
/// given) are masked too.
static Value maskScores(OpBuilder &b, Location loc, const AttentionInputs &in,
                        Value scores, Value mask, Value rowStart,
                        Value colStart, Value colFloor,
                        Value rowFloor = Value()) {
  MLIRContext *context = b.getContext();
  FloatType compute = in.compute;
  AffineMap all = selectDims(context, 5, {0, 1, 2, 3, 4});
  SmallVector<Value> inputs = {scores};
  SmallVector<AffineMap> maps = {all};
  if (mask) {
    inputs.push_back(mask);
    maps.push_back(selectDims(context, 5, in.maskDims));
  }
  unsigned positionArg = inputs.size();
  if (in.position) {
    inputs.push_back(in.position);
    maps.push_back(selectDims(context, 5, {0}));
  }
  maps.push_back(all);
  // Query i sits at absolute position start + i + (kv_len - q_len), where
  // start is the sequence's cache position (0 without a cache).
  Value queryOffset = arith::SubIOp::create(
      b, loc, in.kvLen, getValueOrCreateConstantIndexOp(b, loc, in.qLen));
  Value init = createTemporary(b, loc, in, getSizes(b, loc, scores));
  bool booleanMask = in.booleanMask, cached = in.cached, causal = in.causal;
  double scale = in.scale;
  return linalg::GenericOp::create(
             b, loc, init.getType(), inputs, init, maps, iterators(5),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value minusInf = floatConstant(
                   nb, l, compute, -std::numeric_limits<double>::infinity());
               Value s = arith::MulFOp::create(
                   nb, l, args[0], floatConstant(nb, l, compute, scale));
               if (mask) {
                 if (booleanMask)
                   s = arith::SelectOp::create(nb, l, args[1], s, minusInf);
                 else
                   s = arith::AddFOp::create(nb, l, s,
                                             extendTo(nb, l, args[1], compute));
               }
               Value j = linalg::IndexOp::create(nb, l, 4);
               if (colStart)
                 j = arith::AddIOp::create(nb, l, j, colStart);
               if (colFloor) {
                 Value counted = arith::CmpIOp::create(
                     nb, l, arith::CmpIPredicate::slt, j, colFloor);
                 s = arith::SelectOp::create(nb, l, counted, minusInf, s);
               }
               if (rowFloor) {
                 Value i = linalg::IndexOp::create(nb, l, 3);
                 if (rowStart)
                   i = arith::AddIOp::create(nb, l, i, rowStart);
                 Value counted = arith::CmpIOp::create(
                     nb, l, arith::CmpIPredicate::slt, i, rowFloor);
                 s = arith::SelectOp::create(nb, l, counted, minusInf, s);
               }
               Value offset = queryOffset;
               if (cached) {
                 // Rows at or past this sequence's end belong to no key yet
                 // (or to a longer sequence of the batch).
                 Value start =
                     clampedStart(nb, l, args[positionArg], in.lastStart);
                 Value end = arith::AddIOp::create(nb, l, start, in.kvLen);
                 Value unwritten = arith::CmpIOp::create(
                     nb, l, arith::CmpIPredicate::sge, j, end);
                 s = arith::SelectOp::create(nb, l, unwritten, minusInf, s);
                 offset = arith::AddIOp::create(nb, l, start, queryOffset);
               }
               if (causal) {
                 Value i = linalg::IndexOp::create(nb, l, 3);
                 if (rowStart)
                   i = arith::AddIOp::create(nb, l, i, rowStart);
                 Value limit = arith::AddIOp::create(nb, l, i, offset);
                 Value future = arith::CmpIOp::create(
                     nb, l, arith::CmpIPredicate::sgt, j, limit);
                 s = arith::SelectOp::create(nb, l, future, minusInf, s);
               }
               yieldValue(nb, l, s);
             })
      .getResult(0);
}

/// Row reductions over j of [b, kv, g, i, j] into `init` ([b, kv, g, i]):
/// the maximum or the sum.
static Value reduceRows(OpBuilder &b, Location loc, Value x, Value init,
                        bool maximum) {
  MLIRContext *context = b.getContext();
  return linalg::GenericOp::create(
             b, loc, init.getType(), x, init,
             {selectDims(context, 5, {0, 1, 2, 3, 4}),
              selectDims(context, 5, {0, 1, 2, 3})},
             iterators(4, 1),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value r = maximum ? arith::MaximumFOp::create(nb, l, args[0],
                                                             args[1])
                                       .getResult()
                                 : arith::AddFOp::create(nb, l, args[0],
                                                         args[1])
                                       .getResult();
               yieldValue(nb, l, r);
             })
      .getResult(0);
}

/// `init` + sum_j p[b, kv, g, i, j] * v[b, j, kv, e] over the loops
/// (b, i, kv, g, e, j); `init` is [b, i, kv, g, e].
static Value accumulateValues(OpBuilder &b, Location loc,
                              const AttentionInputs &in, Value probs, Value v,
                              Value init) {
  MLIRContext *context = b.getContext();
  return multiplyAccumulate(b, loc, in.compute, probs, v, init,
                            {selectDims(context, 6, {0, 2, 3, 1, 5}),
                             in.valueMap(context),
                             selectDims(context, 6, {0, 1, 2, 3, 4})},
                            iterators(5, 1));
}

/// The whole score matrix, then a softmax over each row of it. Returns the
/// output [b, i, kv, g, e] in the compute type.
static Value buildMaterializedAttention(OpBuilder &b, Location loc,
                                        const AttentionInputs &in) {
  MLIRContext *context = b.getContext();
  FloatType compute = in.compute;
  SmallVector<OpFoldResult> scoreSizes = {
      in.batch, b.getIndexAttr(in.numKVHeads), b.getIndexAttr(in.group),
      in.qLen, in.attended};
  Value scores = buildScores(b, loc, in, in.q, in.k, scoreSizes);
  Value masked = maskScores(b, loc, in, scores, in.mask, Value(), Value(),
                            Value());

  // Softmax over j, loops (b, kv, g, i, j).
  SmallVector<OpFoldResult> rowSizes(scoreSizes.begin(), scoreSizes.end() - 1);
  AffineMap all = selectDims(context, 5, {0, 1, 2, 3, 4});
  AffineMap rows = selectDims(context, 5, {0, 1, 2, 3});
  Value max = reduceRows(
      b, loc, masked,
      createFilled(b, loc, rowSizes, compute,
                   -std::numeric_limits<double>::infinity()),
      /*maximum=*/true);
  Value expInit = createEmpty(b, loc, scoreSizes, compute);
  Value exp =
      linalg::GenericOp::create(
          b, loc, expInit.getType(), ValueRange{masked, max}, expInit,
          {all, rows, all}, iterators(5),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            // A fully masked row has max -inf: its weights are all zero.
            Value minusInf = floatConstant(
                nb, l, compute, -std::numeric_limits<double>::infinity());
            Value emptyRow = arith::CmpFOp::create(
                nb, l, arith::CmpFPredicate::OEQ, args[1], minusInf);
            Value e = math::ExpOp::create(
                nb, l, arith::SubFOp::create(nb, l, args[0], args[1]));
            Value zero = floatConstant(nb, l, compute, 0.0);
            yieldValue(nb, l,
                       arith::SelectOp::create(nb, l, emptyRow, zero, e));
          })
          .getResult(0);
  Value sum = reduceRows(b, loc, exp,
                         createFilled(b, loc, rowSizes, compute, 0.0),
                         /*maximum=*/false);
  Value probsInit = createEmpty(b, loc, scoreSizes, compute);
  Value probs =
      linalg::GenericOp::create(
          b, loc, probsInit.getType(), ValueRange{exp, sum}, probsInit,
          {all, rows, all}, iterators(5),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value zero = floatConstant(nb, l, compute, 0.0);
            Value emptyRow = arith::CmpFOp::create(
                nb, l, arith::CmpFPredicate::OEQ, args[1], zero);
            Value p = arith::DivFOp::create(nb, l, args[0], args[1]);
            yieldValue(nb, l,
                       arith::SelectOp::create(nb, l, emptyRow, zero, p));
          })
          .getResult(0);

  SmallVector<OpFoldResult> outSizes = {
      in.batch, in.qLen, b.getIndexAttr(in.numKVHeads),
      b.getIndexAttr(in.group), b.getIndexAttr(in.valueHeadDim)};
  return accumulateValues(b, loc, in, probs, in.v,
                          createFilled(b, loc, outSizes, compute, 0.0));
}

/// min(`length`, `tile`), folded when the length is a constant.
static Value tileSize(OpBuilder &b, Location loc, OpFoldResult length,
                      int64_t tile) {
  if (std::optional<int64_t> c = getConstantIntValue(length))
    return arith::ConstantIndexOp::create(b, loc, std::min(*c, tile));
  return arith::MinUIOp::create(
      b, loc, getValueOrCreateConstantIndexOp(b, loc, length),
      arith::ConstantIndexOp::create(b, loc, tile));
}

/// The offsets, sizes and strides that keep `value` whole except for
/// [start, start + size) along `dim`.
static std::tuple<SmallVector<OpFoldResult>, SmallVector<OpFoldResult>,
                  SmallVector<OpFoldResult>>
sliceAlong(OpBuilder &b, Location loc, Value value, unsigned dim, Value start,
           Value size) {
  unsigned rank = cast<RankedTensorType>(value.getType()).getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, value);
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  offsets[dim] = start;
  sizes[dim] = getAsOpFoldResult(size);
  return {offsets, sizes, strides};
}

static Value extractAlong(OpBuilder &b, Location loc, Value value,
                          unsigned dim, Value start, Value size) {
  auto [offsets, sizes, strides] = sliceAlong(b, loc, value, dim, start, size);
  return tensor::ExtractSliceOp::create(b, loc, value, offsets, sizes,
                                        strides);
}

/// An elementwise generic over `inits`' loops whose body `fn` sees the
/// inputs and then the init's current value.
static Value mapInto(OpBuilder &b, Location loc, ValueRange inputs,
                     ArrayRef<AffineMap> inputMaps, Value init,
                     function_ref<Value(OpBuilder &, Location, ValueRange)> fn) {
  unsigned rank = cast<RankedTensorType>(init.getType()).getRank();
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, b.getContext()));
  return linalg::GenericOp::create(
             b, loc, init.getType(), inputs, init, maps, iterators(rank),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               yieldValue(nb, l, fn(nb, l, args));
             })
      .getResult(0);
}

/// The mask's block for query rows [rowStart, rowStart + rows) and keys
/// [colStart, colStart + cols); null without a mask.
static Value sliceMask(OpBuilder &b, Location loc, const AttentionInputs &in,
                       Value rowStart, Value rows, Value colStart, Value cols) {
  Value mask = in.mask;
  for (auto [d, loop] : llvm::enumerate(in.maskDims)) {
    if (loop == 3)
      mask = extractAlong(b, loc, mask, d, rowStart, rows);
    else if (loop == 4)
      mask = extractAlong(b, loc, mask, d, colStart, cols);
  }
  return mask;
}

/// A `mapInto` body: the init times the input.
static Value scaleBy(OpBuilder &b, Location loc, ValueRange args) {
  return arith::MulFOp::create(b, loc, args[1], args[0]);
}

static Value isMinusInfinity(OpBuilder &b, Location loc, FloatType type,
                             Value x) {
  return arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OEQ, x,
      floatConstant(b, loc, type, -std::numeric_limits<double>::infinity()));
}

/// exp(s - r) for scores `s` [b, kv, g, i, j] and a row value `r`
/// [b, kv, g, i] (a maximum or a log-sum-exp); 0 in a row whose r is -inf
/// (no key counted).
static Value expRelativeToRows(OpBuilder &b, Location loc,
                               const AttentionInputs &in, Value scores,
                               Value rows, ArrayRef<OpFoldResult> scoreSizes) {
  MLIRContext *context = b.getContext();
  FloatType compute = in.compute;
  return mapInto(b, loc, ValueRange{scores, rows},
                 {selectDims(context, 5, {0, 1, 2, 3, 4}),
                  selectDims(context, 5, {0, 1, 2, 3})},
                 createTemporary(b, loc, in, scoreSizes),
                 [&](OpBuilder &nb, Location l, ValueRange args) {
                   Value e = math::ExpOp::create(
                       nb, l, arith::SubFOp::create(nb, l, args[0], args[1]));
                   return arith::SelectOp::create(
                       nb, l, isMinusInfinity(nb, l, compute, args[1]),
                       floatConstant(nb, l, compute, 0.0), e);
                 });
}

namespace {
/// One key tile folded into a running row maximum and sum.
struct OnlineSoftmaxStep {
  /// max' = max(max, max_j s).
  Value max;
  /// sum' = sum * exp(max - max') + sum_j probs.
  Value sum;
  /// exp(s - max'), 0 in a row no key has reached.
  Value probs;
  /// The output accumulator times exp(max - max') (when given).
  Value acc;
};
} // namespace

/// Folds the masked scores of one key tile ([b, kv, g, i, j]) into the row
/// statistics `max` and `sum` ([b, kv, g, i]) and rescales `acc` (null
/// when none), whose rows `accRows` maps. Every value rescaled by the old
/// maximum is computed before the maximum is updated in place, so that no
/// fusion of the factor into its users reads the maximum after its write.
static OnlineSoftmaxStep foldKeyTile(OpBuilder &b, Location loc,
                                     const AttentionInputs &in, Value masked,
                                     Value max, Value sum, Value acc,
                                     AffineMap accRows,
                                     ArrayRef<OpFoldResult> rowSizes,
                                     ArrayRef<OpFoldResult> scoreSizes) {
  MLIRContext *context = b.getContext();
  FloatType compute = in.compute;
  AffineMap all4 = selectDims(context, 4, {0, 1, 2, 3});
  OnlineSoftmaxStep step;
  Value tileMax = reduceRows(
      b, loc, masked,
      createFilledTemporary(b, loc, in, rowSizes,
                            -std::numeric_limits<double>::infinity()),
      /*maximum=*/true);
  // exp(max - max'), 0 while no key has counted.
  Value rescale = mapInto(
      b, loc, ValueRange{max, tileMax}, {all4, all4},
      createTemporary(b, loc, in, rowSizes),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value newMax = arith::MaximumFOp::create(nb, l, args[0], args[1]);
        Value e = math::ExpOp::create(
            nb, l, arith::SubFOp::create(nb, l, args[0], newMax));
        return arith::SelectOp::create(nb, l,
                                       isMinusInfinity(nb, l, compute, args[0]),
                                       floatConstant(nb, l, compute, 0.0), e);
      });
  Value scaledSum = mapInto(b, loc, rescale, all4, sum, scaleBy);
  if (acc)
    step.acc = mapInto(b, loc, rescale, accRows, acc, scaleBy);
  step.max =
      mapInto(b, loc, tileMax, all4, max,
              [](OpBuilder &nb, Location l, ValueRange args) {
                return arith::MaximumFOp::create(nb, l, args[1], args[0]);
              });
  step.probs = expRelativeToRows(b, loc, in, masked, step.max, scoreSizes);
  step.sum = reduceRows(b, loc, step.probs, scaledSum, /*maximum=*/false);
  return step;
}

/// A slice of `whole`, filled with zeros.
static Value zeroedSlice(OpBuilder &b, Location loc, Value whole,
                         ArrayRef<OpFoldResult> offsets,
                         ArrayRef<OpFoldResult> sizes,
                         ArrayRef<OpFoldResult> strides, FloatType type) {
  Value slot =
      tensor::ExtractSliceOp::create(b, loc, whole, offsets, sizes, strides);
  return linalg::FillOp::create(b, loc, floatConstant(b, loc, type, 0.0), slot)
      .getResult(0);
}

namespace {
/// The tiles of an attention's [queries x keys] scores. Every tile has the
/// same size (min(tile, length)): the last one starts early enough to fit,
/// and a pass that must not count the rows or keys it repeats masks those
/// before its floor.
struct TileGrid {
  TileGrid(OpBuilder &b, Location loc, const AttentionInputs &in,
           int64_t qTileSize, int64_t keyTileSize) {
    zero = arith::ConstantIndexOp::create(b, loc, 0);
    one = arith::ConstantIndexOp::create(b, loc, 1);
    qLen = getValueOrCreateConstantIndexOp(b, loc, in.qLen);
    attended = getValueOrCreateConstantIndexOp(b, loc, in.attended);
    qTile = tileSize(b, loc, in.qLen, qTileSize);
    keyTile = tileSize(b, loc, in.attended, keyTileSize);
    OpFoldResult kvHeads = b.getIndexAttr(in.numKVHeads);
    OpFoldResult group = b.getIndexAttr(in.group);
    rowSizes = {in.batch, kvHeads, group, getAsOpFoldResult(qTile)};
    scoreSizes = {in.batch, kvHeads, group, getAsOpFoldResult(qTile),
                  getAsOpFoldResult(keyTile)};
  }

  /// ceil(n / tile); a zero tile comes with n = 0.
  Value numTiles(OpBuilder &b, Location loc, Value n, Value tile) const {
    return arith::CeilDivUIOp::create(
        b, loc, n, arith::MaxUIOp::create(b, loc, tile, one));
  }
  /// The first row query tile `index` counts: index * qTile.
  Value rowFloor(OpBuilder &b, Location loc, Value index) const {
    return arith::MulIOp::create(b, loc, index, qTile);
  }
  /// The first row the tile reads: the floor, or earlier for the last.
  Value rowStart(OpBuilder &b, Location loc, Value floor) const {
    return arith::MinUIOp::create(b, loc, floor,
                                  arith::SubIOp::create(b, loc, qLen, qTile));
  }
  Value colStart(OpBuilder &b, Location loc, Value floor) const {
    return arith::MinUIOp::create(
        b, loc, floor, arith::SubIOp::create(b, loc, attended, keyTile));
  }
  /// The keys that queries [rowStart, rowStart + qTile) may see: all, or
  /// with a causal mask those up to the tile's last query (the largest
  /// offset of any sequence is attended - q_len).
  Value keyEnd(OpBuilder &b, Location loc, const AttentionInputs &in,
               Value rowStart) const {
    if (!in.causal)
      return attended;
    Value limit = arith::AddIOp::create(
        b, loc, arith::AddIOp::create(b, loc, rowStart, qTile),
        arith::SubIOp::create(b, loc, attended, qLen));
    return arith::MinSIOp::create(
        b, loc, arith::MaxSIOp::create(b, loc, limit, zero), attended);
  }
  Value zero, one, qLen, attended, qTile, keyTile;
  /// [b, kv, g, q tile] and [b, kv, g, q tile, key tile].
  SmallVector<OpFoldResult> rowSizes, scoreSizes;
};
} // namespace

/// Key tile `kIndex` of the query tile `queries` (rows from `rowStart`):
/// its first key, keys, values and masked scores (keys a repeated last tile
/// holds twice masked, and rows before `rowFloor` when given).
struct KeyBlock {
  Value colStart, keys, values, masked;
};
static KeyBlock buildKeyBlock(OpBuilder &b, Location loc,
                              const AttentionInputs &in, const TileGrid &grid,
                              Value kIndex, Value queries, Value rowStart,
                              Value rowFloor = Value()) {
  Value colFloor = arith::MulIOp::create(b, loc, kIndex, grid.keyTile);
  Value colStart = grid.colStart(b, loc, colFloor);
  KeyBlock block;
  block.colStart = colStart;
  block.keys = extractAlong(b, loc, in.k, in.keyDim(), colStart, grid.keyTile);
  block.values =
      extractAlong(b, loc, in.v, in.keyDim(), colStart, grid.keyTile);
  Value mask =
      sliceMask(b, loc, in, rowStart, grid.qTile, colStart, grid.keyTile);
  block.masked = maskScores(
      b, loc, in, buildScores(b, loc, in, queries, block.keys, grid.scoreSizes),
      mask, rowStart, colStart, colFloor, rowFloor);
  return block;
}

/// Flash-style attention: for each tile of query rows, an online softmax
/// over tiles of keys, so that no more than one [q tile x key tile] block
/// of scores per head exists at a time. Each tile has the same size
/// (min(tile, length)): the last one starts early enough to fit, the query
/// rows it repeats are recomputed and the keys it repeats are masked. With a
/// causal mask the key tiles past the tile's last query are skipped.
/// Returns the output [b, i, kv, g, e] in the compute type.
static Value buildTiledAttention(OpBuilder &b, Location loc,
                                 AttentionInputs &in, int64_t qTileSize,
                                 int64_t keyTileSize) {
  in.freshTemporaries = true;
  MLIRContext *context = b.getContext();
  FloatType compute = in.compute;
  TileGrid grid(b, loc, in, qTileSize, keyTileSize);
  // A row statistic [b, kv, g, i] in the output loops (b, i, kv, g, e).
  AffineMap rowsOfOutput = selectDims(context, 5, {0, 2, 3, 1});

  Value out =
      createEmpty(b, loc,
                  {in.batch, in.qLen, b.getIndexAttr(in.numKVHeads),
                   b.getIndexAttr(in.group), b.getIndexAttr(in.valueHeadDim)},
                  compute);
  auto queryLoop = scf::ForOp::create(
      b, loc, grid.zero, grid.numTiles(b, loc, grid.qLen, grid.qTile), grid.one,
      ValueRange{out},
      [&](OpBuilder &qb, Location ql, Value qIndex, ValueRange carried) {
        Value rowStart = grid.rowStart(qb, ql, grid.rowFloor(qb, ql, qIndex));
        Value queries = extractAlong(qb, ql, in.q, 1, rowStart, grid.qTile);
        auto [offsets, sizes, strides] =
            sliceAlong(qb, ql, carried[0], 1, rowStart, grid.qTile);
        Value acc0 =
            zeroedSlice(qb, ql, carried[0], offsets, sizes, strides, compute);
        Value max0 =
            createFilledTemporary(qb, ql, in, grid.rowSizes,
                                  -std::numeric_limits<double>::infinity());
        Value sum0 = createFilledTemporary(qb, ql, in, grid.rowSizes, 0.0);
        Value keyEnd = grid.keyEnd(qb, ql, in, rowStart);
        auto keyLoop = scf::ForOp::create(
            qb, ql, grid.zero, grid.numTiles(qb, ql, keyEnd, grid.keyTile),
            grid.one, ValueRange{max0, sum0, acc0},
            [&](OpBuilder &kb, Location kl, Value kIndex, ValueRange state) {
              KeyBlock block =
                  buildKeyBlock(kb, kl, in, grid, kIndex, queries, rowStart);
              OnlineSoftmaxStep step = foldKeyTile(
                  kb, kl, in, block.masked, state[0], state[1], state[2],
                  rowsOfOutput, grid.rowSizes, grid.scoreSizes);
              Value acc = accumulateValues(kb, kl, in, step.probs, block.values,
                                           step.acc);
              scf::YieldOp::create(kb, kl, ValueRange{step.max, step.sum, acc});
            });
        // out = acc / sum; 0 for a row whose every key is masked.
        Value normalized = mapInto(
            qb, ql, keyLoop.getResult(1), rowsOfOutput, keyLoop.getResult(2),
            [&](OpBuilder &nb, Location l, ValueRange args) {
              Value zeroF = floatConstant(nb, l, compute, 0.0);
              Value emptyRow = arith::CmpFOp::create(
                  nb, l, arith::CmpFPredicate::OEQ, args[0], zeroF);
              Value o = arith::DivFOp::create(nb, l, args[1], args[0]);
              return arith::SelectOp::create(nb, l, emptyRow, zeroF, o);
            });
        Value updated = tensor::InsertSliceOp::create(
            qb, ql, normalized, carried[0], offsets, sizes, strides);
        scf::YieldOp::create(qb, ql, updated);
      });
  return queryLoop.getResult(0);
}

/// `init` + sum over the query rows (g, i) of w[b, kv, g, i, j] *
/// x[b, i, kv, g, c], over the loops (b, j, kv, c, g, i); `init` is
/// [b, j, kv, c] (a key tile's dK or dV).
static Value accumulateOverQueries(OpBuilder &b, Location loc,
                                   const AttentionInputs &in, Value w, Value x,
                                   Value init) {
  MLIRContext *context = b.getContext();
  return multiplyAccumulate(b, loc, in.compute, w, x, init,
                            {selectDims(context, 6, {0, 2, 4, 5, 1}),
                             selectDims(context, 6, {0, 5, 2, 4, 3}),
                             selectDims(context, 6, {0, 1, 2, 3})},
                            iterators(4, 2));
}

namespace {
/// What llm.attention_grad's passes read, split into heads like q.
struct BackwardInputs {
  /// The forward's output and its gradient, [b, i, kv, g, e].
  Value out, outGrad;
  /// Per row [b, kv, g, i]: rowsum(dO * O) and the log-sum-exp of the
  /// masked scores (-inf for a row every key of which is masked).
  Value rowDot, logSumExp;
};
} // namespace

/// The gradient of one [q tile x key tile] block: the probabilities
/// exp(s - lse) and dS = P * (dO V^T - rowsum(dO * O)) * scale.
static std::pair<Value, Value>
buildBlockGradient(OpBuilder &b, Location loc, const AttentionInputs &in,
                   const TileGrid &grid, Value masked, Value outGrad,
                   Value values, Value logSumExp, Value rowDot) {
  MLIRContext *context = b.getContext();
  FloatType compute = in.compute;
  AffineMap rows5 = selectDims(context, 5, {0, 1, 2, 3});
  AffineMap all5 = selectDims(context, 5, {0, 1, 2, 3, 4});
  Value probs =
      expRelativeToRows(b, loc, in, masked, logSumExp, grid.scoreSizes);
  // dO V^T has the scores' loops, with v read as k.
  Value probsGrad = buildScores(b, loc, in, outGrad, values, grid.scoreSizes);
  double scale = in.scale;
  Value scoresGrad =
      mapInto(b, loc, ValueRange{probs, rowDot}, {all5, rows5}, probsGrad,
              [&](OpBuilder &nb, Location l, ValueRange args) {
                Value centered = arith::SubFOp::create(nb, l, args[2], args[1]);
                Value ds = arith::MulFOp::create(nb, l, args[0], centered);
                return arith::MulFOp::create(
                    nb, l, ds, floatConstant(nb, l, compute, scale));
              });
  return {probs, scoresGrad};
}

/// The log-sum-exp of each row of masked scores, [b, kv, g, i]: the
/// forward's online softmax without its output.
static Value buildLogSumExp(OpBuilder &b, Location loc,
                            const AttentionInputs &in, const TileGrid &grid) {
  MLIRContext *context = b.getContext();
  FloatType compute = in.compute;
  AffineMap all4 = selectDims(context, 4, {0, 1, 2, 3});
  double minusInfinity = -std::numeric_limits<double>::infinity();
  Value lse = createEmpty(b, loc,
                          {in.batch, b.getIndexAttr(in.numKVHeads),
                           b.getIndexAttr(in.group), in.qLen},
                          compute);
  auto queryLoop = scf::ForOp::create(
      b, loc, grid.zero, grid.numTiles(b, loc, grid.qLen, grid.qTile), grid.one,
      ValueRange{lse},
      [&](OpBuilder &qb, Location ql, Value qIndex, ValueRange carried) {
        Value rowStart = grid.rowStart(qb, ql, grid.rowFloor(qb, ql, qIndex));
        Value queries = extractAlong(qb, ql, in.q, 1, rowStart, grid.qTile);
        Value max0 =
            createFilledTemporary(qb, ql, in, grid.rowSizes, minusInfinity);
        Value sum0 = createFilledTemporary(qb, ql, in, grid.rowSizes, 0.0);
        Value keyEnd = grid.keyEnd(qb, ql, in, rowStart);
        auto keyLoop = scf::ForOp::create(
            qb, ql, grid.zero, grid.numTiles(qb, ql, keyEnd, grid.keyTile),
            grid.one, ValueRange{max0, sum0},
            [&](OpBuilder &kb, Location kl, Value kIndex, ValueRange state) {
              KeyBlock block =
                  buildKeyBlock(kb, kl, in, grid, kIndex, queries, rowStart);
              OnlineSoftmaxStep step = foldKeyTile(
                  kb, kl, in, block.masked, state[0], state[1],
                  /*acc=*/Value(), AffineMap(), grid.rowSizes, grid.scoreSizes);
              scf::YieldOp::create(kb, kl, ValueRange{step.max, step.sum});
            });
        Value tile =
            mapInto(qb, ql, keyLoop.getResults(), {all4, all4},
                    createTemporary(qb, ql, in, grid.rowSizes),
                    [&](OpBuilder &nb, Location l, ValueRange args) {
                      Value zeroF = floatConstant(nb, l, compute, 0.0);
                      Value emptyRow = arith::CmpFOp::create(
                          nb, l, arith::CmpFPredicate::OEQ, args[1], zeroF);
                      Value lse = arith::AddFOp::create(
                          nb, l, args[0], math::LogOp::create(nb, l, args[1]));
                      return arith::SelectOp::create(
                          nb, l, emptyRow,
                          floatConstant(nb, l, compute, minusInfinity), lse);
                    });
        auto [offsets, sizes, strides] =
            sliceAlong(qb, ql, carried[0], 3, rowStart, grid.qTile);
        scf::YieldOp::create(qb, ql,
                             tensor::InsertSliceOp::create(qb, ql, tile,
                                                           carried[0], offsets,
                                                           sizes, strides)
                                 .getResult());
      });
  return queryLoop.getResult(0);
}

/// dQ [b, i, kv, g, d], dK [b, j, kv, d] and dV [b, j, kv, e] in one pass
/// over the blocks: for each query tile, for each key tile it sees, the
/// block's P and dS give dQ += dS K for the query tile and dK += dS^T Q,
/// dV += P^T dO for the key tile. The loops run in order (each block's
/// kernels are the parallel ones), so the key tiles' sums may accumulate
/// across query tiles. Rows and keys a repeated last tile holds twice are
/// masked (P and dS are 0 there); the repeated rows of dQ are not written
/// again.
static std::tuple<Value, Value, Value>
buildBlockGradients(OpBuilder &b, Location loc, const AttentionInputs &in,
                    const TileGrid &grid, const BackwardInputs &bw,
                    int64_t headDim) {
  FloatType compute = in.compute;
  OpFoldResult kvHeads = b.getIndexAttr(in.numKVHeads);
  Value dQ = createEmpty(b, loc,
                         {in.batch, in.qLen, kvHeads, b.getIndexAttr(in.group),
                          b.getIndexAttr(headDim)},
                         compute);
  Value dK = createFilled(
      b, loc, {in.batch, in.attended, kvHeads, b.getIndexAttr(headDim)},
      compute, 0.0);
  Value dV = createFilled(
      b, loc, {in.batch, in.attended, kvHeads, b.getIndexAttr(in.valueHeadDim)},
      compute, 0.0);
  auto queryLoop = scf::ForOp::create(
      b, loc, grid.zero, grid.numTiles(b, loc, grid.qLen, grid.qTile), grid.one,
      ValueRange{dQ, dK, dV},
      [&](OpBuilder &qb, Location ql, Value qIndex, ValueRange carried) {
        Value rowFloor = grid.rowFloor(qb, ql, qIndex);
        Value rowStart = grid.rowStart(qb, ql, rowFloor);
        Value queries = extractAlong(qb, ql, in.q, 1, rowStart, grid.qTile);
        Value outGrad =
            extractAlong(qb, ql, bw.outGrad, 1, rowStart, grid.qTile);
        Value lse = extractAlong(qb, ql, bw.logSumExp, 3, rowStart, grid.qTile);
        Value rowDot = extractAlong(qb, ql, bw.rowDot, 3, rowStart, grid.qTile);
        auto [offsets, sizes, strides] =
            sliceAlong(qb, ql, carried[0], 1, rowStart, grid.qTile);
        Value acc0 =
            zeroedSlice(qb, ql, carried[0], offsets, sizes, strides, compute);
        Value keyEnd = grid.keyEnd(qb, ql, in, rowStart);
        auto keyLoop = scf::ForOp::create(
            qb, ql, grid.zero, grid.numTiles(qb, ql, keyEnd, grid.keyTile),
            grid.one, ValueRange{acc0, carried[1], carried[2]},
            [&](OpBuilder &kb, Location kl, Value kIndex, ValueRange state) {
              KeyBlock block = buildKeyBlock(kb, kl, in, grid, kIndex, queries,
                                             rowStart, rowFloor);
              auto [probs, dS] =
                  buildBlockGradient(kb, kl, in, grid, block.masked, outGrad,
                                     block.values, lse, rowDot);
              // dS K: the output loops with k read as v.
              Value dq = accumulateValues(kb, kl, in, dS, block.keys, state[0]);
              // The key tile's rows of dK and dV, updated in place.
              auto addToKeys = [&](Value whole, Value w, Value x) {
                auto [kOffsets, kSizes, kStrides] =
                    sliceAlong(kb, kl, whole, 1, block.colStart, grid.keyTile);
                Value slot = tensor::ExtractSliceOp::create(
                    kb, kl, whole, kOffsets, kSizes, kStrides);
                Value sum = accumulateOverQueries(kb, kl, in, w, x, slot);
                return tensor::InsertSliceOp::create(kb, kl, sum, whole,
                                                     kOffsets, kSizes, kStrides)
                    .getResult();
              };
              Value dk = addToKeys(state[1], dS, queries);
              Value dv = addToKeys(state[2], probs, outGrad);
              scf::YieldOp::create(kb, kl, ValueRange{dq, dk, dv});
            });
        // Rows [rowFloor, rowStart + qTile) of the tile: those before
        // rowFloor came with an earlier tile, and are 0 here.
        Value skipped = arith::SubIOp::create(qb, ql, rowFloor, rowStart);
        Value fresh = arith::SubIOp::create(qb, ql, grid.qTile, skipped);
        Value rows =
            extractAlong(qb, ql, keyLoop.getResult(0), 1, skipped, fresh);
        auto [rowOffsets, rowSizes, rowStrides] =
            sliceAlong(qb, ql, carried[0], 1, rowFloor, fresh);
        Value updated = tensor::InsertSliceOp::create(
            qb, ql, rows, carried[0], rowOffsets, rowSizes, rowStrides);
        scf::YieldOp::create(
            qb, ql,
            ValueRange{updated, keyLoop.getResult(1), keyLoop.getResult(2)});
      });
  return {queryLoop.getResult(0), queryLoop.getResult(1),
          queryLoop.getResult(2)};
}

/// llm.attention_grad as FlashAttention-2's backward over the tiles of
/// `grid`: rowsum(dO * O), each row's log-sum-exp, then one pass over the
/// blocks for dQ, dK and dV, every block's probabilities recomputed from
/// its scores and the log-sum-exp. Returns dQ [b, i, kv, g, d], dK
/// [b, j, kv, d], dV [b, j, kv, e] in the compute type.
static std::tuple<Value, Value, Value>
buildAttentionGradient(OpBuilder &b, Location loc, AttentionGradOp op,
                       AttentionInputs &in, int64_t qTileSize,
                       int64_t keyTileSize) {
  in.freshTemporaries = true;
  MLIRContext *context = b.getContext();
  FloatType compute = in.compute;
  TileGrid grid(b, loc, in, qTileSize, keyTileSize);
  BackwardInputs bw;
  SmallVector<int64_t> heads = {in.numKVHeads, in.group, in.valueHeadDim};
  bw.out = splitLastDim(b, loc, op.getOutput(), heads);
  bw.outGrad = splitLastDim(b, loc, op.getOutputGrad(), heads);
  // rowsum(dO * O) over the loops (b, kv, g, i, e).
  AffineMap rowsOfOutput = selectDims(context, 5, {0, 3, 1, 2, 4});
  Value rowDotInit = createFilled(b, loc,
                                  {in.batch, b.getIndexAttr(in.numKVHeads),
                                   b.getIndexAttr(in.group), in.qLen},
                                  compute, 0.0);
  bw.rowDot = multiplyAccumulate(
      b, loc, compute, bw.outGrad, bw.out, rowDotInit,
      {rowsOfOutput, rowsOfOutput, selectDims(context, 5, {0, 1, 2, 3})},
      iterators(4, 1));
  bw.logSumExp = buildLogSumExp(b, loc, in, grid);
  return buildBlockGradients(b, loc, in, grid, bw, op.getHeadDim());
}

/// `value` ([b, i, heads split in dims 2..], compute type) with its heads
/// merged back into one dim and converted to the type of `like`.
static Value mergeHeads(OpBuilder &b, Location loc, Value value,
                        RankedTensorType like, FloatType compute) {
  unsigned rank = cast<RankedTensorType>(value.getType()).getRank();
  ReassociationIndices heads;
  for (unsigned d = 2; d < rank; ++d)
    heads.push_back(d);
  Value merged = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get(like.getShape(), compute), value,
      SmallVector<ReassociationIndices>{{0}, {1}, heads});
  if (compute == like.getElementType())
    return merged;
  return mapElementwise(
      b, loc, merged, [](OpBuilder &, Location, Value x) { return x; },
      like.getElementType());
}

namespace {

/// A lowering of `OpTy` over [qTile x keyTile] blocks of scores (0: the
/// scores whole).
template <typename OpTy> struct TiledAttentionPattern : OpRewritePattern<OpTy> {
  TiledAttentionPattern(MLIRContext *context, int64_t qTile, int64_t keyTile,
                        PatternBenefit benefit)
      : OpRewritePattern<OpTy>(context, benefit), qTile(qTile),
        keyTile(keyTile) {}

protected:
  int64_t qTile, keyTile;
};

/// Lowers llm.attention, materializing the scores (tile sizes 0) or as
/// the tiled online softmax.
struct AttentionToLinalg : TiledAttentionPattern<AttentionOp> {
  using TiledAttentionPattern::TiledAttentionPattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    AttentionInputs in = prepareInputs(rewriter, op);
    Value out = qTile > 0 && keyTile > 0
                    ? buildTiledAttention(rewriter, loc, in, qTile, keyTile)
                    : buildMaterializedAttention(rewriter, loc, in);

    // Merge the heads back: [b, i, kv, g, e] -> [b, i, heads * e].
    SmallVector<Value> results = {
        mergeHeads(rewriter, loc, out, op.getResult().getType(), in.compute)};
    results.append(in.updatedCaches);
    rewriter.replaceOp(op, results);
    return success();
  }
};

/// Lowers llm.attention_grad: the scores in tiles (llm-fuse-attention) or
/// whole (tile sizes 0: one tile spans every query and key).
struct AttentionGradToLinalg : TiledAttentionPattern<AttentionGradOp> {
  using TiledAttentionPattern::TiledAttentionPattern;

  LogicalResult matchAndRewrite(AttentionGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    AttentionInputs in = prepareInputs(rewriter, op);
    int64_t whole = std::numeric_limits<int64_t>::max();
    auto [dQ, dK, dV] =
        buildAttentionGradient(rewriter, loc, op, in, qTile > 0 ? qTile : whole,
                               keyTile > 0 ? keyTile : whole);
    // Merge the heads back, in the operands' element types.
    rewriter.replaceOp(
        op,
        {mergeHeads(rewriter, loc, dQ, op.getQuery().getType(), in.compute),
         mergeHeads(rewriter, loc, dK, op.getKey().getType(), in.compute),
         mergeHeads(rewriter, loc, dV, op.getValue().getType(), in.compute)});
    return success();
  }
};

} // namespace

void mlir::llm::populateAttentionToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<AttentionToLinalg, AttentionGradToLinalg>(
      patterns.getContext(), 0, 0, PatternBenefit(1));
}

void mlir::llm::populateFusedAttentionPatterns(RewritePatternSet &patterns,
                                               int64_t queryTile,
                                               int64_t keyTile) {
  patterns.add<AttentionToLinalg, AttentionGradToLinalg>(
      patterns.getContext(), queryTile, keyTile, PatternBenefit(2));
}
