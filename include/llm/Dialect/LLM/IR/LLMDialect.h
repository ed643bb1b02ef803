//===- LLMDialect.h - the llm dialect ---------------------------*- C++ -*-===//
//
// Declares the llm dialect class.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_DIALECT_LLM_IR_LLMDIALECT_H
#define LLM_DIALECT_LLM_IR_LLMDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Dialect.h"

#include "llm/Dialect/LLM/IR/LLMDialect.h.inc"

#endif // LLM_DIALECT_LLM_IR_LLMDIALECT_H
