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
  PassOptions::Option<unsigned> vectorBits{
      *this, "vector-bits",
      llvm::cl::desc("Width of the target's vector registers, which picks the "
                     "projection kernels' schedule (512: AVX-512, 256: AVX2; "
                     "0: no vector kernels)"),
      llvm::cl::init(512)};
  PassOptions::Option<bool> fuseAttention{
      *this, "fuse-attention",
      llvm::cl::desc("Lower attention as a tiled online softmax that never "
                     "materializes the score matrix (llm-fuse-attention)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fuseQKV{
      *this, "fuse-qkv",
      llvm::cl::desc("Merge projections of one input (Q, K, V) into one over "
                     "weights the runtime concatenates at bind time "
                     "(llm-fuse-qkv)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fuseGateUp{
      *this, "fuse-gate-up",
      llvm::cl::desc("With fuse-qkv, merge a gated FFN's gate and up "
                     "projections into one too (llm-fuse-qkv gate-up)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fuseEpilogue{
      *this, "fuse-epilogue",
      llvm::cl::desc("Fold a projection's residual add into its starting "
                     "value and its activation into its kernel "
                     "(llm-fuse-epilogue)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fuseNorm{
      *this, "fuse-norm",
      llvm::cl::desc("Compute each norm's statistics and the norm in one "
                     "pass over tiles of rows (llm-fuse-norm)"),
      llvm::cl::init(true)};
  PassOptions::Option<unsigned> lmHeadChunk{
      *this, "lm-head-chunk",
      llvm::cl::desc("Rows per chunk of the LM head, its cross-entropy and "
                     "their gradients, so that a training step never holds "
                     "the whole logits (llm-chunk-lm-head; 0: off)"),
      llvm::cl::init(128)};
  PassOptions::Option<bool> recomputeNorms{
      *this, "recompute-norms",
      llvm::cl::desc("Where a backward reads a norm's output, recompute it "
                     "there instead of keeping it from the forward "
                     "(llm-recompute-norms)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> attentionQueryTile{
      *this, "attention-query-tile",
      llvm::cl::desc("Query rows per tile of the fused attention"),
      llvm::cl::init(64)};
  PassOptions::Option<int64_t> attentionKeyTile{
      *this, "attention-key-tile",
      llvm::cl::desc("Keys per tile of the fused attention"),
      llvm::cl::init(64)};
  PassOptions::Option<bool> planMemory{
      *this, "plan-memory",
      llvm::cl::desc("Place each entry point's intermediate buffers in one "
                     "arena the caller passes (llm-plan-memory)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> maxSeq{
      *this, "max-seq",
      llvm::cl::desc("The sequence bound the arena is planned at (0: the "
                     "module's llm.max_positions)"),
      llvm::cl::init(0)};
};

/// llm (+ func/arith/tensor/math) on tensors -> the LLVM dialect: lower llm
/// ops to linalg, fuse elementwise producers, replace libm calls by
/// polynomials, bufferize (one-shot, identity layouts at function
/// boundaries, results returned in fresh buffers), emit register-tiled
/// vector kernels for the projections, lower the remaining loops (OpenMP-parallel where the iteration space allows), and
/// convert everything to the LLVM dialect with C interfaces and the ABI's
/// entry points.
/// llm IR to linalg on tensors, parameters packed for the kernels (the
/// function signatures are final after this stage: `llm-compile` writes the
/// manifest from them).
void buildLLMToLinalgPipeline(OpPassManager &pm,
                              const LowerToCPUOptions &options);

/// Linalg on tensors to the LLVM dialect: bufferization, vector kernels,
/// OpenMP loops, entry points.
void buildLinalgToLLVMPipeline(OpPassManager &pm,
                               const LowerToCPUOptions &options);

/// Both stages: `llm-lower-to-cpu`.
void buildLowerToCPUPipeline(OpPassManager &pm,
                             const LowerToCPUOptions &options);

/// Imported graphs (op-by-op linalg) to llm ops where Transformer structures
/// are recognized: canonicalization, then the llm-raise-* passes
/// (`llm-raise`). What is not recognized stays as it is.
void buildRaiseToLLMPipeline(OpPassManager &pm);

/// Registers `llm-lower-to-cpu` and `llm-raise`.
void registerLLMPipelines();

} // namespace mlir::llm

#endif // LLM_PIPELINES_PIPELINES_H
