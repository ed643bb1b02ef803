//===- LLMGradientInterface.h - reverse-mode gradients ----------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Declares GradientOpInterface (LLMGradientInterface.td), which llm-autodiff
// uses to build backward functions.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_DIALECT_LLM_IR_LLMGRADIENTINTERFACE_H
#define LLM_DIALECT_LLM_IR_LLMGRADIENTINTERFACE_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"

#include "llm/Dialect/LLM/IR/LLMGradientInterface.h.inc"

#endif // LLM_DIALECT_LLM_IR_LLMGRADIENTINTERFACE_H
