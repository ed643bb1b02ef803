//===- Logic.cpp - ONNX comparisons, Not, Where and Trilu -------*- C++ -*-===//
//
// Comparisons and selects, with numpy broadcasting. Equal, Not and Where on
// symbolic shape values fold (torch.onnx.export's expand(-1) pattern:
// Where(Equal(shape, -1), ones, shape)). Trilu masks by loop indices.
//
//===----------------------------------------------------------------------===//

#include "ONNXImporterImpl.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::onnx_import;

namespace {
enum class CompareKind { Equal, Less, Greater };
enum class BoolKind { And, Or, Xor };
} // namespace

/// Tensors of all inputs, with one element type (or failure).
static FailureOr<SmallVector<Value>> getSameTypedTensors(NodeContext &ctx,
                                                         unsigned first,
                                                         unsigned count) {
  SmallVector<Value> tensors;
  for (unsigned i = first; i < first + count; ++i) {
    FailureOr<Value> tensor = ctx.getTensor(i);
    if (failed(tensor))
      return failure();
    tensors.push_back(*tensor);
  }
  Type elementType =
      cast<RankedTensorType>(tensors[0].getType()).getElementType();
  for (unsigned i = 1; i < tensors.size(); ++i) {
    Type other = cast<RankedTensorType>(tensors[i].getType()).getElementType();
    if (other != elementType)
      return ctx.emitError() << "dtype mismatch: input #" << first << " is "
                             << elementType << " but input #" << first + i
                             << " is " << other;
  }
  return tensors;
}

/// The broadcast element count of symbolic 1-D/0-D values, or nullopt.
static std::optional<size_t>
getSymbolicBroadcastCount(ArrayRef<ImportedValue *> values) {
  size_t count = 1;
  for (ImportedValue *value : values) {
    if (!value->elements)
      return std::nullopt;
    size_t size = value->elements->size();
    if (size != 1 && count != 1 && size != count)
      return std::nullopt;
    if (size != 1)
      count = size;
  }
  return count;
}

static RankedTensorType getSymbolicType(ArrayRef<ImportedValue *> values,
                                        size_t count, Type elementType) {
  int64_t rank = 0;
  for (ImportedValue *value : values)
    rank = std::max(rank, value->type.getRank());
  if (rank == 0)
    return RankedTensorType::get({}, elementType);
  return RankedTensorType::get({int64_t(count)}, elementType);
}

static LogicalResult convertCompare(NodeContext &ctx, CompareKind kind) {
  if (failed(ctx.checkArity(2, 2)))
    return failure();
  FailureOr<ImportedValue *> lhs = ctx.getInput(0), rhs = ctx.getInput(1);
  if (failed(lhs) || failed(rhs))
    return failure();
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  Type i1 = b.getI1Type();
  if (kind == CompareKind::Equal &&
      (*lhs)->type.getElementType() == (*rhs)->type.getElementType())
    if (std::optional<size_t> count =
            getSymbolicBroadcastCount({*lhs, *rhs})) {
      SmallVector<OpFoldResult> elements;
      for (size_t k = 0; k < *count; ++k) {
        auto at = [&](ImportedValue *value) {
          return (*value->elements)[value->elements->size() == 1 ? 0 : k];
        };
        elements.push_back(foldIntOp(b, loc, IntOp::Eq, at(*lhs), at(*rhs)));
      }
      return ctx.setElements(0, getSymbolicType({*lhs, *rhs}, *count, i1),
                             std::move(elements));
    }
  FailureOr<SmallVector<Value>> tensors = getSameTypedTensors(ctx, 0, 2);
  if (failed(tensors))
    return failure();
  FailureOr<SmallVector<OpFoldResult>> sizes = broadcastShapes(ctx, *tensors);
  if (failed(sizes))
    return failure();
  Value result = buildBroadcastGeneric(
      b, loc, *tensors, *sizes, i1,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        if (isFloatType(args[0].getType())) {
          arith::CmpFPredicate predicate =
              kind == CompareKind::Equal  ? arith::CmpFPredicate::OEQ
              : kind == CompareKind::Less ? arith::CmpFPredicate::OLT
                                          : arith::CmpFPredicate::OGT;
          return arith::CmpFOp::create(nb, nl, predicate, args[0], args[1]);
        }
        arith::CmpIPredicate predicate =
            kind == CompareKind::Equal  ? arith::CmpIPredicate::eq
            : kind == CompareKind::Less ? arith::CmpIPredicate::slt
                                        : arith::CmpIPredicate::sgt;
        return arith::CmpIOp::create(nb, nl, predicate, args[0], args[1]);
      });
  return ctx.setOutput(0, result);
}

