//===- Passes.td - conversion passes of llm-opt -------------*- tablegen -*-===//
//
// Passes that lower the llm dialect to upstream dialects.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_CONVERSION_PASSES_TD
#define LLM_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertLLMToLinalg : Pass<"convert-llm-to-linalg"> {
  let summary = "Lower llm ops to linalg, tensor, arith and math";
  let description = [{
    Rewrites every llm op into `linalg.generic` (and `linalg.fill`) ops on
    tensors, with `tensor.expand_shape` / `tensor.collapse_shape` to split
    attention heads. Projections are contractions over the weight in its
    stored layout (no transposed copies), norms and softmax are reductions
    followed by elementwise maps, and attention materializes its scores per
    head group. Reduced-precision inputs (f16, bf16) compute in f32.

    The KV-cache form of `llm.attention` becomes an `scf.for` over the batch
    that writes each sequence's new keys and values into its cache rows (in
    place after bufferization), followed by attention over the cache rows in
    use, with the rows past each sequence's end masked.

    Example:

    ```mlir
    %y = llm.linear %x, %w : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
    // becomes a linalg.fill of zeros and a linalg.generic contraction over
    // (m, n, k) reading %x[m, k] and %w[n, k].
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LLMFuseAttention : Pass<"llm-fuse-attention"> {
  let summary = "Lower llm.attention to a tiled online softmax (flash-style)";
  let description = [{
    Rewrites every `llm.attention` into an `scf.for` over tiles of query
    rows and, inside it, an `scf.for` over tiles of keys. Each key tile's
    scores are computed, scaled and masked, and folded into a running
    row maximum `m`, row sum `l` and output accumulator `o`:

    ```
    m' = max(m, max_j s)      p = exp(s - m')
    l' = l * exp(m - m') + sum_j p
    o' = o * exp(m - m') + p V
    ```

    and the tile's output is `o / l`. The S x S score matrix is never
    materialized: the scores of one [query tile x key tile] block per head
    exist at a time, so attention memory grows linearly with the sequence
    length. With a causal mask, the key tiles wholly above the diagonal of
    a query tile are not visited. Every tile has the same size
    (min(tile, length)), which keeps the buffers' sizes loop-invariant so
    that bufferization hoists them out of the loops; the last tile starts
    early enough to fit, the query rows it repeats are recomputed, and the
    keys it repeats are masked. Masks, grouped-query heads, scaling and the
    KV-cache form lower as in `convert-llm-to-linalg`, whose materializing
    lowering is the reference this pass is tested against.

    `llm.attention_grad` (the gradient `llm-autodiff` builds) lowers here
    after FlashAttention-2's backward, over the same tiles: rowsum(dO * O),
    then each row's log-sum-exp (the online softmax without its output),
    then one loop over query tiles with an inner loop over the key tiles
    each sees, where a block's probabilities P = exp(s - lse) and
    dS = P * (dO V^T - rowsum(dO * O)) * scale give dQ += dS K for the
    query tile and dK += dS^T Q, dV += P^T dO for the key tile (the loops
    run in order; each block's kernels are the parallel ones). The rows and
    keys a repeated last tile holds twice are masked, and repeated rows of
    dQ are not written again. `convert-llm-to-linalg` lowers it with one
    tile spanning every query and key (the scores materialized).

    Runs before `convert-llm-to-linalg` in `llm-lower-to-cpu` (option
    `fuse-attention`, on by default; `llm-compile --fuse-attention=false`).
  }];
  let options = [
    Option<"queryTile", "query-tile", "int64_t", "64",
           "Query rows per tile">,
    Option<"keyTile", "key-tile", "int64_t", "64", "Keys per tile">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LLMMarkEntryPoints : Pass<"llm-mark-entry-points", "::mlir::ModuleOp"> {
  let summary = "Ask func-to-llvm for C interfaces of the public functions";
  let description = [{
    Sets `llvm.emit_c_interface` on every public `func.func` with a body, so
    that `convert-func-to-llvm` emits `_mlir_ciface_NAME`, which takes and
    returns memrefs through pointers to descriptors. Runs before the
    conversion to the LLVM dialect; `llm-export-entry-points` finishes the job.
  }];
}

def LLMExportEntryPoints : Pass<"llm-export-entry-points", "::mlir::ModuleOp"> {
  let summary = "Add the artifact ABI's C entry points";
  let description = [{
    For every `llvm.func @_mlir_ciface_NAME` adds `i32 llm_NAME(ptr args)`,
    which reads one descriptor pointer per input and then one per result
    from `args` and calls the C interface (see docs/ABI.md). Also adds
    `i32 llm_abi_version()` and `void llm_set_num_threads(i32)`, which sets
    the OpenMP thread count when the module uses OpenMP and does nothing
    otherwise. Runs on a module already in the LLVM dialect.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // LLM_CONVERSION_PASSES_TD
