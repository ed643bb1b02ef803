//===- LLMOps.h - operations of the llm dialect -----------------*- C++ -*-===//
//
// Declares the llm ops generated from LLMOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_DIALECT_LLM_IR_LLMOPS_H
#define LLM_DIALECT_LLM_IR_LLMOPS_H

#include "llm/Dialect/LLM/IR/LLMAttrs.h"
#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::llm::detail {
/// Fails when an operand or result tensor of `op` holds more bytes than
/// int64 can count.
LogicalResult verifyBoundedTensorSizes(Operation *op);
} // namespace mlir::llm::detail

namespace mlir::OpTrait::llm {
/// Checks that every tensor an llm op touches has a representable byte size.
template <typename ConcreteType>
class BoundedTensorSizes : public TraitBase<ConcreteType, BoundedTensorSizes> {
public:
  static LogicalResult verifyTrait(Operation *op) {
    return ::mlir::llm::detail::verifyBoundedTensorSizes(op);
  }
};
} // namespace mlir::OpTrait::llm

#define GET_OP_CLASSES
#include "llm/Dialect/LLM/IR/LLMOps.h.inc"

#endif // LLM_DIALECT_LLM_IR_LLMOPS_H
