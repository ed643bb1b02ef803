//===- InitAll.cpp - register what llm-opt's tools need ---------*- C++ -*-===//
//
// The dialect and pass registration shared by the llm tools.
//
//===----------------------------------------------------------------------===//

#include "llm/InitAll.h"

#include "llm/Conversion/Passes.h"
#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Pipelines/Pipelines.h"
#include "llm/Transforms/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/TilingInterfaceImpl.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/IR/TensorInferTypeOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

void mlir::llm::registerLLMDialects(DialectRegistry &registry) {
  registry.insert<LLMDialect, affine::AffineDialect, arith::ArithDialect,
                  func::FuncDialect, linalg::LinalgDialect, math::MathDialect,
                  memref::MemRefDialect, scf::SCFDialect, tensor::TensorDialect,
                  vector::VectorDialect>();
  // What one-shot bufferization needs to know about the upstream ops the
  // lowering produces.
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerTilingInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  // The sizes of tensor reshapes, for whatever reifies shapes (upstream
  // patterns, llm-compile --stats).
  tensor::registerInferTypeOpInterfaceExternalModels(registry);
  // Gradients for llm-autodiff.
  registerGradientExternalModels(registry);
}

void mlir::llm::registerLLMPasses() {
  registerLLMConversionPasses();
  registerLLMTransformsPasses();
  registerLLMPipelines();
  registerCanonicalizerPass();
  // For running the lowering's first steps one by one (lit tests).
  registerConvertElementwiseToLinalgPass();
  registerCSEPass();
  registerInlinerPass();
  registerSymbolDCEPass();
}
