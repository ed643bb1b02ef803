//===- Elementwise.cpp - ONNX elementwise ops to linalg.generic -*- C++ -*-===//
//
// Unary and (variadic) binary elementwise ops with multidirectional (numpy)
// broadcasting, as one linalg.generic each whose body is arith/math on
// scalars. Integer Add/Sub/Mul/Div on symbolic shape values fold instead
// (torch.onnx.export's shape arithmetic).
//
//===----------------------------------------------------------------------===//

#include "ONNXImporterImpl.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::onnx_import;

namespace {
enum class BinaryKind { Add, Sub, Mul, Div, Max, Min, Pow };
enum class UnaryKind {
  Sqrt,
  Tanh,
  Erf,
  Neg,
  Relu,
  Sigmoid,
  Exp,
  Log,
  Abs,
  Reciprocal,
  Floor,
  Ceil,
  Cos,
  Sin
};
} // namespace

/// Folds `kind` on two symbolic integer tensors; returns false when the
/// operands are not both symbolic (the tensor path then handles them).
static FailureOr<bool> foldSymbolicBinary(NodeContext &ctx, BinaryKind kind) {
  std::optional<IntOp> op;
  switch (kind) {
  case BinaryKind::Add:
    op = IntOp::Add;
    break;
  case BinaryKind::Sub:
    op = IntOp::Sub;
    break;
  case BinaryKind::Mul:
    op = IntOp::Mul;
    break;
  case BinaryKind::Div:
    op = IntOp::Div;
    break;
  case BinaryKind::Max:
    op = IntOp::Max;
    break;
  case BinaryKind::Min:
    op = IntOp::Min;
    break;
  case BinaryKind::Pow:
    break;
  }
  if (!op || ctx.getNumInputs() != 2)
    return false;
  FailureOr<ImportedValue *> lhs = ctx.getInput(0), rhs = ctx.getInput(1);
  if (failed(lhs) || failed(rhs))
    return failure();
  if (!(*lhs)->elements || !(*rhs)->elements ||
      (*lhs)->type.getElementType() != (*rhs)->type.getElementType() ||
      (*lhs)->type.getElementType().isInteger(1))
    return false;
  ArrayRef<OpFoldResult> a = *(*lhs)->elements, b = *(*rhs)->elements;
  size_t count = std::max(a.size(), b.size());
  if ((a.size() != count && a.size() != 1) ||
      (b.size() != count && b.size() != 1))
    return false;
  SmallVector<OpFoldResult> result;
  for (size_t k = 0; k < count; ++k)
    result.push_back(foldIntOp(ctx.getBuilder(), ctx.getLoc(), *op,
                               a[a.size() == 1 ? 0 : k],
                               b[b.size() == 1 ? 0 : k]));
  int64_t rank = std::max((*lhs)->type.getRank(), (*rhs)->type.getRank());
  SmallVector<int64_t> shape;
  if (rank == 1)
    shape.push_back(count);
  if (failed(ctx.setElements(
          0, RankedTensorType::get(shape, (*lhs)->type.getElementType()),
          std::move(result))))
    return failure();
  return true;
}

static Value buildBinaryScalar(OpBuilder &b, Location loc, BinaryKind kind,
                               Value lhs, Value rhs) {
  bool isFloat = isFloatType(lhs.getType());
  switch (kind) {
  case BinaryKind::Add:
    return isFloat ? Value(arith::AddFOp::create(b, loc, lhs, rhs))
                   : Value(arith::AddIOp::create(b, loc, lhs, rhs));
  case BinaryKind::Sub:
    return isFloat ? Value(arith::SubFOp::create(b, loc, lhs, rhs))
                   : Value(arith::SubIOp::create(b, loc, lhs, rhs));
  case BinaryKind::Mul:
    return isFloat ? Value(arith::MulFOp::create(b, loc, lhs, rhs))
                   : Value(arith::MulIOp::create(b, loc, lhs, rhs));
  case BinaryKind::Div:
    return isFloat ? Value(arith::DivFOp::create(b, loc, lhs, rhs))
                   : Value(arith::DivSIOp::create(b, loc, lhs, rhs));
  case BinaryKind::Max:
    return isFloat ? Value(arith::MaximumFOp::create(b, loc, lhs, rhs))
                   : Value(arith::MaxSIOp::create(b, loc, lhs, rhs));
  case BinaryKind::Min:
    return isFloat ? Value(arith::MinimumFOp::create(b, loc, lhs, rhs))
                   : Value(arith::MinSIOp::create(b, loc, lhs, rhs));
  case BinaryKind::Pow:
    if (isFloat)
      return math::PowFOp::create(b, loc, lhs, rhs);
    // Integer powers go through f64 (exact for the results int64 holds up
    // to 2^53); the CPU pipeline has no lowering for math.ipowi.
    {
      Type f64 = b.getF64Type();
      Value power = math::PowFOp::create(b, loc, castScalar(b, loc, lhs, f64),
                                         castScalar(b, loc, rhs, f64));
      return castScalar(b, loc, power, lhs.getType());
    }
  }
  return lhs;
}

