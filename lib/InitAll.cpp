//===- InitAll.cpp - register what llm-opt's tools need ---------*- C++ -*-===//
//
// The dialect and pass registration shared by the llm tools.
//
//===----------------------------------------------------------------------===//

#include "llm/InitAll.h"

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

void mlir::llm::registerLLMDialects(DialectRegistry &registry) {
  registry.insert<LLMDialect, arith::ArithDialect, func::FuncDialect,
                  math::MathDialect, tensor::TensorDialect>();
}

void mlir::llm::registerLLMPasses() {
  registerCanonicalizerPass();
  registerCSEPass();
  registerInlinerPass();
  registerSymbolDCEPass();
}
