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
#include "llm/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::llm;

/// The projection kernels' schedule for a vector register width: tiles
/// that keep the accumulators plus one row of weights in the register file
/// (32 registers with AVX-512, 16 with AVX2).
static std::optional<LLMLowerContractionsToVectorOptions>
contractionSchedule(unsigned vectorBits) {
  LLMLowerContractionsToVectorOptions options;
  switch (vectorBits) {
  // kTile rows of a copied panel (attention's and the gradients' batched
  // contractions) stay in L1 (16 KiB with AVX-512) while every row tile of
  // x streams past them; packed weights stream longer blocks (the pass's
  // packed-k-tile).
  case 512: // 6x4 accumulators + 4 weight vectors; 4x6 dot accumulators.
    options.vectorWidth = 16;
    options.kTile = 64;
    options.rowTile = 6;
    options.colVectors = 4;
    options.dotRows = 4;
    options.dotCols = 6;
    return options;
  case 256: // 4x3 + 3; 3x4.
    options.vectorWidth = 8;
    options.kTile = 128;
    options.rowTile = 4;
    options.colVectors = 3;
    options.dotRows = 3;
    options.dotCols = 4;
    return options;
  case 128:
    options.vectorWidth = 4;
    options.kTile = 128;
    options.rowTile = 4;
    options.colVectors = 3;
    options.dotRows = 3;
    options.dotCols = 4;
    return options;
  default:
    return std::nullopt;
  }
}

void mlir::llm::buildLLMToLinalgPipeline(OpPassManager &pm,
                                         const LowerToCPUOptions &options) {
  pm.addPass(createCanonicalizerPass());
  if (options.lmHeadChunk > 0) {
    LLMChunkLMHeadOptions chunk;
    chunk.rows = options.lmHeadChunk;
    pm.addNestedPass<func::FuncOp>(createLLMChunkLMHead(chunk));
  }
  if (options.recomputeNorms)
    pm.addNestedPass<func::FuncOp>(createLLMRecomputeNorms());
  if (options.fuseQKV) {
    LLMFuseQKVOptions qkv;
    qkv.gateUp = options.fuseGateUp;
    pm.addNestedPass<func::FuncOp>(createLLMFuseQKV(qkv));
  }
  if (options.fuseAttention) {
    LLMFuseAttentionOptions fuse;
    fuse.queryTile = options.attentionQueryTile;
    fuse.keyTile = options.attentionKeyTile;
    pm.addPass(createLLMFuseAttention(fuse));
  }
  pm.addPass(createConvertLLMToLinalg());
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(createLLMFuseElementwiseOps());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Once elementwise chains are whole: into the projections producing them
  // (the residual's add then fuses with the bias broadcast).
  if (options.fuseEpilogue) {
    pm.addPass(createLLMFuseEpilogue());
    pm.addPass(createLLMFuseElementwiseOps());
  }
  // Norms over tiles of rows. Neither canonicalization nor CSE after it:
  // the first would fold the tiles' slices of the statistics' buffers into
  // empty tensors of their own, which bufferize to an allocation per tile
  // (inside a parallel loop, out of the arena's reach); the second would
  // merge the empty tensors the pass gave each statistic back into one.
  if (options.fuseNorm)
    pm.addPass(createLLMFuseNorm());
  pm.addPass(createLLMApproximateMath());
  // Weights in the order the projection kernels stream them.
  if (auto schedule = contractionSchedule(options.vectorBits)) {
    LLMPackWeightsOptions pack;
    pack.panel = schedule->colVectors * schedule->vectorWidth;
    pm.addNestedPass<func::FuncOp>(createLLMPackWeights(pack));
  }
}

void mlir::llm::buildLinalgToLLVMPipeline(OpPassManager &pm,
                                          const LowerToCPUOptions &options) {
  // A zero accumulator CSE shared between ops: one each, not one and copies.
  pm.addNestedPass<func::FuncOp>(createLLMSplitDestinations());
  // Tensors -> buffers. Results come back in buffers the callee allocates.
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // KV caches updated in place stop being results (llm-derive-generation).
  pm.addPass(createLLMDropInPlaceResults());
  bufferization::buildBufferDeallocationPipeline(pm);
  // Results that alias an input (an updated KV cache) are returned as clones
  // the caller owns; clones become allocations and copies.
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addNestedPass<func::FuncOp>(createLLMCopiesToLinalg());
  // llm-fuse-norm's tile loops: parallel, each tile's buffers on the stack
  // (scf-to-openmp scopes each iteration's allocas); serial, sequential
  // loops, whose tiles share one arena slot (llm-plan-memory), since a
  // serial scf.parallel would keep every iteration's allocas to the end of
  // the function.
  if (options.parallel)
    pm.addPass(createForallToParallelLoopPass());
  else
    pm.addPass(createForallToForLoopPass());

  // Projections -> register-tiled vector kernels (parallel over panels).
  if (auto schedule = contractionSchedule(options.vectorBits)) {
    schedule->parallel = options.parallel;
    pm.addNestedPass<func::FuncOp>(
        createLLMLowerContractionsToVector(*schedule));
  }

  // Elementwise ops and row reductions -> vector loops, same vector width.
  if (auto schedule = contractionSchedule(options.vectorBits)) {
    LLMVectorizeElementwiseOptions vectorize;
    vectorize.vectorWidth = schedule->vectorWidth;
    vectorize.parallel = options.parallel;
    pm.addNestedPass<func::FuncOp>(createLLMVectorizeElementwise(vectorize));
  }

  // Intermediates (the kernels' scratch buffers included) -> views of one
  // arena per entry point.
  if (options.planMemory) {
    LLMPlanMemoryOptions plan;
    plan.maxSeq = options.maxSeq;
    pm.addPass(createLLMPlanMemory(plan));
  }

  // Loops.
  if (options.parallel) {
    pm.addPass(createConvertLinalgToParallelLoopsPass());
    pm.addPass(createConvertSCFToOpenMPPass());
  } else {
    pm.addPass(createConvertLinalgToLoopsPass());
  }
  // expand-strided-metadata produces affine.apply: lower affine after it.
  // Contiguous expand_shapes go first (it crashes on some dynamic ones).
  pm.addNestedPass<func::FuncOp>(createLLMReinterpretContiguousReshapes());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToLLVMPass());

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

void mlir::llm::buildLowerToCPUPipeline(OpPassManager &pm,
                                        const LowerToCPUOptions &options) {
  buildLLMToLinalgPipeline(pm, options);
  buildLinalgToLLVMPipeline(pm, options);
}

void mlir::llm::buildRaiseToLLMPipeline(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(createLLMRaiseAttention());
  pm.addNestedPass<func::FuncOp>(createLLMRaiseLinear());
  pm.addNestedPass<func::FuncOp>(createLLMRaiseNorms());
  pm.addNestedPass<func::FuncOp>(createLLMRaiseGelu());
  pm.addNestedPass<func::FuncOp>(createLLMRaisePositions());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::llm::registerLLMPipelines() {
  PassPipelineRegistration<>(
      "llm-raise",
      "Raise imported graphs to llm ops where Transformer structures are "
      "recognized (see Pipelines.h)",
      buildRaiseToLLMPipeline);
  PassPipelineRegistration<LowerToCPUOptions>(
      "llm-lower-to-cpu",
      "Lower llm IR to the LLVM dialect for CPUs (see Pipelines.h)",
      buildLowerToCPUPipeline);
}