/// Add, Sub, Mul, Div (two inputs), Max, Min (one or more).
static LogicalResult convertBinary(NodeContext &ctx, BinaryKind kind) {
  bool variadic = kind == BinaryKind::Max || kind == BinaryKind::Min;
  if (failed(ctx.checkArity(variadic ? 1 : 2, variadic ? 64 : 2)))
    return failure();
  FailureOr<bool> folded = foldSymbolicBinary(ctx, kind);
  if (failed(folded) || *folded)
    return failure(failed(folded));

  SmallVector<Value> inputs;
  for (unsigned i = 0; i < ctx.getNumInputs(); ++i) {
    FailureOr<Value> tensor = ctx.getTensor(i);
    if (failed(tensor))
      return failure();
    inputs.push_back(*tensor);
  }
  Type elementType = cast<RankedTensorType>(inputs[0].getType()).getElementType();
  for (auto [index, input] : llvm::enumerate(inputs)) {
    Type other = cast<RankedTensorType>(input.getType()).getElementType();
    if (other != elementType)
      return ctx.emitError() << "dtype mismatch: input #0 is " << elementType
                             << " but input #" << index << " is " << other;
  }
  if (elementType.isInteger(1))
    return ctx.emitError() << "does not take bool inputs";
  FailureOr<SmallVector<OpFoldResult>> sizes = broadcastShapes(ctx, inputs);
  if (failed(sizes))
    return failure();
  Value result = buildBroadcastGeneric(
      ctx.getBuilder(), ctx.getLoc(), inputs, *sizes, elementType,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value acc = args[0];
        for (Value arg : args.drop_front())
          acc = buildBinaryScalar(b, loc, kind, acc, arg);
        return acc;
      });
  return ctx.setOutput(0, result);
}

/// Pow: the exponent may have another type; exponents 1, 2 and 0.5 known at
/// import time become a copy, a multiplication and a square root, which
/// stay exact for negative bases whatever the lowering does with powf.
static LogicalResult convertPow(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)))
    return failure();
  FailureOr<ImportedValue *> exponent = ctx.getInput(1);
  FailureOr<Value> base = ctx.getTensor(0);
  if (failed(exponent) || failed(base))
    return failure();
  Type elementType = cast<RankedTensorType>(base->getType()).getElementType();
  if (elementType.isInteger(1))
    return ctx.emitError() << "does not take bool inputs";
  std::optional<double> splat = (*exponent)->splat;
  if (!splat && (*exponent)->elements && (*exponent)->elements->size() == 1)
    if (std::optional<int64_t> value =
            getConstantInt((*exponent)->elements->front()))
      splat = double(*value);
  if (splat && (*exponent)->type.getRank() == 0 && isFloatType(elementType) &&
      (*splat == 1.0 || *splat == 2.0 || *splat == 0.5)) {
    double value = *splat;
    FailureOr<SmallVector<OpFoldResult>> sizes =
        broadcastShapes(ctx, ArrayRef<Value>{*base});
    if (failed(sizes))
      return failure();
    Value result = buildBroadcastGeneric(
        ctx.getBuilder(), ctx.getLoc(), {*base}, *sizes, elementType,
        [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
          if (value == 2.0)
            return arith::MulFOp::create(b, loc, args[0], args[0]);
          if (value == 0.5)
            return math::SqrtOp::create(b, loc, args[0]);
          return args[0];
        });
    return ctx.setOutput(0, result);
  }
  FailureOr<Value> exponentTensor = ctx.getTensor(1);
  if (failed(exponentTensor))
    return failure();
  SmallVector<Value> inputs{*base, *exponentTensor};
  FailureOr<SmallVector<OpFoldResult>> sizes = broadcastShapes(ctx, inputs);
  if (failed(sizes))
    return failure();
  Value result = buildBroadcastGeneric(
      ctx.getBuilder(), ctx.getLoc(), inputs, *sizes, elementType,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value power = castScalar(b, loc, args[1], elementType);
        return buildBinaryScalar(b, loc, BinaryKind::Pow, args[0], power);
      });
  return ctx.setOutput(0, result);
}

