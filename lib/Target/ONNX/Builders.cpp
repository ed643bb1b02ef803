//===- Builders.cpp - helpers shared by the ONNX op converters --*- C++ -*-===//
//
// Symbolic integer arithmetic on index OpFoldResults (the shape values of
// torch.onnx.export graphs), numpy broadcasting into linalg.generic, scalar
// casts with ONNX semantics and constant materialization.
//
//===----------------------------------------------------------------------===//

#include "ONNXImporterImpl.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "llvm/Support/MathExtras.h"

#include <cstring>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::onnx_import;

std::optional<int64_t> onnx_import::getConstantInt(OpFoldResult value) {
  return getConstantIntValue(value);
}

OpFoldResult onnx_import::indexAttr(MLIRContext *context, int64_t value) {
  return IntegerAttr::get(IndexType::get(context), value);
}

Value onnx_import::toIndexValue(OpBuilder &b, Location loc,
                                OpFoldResult value) {
  return getValueOrCreateConstantIndexOp(b, loc, value);
}

OpFoldResult onnx_import::foldIntOp(OpBuilder &b, Location loc, IntOp op,
                                    OpFoldResult lhs, OpFoldResult rhs) {
  std::optional<int64_t> l = getConstantInt(lhs), r = getConstantInt(rhs);
  if (l && r) {
    int64_t result;
    bool overflow = false;
    switch (op) {
    case IntOp::Add:
      overflow = llvm::AddOverflow(*l, *r, result);
      break;
    case IntOp::Sub:
      overflow = llvm::SubOverflow(*l, *r, result);
      break;
    case IntOp::Mul:
      overflow = llvm::MulOverflow(*l, *r, result);
      break;
    case IntOp::Div:
      overflow = *r == 0 || (*l == INT64_MIN && *r == -1);
      if (!overflow)
        result = *l / *r;
      break;
    case IntOp::Min:
      result = std::min(*l, *r);
      break;
    case IntOp::Max:
      result = std::max(*l, *r);
      break;
    case IntOp::Eq:
      result = *l == *r;
      break;
    }
    if (!overflow)
      return indexAttr(b.getContext(), result);
  }
  // Identities keep shape arithmetic readable.
  if (op == IntOp::Mul && l == 1)
    return rhs;
  if ((op == IntOp::Mul || op == IntOp::Div) && r == 1)
    return lhs;
  if ((op == IntOp::Add || op == IntOp::Sub) && r == 0)
    return lhs;
  if (op == IntOp::Add && l == 0)
    return rhs;
  Value a = toIndexValue(b, loc, lhs), c = toIndexValue(b, loc, rhs);
  switch (op) {
  case IntOp::Add:
    return Value(arith::AddIOp::create(b, loc, a, c));
  case IntOp::Sub:
    return Value(arith::SubIOp::create(b, loc, a, c));
  case IntOp::Mul:
    return Value(arith::MulIOp::create(b, loc, a, c));
  case IntOp::Div:
    return Value(arith::DivSIOp::create(b, loc, a, c));
  case IntOp::Min:
    return Value(arith::MinSIOp::create(b, loc, a, c));
  case IntOp::Max:
    return Value(arith::MaxSIOp::create(b, loc, a, c));
  case IntOp::Eq: {
    Value eq =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, a, c);
    return Value(arith::SelectOp::create(
        b, loc, eq, arith::ConstantIndexOp::create(b, loc, 1),
        arith::ConstantIndexOp::create(b, loc, 0)));
  }
  }
  return lhs;
}

OpFoldResult onnx_import::getDimSize(OpBuilder &b, Location loc, Value tensor,
                                     int64_t dim) {
  // Trace a dynamic dim back through the ops the importer builds to the
  // value that defined it (a tensor.dim of an argument, a shape element), so
  // that equal dims are the same SSA value and shape arithmetic cancels.
  while (true) {
    auto type = cast<RankedTensorType>(tensor.getType());
    if (!type.isDynamicDim(dim))
      return indexAttr(b.getContext(), type.getDimSize(dim));
    Operation *op = tensor.getDefiningOp();
    if (!op)
      break;
    if (auto empty = dyn_cast<tensor::EmptyOp>(op))
      return empty.getMixedSizes()[dim];
    if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op))
      return expand.getMixedOutputShape()[dim];
    if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
      if (slice.getSourceType().getRank() != type.getRank())
        break;
      return slice.getMixedSizes()[dim];
    }
    if (auto reshape = dyn_cast<tensor::ReshapeOp>(op)) {
      auto elements =
          reshape.getShape().getDefiningOp<tensor::FromElementsOp>();
      if (!elements || !elements.getElements()[dim].getType().isIndex())
        break;
      return elements.getElements()[dim];
    }
    if (auto concat = dyn_cast<tensor::ConcatOp>(op)) {
      if (int64_t(concat.getDim()) == dim)
        break;
      tensor = concat.getInputs()[0];
      continue;
    }
    if (auto dps = dyn_cast<DestinationStyleOpInterface>(op)) {
      tensor = dps.getDpsInitOperand(cast<OpResult>(tensor).getResultNumber())
                   ->get();
      continue;
    }
    break;
  }
  // Reuse a tensor.dim already built in this block.
  for (Operation *user : tensor.getUsers())
    if (auto dimOp = dyn_cast<tensor::DimOp>(user))
      if (dimOp->getBlock() == b.getInsertionBlock() &&
          dimOp.getConstantIndex() == std::optional<int64_t>(dim))
        return dimOp.getResult();
  return tensor::getMixedSize(b, loc, tensor, dim);
}

