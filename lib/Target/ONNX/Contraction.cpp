//===- Contraction.cpp - ONNX MatMul and Gemm to linalg ---------*- C++ -*-===//
//
// MatMul with numpy batch broadcasting becomes linalg.matmul (2-D, or N-D
// activations against a 2-D weight, collapsed to 2-D), linalg.batch_matmul
// (equal batch dims, collapsed to one) or, when batch dims broadcast, one
// contraction linalg.generic. Gemm becomes transposes, linalg.matmul and an
// elementwise alpha/beta/C epilogue.
//
//===----------------------------------------------------------------------===//

#include "ONNXImporterImpl.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::onnx_import;

/// A zero-filled tensor of `sizes`, the accumulator of a contraction.
static Value createZeroAccumulator(OpBuilder &b, Location loc,
                                   ArrayRef<OpFoldResult> sizes,
                                   Type elementType) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, elementType);
  Value zero = createScalarConstant(b, loc, elementType, 0.0);
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// Collapses dims [0, rank - trailing] of `value` into one.
static Value collapseLeading(OpBuilder &b, Location loc, Value value,
                             int64_t trailing) {
  int64_t rank = cast<RankedTensorType>(value.getType()).getRank();
  SmallVector<ReassociationIndices> groups(1);
  for (int64_t d = 0; d <= rank - 1 - trailing; ++d)
    groups[0].push_back(d);
  for (int64_t d = rank - trailing; d < rank; ++d)
    groups.push_back({d});
  return tensor::CollapseShapeOp::create(b, loc, value, groups);
}

/// Expands dim 0 of `value` into `leading` (the other dims stay).
static Value expandLeading(OpBuilder &b, Location loc, Value value,
                           ArrayRef<OpFoldResult> leading) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<ReassociationIndices> groups(1);
  SmallVector<OpFoldResult> sizes(leading);
  for (size_t d = 0; d < leading.size(); ++d)
    groups[0].push_back(d);
  for (int64_t d = 1; d < type.getRank(); ++d) {
    groups.push_back({int64_t(leading.size()) + d - 1});
    sizes.push_back(getDimSize(b, loc, value, d));
  }
  RankedTensorType resultType = getTensorType(sizes, type.getElementType());
  return tensor::ExpandShapeOp::create(b, loc, resultType, value, groups,
                                       sizes);
}

/// Adds (`front`) or removes a unit dim at `position` of a 2-D/1-D matrix.
static Value insertUnitDim(OpBuilder &b, Location loc, Value value,
                           bool atFront) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<OpFoldResult> sizes{getDimSize(b, loc, value, 0)};
  sizes.insert(atFront ? sizes.begin() : sizes.end(),
               indexAttr(b.getContext(), 1));
  return tensor::ExpandShapeOp::create(
      b, loc, getTensorType(sizes, type.getElementType()), value,
      ArrayRef<ReassociationIndices>{{0, 1}}, sizes);
}

