//===- LLMGradientInterface.cpp - reverse-mode gradients ------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//

#include "llm/Dialect/LLM/IR/LLMGradientInterface.h"

#include "llm/Dialect/LLM/IR/LLMGradientInterface.cpp.inc"
