//===- LoweringUtils.cpp - helpers shared by the llm lowerings ------------===//
//
// See LoweringUtils.h.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

SmallVector<OpFoldResult> lowering::getSizes(OpBuilder &b, Location loc,
                                             Value tensor) {
  return tensor::getMixedSizes(b, loc, tensor);
}

Value lowering::createEmpty(OpBuilder &b, Location loc,
                            ArrayRef<OpFoldResult> sizes, Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value lowering::createFilled(OpBuilder &b, Location loc,
                             ArrayRef<OpFoldResult> sizes, Type elementType,
                             double value) {
  Value empty = createEmpty(b, loc, sizes, elementType);
  Value scalar = floatConstant(b, loc, elementType, value);
  return linalg::FillOp::create(b, loc, scalar, empty).getResult(0);
}

Value lowering::floatConstant(OpBuilder &b, Location loc, Type type,
                              double value) {
  auto floatType = cast<FloatType>(type);
  APFloat apValue(value);
  bool losesInfo = false;
  apValue.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                  &losesInfo);
  return arith::ConstantOp::create(b, loc, floatType,
                                   b.getFloatAttr(floatType, apValue));
}

FloatType lowering::computeType(Type elementType) {
  auto floatType = cast<FloatType>(elementType);
  if (floatType.getWidth() < 32)
    return Float32Type::get(elementType.getContext());
  return floatType;
}

Value lowering::extendTo(OpBuilder &b, Location loc, Value value,
                         FloatType type) {
  if (value.getType() == type)
    return value;
  return arith::ExtFOp::create(b, loc, type, value);
}

Value lowering::truncateTo(OpBuilder &b, Location loc, Value value,
                           Type type) {
  if (value.getType() == type)
    return value;
  return arith::TruncFOp::create(b, loc, type, value);
}

SmallVector<utils::IteratorType> lowering::iterators(unsigned numParallel,
                                                     unsigned numReduction) {
  SmallVector<utils::IteratorType> result(numParallel,
                                          utils::IteratorType::parallel);
  result.append(numReduction, utils::IteratorType::reduction);
  return result;
}

AffineMap lowering::identityPrefix(MLIRContext *context, unsigned numDims,
                                   unsigned rank) {
  SmallVector<AffineExpr> exprs;
  for (unsigned i = 0; i < rank; ++i)
    exprs.push_back(getAffineDimExpr(i, context));
  return AffineMap::get(numDims, 0, exprs, context);
}

AffineMap lowering::selectDims(MLIRContext *context, unsigned numDims,
                               ArrayRef<int64_t> dims) {
  SmallVector<AffineExpr> exprs;
  for (int64_t dim : dims)
    exprs.push_back(dim < 0 ? getAffineConstantExpr(0, context)
                            : getAffineDimExpr(dim, context));
  return AffineMap::get(numDims, 0, exprs, context);
}

Value lowering::mapElementwise(
    OpBuilder &b, Location loc, Value input,
    function_ref<Value(OpBuilder &, Location, Value)> fn, Type resultType) {
  auto type = cast<RankedTensorType>(input.getType());
  Type elementType = resultType ? resultType : type.getElementType();
  FloatType compute = computeType(type.getElementType());
  unsigned rank = type.getRank();
  Value init = createEmpty(b, loc, getSizes(b, loc, input), elementType);
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), input, init, {identity, identity},
      iterators(rank), [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value x = extendTo(nb, nloc, args[0], compute);
        Value y = fn(nb, nloc, x);
        yieldValue(nb, nloc,
                                truncateTo(nb, nloc, y, elementType));
      });
  return generic.getResult(0);
}