SmallVector<OpFoldResult> onnx_import::getDimSizes(OpBuilder &b, Location loc,
                                                   Value tensor) {
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0, e = cast<RankedTensorType>(tensor.getType()).getRank();
       d < e; ++d)
    sizes.push_back(getDimSize(b, loc, tensor, d));
  return sizes;
}

RankedTensorType onnx_import::getTensorType(ArrayRef<OpFoldResult> sizes,
                                            Type elementType) {
  SmallVector<int64_t> shape;
  for (OpFoldResult size : sizes)
    shape.push_back(getConstantInt(size).value_or(ShapedType::kDynamic));
  return RankedTensorType::get(shape, elementType);
}

FailureOr<SmallVector<OpFoldResult>>
onnx_import::broadcastShapes(const NodeContext &node,
                             ArrayRef<Value> tensors) {
  OpBuilder &b = node.getBuilder();
  Location loc = node.getLoc();
  int64_t rank = 0;
  for (Value tensor : tensors)
    rank = std::max(rank, cast<RankedTensorType>(tensor.getType()).getRank());
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d < rank; ++d) {
    std::optional<int64_t> fixed;
    int64_t fixedInput = 0;
    Value dynamicFrom;
    int64_t dynamicDim = 0;
    for (auto [index, tensor] : llvm::enumerate(tensors)) {
      auto type = cast<RankedTensorType>(tensor.getType());
      int64_t dim = d - (rank - type.getRank());
      if (dim < 0)
        continue;
      int64_t size = type.getDimSize(dim);
      if (ShapedType::isDynamic(size)) {
        if (!dynamicFrom) {
          dynamicFrom = tensor;
          dynamicDim = dim;
        }
        continue;
      }
      if (size == 1)
        continue;
      if (fixed && *fixed != size)
        return node.emitError()
               << "cannot broadcast input #" << fixedInput << " ("
               << tensors[fixedInput].getType() << ") and input #" << index
               << " (" << type << "): dims " << *fixed << " and " << size;
      fixed = size;
      fixedInput = index;
    }
    if (fixed)
      sizes.push_back(indexAttr(b.getContext(), *fixed));
    else if (dynamicFrom)
      sizes.push_back(getDimSize(b, loc, dynamicFrom, dynamicDim));
    else
      sizes.push_back(indexAttr(b.getContext(), 1));
  }
  return sizes;
}

Value onnx_import::buildBroadcastGeneric(
    OpBuilder &b, Location loc, ArrayRef<Value> inputs,
    ArrayRef<OpFoldResult> sizes, Type resultElementType,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  int64_t rank = sizes.size();
  MLIRContext *context = b.getContext();
  SmallVector<AffineMap> maps;
  for (Value input : inputs) {
    auto type = cast<RankedTensorType>(input.getType());
    SmallVector<AffineExpr> exprs;
    for (int64_t dim = 0; dim < type.getRank(); ++dim) {
      int64_t outDim = rank - type.getRank() + dim;
      bool broadcast = type.getDimSize(dim) == 1 &&
                       getConstantInt(sizes[outDim]) != std::optional<int64_t>(1);
      exprs.push_back(broadcast ? getAffineConstantExpr(0, context)
                                : getAffineDimExpr(outDim, context));
    }
    maps.push_back(AffineMap::get(rank, 0, exprs, context));
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, context));
  Value init = tensor::EmptyOp::create(b, loc, sizes, resultElementType);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        Value result = body(nested, nestedLoc, args.drop_back());
        linalg::YieldOp::create(nested, nestedLoc, result);
      });
  return generic.getResult(0);
}

