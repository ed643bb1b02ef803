//===- Pipelines.cpp - named lowering pipelines -----------------*- C++ -*-===//
//
// See Pipelines.h. The order matters in two places: memref lowering (which
// also lowers the alloca scopes scf-to-openmp creates) runs before
// scf-to-cf, since an alloca scope must keep a single block; and the entry
// points are exported after func-to-llvm has produced the C interfaces.
//
//===----------------------------------------------------------------------===//

#include "llm/Pipelines/Pipelines.h"

#include "llm/Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::llm;

void mlir::llm::buildLowerToCPUPipeline(OpPassManager &pm,
                                        const LowerToCPUOptions &options) {
  // llm -> linalg on tensors.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createConvertLLMToLinalg());
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(createLinalgElementwiseOpFusionPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  // Tensors -> buffers. Results come back in buffers the callee allocates.
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::buildBufferDeallocationPipeline(pm);

  // Loops.
  if (options.parallel) {
    pm.addPass(createConvertLinalgToParallelLoopsPass());
    pm.addPass(createConvertSCFToOpenMPPass());
  } else {
    pm.addPass(createConvertLinalgToLoopsPass());
  }
  // expand-strided-metadata produces affine.apply: lower affine after it.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());

  // -> LLVM dialect.
  if (options.exportEntryPoints)
    pm.addPass(createLLMMarkEntryPoints());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  if (options.parallel)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  if (options.exportEntryPoints)
    pm.addPass(createLLMExportEntryPoints());
  pm.addPass(createCanonicalizerPass());
}

void mlir::llm::registerLLMPipelines() {
  PassPipelineRegistration<LowerToCPUOptions>(
      "llm-lower-to-cpu",
      "Lower llm IR to the LLVM dialect for CPUs (see Pipelines.h)",
      buildLowerToCPUPipeline);
}
