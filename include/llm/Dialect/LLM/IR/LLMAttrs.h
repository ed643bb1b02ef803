//===- LLMAttrs.h - enums and attributes of the llm dialect -----*- C++ -*-===//
//
// Declares the llm dialect's enums (activation, weight layout, ...) and the
// attributes that wrap them.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_DIALECT_LLM_IR_LLMATTRS_H
#define LLM_DIALECT_LLM_IR_LLMATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "llm/Dialect/LLM/IR/LLMEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "llm/Dialect/LLM/IR/LLMAttrs.h.inc"

namespace mlir::llm {

/// True for activations that multiply a gate projection with the up
/// projection (SwiGLU, GeGLU).
inline bool isGatedActivation(Activation activation) {
  return activation == Activation::SwiGLU || activation == Activation::GeGLU;
}

} // namespace mlir::llm

#endif // LLM_DIALECT_LLM_IR_LLMATTRS_H