static LogicalResult convertMatMul(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)))
    return failure();
  FailureOr<Value> lhsOr = ctx.getTensor(0), rhsOr = ctx.getTensor(1);
  if (failed(lhsOr) || failed(rhsOr))
    return failure();
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  Value lhs = *lhsOr, rhs = *rhsOr;
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto rhsType = cast<RankedTensorType>(rhs.getType());
  Type elementType = lhsType.getElementType();
  if (rhsType.getElementType() != elementType)
    return ctx.emitError() << "dtype mismatch: input #0 is " << elementType
                           << " but input #1 is " << rhsType.getElementType();
  if (elementType.isInteger(1))
    return ctx.emitError() << "does not take bool inputs";
  if (lhsType.getRank() == 0 || rhsType.getRank() == 0)
    return ctx.emitError() << "takes inputs of rank >= 1, got " << lhsType
                           << " and " << rhsType;
  // 1-D operands are promoted to matrices and the unit dim dropped after.
  bool lhsVector = lhsType.getRank() == 1, rhsVector = rhsType.getRank() == 1;
  if (lhsVector)
    lhs = insertUnitDim(b, loc, lhs, /*atFront=*/true);
  if (rhsVector)
    rhs = insertUnitDim(b, loc, rhs, /*atFront=*/false);
  lhsType = cast<RankedTensorType>(lhs.getType());
  rhsType = cast<RankedTensorType>(rhs.getType());
  int64_t lhsRank = lhsType.getRank(), rhsRank = rhsType.getRank();
  int64_t k1 = lhsType.getDimSize(lhsRank - 1);
  int64_t k2 = rhsType.getDimSize(rhsRank - 2);
  if (!ShapedType::isDynamic(k1) && !ShapedType::isDynamic(k2) && k1 != k2)
    return ctx.emitError() << "contraction dims differ: " << lhsType
                           << " times " << rhsType;

  // The batch dims, broadcast.
  int64_t batchRank = std::max(lhsRank, rhsRank) - 2;
  SmallVector<OpFoldResult> batch;
  bool batchBroadcasts = lhsRank != rhsRank;
  for (int64_t d = 0; d < batchRank; ++d) {
    int64_t l = d - (batchRank - (lhsRank - 2));
    int64_t r = d - (batchRank - (rhsRank - 2));
    int64_t ls = l >= 0 ? lhsType.getDimSize(l) : 1;
    int64_t rs = r >= 0 ? rhsType.getDimSize(r) : 1;
    if (ls != rs)
      batchBroadcasts = true;
    if (!ShapedType::isDynamic(ls) && !ShapedType::isDynamic(rs) && ls != rs &&
        ls != 1 && rs != 1)
      return ctx.emitError() << "cannot broadcast the batch dims of "
                             << lhsType << " and " << rhsType;
    if (!ShapedType::isDynamic(ls) && ls != 1)
      batch.push_back(indexAttr(ctx.getContext(), ls));
    else if (!ShapedType::isDynamic(rs) && rs != 1)
      batch.push_back(indexAttr(ctx.getContext(), rs));
    else if (ShapedType::isDynamic(ls))
      batch.push_back(getDimSize(b, loc, lhs, l));
    else if (ShapedType::isDynamic(rs))
      batch.push_back(getDimSize(b, loc, rhs, r));
    else
      batch.push_back(indexAttr(ctx.getContext(), 1));
  }
  OpFoldResult m = getDimSize(b, loc, lhs, lhsRank - 2);
  OpFoldResult n = getDimSize(b, loc, rhs, rhsRank - 1);

  Value result;
  if (rhsRank == 2) {
    // Activations [..., M, K] against a matrix: one linalg.matmul.
    SmallVector<OpFoldResult> leading =
        getDimSizes(b, loc, lhs);
    leading.pop_back();
    Value flat = lhsRank > 2 ? collapseLeading(b, loc, lhs, 1) : lhs;
    SmallVector<OpFoldResult> sizes{getDimSize(b, loc, flat, 0), n};
    Value acc = createZeroAccumulator(b, loc, sizes, elementType);
    result = linalg::MatmulOp::create(b, loc, TypeRange{acc.getType()},
                                      ValueRange{flat, rhs}, ValueRange{acc})
                 .getResult(0);
    if (lhsRank > 2)
      result = expandLeading(b, loc, result, leading);
  } else if (!batchBroadcasts) {
    // Equal batch dims: collapsed into one for linalg.batch_matmul.
    Value lhs3 = lhsRank > 3 ? collapseLeading(b, loc, lhs, 2) : lhs;
    Value rhs3 = rhsRank > 3 ? collapseLeading(b, loc, rhs, 2) : rhs;
    SmallVector<OpFoldResult> sizes{getDimSize(b, loc, lhs3, 0), m, n};
    Value acc = createZeroAccumulator(b, loc, sizes, elementType);
    result = linalg::BatchMatmulOp::create(b, loc, TypeRange{acc.getType()},
                                           ValueRange{lhs3, rhs3},
                                           ValueRange{acc})
                 .getResult(0);
    if (lhsRank > 3)
      result = expandLeading(b, loc, result, batch);
  } else {
    // Broadcast batch dims: one contraction over (batch..., m, n, k).
    MLIRContext *context = ctx.getContext();
    int64_t numLoops = batchRank + 3;
    AffineExpr mExpr = getAffineDimExpr(batchRank, context);
    AffineExpr nExpr = getAffineDimExpr(batchRank + 1, context);
    AffineExpr kExpr = getAffineDimExpr(batchRank + 2, context);
    auto operandMap = [&](RankedTensorType type, AffineExpr row,
                          AffineExpr column) {
      SmallVector<AffineExpr> exprs;
      int64_t rank = type.getRank();
      for (int64_t d = 0; d < rank - 2; ++d) {
        int64_t outDim = batchRank - (rank - 2) + d;
        bool broadcast =
            type.getDimSize(d) == 1 &&
            getConstantInt(batch[outDim]) != std::optional<int64_t>(1);
        exprs.push_back(broadcast ? getAffineConstantExpr(0, context)
                                  : getAffineDimExpr(outDim, context));
      }
      exprs.push_back(row);
      exprs.push_back(column);
      return AffineMap::get(numLoops, 0, exprs, context);
    };
    SmallVector<AffineExpr> outExprs;
    for (int64_t d = 0; d < batchRank; ++d)
      outExprs.push_back(getAffineDimExpr(d, context));
    outExprs.push_back(mExpr);
    outExprs.push_back(nExpr);
    SmallVector<AffineMap> maps{operandMap(lhsType, mExpr, kExpr),
                                operandMap(rhsType, kExpr, nExpr),
                                AffineMap::get(numLoops, 0, outExprs, context)};
    SmallVector<utils::IteratorType> iterators(numLoops,
                                               utils::IteratorType::parallel);
    iterators.back() = utils::IteratorType::reduction;
    SmallVector<OpFoldResult> sizes(batch);
    sizes.push_back(m);
    sizes.push_back(n);
    Value acc = createZeroAccumulator(b, loc, sizes, elementType);
    bool isFloat = isFloatType(elementType);
    result = linalg::GenericOp::create(
                 b, loc, TypeRange{acc.getType()}, ValueRange{lhs, rhs},
                 ValueRange{acc}, maps, iterators,
                 [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
                   Value product =
                       isFloat ? Value(arith::MulFOp::create(nested, nestedLoc,
                                                             args[0], args[1]))
                               : Value(arith::MulIOp::create(nested, nestedLoc,
                                                             args[0], args[1]));
                   Value sum =
                       isFloat ? Value(arith::AddFOp::create(nested, nestedLoc,
                                                             args[2], product))
                               : Value(arith::AddIOp::create(nested, nestedLoc,
                                                             args[2], product));
                   linalg::YieldOp::create(nested, nestedLoc, sum);
                 })
                 .getResult(0);
  }

  // Drop the unit dims of promoted vectors.
  if (lhsVector || rhsVector) {
    auto type = cast<RankedTensorType>(result.getType());
    int64_t rank = type.getRank();
    SmallVector<ReassociationIndices> groups;
    for (int64_t d = 0; d < rank - 2; ++d)
      groups.push_back({d});
    if (lhsVector && rhsVector) {
      // [..., 1, 1] -> [...]: fold both into the previous group, or rank 0.
      if (groups.empty())
        groups = {};
      else
        groups.back().append({rank - 2, rank - 1});
    } else {
      groups.push_back({rank - 2, rank - 1});
    }
    result = tensor::CollapseShapeOp::create(b, loc, result, groups);
  }
  return ctx.setOutput(0, result);
}

