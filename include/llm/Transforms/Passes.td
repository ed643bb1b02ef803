//===- Passes.td - code generation passes of llm-opt --------*- tablegen -*-===//
//
// Passes that turn upstream IR (linalg, math) into fast CPU code: register-
// tiled vector kernels for the projections and vectorizable math.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_TRANSFORMS_PASSES_TD
#define LLM_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LLMLowerContractionsToVector
    : Pass<"llm-lower-contractions-to-vector", "::mlir::func::FuncOp"> {
  let summary = "Register-tiled vector kernels for projection contractions";
  let description = [{
    Rewrites the f32 projection contractions that `convert-llm-to-linalg`
    produces, once bufferized (`linalg.generic` on memrefs with loops
    `(lead..., n, k)`, `out[lead..., n] += x[lead..., k] * w[..]`), into
    explicit loop nests of vector code. The leading dims are collapsed into
    one row dim M.

    * Weight stored `[in, out]` (`w[k, n]`): an outer-product kernel. The
      output is cut into panels of `col-vectors` vectors (N); an
      `scf.parallel` runs over the panels, and within a panel an
      `row-tile` x `col-vectors` accumulator tile stays in registers over
      a block of `k-tile` weight rows (the panel's slice of them first
      copied to a contiguous stack buffer, so that the weight's row stride
      neither aliases in L1 nor defeats the prefetchers): one broadcast of
      x, `col-vectors` loads of the packed weight row and
      `row-tile * col-vectors` `vector.fma` per k. Rows left
      over use a one-row tile; columns left over use a scalar contraction.
    * Weight stored `[out, in]` (`w[n, k]`): a dot-product kernel. An
      `scf.parallel` runs over groups of `dot-cols` weight rows (which stay
      in L1 while every row of x streams past); a `dot-rows` x `dot-cols`
      tile of vector accumulators runs along K, then reduces horizontally.

    The schedule is data: the vector width and tile sizes are options, which
    the pipeline picks from the target. Contractions that do not match
    (other element types, strided operands) are left alone.
  }];
  let options = [
    Option<"parallel", "parallel", "bool", /*default=*/"true",
           "Emit scf.parallel over panels / outer dims (for scf-to-openmp); "
           "scf.for otherwise">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes per vector register">,
    Option<"rowTile", "row-tile", "int64_t", /*default=*/"6",
           "rows of the [in, out] kernel's register tile">,
    Option<"colVectors", "col-vectors", "int64_t", /*default=*/"4",
           "vectors across the [in, out] kernel's register tile">,
    Option<"kTile", "k-tile", "int64_t", /*default=*/"256",
           "rows of the [in, out] weight packed per panel and block">,
    Option<"dotRows", "dot-rows", "int64_t", /*default=*/"4",
           "rows of x in the [out, in] kernel's register tile">,
    Option<"dotCols", "dot-cols", "int64_t", /*default=*/"6",
           "weight rows in the [out, in] kernel's register tile">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def LLMFuseElementwiseOps : Pass<"llm-fuse-elementwise-ops"> {
  let summary = "Fuse elementwise producers where nothing is recomputed";
  let description = [{
    Upstream's `linalg-fuse-elementwise-ops` (elementwise producer fusion,
    reshape folding by expansion, the same cleanups), with a stricter
    control: a producer fuses into a consumer only when the consumer reads
    it through a permutation map, so that every produced element is still
    computed once. Fusing, say, softmax's normalization into the P.V
    contraction would recompute each division once per output column and
    turn a contraction the vector kernels know into one they do not.
  }];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LLMApproximateMath : Pass<"llm-approximate-math"> {
  let summary = "Replace libm calls by vectorizable polynomial approximations";
  let description = [{
    Rewrites f32 `math.tanh`, `math.erf`, `math.exp`, `math.log` and
    friends into arith polynomials (upstream's approximations, accurate to
    a few ulp), so that the loops around them vectorize instead of calling
    libm once per element.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect",
    "::mlir::vector::VectorDialect"
  ];
}

#endif // LLM_TRANSFORMS_PASSES_TD