bool onnx_import::isFloatType(Type type) { return isa<FloatType>(type); }

Value onnx_import::createScalarConstant(OpBuilder &b, Location loc, Type type,
                                        double value) {
  if (auto floatType = dyn_cast<FloatType>(type))
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(floatType, value));
  if (type.isInteger(1))
    return arith::ConstantOp::create(b, loc,
                                     b.getIntegerAttr(type, value != 0));
  return arith::ConstantOp::create(b, loc,
                                   b.getIntegerAttr(type, int64_t(value)));
}

Value onnx_import::castScalar(OpBuilder &b, Location loc, Value value,
                              Type to) {
  Type from = value.getType();
  if (from == to)
    return value;
  if (isa<IndexType>(from)) {
    if (to.isInteger(1)) {
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, value,
                                   zero);
    }
    if (isa<FloatType>(to))
      value = arith::IndexCastOp::create(b, loc, b.getI64Type(), value);
    else
      return arith::IndexCastOp::create(b, loc, to, value);
    from = value.getType();
  }
  if (isa<FloatType>(from) && isa<FloatType>(to)) {
    if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(b, loc, to, value);
    return arith::TruncFOp::create(b, loc, to, value);
  }
  if (isa<IntegerType>(from) && isa<FloatType>(to)) {
    if (from.isInteger(1))
      return arith::UIToFPOp::create(b, loc, to, value);
    return arith::SIToFPOp::create(b, loc, to, value);
  }
  if (isa<FloatType>(from) && isa<IntegerType>(to)) {
    if (to.isInteger(1)) {
      Value zero = createScalarConstant(b, loc, from, 0.0);
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, value,
                                   zero);
    }
    return arith::FPToSIOp::create(b, loc, to, value);
  }
  if (isa<IndexType>(to))
    return arith::IndexCastOp::create(b, loc, to, value);
  // Integer to integer.
  if (to.isInteger(1)) {
    Value zero = createScalarConstant(b, loc, from, 0.0);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, value,
                                 zero);
  }
  unsigned fromWidth = from.getIntOrFloatBitWidth();
  unsigned toWidth = to.getIntOrFloatBitWidth();
  if (fromWidth < toWidth)
    return from.isInteger(1) ? Value(arith::ExtUIOp::create(b, loc, to, value))
                             : Value(arith::ExtSIOp::create(b, loc, to, value));
  return arith::TruncIOp::create(b, loc, to, value);
}

Value onnx_import::materializeElements(OpBuilder &b, Location loc,
                                       RankedTensorType type,
                                       ArrayRef<OpFoldResult> elements) {
  Type elementType = type.getElementType();
  bool allConstant = llvm::all_of(elements, [](OpFoldResult element) {
    return getConstantInt(element).has_value();
  });
  if (allConstant) {
    DenseElementsAttr attr;
    if (elementType.isInteger(1)) {
      SmallVector<bool> bits;
      for (OpFoldResult element : elements)
        bits.push_back(*getConstantInt(element) != 0);
      attr = DenseElementsAttr::get(type, ArrayRef<bool>(bits));
    } else {
      SmallVector<APInt> values;
      for (OpFoldResult element : elements)
        values.push_back(APInt(elementType.getIntOrFloatBitWidth(),
                               uint64_t(*getConstantInt(element)),
                               /*isSigned=*/true, /*implicitTrunc=*/true));
      attr = DenseElementsAttr::get(type, values);
    }
    return arith::ConstantOp::create(b, loc, attr);
  }
  SmallVector<Value> values;
  for (OpFoldResult element : elements)
    values.push_back(
        castScalar(b, loc, toIndexValue(b, loc, element), elementType));
  return tensor::FromElementsOp::create(b, loc, type, values);
}

Value onnx_import::createConstantTensor(OpBuilder &b, Location loc,
                                        const TensorData &data,
                                        ArrayRef<char> bytes) {
  auto type = RankedTensorType::get(data.shape, data.elementType);
  DenseElementsAttr attr;
  if (data.numElements == 0) {
    attr = DenseElementsAttr::get(type, ArrayRef<Attribute>());
  } else if (data.elementType.isInteger(1)) {
    SmallVector<bool> bits;
    for (char byte : bytes)
      bits.push_back(byte != 0);
    attr = DenseElementsAttr::get(type, ArrayRef<bool>(bits));
  } else {
    attr = DenseElementsAttr::getFromRawBuffer(type, bytes);
  }
  return arith::ConstantOp::create(b, loc, attr);
}
