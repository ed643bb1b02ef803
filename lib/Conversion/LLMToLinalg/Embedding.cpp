//===- Embedding.cpp - embeddings and positions to linalg -------*- C++ -*-===//
//
// llm.embedding is a gather (`tensor.extract` inside a linalg.generic);
// llm.positional_encoding adds a gathered row of the position table, or the
// sinusoid computed from the indices; llm.rope rotates each feature with its
// partner, read through `tensor.extract`. Indices read from tensors are
// clamped into range so that the generated code never reads out of bounds
// (the runtime rejects out-of-range token ids before the call).
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "llm/Conversion/LLMToLinalg/LLMToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

/// Casts an integer id to index and clamps it into [0, size).
static Value clampedIndex(OpBuilder &b, Location loc, Value id, Value size) {
  Value index =
      id.getType().isIndex()
          ? id
          : arith::IndexCastOp::create(b, loc, b.getIndexType(), id).getResult();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value last = arith::SubIOp::create(b, loc, size, one);
  Value low = arith::MaxSIOp::create(b, loc, index, zero);
  return arith::MinSIOp::create(b, loc, low, last);
}

/// The position of a token inside a generic over [..., seq, features]:
/// read from `positions` (passed as the generic's input at `positionArg`),
/// or the sequence loop index.
static Value tokenPosition(OpBuilder &b, Location loc, unsigned rank,
                           ValueRange args, int positionArg) {
  if (positionArg >= 0)
    return arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                      args[positionArg]);
  return linalg::IndexOp::create(b, loc, rank - 2);
}

/// The map that reads `positions` ([..., seq] or [seq]) inside a generic over
/// an activation of rank `rank`.
static AffineMap positionsMap(OpBuilder &b, Value positions, unsigned rank) {
  auto type = cast<RankedTensorType>(positions.getType());
  if (type.getRank() == 1)
    return AffineMap::get(rank, 0, {b.getAffineDimExpr(rank - 2)},
                          b.getContext());
  return identityPrefix(b.getContext(), rank, rank - 1);
}

/// base^(-2i/dim) for a pair index `i`, as an f32-rounded value of `type`:
/// computed in f64 and rounded once, like a precomputed frequency table.
static Value inverseFrequency(OpBuilder &b, Location loc, Value pairIndex,
                              double base, int64_t dim, FloatType type) {
  Value i64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), pairIndex);
  Value f64 = arith::SIToFPOp::create(b, loc, b.getF64Type(), i64);
  Value scale = floatConstant(b, loc, b.getF64Type(),
                              -2.0 * std::log(base) / static_cast<double>(dim));
  Value exponent = arith::MulFOp::create(b, loc, f64, scale);
  Value frequency = math::ExpOp::create(b, loc, exponent);
  return truncateTo(b, loc, frequency, type);
}

static Value indexToFloat(OpBuilder &b, Location loc, Value index,
                          FloatType type) {
  Value i64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), index);
  return arith::SIToFPOp::create(b, loc, type, i64);
}

/// Builds a linalg.generic over an activation `[..., seq, features]` that
/// reads the activation and, when given, its `positions`; `body` receives the
/// activation's element (in the compute type) and the token's position (an
/// index) and returns the compute-type result.
static Value buildPerTokenMap(
    OpBuilder &b, Location loc, Value input, Value positions,
    function_ref<Value(OpBuilder &, Location, Value x, Value position)> body) {
  auto type = cast<RankedTensorType>(input.getType());
  Type elementType = type.getElementType();
  FloatType compute = computeType(elementType);
  unsigned rank = type.getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  SmallVector<Value> inputs = {input};
  SmallVector<AffineMap> maps = {identity};
  int positionArg = -1;
  if (positions) {
    positionArg = inputs.size();
    inputs.push_back(positions);
    maps.push_back(positionsMap(b, positions, rank));
  }
  maps.push_back(identity);
  Value init = createEmpty(b, loc, getSizes(b, loc, input), elementType);
  return linalg::GenericOp::create(
             b, loc, type, inputs, init, maps, iterators(rank),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value x = extendTo(nb, l, args[0], compute);
               Value position = tokenPosition(nb, l, rank, args, positionArg);
               yieldValue(nb, l,
                          truncateTo(nb, l, body(nb, l, x, position),
                                     elementType));
             })
      .getResult(0);
}