Value lowering::buildProjection(OpBuilder &b, Location loc, Value x,
                                Value weight, Value bias,
                                WeightLayout layout) {
  MLIRContext *context = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(weight.getType());
  Type elementType = xType.getElementType();
  FloatType compute = computeType(elementType);
  unsigned rank = xType.getRank();
  bool outIn = layout == WeightLayout::OutIn;
  OpFoldResult outFeatures =
      getSizes(b, loc, weight)[outIn ? 0 : 1];
  (void)wType;

  // Loops: the leading dims of x and the out feature (parallel), then the
  // in feature (reduction).
  unsigned numLoops = rank + 1;
  unsigned outDim = rank - 1, inDim = rank;
  SmallVector<OpFoldResult> resultSizes = getSizes(b, loc, x);
  resultSizes.back() = outFeatures;

  // The accumulator starts at the bias broadcast over the leading dims, or 0.
  Value init;
  if (bias) {
    Value empty = createEmpty(b, loc, resultSizes, elementType);
    AffineMap biasMap = AffineMap::get(rank, 0, {b.getAffineDimExpr(rank - 1)},
                                       context);
    AffineMap identity = b.getMultiDimIdentityMap(rank);
    init = linalg::GenericOp::create(
               b, loc, empty.getType(), bias, empty, {biasMap, identity},
               iterators(rank),
               [&](OpBuilder &nb, Location nloc, ValueRange args) {
                 yieldValue(nb, nloc, args[0]);
               })
               .getResult(0);
  } else {
    init = createFilled(b, loc, resultSizes, elementType, 0.0);
  }

  SmallVector<AffineExpr> xExprs, outExprs;
  for (unsigned i = 0; i + 1 < rank; ++i) {
    xExprs.push_back(b.getAffineDimExpr(i));
    outExprs.push_back(b.getAffineDimExpr(i));
  }
  xExprs.push_back(b.getAffineDimExpr(inDim));
  outExprs.push_back(b.getAffineDimExpr(outDim));
  AffineExpr outE = b.getAffineDimExpr(outDim), inE = b.getAffineDimExpr(inDim);
  AffineMap xMap = AffineMap::get(numLoops, 0, xExprs, context);
  AffineMap wMap = AffineMap::get(
      numLoops, 0,
      outIn ? SmallVector<AffineExpr>{outE, inE}
            : SmallVector<AffineExpr>{inE, outE},
      context);
  AffineMap outMap = AffineMap::get(numLoops, 0, outExprs, context);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{x, weight}, init,
      {xMap, wMap, outMap}, iterators(rank, 1),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value lhs = extendTo(nb, nloc, args[0], compute);
        Value rhs = extendTo(nb, nloc, args[1], compute);
        Value acc = extendTo(nb, nloc, args[2], compute);
        Value product = arith::MulFOp::create(nb, nloc, lhs, rhs);
        Value sum = arith::AddFOp::create(nb, nloc, acc, product);
        yieldValue(nb, nloc,
                                truncateTo(nb, nloc, sum, elementType));
      });
  return generic.getResult(0);
}

Value lowering::buildGelu(OpBuilder &b, Location loc, Value x,
                          bool tanhApproximation) {
  Type type = x.getType();
  Value half = floatConstant(b, loc, type, 0.5);
  Value one = floatConstant(b, loc, type, 1.0);
  Value inner;
  if (tanhApproximation) {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    Value c = floatConstant(b, loc, type, 0.7978845608028654);
    Value k = floatConstant(b, loc, type, 0.044715);
    Value x3 = arith::MulFOp::create(
        b, loc, arith::MulFOp::create(b, loc, x, x), x);
    Value poly =
        arith::AddFOp::create(b, loc, x, arith::MulFOp::create(b, loc, k, x3));
    inner = math::TanhOp::create(b, loc, arith::MulFOp::create(b, loc, c, poly));
  } else {
    // 0.5 x (1 + erf(x / sqrt(2)))
    Value rsqrt2 = floatConstant(b, loc, type, 0.7071067811865476);
    inner = math::ErfOp::create(b, loc, arith::MulFOp::create(b, loc, x, rsqrt2));
  }
  Value sum = arith::AddFOp::create(b, loc, one, inner);
  return arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, half, x),
                               sum);
}

Value lowering::buildSilu(OpBuilder &b, Location loc, Value x) {
  // x * sigmoid(x) = x / (1 + exp(-x))
  Value one = floatConstant(b, loc, x.getType(), 1.0);
  Value negX = arith::NegFOp::create(b, loc, x);
  Value denominator =
      arith::AddFOp::create(b, loc, one, math::ExpOp::create(b, loc, negX));
  return arith::DivFOp::create(b, loc, x, denominator);
}

Value lowering::buildRelu(OpBuilder &b, Location loc, Value x) {
  Value zero = floatConstant(b, loc, x.getType(), 0.0);
  return arith::MaximumFOp::create(b, loc, x, zero);
}

Value lowering::buildActivation(OpBuilder &b, Location loc, Value x,
                                Activation activation) {
  switch (activation) {
  case Activation::ReLU:
    return buildRelu(b, loc, x);
  case Activation::GELU:
  case Activation::GeGLU:
    return buildGelu(b, loc, x, /*tanhApproximation=*/false);
  case Activation::GELUTanh:
    return buildGelu(b, loc, x, /*tanhApproximation=*/true);
  case Activation::SiLU:
  case Activation::SwiGLU:
    return buildSilu(b, loc, x);
  }
  llvm_unreachable("covered switch over Activation");
}
