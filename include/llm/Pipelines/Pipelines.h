//===- Pipelines.h - named lowering pipelines -------------------*- C++ -*-===//
//
// The pipelines that take llm IR to the LLVM dialect, registered by name so
// that `llm-opt --llm-lower-to-cpu` and `llm-compile` run the same passes.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_PIPELINES_PIPELINES_H
#define LLM_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace mlir::llm {

/// Options of the llm-lower-to-cpu pipeline.
struct LowerToCPUOptions : public PassPipelineOptions<LowerToCPUOptions> {
  PassOptions::Option<bool> parallel{
      *this, "parallel",
      llvm::cl::desc("Run parallel loops on OpenMP threads (the runtime sets "
                     "the thread count)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> exportEntryPoints{
      *this, "export-entry-points",
      llvm::cl::desc("Add the artifact ABI's llm_NAME(void **) entry points"),
      llvm::cl::init(true)};
};

/// llm (+ func/arith/tensor/math) on tensors -> the LLVM dialect: lower llm
/// ops to linalg, fuse elementwise producers, bufferize (one-shot, identity
/// layouts at function boundaries, results returned in fresh buffers),
/// lower loops (OpenMP-parallel where the iteration space allows), and
/// convert everything to the LLVM dialect with C interfaces and the ABI's
/// entry points.
void buildLowerToCPUPipeline(OpPassManager &pm,
                             const LowerToCPUOptions &options);

/// Registers `llm-lower-to-cpu`.
void registerLLMPipelines();

} // namespace mlir::llm

#endif // LLM_PIPELINES_PIPELINES_H