static LogicalResult convertGemm(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 3)))
    return failure();
  FailureOr<float> alpha = ctx.getFloatAttr("alpha", 1.0f);
  FailureOr<float> beta = ctx.getFloatAttr("beta", 1.0f);
  FailureOr<int64_t> transA = ctx.getIntAttr("transA", 0);
  FailureOr<int64_t> transB = ctx.getIntAttr("transB", 0);
  FailureOr<Value> lhsOr = ctx.getTensor(0), rhsOr = ctx.getTensor(1);
  if (failed(alpha) || failed(beta) || failed(transA) || failed(transB) ||
      failed(lhsOr) || failed(rhsOr))
    return failure();
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  Value lhs = *lhsOr, rhs = *rhsOr;
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto rhsType = cast<RankedTensorType>(rhs.getType());
  if (lhsType.getRank() != 2 || rhsType.getRank() != 2)
    return ctx.emitError() << "takes 2-D A and B, got " << lhsType << " and "
                           << rhsType;
  Type elementType = lhsType.getElementType();
  if (!isFloatType(elementType) || rhsType.getElementType() != elementType)
    return ctx.emitError() << "takes float A and B of one dtype, got "
                           << lhsType << " and " << rhsType;
  auto transpose = [&](Value value) -> Value {
    SmallVector<OpFoldResult> sizes = getDimSizes(b, loc, value);
    std::swap(sizes[0], sizes[1]);
    Value init = tensor::EmptyOp::create(b, loc, sizes, elementType);
    return linalg::TransposeOp::create(b, loc, value, init,
                                       ArrayRef<int64_t>{1, 0})
        .getResult()[0];
  };
  if (*transA)
    lhs = transpose(lhs);
  if (*transB)
    rhs = transpose(rhs);
  lhsType = cast<RankedTensorType>(lhs.getType());
  rhsType = cast<RankedTensorType>(rhs.getType());
  int64_t k1 = lhsType.getDimSize(1), k2 = rhsType.getDimSize(0);
  if (!ShapedType::isDynamic(k1) && !ShapedType::isDynamic(k2) && k1 != k2)
    return ctx.emitError() << "contraction dims differ: " << lhsType
                           << " times " << rhsType
                           << " (after transA/transB)";
  SmallVector<OpFoldResult> sizes{getDimSize(b, loc, lhs, 0),
                                  getDimSize(b, loc, rhs, 1)};
  Value acc = createZeroAccumulator(b, loc, sizes, elementType);
  Value result = linalg::MatmulOp::create(b, loc, TypeRange{acc.getType()},
                                          ValueRange{lhs, rhs}, ValueRange{acc})
                     .getResult(0);
  Value bias;
  if (ctx.hasInput(2)) {
    FailureOr<Value> c = ctx.getTensor(2);
    if (failed(c))
      return failure();
    bias = *c;
    auto biasType = cast<RankedTensorType>(bias.getType());
    if (biasType.getElementType() != elementType || biasType.getRank() > 2)
      return ctx.emitError() << "takes C broadcastable to " << acc.getType()
                             << ", got " << biasType;
    // C broadcasts unidirectionally to [M, N].
    for (int64_t d = 0; d < biasType.getRank(); ++d) {
      int64_t size = biasType.getDimSize(d);
      std::optional<int64_t> target =
          getConstantInt(sizes[2 - biasType.getRank() + d]);
      if (!ShapedType::isDynamic(size) && size != 1 && target &&
          *target != size)
        return ctx.emitError() << "takes C broadcastable to "
                               << acc.getType() << ", got " << biasType;
    }
  }
  if (*alpha != 1.0f || (bias && *beta != 0.0f)) {
    SmallVector<Value> inputs{result};
    if (bias && *beta != 0.0f)
      inputs.push_back(bias);
    float alphaValue = *alpha, betaValue = *beta;
    result = buildBroadcastGeneric(
        b, loc, inputs, sizes, elementType,
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value value = args[0];
          if (alphaValue != 1.0f)
            value = arith::MulFOp::create(
                nb, nl, value,
                createScalarConstant(nb, nl, elementType, alphaValue));
          if (args.size() > 1) {
            Value c = args[1];
            if (betaValue != 1.0f)
              c = arith::MulFOp::create(
                  nb, nl, c,
                  createScalarConstant(nb, nl, elementType, betaValue));
            value = arith::AddFOp::create(nb, nl, value, c);
          }
          return value;
        });
  }
  return ctx.setOutput(0, result);
}

void onnx_import::addContractionConverters(
    std::vector<ConverterEntry> &entries) {
  entries.insert(entries.end(), {
                                    {"MatMul", 13, convertMatMul},
                                    {"Gemm", 13, convertGemm},
                                });
}
