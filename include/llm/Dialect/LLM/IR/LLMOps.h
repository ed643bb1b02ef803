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

#define GET_OP_CLASSES
#include "llm/Dialect/LLM/IR/LLMOps.h.inc"

#endif // LLM_DIALECT_LLM_IR_LLMOPS_H