static LogicalResult convertNot(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  FailureOr<ImportedValue *> input = ctx.getInput(0);
  if (failed(input))
    return failure();
  if (!(*input)->type.getElementType().isInteger(1))
    return ctx.emitError() << "takes a BOOL input, got " << (*input)->type;
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  if ((*input)->elements) {
    SmallVector<OpFoldResult> elements;
    for (OpFoldResult element : *(*input)->elements)
      elements.push_back(foldIntOp(b, loc, IntOp::Sub,
                                   indexAttr(ctx.getContext(), 1), element));
    return ctx.setElements(0, (*input)->type, std::move(elements));
  }
  Value tensor = ctx.importer.materialize(**input, b, loc);
  Value result = buildBroadcastGeneric(
      b, loc, {tensor}, getDimSizes(b, loc, tensor), b.getI1Type(),
      [](OpBuilder &nb, Location nl, ValueRange args) {
        Value trueValue = arith::ConstantOp::create(nb, nl, nb.getBoolAttr(true));
        return Value(arith::XOrIOp::create(nb, nl, args[0], trueValue));
      });
  return ctx.setOutput(0, result);
}

static LogicalResult convertBoolBinary(NodeContext &ctx, BoolKind kind) {
  if (failed(ctx.checkArity(2, 2)))
    return failure();
  FailureOr<SmallVector<Value>> tensors = getSameTypedTensors(ctx, 0, 2);
  if (failed(tensors))
    return failure();
  if (!cast<RankedTensorType>((*tensors)[0].getType())
           .getElementType()
           .isInteger(1))
    return ctx.emitError() << "takes BOOL inputs";
  FailureOr<SmallVector<OpFoldResult>> sizes = broadcastShapes(ctx, *tensors);
  if (failed(sizes))
    return failure();
  OpBuilder &b = ctx.getBuilder();
  Value result = buildBroadcastGeneric(
      b, ctx.getLoc(), *tensors, *sizes, b.getI1Type(),
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        switch (kind) {
        case BoolKind::And:
          return arith::AndIOp::create(nb, nl, args[0], args[1]);
        case BoolKind::Or:
          return arith::OrIOp::create(nb, nl, args[0], args[1]);
        case BoolKind::Xor:
          break;
        }
        return arith::XOrIOp::create(nb, nl, args[0], args[1]);
      });
  return ctx.setOutput(0, result);
}