namespace {

struct EmbeddingToLinalg : OpRewritePattern<EmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(EmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value table = op.getTable();
    RankedTensorType resultType = op.getType();
    unsigned rank = resultType.getRank();
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, op.getIds());
    sizes.push_back(getSizes(rewriter, loc, table)[1]);
    Value init = createEmpty(rewriter, loc, sizes, resultType.getElementType());
    Value vocab = tensor::DimOp::create(rewriter, loc, table, 0);
    AffineMap idsMap = identityPrefix(getContext(), rank, rank - 1);
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, resultType, op.getIds(), init, {idsMap, identity},
        iterators(rank), [&](OpBuilder &b, Location l, ValueRange args) {
          Value row = clampedIndex(b, l, args[0], vocab);
          Value column = linalg::IndexOp::create(b, l, rank - 1);
          Value value =
              tensor::ExtractOp::create(b, l, table, ValueRange{row, column});
          yieldValue(b, l, value);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct PositionalEncodingToLinalg : OpRewritePattern<PositionalEncodingOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(PositionalEncodingOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    FloatType compute = computeType(type.getElementType());
    unsigned rank = type.getRank();
    int64_t dim = type.getShape().back();
    Value table = op.getTable();
    Value tableRows =
        table ? tensor::DimOp::create(rewriter, loc, table, 0).getResult()
              : Value();
    bool learned = op.getKind() == PositionalEncodingKind::Learned;
    Value result = buildPerTokenMap(
        rewriter, loc, op.getInput(), op.getPositions(),
        [&](OpBuilder &b, Location l, Value x, Value position) -> Value {
          Value feature = linalg::IndexOp::create(b, l, rank - 1);
          Value encoding;
          if (learned) {
            Value row = clampedIndex(b, l, position, tableRows);
            encoding = extendTo(
                b, l,
                tensor::ExtractOp::create(b, l, table,
                                          ValueRange{row, feature}),
                compute);
          } else {
            // PE(p, 2i) = sin(p * 10000^(-2i/dim)), PE(p, 2i+1) = cos(...).
            Value two = arith::ConstantIndexOp::create(b, l, 2);
            Value pair = arith::DivUIOp::create(b, l, feature, two);
            Value frequency =
                inverseFrequency(b, l, pair, 10000.0, dim, compute);
            Value angle = arith::MulFOp::create(
                b, l, indexToFloat(b, l, position, compute), frequency);
            Value odd = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::ne,
                arith::RemUIOp::create(b, l, feature, two),
                arith::ConstantIndexOp::create(b, l, 0));
            encoding = arith::SelectOp::create(
                b, l, odd, math::CosOp::create(b, l, angle),
                math::SinOp::create(b, l, angle));
          }
          return arith::AddFOp::create(b, l, x, encoding);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct RopeToLinalg : OpRewritePattern<RopeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RopeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    RankedTensorType type = op.getType();
    FloatType compute = computeType(type.getElementType());
    unsigned rank = type.getRank();
    int64_t headDim = op.getHeadDim();
    int64_t rotaryDim = op.getEffectiveRotaryDim();
    double theta = op.getTheta().convertToDouble();
    bool interleaved = op.getInterleaved();
    Value result = buildPerTokenMap(
        rewriter, loc, input, op.getPositions(),
        [&](OpBuilder &b, Location l, Value x, Value position) -> Value {
          auto cst = [&](int64_t v) {
            return arith::ConstantIndexOp::create(b, l, v).getResult();
          };
          Value feature = linalg::IndexOp::create(b, l, rank - 1);
          Value j = arith::RemUIOp::create(b, l, feature, cst(headDim));
          Value rotates = arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::ult, j, cst(rotaryDim));
          // The pair index i, the partner feature and the partner's sign.
          Value pairIndex, partner, firstOfPair;
          if (interleaved) {
            pairIndex = arith::DivUIOp::create(b, l, j, cst(2));
            firstOfPair = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::eq,
                arith::RemUIOp::create(b, l, j, cst(2)), cst(0));
            partner = arith::SelectOp::create(
                b, l, firstOfPair, arith::AddIOp::create(b, l, feature, cst(1)),
                arith::SubIOp::create(b, l, feature, cst(1)));
          } else {
            int64_t half = rotaryDim / 2;
            firstOfPair = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                                j, cst(half));
            pairIndex = arith::SelectOp::create(
                b, l, firstOfPair, j, arith::SubIOp::create(b, l, j, cst(half)));
            partner = arith::SelectOp::create(
                b, l, firstOfPair,
                arith::AddIOp::create(b, l, feature, cst(half)),
                arith::SubIOp::create(b, l, feature, cst(half)));
          }
          // Features that do not rotate read themselves (always in bounds).
          partner = arith::SelectOp::create(b, l, rotates, partner, feature);
          SmallVector<Value> partnerIndices;
          for (unsigned d = 0; d + 1 < rank; ++d)
            partnerIndices.push_back(linalg::IndexOp::create(b, l, d));
          partnerIndices.push_back(partner);
          Value other = extendTo(
              b, l, tensor::ExtractOp::create(b, l, input, partnerIndices),
              compute);
          Value frequency =
              inverseFrequency(b, l, pairIndex, theta, rotaryDim, compute);
          Value angle = arith::MulFOp::create(
              b, l, indexToFloat(b, l, position, compute), frequency);
          Value cos = math::CosOp::create(b, l, angle);
          Value sin = math::SinOp::create(b, l, angle);
          // first of a pair: x cos - other sin; second: x cos + other sin.
          Value otherSin = arith::MulFOp::create(b, l, other, sin);
          Value signedOther = arith::SelectOp::create(
              b, l, firstOfPair, arith::NegFOp::create(b, l, otherSin),
              otherSin);
          Value rotated = arith::AddFOp::create(
              b, l, arith::MulFOp::create(b, l, x, cos), signedOther);
          return arith::SelectOp::create(b, l, rotates, rotated, x);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void mlir::llm::populateEmbeddingToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<EmbeddingToLinalg, PositionalEncodingToLinalg, RopeToLinalg>(
      patterns.getContext());
}