static Value buildUnaryScalar(OpBuilder &b, Location loc, UnaryKind kind,
                              Value x) {
  Type type = x.getType();
  bool isFloat = isFloatType(type);
  switch (kind) {
  case UnaryKind::Sqrt:
    return math::SqrtOp::create(b, loc, x);
  case UnaryKind::Tanh:
    return math::TanhOp::create(b, loc, x);
  case UnaryKind::Erf:
    return math::ErfOp::create(b, loc, x);
  case UnaryKind::Exp:
    return math::ExpOp::create(b, loc, x);
  case UnaryKind::Log:
    return math::LogOp::create(b, loc, x);
  case UnaryKind::Floor:
    return math::FloorOp::create(b, loc, x);
  case UnaryKind::Ceil:
    return math::CeilOp::create(b, loc, x);
  case UnaryKind::Cos:
    return math::CosOp::create(b, loc, x);
  case UnaryKind::Sin:
    return math::SinOp::create(b, loc, x);
  case UnaryKind::Neg:
    if (isFloat)
      return arith::NegFOp::create(b, loc, x);
    return arith::SubIOp::create(b, loc, createScalarConstant(b, loc, type, 0),
                                 x);
  case UnaryKind::Abs:
    if (isFloat)
      return math::AbsFOp::create(b, loc, x);
    return math::AbsIOp::create(b, loc, x);
  case UnaryKind::Relu:
    if (isFloat)
      return arith::MaximumFOp::create(
          b, loc, x, createScalarConstant(b, loc, type, 0));
    return arith::MaxSIOp::create(b, loc, x,
                                  createScalarConstant(b, loc, type, 0));
  case UnaryKind::Sigmoid: {
    Value one = createScalarConstant(b, loc, type, 1.0);
    Value negated = arith::NegFOp::create(b, loc, x);
    Value denominator = arith::AddFOp::create(
        b, loc, one, math::ExpOp::create(b, loc, negated));
    return arith::DivFOp::create(b, loc, one, denominator);
  }
  case UnaryKind::Reciprocal:
    return arith::DivFOp::create(b, loc, createScalarConstant(b, loc, type, 1.0),
                                 x);
  }
  return x;
}

static bool unaryTakesIntegers(UnaryKind kind) {
  return kind == UnaryKind::Neg || kind == UnaryKind::Abs ||
         kind == UnaryKind::Relu;
}

static LogicalResult convertUnary(NodeContext &ctx, UnaryKind kind) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  // Neg of a symbolic shape value folds.
  FailureOr<ImportedValue *> input = ctx.getInput(0);
  if (failed(input))
    return failure();
  if (kind == UnaryKind::Neg && (*input)->elements &&
      !(*input)->type.getElementType().isInteger(1)) {
    SmallVector<OpFoldResult> result;
    for (OpFoldResult element : *(*input)->elements)
      result.push_back(foldIntOp(ctx.getBuilder(), ctx.getLoc(), IntOp::Sub,
                                 indexAttr(ctx.getContext(), 0), element));
    return ctx.setElements(0, (*input)->type, std::move(result));
  }
  FailureOr<Value> tensor = ctx.getTensor(0);
  if (failed(tensor))
    return failure();
  Type elementType = cast<RankedTensorType>(tensor->getType()).getElementType();
  if (!isFloatType(elementType) &&
      (!unaryTakesIntegers(kind) || elementType.isInteger(1)))
    return ctx.emitError() << "takes float inputs, got " << tensor->getType();
  FailureOr<SmallVector<OpFoldResult>> sizes =
      broadcastShapes(ctx, ArrayRef<Value>{*tensor});
  if (failed(sizes))
    return failure();
  Value result = buildBroadcastGeneric(
      ctx.getBuilder(), ctx.getLoc(), {*tensor}, *sizes, elementType,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        return buildUnaryScalar(b, loc, kind, args[0]);
      });
  return ctx.setOutput(0, result);
}

template <BinaryKind kind>
static LogicalResult convertBinaryOp(NodeContext &ctx) {
  return convertBinary(ctx, kind);
}

template <UnaryKind kind>
static LogicalResult convertUnaryOp(NodeContext &ctx) {
  return convertUnary(ctx, kind);
}

void onnx_import::addElementwiseConverters(
    std::vector<ConverterEntry> &entries) {
  entries.insert(
      entries.end(),
      {
          {"Add", 13, convertBinaryOp<BinaryKind::Add>},
          {"Sub", 13, convertBinaryOp<BinaryKind::Sub>},
          {"Mul", 13, convertBinaryOp<BinaryKind::Mul>},
          {"Div", 13, convertBinaryOp<BinaryKind::Div>},
          {"Max", 13, convertBinaryOp<BinaryKind::Max>},
          {"Min", 13, convertBinaryOp<BinaryKind::Min>},
          {"Pow", 13, convertPow},
          {"Sqrt", 13, convertUnaryOp<UnaryKind::Sqrt>},
          {"Tanh", 13, convertUnaryOp<UnaryKind::Tanh>},
          {"Erf", 13, convertUnaryOp<UnaryKind::Erf>},
          {"Neg", 13, convertUnaryOp<UnaryKind::Neg>},
          {"Relu", 13, convertUnaryOp<UnaryKind::Relu>},
          {"Relu", 14, convertUnaryOp<UnaryKind::Relu>},
          {"Sigmoid", 13, convertUnaryOp<UnaryKind::Sigmoid>},
          {"Exp", 13, convertUnaryOp<UnaryKind::Exp>},
          {"Log", 13, convertUnaryOp<UnaryKind::Log>},
          {"Abs", 13, convertUnaryOp<UnaryKind::Abs>},
          {"Reciprocal", 13, convertUnaryOp<UnaryKind::Reciprocal>},
          {"Floor", 13, convertUnaryOp<UnaryKind::Floor>},
          {"Ceil", 13, convertUnaryOp<UnaryKind::Ceil>},
          {"Cos", 7, convertUnaryOp<UnaryKind::Cos>},
          {"Sin", 7, convertUnaryOp<UnaryKind::Sin>},
      });
}