static LogicalResult convertWhere(NodeContext &ctx) {
  if (failed(ctx.checkArity(3, 3)))
    return failure();
  FailureOr<ImportedValue *> condition = ctx.getInput(0);
  FailureOr<ImportedValue *> lhs = ctx.getInput(1), rhs = ctx.getInput(2);
  if (failed(condition) || failed(lhs) || failed(rhs))
    return failure();
  if (!(*condition)->type.getElementType().isInteger(1))
    return ctx.emitError() << "the condition must be BOOL, got "
                           << (*condition)->type;
  Type elementType = (*lhs)->type.getElementType();
  if ((*rhs)->type.getElementType() != elementType)
    return ctx.emitError() << "dtype mismatch: input #1 is " << elementType
                           << " but input #2 is "
                           << (*rhs)->type.getElementType();
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  if (std::optional<size_t> count =
          getSymbolicBroadcastCount({*condition, *lhs, *rhs})) {
    SmallVector<OpFoldResult> elements;
    bool known = true;
    for (size_t k = 0; k < *count && known; ++k) {
      auto at = [&](ImportedValue *value) {
        return (*value->elements)[value->elements->size() == 1 ? 0 : k];
      };
      std::optional<int64_t> select = getConstantInt(at(*condition));
      if (!select)
        known = false;
      else
        elements.push_back(*select ? at(*lhs) : at(*rhs));
    }
    if (known)
      return ctx.setElements(
          0, getSymbolicType({*condition, *lhs, *rhs}, *count, elementType),
          std::move(elements));
  }
  SmallVector<Value> tensors;
  for (ImportedValue *value : {*condition, *lhs, *rhs})
    tensors.push_back(ctx.importer.materialize(*value, b, loc));
  FailureOr<SmallVector<OpFoldResult>> sizes = broadcastShapes(ctx, tensors);
  if (failed(sizes))
    return failure();
  Value result = buildBroadcastGeneric(
      b, loc, tensors, *sizes, elementType,
      [](OpBuilder &nb, Location nl, ValueRange args) {
        return Value(
            arith::SelectOp::create(nb, nl, args[0], args[1], args[2]));
      });
  return ctx.setOutput(0, result);
}

static LogicalResult convertTrilu(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 2)))
    return failure();
  FailureOr<int64_t> upper = ctx.getIntAttr("upper", 1);
  FailureOr<Value> tensor = ctx.getTensor(0);
  if (failed(upper) || failed(tensor))
    return failure();
  auto type = cast<RankedTensorType>(tensor->getType());
  if (type.getRank() < 2)
    return ctx.emitError() << "takes an input of rank >= 2, got " << type;
  OpBuilder &b = ctx.getBuilder();
  Location loc = ctx.getLoc();
  OpFoldResult diagonal = indexAttr(ctx.getContext(), 0);
  if (ctx.hasInput(1)) {
    FailureOr<SmallVector<OpFoldResult>> k =
        ctx.getElements(1, "k (input #1)");
    if (failed(k))
      return failure();
    if (k->size() != 1)
      return ctx.emitError() << "k (input #1) must hold one value";
    diagonal = k->front();
  }
  Value k = toIndexValue(b, loc, diagonal);
  int64_t rank = type.getRank();
  bool keepUpper = *upper != 0;
  Type elementType = type.getElementType();
  Value result = buildBroadcastGeneric(
      b, loc, {*tensor}, getDimSizes(b, loc, *tensor), elementType,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value row = linalg::IndexOp::create(nb, nl, rank - 2);
        Value column = linalg::IndexOp::create(nb, nl, rank - 1);
        // Upper keeps column - row >= k; lower keeps column - row <= k.
        Value offset = arith::SubIOp::create(nb, nl, column, row);
        Value keep = arith::CmpIOp::create(
            nb, nl,
            keepUpper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle,
            offset, k);
        Value zero = createScalarConstant(nb, nl, elementType, 0.0);
        return Value(arith::SelectOp::create(nb, nl, keep, args[0], zero));
      });
  return ctx.setOutput(0, result);
}

template <CompareKind kind>
static LogicalResult convertCompareOp(NodeContext &ctx) {
  return convertCompare(ctx, kind);
}

template <BoolKind kind>
static LogicalResult convertBoolOp(NodeContext &ctx) {
  return convertBoolBinary(ctx, kind);
}

void onnx_import::addLogicConverters(std::vector<ConverterEntry> &entries) {
  entries.insert(entries.end(),
                 {
                     {"Equal", 13, convertCompareOp<CompareKind::Equal>},
                     {"Less", 13, convertCompareOp<CompareKind::Less>},
                     {"Greater", 13, convertCompareOp<CompareKind::Greater>},
                     {"Not", 1, convertNot},
                     {"And", 7, convertBoolOp<BoolKind::And>},
                     {"Or", 7, convertBoolOp<BoolKind::Or>},
                     {"Xor", 7, convertBoolOp<BoolKind::Xor>},
                     {"Where", 9, convertWhere},
                     {"Where", 16, convertWhere},
                     {"Trilu", 14, convertTrilu},
                 });
}
