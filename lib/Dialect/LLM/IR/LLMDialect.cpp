//===- LLMDialect.cpp - the llm dialect -------------------------*- C++ -*-===//
//
// Registers the llm ops and attributes and materializes folded constants.
//
//===----------------------------------------------------------------------===//

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::llm;

#include "llm/Dialect/LLM/IR/LLMDialect.cpp.inc"
#include "llm/Dialect/LLM/IR/LLMEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "llm/Dialect/LLM/IR/LLMAttrs.cpp.inc"

void LLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "llm/Dialect/LLM/IR/LLMOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "llm/Dialect/LLM/IR/LLMAttrs.cpp.inc"
      >();
}

Operation *LLMDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  if (arith::ConstantOp::isBuildableWith(value, type))
    return arith::ConstantOp::create(builder, loc, type,
                                     cast<TypedAttr>(value));
  return nullptr;
}

/// `llm.packed = {panel = P, layout = "in_out" | "out_in", shape = [r, c]}`
/// on an argument of type tensor<ceil(N / P) x K x P x f32>, where the
/// checkpoint tensor `shape` is [K, N] (in_out) or [N, K] (out_in).
static LogicalResult verifyPackedParam(Operation *op, unsigned regionIndex,
                                       unsigned argIndex, Attribute value) {
  auto error = [&]() {
    return op->emitError() << "'" << LLMDialect::kPackedAttrName
                           << "' of argument #" << argIndex << " ";
  };
  auto dict = dyn_cast<DictionaryAttr>(value);
  auto panel = dict ? dict.getAs<IntegerAttr>("panel") : IntegerAttr();
  auto layout = dict ? dict.getAs<StringAttr>("layout") : StringAttr();
  auto shape = dict ? dict.getAs<DenseI64ArrayAttr>("shape")
                    : DenseI64ArrayAttr();
  if (!dict || dict.size() != 3 || !panel || !layout || !shape)
    return error() << "must be {panel = P : i64, layout = \"in_out\" | "
                      "\"out_in\", shape = array<i64: r, c>}";
  if (panel.getInt() < 1)
    return error() << "has panel " << panel.getInt() << "; it must be positive";
  bool outIn = layout.getValue() == "out_in";
  if (!outIn && layout.getValue() != "in_out")
    return error() << "has layout '" << layout.getValue()
                   << "'; it must be in_out or out_in";
  if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1)
    return error() << "must have a 2-D shape of positive sizes";
  Region &region = op->getRegion(regionIndex);
  if (region.empty() || argIndex >= region.getNumArguments())
    return error() << "is on a missing argument";
  int64_t n = outIn ? shape[0] : shape[1], k = outIn ? shape[1] : shape[0];
  int64_t p = panel.getInt();
  // A tensor, or the buffer it became (past that, lowered types carry no
  // shape to check).
  SmallVector<int64_t> expected = {(n + p - 1) / p, k, p};
  Type actual = region.getArgument(argIndex).getType();
  auto shaped = dyn_cast<ShapedType>(actual);
  if (!shaped && !isa<TensorType, BaseMemRefType>(actual))
    return success();
  if (!shaped.hasRank() || shaped.getShape() != ArrayRef(expected) ||
      !shaped.getElementType().isF32())
    return error() << "describes a " << expected[0] << "x" << expected[1]
                   << "x" << expected[2] << "xf32 panel array but the "
                   << "argument is " << actual;
  return success();
}

/// `llm.concat = {axis = A, parts = [names], sizes = [sizes]}` on a
/// parameter whose checkpoint-layout shape (the argument's type, or the
/// `shape` of its `llm.packed`) is the parts' concatenation along `axis`.
static LogicalResult verifyConcatParam(Operation *op, unsigned regionIndex,
                                       unsigned argIndex, Attribute value) {
  auto error = [&]() {
    return op->emitError() << "'" << LLMDialect::kConcatAttrName
                           << "' of argument #" << argIndex << " ";
  };
  auto dict = dyn_cast<DictionaryAttr>(value);
  auto axis = dict ? dict.getAs<IntegerAttr>("axis") : IntegerAttr();
  auto parts = dict ? dict.getAs<ArrayAttr>("parts") : ArrayAttr();
  auto sizes =
      dict ? dict.getAs<DenseI64ArrayAttr>("sizes") : DenseI64ArrayAttr();
  if (!dict || dict.size() != 3 || !axis || !parts || !sizes)
    return error() << "must be {axis = A : i64, parts = [\"name\", ...], "
                      "sizes = array<i64: ...>}";
  if (parts.size() < 2 || parts.size() != static_cast<size_t>(sizes.size()))
    return error() << "must name at least two parts, each with a size";
  llvm::StringSet<> names;
  int64_t total = 0;
  for (auto [part, size] : llvm::zip(parts, sizes.asArrayRef())) {
    auto name = dyn_cast<StringAttr>(part);
    if (!name || name.getValue().empty() ||
        !names.insert(name.getValue()).second)
      return error() << "must name distinct checkpoint tensors";
    if (size < 1)
      return error() << "has a part of size " << size
                     << "; sizes must be positive";
    total += size;
  }
  Region &region = op->getRegion(regionIndex);
  if (region.empty() || argIndex >= region.getNumArguments())
    return error() << "is on a missing argument";
  // The checkpoint-layout shape: the packed param's, else the argument's.
  SmallVector<int64_t> shape;
  if (auto func = dyn_cast<FunctionOpInterface>(op))
    if (auto packed = func.getArgAttrOfType<DictionaryAttr>(
            argIndex, LLMDialect::kPackedAttrName))
      if (auto packedShape = packed.getAs<DenseI64ArrayAttr>("shape"))
        shape = llvm::to_vector(packedShape.asArrayRef());
  if (shape.empty()) {
    auto shaped = dyn_cast<ShapedType>(region.getArgument(argIndex).getType());
    if (!shaped || !shaped.hasRank())
      return success();
    shape = llvm::to_vector(shaped.getShape());
  }
  int64_t a = axis.getInt();
  if (a < 0 || a >= static_cast<int64_t>(shape.size()))
    return error() << "has axis " << a << " outside the parameter's rank "
                   << shape.size();
  if (!ShapedType::isDynamic(shape[a]) && shape[a] != total)
    return error() << "has parts of " << total << " along axis " << a
                   << " but the parameter has " << shape[a];
  return success();
}

LogicalResult LLMDialect::verifyRegionArgAttribute(Operation *op,
                                                   unsigned regionIndex,
                                                   unsigned argIndex,
                                                   NamedAttribute attribute) {
  StringRef attrName = attribute.getName().getValue();
  if (attrName == kPackedAttrName)
    return verifyPackedParam(op, regionIndex, argIndex, attribute.getValue());
  if (attrName == kConcatAttrName)
    return verifyConcatParam(op, regionIndex, argIndex, attribute.getValue());
  if (attrName != kParamAttrName && attrName != kInputAttrName)
    return op->emitError() << "unknown llm argument attribute '" << attrName
                           << "'";
  auto name = dyn_cast<StringAttr>(attribute.getValue());
  if (!name || name.getValue().empty())
    return op->emitError() << "'" << attrName << "' of argument #" << argIndex
                           << " must be a non-empty string";
  return success();
}
