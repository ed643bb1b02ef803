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
    * Weight packed by `llm-pack-weights` (`w[n floordiv P, k, n mod P]`):
      the same outer-product kernel reading each panel's block of `k-tile`
      rows in place (one contiguous stream, no copy), and x's full row
      tiles from a copy interleaved once per call (`xp[t][k][r]`, so the
      broadcasts read one sequential stream); full panels in an
      `scf.parallel`, a last partial panel with masked loads and stores of
      the output.
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
    Option<"packedKTile", "packed-k-tile", "int64_t", /*default=*/"1024",
           "rows of a packed weight's panel per block (the accumulators "
           "of a row tile are loaded and stored once per block)">,
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

def LLMSplitDestinations
    : Pass<"llm-split-destinations", "::mlir::func::FuncOp"> {
  let summary = "Give each op that writes a shared fill of zeros its own";
  let description = [{
    Before one-shot bufferization. CSE merges identical `linalg.fill`s on
    tensors (every projection's zero accumulator of one shape, in a training
    step's forward and backward alike), so one value becomes the
    destination of many ops. Bufferized, it is one buffer, filled once, that
    one op writes in place and the others copy, live from the fill to the
    last copy: a table of zeros held across the whole step, and a copy per
    op.

    This pass gives each use that may write such a fill (any use but a
    destination-style op's input) a clone of the `linalg.fill` and of the
    `tensor.empty` it fills, placed right before the user (its ancestor in
    the fill's block). Each destination then bufferizes to its own buffer,
    filled where it is written, without copies; reads keep the original,
    which goes when nothing reads it. A fill written once and not read
    otherwise is left as it is, and so is a `tensor.empty` shared without a
    fill (nothing reads it: bufferization writes it in place).
  }];
}

def LLMPackWeights : Pass<"llm-pack-weights", "::mlir::func::FuncOp"> {
  let summary = "Ask for projection weights in panel-major order";
  let description = [{
    On tensors, after `convert-llm-to-linalg`: every `llm.param` argument of
    a public function that projections read as their weight (`[out, in]`
    or `[in, out]`, f32, at least `panel` output columns) is replaced by an
    argument of type `tensor<ceil(N / panel) x K x panel x f32>` holding
    the weight panel by panel (the last one zero-padded), and the
    projections read it through the map
    `(lead..., n, k) -> (n floordiv panel, k, n mod panel)`. The new
    argument keeps the `llm.param` name and gets
    `llm.packed = {layout, panel, shape}` (the checkpoint tensor's layout
    and shape), which `llm-compile` writes into the manifest so that the
    runtime packs the tensor once when it binds it. A parameter with other
    uses keeps its argument for them and gets a second, packed one.

    This is what lets `llm-lower-contractions-to-vector` stream each
    panel from one contiguous block instead of copying it out of the
    checkpoint layout on every call.
  }];
  let options = [
    Option<"panel", "panel", "int64_t", /*default=*/"64",
           "output columns per panel (the kernels' vectors per tile x "
           "lanes)">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def LLMReinterpretContiguousReshapes
    : Pass<"llm-reinterpret-contiguous-reshapes", "::mlir::func::FuncOp"> {
  let summary = "Strided memref.expand_shape ops as memref.reinterpret_cast";
  let description = [{
    Rewrites every `memref.expand_shape` of a strided buffer into a
    `memref.reinterpret_cast` with the output shape's sizes: of the same
    buffer at offset 0 with row-major strides for an identity layout, else
    of the source's base buffer at its offset, each source dim's stride
    kept by the innermost dim it splits into (a slice of a fused Q/K/V
    output split into heads keeps its row stride). The pass name predates
    strided sources. Runs before
    `expand-strided-metadata`, which (in MLIR 22) crashes on expand_shape
    ops that split a dynamic dim into several dynamic dims, as dynamic
    reshapes of imported ONNX graphs do.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect"
  ];
}

def LLMCopiesToLinalg : Pass<"llm-copies-to-linalg", "::mlir::func::FuncOp"> {
  let summary = "memref.copy as linalg.copy";
  let description = [{
    After bufferization: every `memref.copy` becomes a `linalg.copy`, which
    the pipeline lowers to loops. A `memref.copy` between buffers that are
    not both contiguous would otherwise lower to a call to the C runner
    utilities' `memrefCopy`, which compiled artifacts do not link.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
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

def LLMChunkLMHead : Pass<"llm-chunk-lm-head", "::mlir::func::FuncOp"> {
  let summary = "Compute the LM head, its loss and their gradients over "
                "chunks of rows";
  let description = [{
    On the llm dialect, in a function that computes a cross-entropy loss
    and its gradient (a training step, llm-autodiff's VJPs): the logits
    `llm.linear %h, %w` are `[rows, classes]` (196 MiB for 1024 tokens of
    GPT-2), and the softmax's gradient is as large again, though each row
    only feeds its own row of the loss and of the gradients. The pass
    matches what llm-autodiff emits for `llm.linear` + `llm.cross_entropy`:

    * the logits, read only by the loss and by one `llm.softmax` over the
      classes;
    * the softmax, read only by one all-parallel `linalg.generic` (the
      softmax's gradient) that reads its other inputs by row (their leading
      dims are the rows) or not by row at all;
    * that gradient, read only by `llm.linear` ops (the input gradient,
      `dl · w`) and by `linalg.generic` sums over its rows into an
      accumulator that does not vary with them (the weight gradient,
      `dW += dlᵀ · h`).

    All of them become one `scf.for` nest: over the outer row dims (one
    row each) and over chunks of `rows` rows of the last. Each iteration
    projects its rows, adds their loss (reduction `sum`) to a running sum,
    takes their softmax and its gradient, writes their rows of each input
    gradient and adds to each weight gradient in place. A `mean` loss is
    the sum divided by the number of labelled positions after the loop;
    `none` writes each chunk's losses. The logits and their gradient then
    exist one chunk at a time; the arithmetic is the same.

    Where the logits have other readers (an eval step returns them), or
    the loop cannot be placed after all its inputs and before all uses of
    its results, nothing changes. With `remarks`, each rewrite is reported
    at the loss.
  }];
  let options = [
    Option<"rows", "rows", "int64_t", /*default=*/"128",
           "Rows of the logits per chunk">,
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Report each rewrite as a remark">
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LLMRecomputeNorms : Pass<"llm-recompute-norms", "::mlir::func::FuncOp"> {
  let summary = "Recompute norm outputs where a backward reads them";
  let description = [{
    On the llm dialect, in a function that computes a loss and then its
    gradient (a training step, llm-autodiff's VJPs): the forward ends at
    the first op that is or holds an `llm.cross_entropy` or `llm.kl_div`.
    A `llm.layer_norm` or `llm.rms_norm` before it whose output is read
    both before and after it (by the next projection, and by that
    projection's weight gradient) is cloned right before its first reader
    after it, which and every later reader then read the clone. The
    norm's own gradient reads its input, so the input is live there
    anyway: the pass requires the input to be read at or after that point
    (and the weight and bias to be function arguments or read there too),
    so that recomputing extends no buffer's life, while the output is no
    longer held from the forward to the backward (two [S, d] activations
    per Transformer layer). The cost is one pass of the norm per layer.

    With `remarks`, each recomputed norm is reported.
  }];
  let options = [
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Report each recomputed norm as a remark">
  ];
}

def LLMFuseQKV : Pass<"llm-fuse-qkv", "::mlir::func::FuncOp"> {
  let summary = "Merge projections of one input into one over concatenated "
                "weights";
  let description = [{
    On the llm dialect, in an entry point (public, not a training step that
    takes the parameters as the runtime owns them): the `llm.linear` ops
    that project the same input, with the same weight layout, whose weights
    (and biases, all or none) are parameters (`llm.param` arguments with a
    static f32 type, not packed, not updated in place), become one
    `llm.linear` over a new parameter argument: their weights concatenated
    along the output features (rows of `[out, in]`, columns of `[in, out]`).
    Each old result is a `tensor.extract_slice` of the new one. LLaMA's and
    BERT's Q, K and V projections are the case this is for; GPT-2's are one
    tensor already.

    With `gate-up` (the default), a gated `llm.ffn` (SwiGLU, GeGLU) whose
    gate and up weights (and biases, both or neither) are such parameters
    becomes one `llm.linear` over their concatenation `[gate; up]`, an
    `llm.glu` of the two halves of its output, and the down projection as
    an `llm.linear`.

    The new argument is named by the parts joined with `+` and carries
    `llm.concat = {axis, parts, sizes}`: the checkpoint tensors in order and
    each one's extent along `axis`. `llm-compile` writes it into the
    manifest, and the runtime concatenates the tensors once when it binds
    the weights (docs/ABI.md); `llm-pack-weights` then packs the result like
    any other weight. The old arguments are dropped where nothing else
    reads them.

    With `remarks`, each fusion is reported at the fused projection.
  }];
  let options = [
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Report each fusion as a remark">,
    Option<"gateUp", "gate-up", "bool", /*default=*/"true",
           "Merge the gate and up projections of gated FFNs too">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LLMFuseEpilogue : Pass<"llm-fuse-epilogue"> {
  let summary = "Fold a projection's elementwise consumer into its kernel";
  let description = [{
    On tensors, after `convert-llm-to-linalg` and elementwise fusion: a
    projection (`linalg.generic` with loops `(lead..., n, k)`, body
    `out + x * w`) whose result has exactly one use, by an all-parallel
    `linalg.generic` that reads it elementwise (identity map, same type as
    its result), is fused with that consumer:

    * `projection + r` (an `arith.addf` of the result and another input,
      such as the residual after an output projection) becomes the
      projection's starting value: the accumulator starts at `bias + r`,
      and the add is gone.
    * Any other such consumer (an activation, bias-free or biased; SwiGLU's
      `act(gate) * up`) becomes an in-place update of the projection's
      result (`outs` is the projection) marked `llm.epilogue`. Once
      bufferized, `llm-lower-contractions-to-vector` applies its body to
      the accumulators as each tile's last block of K completes, so the
      output is written once. Where the kernel cannot (a dot-product
      kernel), the update runs as its own loop over the output, as before.

    Nothing fires where the projection's result has another use (that value
    must exist unmodified), where the consumer reads its own output, or
    where its body indexes or loads. A consumer's input computed after the
    projection moves the projection down to the consumer.

    With `remarks`, each fusion is reported as a remark at the consumer's
    location.
  }];
  let options = [
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Report each fusion as a remark at the consumer's location">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LLMFuseNorm : Pass<"llm-fuse-norm"> {
  let summary = "Compute a norm and its statistics in one pass over the rows";
  let description = [{
    On tensors, after elementwise and epilogue fusion. A LayerNorm or
    RMSNorm lowered by `convert-llm-to-linalg` is a chain of generics over
    the whole activation: row sums by `arith.addf` (the mean, then the
    variance or the mean square), per-row elementwise ops (`rsqrt(var +
    eps)`), and an all-parallel normalizing generic that reads the input
    rows whole and the statistics per row. Each walks every row, so the
    input is read from memory three times, in as many parallel loops.

    The pass tiles the normalizing generic along its rows (an `scf.forall`
    over tiles of `rows` rows of the last outer dimension, one of each
    other) and fuses the chain into the tile with upstream's
    `tileConsumerAndFuseProducersUsingSCF`: a tile's statistics are computed
    right before it is normalized, while its rows are in cache, and the
    chain is one parallel loop instead of five or six. An elementwise
    producer of the input rows that only the norm reads is fused too. One
    with other uses (a residual add no projection took, which the residual
    stream reads again) stays a loop of its own: yielding it from the tiles
    would clone it, and the statistics with it, for each use in a tile.
    With `llm-fuse-epilogue`, the residual adds of GPT-2, BERT and LLaMA are
    already part of a projection's output, which the norm then reads once.

    A tile's rows (`rows` of them, fewer where `rows` rows of a static
    length would exceed `max-tile-bytes`) are computed into a buffer of the
    tile's own, which `llm-plan-memory` puts on the stack; a norm one row of
    which exceeds `max-tile-bytes` is left as it is.

    Where the rows a tile reads whole (the norm's input, or its fused
    producer's) are computed in the same block and read by nothing after
    the norm (no views of them either), the norm writes its output over
    them: the `scf.forall` starts from those rows, and the tiles read them
    from its block argument. Bufferized, the output then takes their
    buffer. A training step's loss gradient, softmax(logits) - onehot, thus
    overwrites the logits (196 MiB for GPT-2-small at 1024 tokens).

    Projections and in-place epilogues (`llm.epilogue`) are never fused
    into the tiles. A standalone softmax matches too: its exponentials,
    their sum and the division share the tiles, while its max (not a sum)
    stays a pass of its own. With `remarks`, each fused norm is reported at
    its location.
  }];
  let options = [
    Option<"rows", "rows", "int64_t", /*default=*/"8",
           "Rows of the last outer dimension per tile">,
    Option<"maxTileBytes", "max-tile-bytes", "int64_t",
           /*default=*/"::mlir::llm::kMaxTileStackBytes",
           "The most bytes of rows per tile: fewer rows per tile where rows "
           "are longer, and no fusion where one row is longer">,
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Report each fused norm as a remark at its location">
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::scf::SCFDialect",
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

def LLMVectorizeElementwise
    : Pass<"llm-vectorize-elementwise", "::mlir::func::FuncOp"> {
  let summary = "Vector loops for elementwise and row-reduction generics";
  let description = [{
    Rewrites the bufferized `linalg.generic` ops that are not contractions
    (activations, softmax, layer norm, masking, bias broadcasts, residual
    adds, copies) and `linalg.fill` into explicit loops of vector code, run
    after `llm-lower-contractions-to-vector`:

    * the dims but the innermost become an `scf.parallel` (for
      `convert-scf-to-openmp`; `scf.for` without `parallel`);
    * the innermost dim runs in steps of `vector-width` lanes, then one
      masked step (`vector.create_mask`, `vector.maskedload`,
      `vector.maskedstore`) for the elements left over. Operands indexed by
      the innermost dim in their last result are read and written with
      `vector.load` / `vector.store`. What does not depend on the innermost
      dim (the other operands, outer indices, ops on those) is computed
      once per row on scalars and broadcast where a vector needs it. The
      body's other arith and math ops are cloned on vectors; `linalg.index`
      of the innermost dim becomes the step's index plus
      `[0, 1, ..., vector-width - 1]`, and a `memref.load` whose last index
      it is (a gather by row, as in the embedding) a vector load.
    * A row reduction (loops `parallel..., reduction`, the output not
      indexed by the reduction dim, the body folding one value into it with
      `arith.addf`, `mulf`, `maximumf`, `minimumf`, `maxnumf` or
      `minnumf`) carries a vector accumulator along the row, starting from
      the neutral element, and ends with a `vector.reduction` folded into the
      output. Sums are reassociated.

    Generics it does not know to be safe are left to the loop lowering:
    maps that are not projected permutations, vectors that would need a
    non-unit stride (transposes, strided views), several or non-innermost
    reduction dims, ops in the body that are not elementwise (or may trap on
    a masked-off lane, like an integer division by a loaded divisor),
    inputs that alias an output other than elementwise in place.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "lanes per vector (f32 lanes of a vector register)">,
    Option<"parallel", "parallel", "bool", /*default=*/"true",
           "Emit scf.parallel over the outer dims (for scf-to-openmp); "
           "scf.for otherwise">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def LLMRaiseAttention : Pass<"llm-raise-attention", "::mlir::func::FuncOp"> {
  let summary = "Raise imported scaled dot-product attention to llm.attention";
  let description = [{
    Recognizes attention in an imported graph's linalg form, starting from
    the `P.V` contraction:

    ```
    scores = expand(batch_matmul(collapse(Q), collapse(K^T)))   [B,H,S,T]
    scores = scores / c   or   scores * c                       (optional)
    scores = where(m, -big, scores)   or   scores + mask         (optional)
    out    = batch_matmul(collapse(softmax(scores, -1)), collapse(V))
    ```

    where `Q` is `[B,H,S,D]`, `K^T` `[B,H,D,T]` and `V` `[B,H,T,Dv]`,
    whatever computed them (reshape and transpose plumbing, RoPE, repeated
    KV heads). The match becomes one `llm.attention` with heads packed in
    the feature dim, the scale made explicit, and the mask as its operand
    (a boolean mask keeps the positions the graph does not fill; `-big` is
    any value at or below -1e30, as torch exports the dtype's lowest value).
    A kept mask that is Trilu's lower triangle of an all-true square (the
    causal mask torch exports) becomes the `causal` attribute instead.
    A subgraph that differs in any of these points is left as it is and
    still runs correctly. The transposes the rewrite adds fold into the
    surrounding plumbing on canonicalization.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::llm::LLMDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LLMRaiseLinear : Pass<"llm-raise-linear", "::mlir::func::FuncOp"> {
  let summary = "Raise imported MatMul/Gemm (+ bias Add) on a weight to llm.linear";
  let description = [{
    A 2-D `linalg.matmul` into zeros whose right operand is a weight (an
    `llm.param` argument or a constant) becomes `llm.linear` with `layout
    in_out`; read through a `[1, 0]` `linalg.transpose` (ONNX Gemm with
    `transB`), with `layout out_in` on the untransposed weight. When the
    product's one user adds a `[out]` vector broadcast over the rows, that
    add becomes the bias. A product of two activations, or a bias that is
    not such a vector, is left as it is.
  }];
  let dependentDialects = [
    "::mlir::llm::LLMDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LLMRaiseNorms : Pass<"llm-raise-norms", "::mlir::func::FuncOp"> {
  let summary = "Raise decomposed LayerNorm and RMSNorm to llm ops";
  let description = [{
    LayerNorm as exported op by op (ReduceMean, Sub, Pow, ReduceMean, Add,
    Sqrt, Div, then Mul by the weight and Add of the bias),
    `c = x - mean(x); c / sqrt(mean(c * c) + eps) * weight + bias`, becomes
    `llm.layer_norm`; RMSNorm, `x * (1 / sqrt(mean(x * x) + eps)) * weight`
    (the inverse also as a division or an rsqrt), becomes `llm.rms_norm`.
    The means run over the last dim with the dim kept; weight and bias are
    optional `[dim]` vectors; eps is a scalar. A chain that differs (a mean
    over another dim, a variance of another tensor) is left as it is.
    (Opset 17's LayerNormalization over the last dim is imported as
    `llm.layer_norm` directly.)
  }];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

def LLMRaiseGelu : Pass<"llm-raise-gelu", "::mlir::func::FuncOp"> {
  let summary = "Raise decomposed exact and tanh GELU to llm.gelu";
  let description = [{
    `(x * 0.5) * (1 + erf(x / sqrt(2)))` becomes `llm.gelu` and
    `(x * 0.5) * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))` becomes
    `llm.gelu approximate tanh`, with `x^3` as a power or products,
    divisions by constants also as multiplications by their inverses, and
    operands in either order. Constants must match to 1e-6 (relative);
    anything else is left as it is.
  }];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

def LLMRaisePositions : Pass<"llm-raise-positions", "::mlir::func::FuncOp"> {
  let summary = "Raise a learned position-table lookup to llm.positional_encoding";
  let description = [{
    torch exports GPT-2's learned positions as a lookup with computed ids,
    `wpe[Range(0, seq)]` broadcast over the batch, added to the token
    embedding. When the ids are that iota (as long as the token ids'
    sequence dim; ONNX's wrap of negative indices allowed) and the lookup
    is added to a token-embedding lookup, the add becomes
    `llm.positional_encoding learned %tokens table %wpe`: positions left
    implicit, which generation (`llm-derive-generation`) offsets by the
    cache position. Lookups with other ids are left as they are.
  }];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

def LLMAutodiff : Pass<"llm-autodiff", "::mlir::ModuleOp"> {
  let summary = "Build reverse-mode gradient functions (vector-Jacobian products)";
  let description = [{
    For each function named in `functions` (default: every public function
    with a body and tensor results), adds `NAME_vjp` taking the function's
    arguments followed by one gradient per result (the seed: 1.0 for a
    scalar loss) and returning the function's results followed by the
    gradient of every floating-point tensor argument (zeros where none
    flows; integer arguments such as token ids and labels get none).

    The backward walks the forward's ops in reverse and asks each for the
    gradients of its operands through `GradientOpInterface`
    (lib/Transforms/Gradients.cpp: every llm op — attention with masks,
    causal and GQA but not its KV-cache form, ffn by recomputing its
    projections, rope as rope at negated positions; arith add/sub/mul/div/neg
    on tensors; tensor slices, reshapes and casts), summing the gradients of values with several uses.
    Statistics are recomputed from the forward's values, not saved. An op
    on the gradient path without a gradient is an error naming it.
  }];
  let options = [
    ListOption<"functions", "functions", "std::string",
               "The functions to differentiate (default: all public ones)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::llm::LLMDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LLMBuildTrainStep : Pass<"llm-build-train-step", "::mlir::ModuleOp"> {
  let summary = "Build the compiled training step: loss, gradients, AdamW in place";
  let description = [{
    From `forward` (token ids and parameters in, logits `[batch, seq,
    vocab]` out) builds

    ```
    train_step(forward's args, labels [batch, seq], adam.m.P..., adam.v.P...,
               optimizer tensor<8xf32>) -> (loss, grad_norm)
    ```

    The loss is the mean cross-entropy of the logits against `labels`
    (`-100` ignored: shifted labels for causal LM, masked positions for
    masked LM). Its gradients come from llm-autodiff's builder; the global
    gradient norm is returned, and with `max_grad_norm > 0` the gradients
    are scaled by `min(1, max_grad_norm / (norm + 1e-6))` (PyTorch's
    `clip_grad_norm_`). Each parameter P and its moments are then updated by
    AdamW (PyTorch's algorithm; weight decay on parameters of rank >= 2
    only, not on biases and norm weights). `optimizer` holds `[lr, beta1,
    beta2, eps, weight_decay, 1 - beta1^t, 1 - beta2^t, max_grad_norm]` for
    step t (the runtime computes the bias corrections). The updated
    parameters and moments are results marked `llm.in_place`, written into
    the caller's buffers (llm-drop-in-place-results). `eval_step(forward's
    args, labels) -> (loss, logits)` computes the same loss without an
    update, and returns the logits too. Both
    carry `llm.unpacked_params`: llm-pack-weights leaves their parameters in
    the checkpoint layout the runtime keeps and updates.

    With `distill=true` it also builds

    ```
    distill_step(forward's args, labels, teacher_logits [batch, seq, vocab],
                 distill tensor<2xf32>, adam.m.P..., adam.v.P...,
                 optimizer) -> (loss, grad_norm)
    ```

    the same update on the knowledge-distillation loss of Hinton et al.:
    `alpha * T^2 * llm.kl_div(logits, teacher_logits, labels, T) + (1 -
    alpha) * cross_entropy(logits, labels)` with `distill = [T, alpha]`
    given at run time.
  }];
  let options = [
    Option<"forwardName", "forward", "std::string", /*default=*/"\"forward\"",
           "The function computing the logits">,
    Option<"distill", "distill", "bool", /*default=*/"false",
           "Also build distill_step (a teacher's logits as soft targets)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::llm::LLMDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LLMDeriveGeneration : Pass<"llm-derive-generation", "::mlir::ModuleOp"> {
  let summary = "Derive KV-cache prefill and decode entry points from forward";
  let description = [{
    From a decoder's `forward` (token ids `[batch, seq]` in, logits
    `[batch, seq, vocab]` out, every attention causal self-attention) builds
    two more public functions that generate text with a KV cache:

    ```
    prefill(input_ids [B, S], cache_position [B], lengths [B], params...,
            cache.key.0 [B, KVH, C, D], cache.value.0 [B, KVH, C, Dv], ...)
        -> (logits [B, vocab], updated caches...)
    decode(input_ids [B, 1], cache_position [B], params..., caches...)
        -> (logits [B, vocab], updated caches...)
    ```

    Row `b`'s tokens sit at absolute positions `cache_position[b] + i`:
    learned and sinusoidal position encodings and RoPE read those positions,
    and every `llm.attention` takes the cached form, writing its keys and
    values into that layer's caches (capacity `C` rows) before attending to
    rows `0 .. cache_position[b] + S - 1`. `prefill` returns the logits of
    row `b`'s token `lengths[b] - 1` (a right-padded batch of prompts of
    different lengths); the gather happens before the final norm and LM
    head when the logits are `linear(norm(x))`, so the head runs on one row
    per sequence. `decode` returns the logits of its one token.

    The updated caches are results marked `llm.in_place` with the name
    (`llm.input`) of the argument they update: bufferization must write them into the
    caller's buffers (see `llm-drop-in-place-results`), so no step copies a
    cache. Position ids the graph builds from the sequence length (torch
    exports `Range(0, seq)` broadcast over the batch, e.g. for RoPE's
    angles) are replaced by the absolute positions. A forward with other
    inputs (masks, segment ids), non-causal or masked attention, table
    lookups with other computed ids, other values computed from loop
    indices, or constant tables sliced to a dynamic length (which would
    restart at position 0 every step) is refused with a message,
    So is a decoder whose cache capacity is unknown (no `capacity`, no
    `llm.max_positions`, no position table). With `if-decoder` (llm-compile's
    default) such modules are left alone instead.
  }];
  let options = [
    Option<"forwardName", "forward", "std::string", /*default=*/"\"forward\"",
           "The function to derive from">,
    Option<"capacity", "capacity", "int64_t", /*default=*/"0",
           "Rows of each KV cache (default: the module's llm.max_positions, "
           "else the learned position table's rows)">,
    Option<"ifDecoder", "if-decoder", "bool", /*default=*/"false",
           "Leave modules whose forward is not a decoder alone instead of "
           "failing">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::llm::LLMDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LLMDropInPlaceResults
    : Pass<"llm-drop-in-place-results", "::mlir::ModuleOp"> {
  let summary = "Drop bufferized results that update an argument in place";
  let description = [{
    After one-shot bufferization of function boundaries, a result marked
    `llm.in_place = "NAME"` (an updated KV cache, parameter or optimizer
    moment) must be the memref of the argument whose `llm.input` (else
    `llm.param`) is NAME itself (looking through casts and
    loops that carry it unchanged): the result is removed from the function and its return, so
    the caller sees the update in its own buffer and no copy is made. A
    marked result that bufferization could not place in the argument's
    buffer is an error, never a silent copy.
  }];
}

def LLMPlanMemory : Pass<"llm-plan-memory", "::mlir::ModuleOp"> {
  let summary = "Place each entry point's intermediate buffers in one arena";
  let description = [{
    After bufferization and the deallocation pipeline, every public
    function gets a last argument `memref<?xi8> {llm.input = "arena"}`, and
    its intermediate buffers become `memref.view`s of it: `memref.alloc`s
    at the top level or inside `scf.for` loops that do not escape (not
    returned, yielded or passed to a call; freed only by `memref.dealloc`s
    in their own block, which are removed). A buffer lives from the first
    top-level op that reads or writes it (views, casts, reshapes and
    `memref.dim` only compute addresses: until its first write, its bytes
    may still hold a buffer that dies there) to the last top-level op
    that uses it or a view of it, so a buffer allocated in a loop (the
    tiles of `llm-fuse-attention`) serves every iteration.

    Sizes are evaluated as polynomials in the batch B and the sequence
    length S, read off the arguments `llm.input` names (`input_ids`
    [B, S], `labels`, `attention_mask`, `cache_position` [B], ...; the
    first integer argument without a name is `input_ids`), with divisions
    by constants (a kernel's row tiles) and minimums with a constant (a
    tile of a dynamic length) bounded from above.
    Buffers linear in B are planned per sequence at S = `max-seq`, buffers
    without B once, in an arena of `fixed_bytes + B x bytes_per_sequence`
    bytes: each buffer sits at `offset + B x scaled offset`. The planner
    (best fit, largest first, 64-byte alignment) tries two layouts: the two
    kinds apart (`[fixed][B x per sequence]`), and together, planned at B =
    1 and lifted so that what lies below a buffer at B = 1 stays below it
    for every B (a gradient may then take the bytes of an activation that is
    dead by the time it is born). Together is kept where it is smaller at
    B = 1 and no larger at B = 8 (lifted above activations, a fixed buffer
    grows with the batch), apart otherwise.
    The plan is checked for overlaps at every B. A smaller S fits the slots
    planned for the bound. Buffers of any other size keep their allocation.

    A buffer private to one iteration of an `scf.parallel` (the statistics
    and rows of a tile of `llm-fuse-norm`) cannot share an arena slot with
    the other iterations: when its size has a bound of at most 256 KiB
    (constant, or growing with S and taken at `max-seq`), it becomes a
    stack allocation of the bound (viewed with its own sizes). Any other
    stays allocated per iteration and is counted in `left_allocated`.

    With `results` (the default), a buffer the function returns (directly
    or through views) goes to the arena too, live from its allocation to
    the return: the results then cost no allocation per call, and come back
    as views of the arena (their descriptor's `allocated` is the arena's),
    valid until the caller reuses the arena (docs/ABI.md).

    The module attribute `llm.arenas` reports, per function:
    `fixed_bytes`, `bytes_per_sequence`, `max_seq`, and at B = 1 and S =
    `max-seq` the sum of the planned buffers (`total_bytes`) and the most
    bytes simultaneously live (`live_bytes`, the lower bound of any plan),
    with the counts of buffers `planned` and `left_allocated`, and the
    bytes of the planned results (`result_bytes`, included in the others).
  }];
  let options = [
    Option<"maxSeq", "max-seq", "int64_t", /*default=*/"0",
           "The sequence bound buffers are planned at (0: the module's "
           "llm.max_positions; without one, buffers that depend on the "
           "sequence length keep their allocation)">,
    Option<"results", "results", "bool", /*default=*/"true",
           "Place returned buffers in the arena too (false: the callee "
           "mallocs them and the caller frees them)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

#endif // LLM_TRANSFORMS_PASSES_TD
