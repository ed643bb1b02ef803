//===- LLMOps.td - operations of the llm dialect ------------*- tablegen -*-===//
//
// The ops of the llm dialect. Each op infers its result type from its
// operands and attributes; the same inference checks every shape relation the
// types cannot express and serves the builders and the verifier alike.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_DIALECT_LLM_IR_LLMOPS_TD
#define LLM_DIALECT_LLM_IR_LLMOPS_TD

include "llm/Dialect/LLM/IR/LLMDialect.td"
include "llm/Dialect/LLM/IR/LLMAttrs.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def LLM_FloatTensor : RankedTensorOf<[F16, BF16, F32, F64]>;
def LLM_IndexTensor : RankedTensorOf<[I32, I64]>;
def LLM_MaskTensor : RankedTensorOf<[I1, F16, BF16, F32, F64]>;

//===----------------------------------------------------------------------===//
// Embeddings and positions
//===----------------------------------------------------------------------===//

def LLM_EmbeddingOp : LLM_Op<"embedding", [Pure, InferTypeOpAdaptor]> {
  let summary = "Looks up rows of an embedding table";
  let description = [{
    Gathers `table[ids[...], :]`. The table is `[vocab, dim]`; the result has
    the shape of `ids` followed by `dim`. An id outside `[0, vocab)` is a
    runtime error that the runtime checks before running the model.

    Example:

    ```mlir
    %h = llm.embedding %wte[%ids]
        : (tensor<50257x768xf32>, tensor<?x?xi64>) -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$table, LLM_IndexTensor:$ids);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $ids `]` attr-dict `:` functional-type(operands, results)
  }];
}

def LLM_PositionalEncodingOp : LLM_Op<"positional_encoding",
    [Pure, InferTypeOpAdaptor, AttrSizedOperandSegments]> {
  let summary = "Adds an absolute positional encoding to activations";
  let description = [{
    Returns `input + PE(positions)` for an input `[..., seq, dim]`.

    - `sinusoidal`: the encoding of the original Transformer,
      `PE(p, 2i) = sin(p / 10000^(2i/dim))`, `PE(p, 2i+1) = cos(...)`; `dim`
      must be even and no table is given.
    - `learned`: `PE(p) = table[p]` for a table `[max_positions, dim]`, as in
      GPT-2 and BERT.

    `positions` (shape `[..., seq]` matching the input, or `[seq]`) gives the
    absolute position of every token; without it the positions are
    `0 .. seq-1`. Decoding with a KV cache passes positions offset by the
    cache length.

    Example:

    ```mlir
    %x = llm.positional_encoding learned %h table %wpe
        : (tensor<1x16x64xf32>, tensor<1024x64xf32>) -> tensor<1x16x64xf32>
    ```
  }];
  let arguments = (ins LLM_PositionalEncodingKindAttr:$kind,
                       LLM_FloatTensor:$input,
                       Optional<LLM_FloatTensor>:$table,
                       Optional<LLM_IndexTensor>:$positions);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    `` $kind $input (`table` $table^)? (`positions` $positions^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasCanonicalizer = 1;
}

def LLM_RopeOp : LLM_Op<"rope",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "Applies rotary position embeddings to queries or keys";
  let description = [{
    Rotates each head of `input` (`[..., seq, heads * head_dim]`) by an angle
    proportional to the token's position, as in RoFormer and LLaMA. Pairs of
    features `(j, j + rotary_dim/2)` are rotated (`rotate_half`, the Hugging
    Face convention) unless `interleaved` is set, in which case the pairs are
    `(2j, 2j+1)` (Meta's original convention). Frequencies are
    `theta^(-2j/rotary_dim)`. Only the first `rotary_dim` features of each
    head rotate (partial rotary, as in GPT-NeoX); it defaults to `head_dim`.

    `positions` works as for `llm.positional_encoding`.

    Example:

    ```mlir
    %qr = llm.rope %q {head_dim = 64 : i64, theta = 5.0e+05 : f64}
        : (tensor<1x16x2048xf32>) -> tensor<1x16x2048xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input,
                       Optional<LLM_IndexTensor>:$positions,
                       I64Attr:$head_dim,
                       OptionalAttr<I64Attr>:$rotary_dim,
                       DefaultValuedAttr<F64Attr, "10000.0">:$theta,
                       UnitAttr:$interleaved);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`positions` $positions^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// The number of features of each head that rotate.
    int64_t getEffectiveRotaryDim() {
      return getRotaryDim().value_or(getHeadDim());
    }
  }];
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Norms
//===----------------------------------------------------------------------===//

def LLM_LayerNormOp : LLM_Op<"layer_norm",
    [Pure, InferTypeOpAdaptor, AttrSizedOperandSegments]> {
  let summary = "Layer normalization over the last dimension";
  let description = [{
    `(x - mean(x)) / sqrt(var(x) + epsilon) * weight + bias` over the last
    dimension, with the biased variance as PyTorch computes it. `weight` and
    `bias` (each `[dim]`) are optional.

    Example:

    ```mlir
    %y = llm.layer_norm %x weight %g bias %b {epsilon = 1.0e-05 : f64}
        : (tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32>)
        -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input,
                       Optional<LLM_FloatTensor>:$weight,
                       Optional<LLM_FloatTensor>:$bias,
                       DefaultValuedAttr<F64Attr, "1.0e-5">:$epsilon);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`weight` $weight^)? (`bias` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasCanonicalizer = 1;
}

def LLM_RMSNormOp : LLM_Op<"rms_norm",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "Root-mean-square normalization over the last dimension";
  let description = [{
    `x / sqrt(mean(x^2) + epsilon) * weight` over the last dimension, as in
    LLaMA. `weight` (`[dim]`) is optional.

    Example:

    ```mlir
    %y = llm.rms_norm %x weight %g {epsilon = 1.0e-06 : f64}
        : (tensor<1x7x4096xf32>, tensor<4096xf32>) -> tensor<1x7x4096xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input,
                       Optional<LLM_FloatTensor>:$weight,
                       DefaultValuedAttr<F64Attr, "1.0e-6">:$epsilon);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`weight` $weight^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Projections, attention and feed-forward blocks
//===----------------------------------------------------------------------===//

def LLM_LinearOp : LLM_Op<"linear", [Pure, InferTypeOpAdaptor]> {
  let summary = "Affine projection x * W^T + b";
  let description = [{
    Projects the last dimension of `input` (`[..., in]`) with `weight`, stored
    `[out, in]` as PyTorch's `nn.Linear` does, or `[in, out]` with
    `layout in_out` as GPT-2's `Conv1D` does. `bias` (`[out]`) is optional.
    The result is `[..., out]`.

    Example:

    ```mlir
    %y = llm.linear %x, %w bias %b
        : (tensor<?x?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>)
        -> tensor<?x?x3072xf32>
    %z = llm.linear %x, %c_attn bias %c_attn_b layout in_out
        : (tensor<?x?x768xf32>, tensor<768x2304xf32>, tensor<2304xf32>)
        -> tensor<?x?x2304xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_FloatTensor:$weight,
                       Optional<LLM_FloatTensor>:$bias,
                       DefaultValuedAttr<LLM_WeightLayoutAttr,
                           "::mlir::llm::WeightLayout::OutIn">:$weight_layout);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? (`layout` `` $weight_layout^)? attr-dict
    `:` functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// The size of the projected (input) feature dimension.
    int64_t getInFeatures();
    /// The size of the produced (output) feature dimension.
    int64_t getOutFeatures();
  }];
  let hasCanonicalizer = 1;
}

def LLM_AttentionOp : LLM_Op<"attention",
    [Pure, InferTypeOpAdaptor, AttrSizedOperandSegments]> {
  let summary = "Multi-head scaled dot-product attention (MHA, GQA, MQA)";
  let description = [{
    `softmax(Q * K^T * scale + mask) * V` for every head. The heads are packed
    in the feature dimension: `query` is `[batch, q_len, num_heads *
    head_dim]`, `key` is `[batch, kv_len, num_kv_heads * head_dim]` and
    `value` is `[batch, kv_len, num_kv_heads * v_head_dim]`. `num_kv_heads`
    (default `num_heads`) must divide `num_heads`: query head `h` reads key
    and value head `h / (num_heads / num_kv_heads)` (grouped-query attention;
    one KV head is multi-query attention). The result is `[batch, q_len,
    num_heads * v_head_dim]`. `scale` defaults to `1/sqrt(head_dim)`.

    Masking: `causal` lets query `i` see keys `j <= i` (positions counted from
    the end when `q_len < kv_len`, as for a continued sequence). `mask` is
    broadcast (NumPy rules, right-aligned) to `[batch, num_heads, q_len,
    kv_len]`: `i1` masks keep the positions that are true, float masks are
    added to the scores (0 or -inf, as BERT's padding mask). Both may be used
    together.

    KV cache: with `cache(%k_cache, %v_cache, %position)` the new keys and
    values are first written into the caches (`[batch, num_kv_heads,
    capacity, head_dim]`) at rows `position[b] .. position[b] + kv_len - 1`,
    then the queries attend to cache rows `0 .. position[b] + kv_len - 1`
    (query `i` sits at absolute position `position[b] + kv_len - q_len + i`).
    The op then also returns the updated caches, which bufferize in place.
    An explicit mask then covers the cache capacity. Sequences of a batch may
    sit at different positions; cache rows at or past a sequence's
    `position[b] + kv_len` are masked for it. A position outside `[0,
    capacity - kv_len]` is clamped into that range when lowered, so that no
    write leaves the cache; callers are expected to refuse such positions.

    Example:

    ```mlir
    %o = llm.attention %q, %k, %v {causal, num_heads = 12 : i64}
        : (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>)
        -> tensor<1x?x768xf32>
    %o2, %kc2, %vc2 = llm.attention %q, %k, %v
        cache(%kc, %vc, %pos) {causal, num_heads = 32 : i64, num_kv_heads = 8 : i64}
        : (tensor<1x1x4096xf32>, tensor<1x1x1024xf32>, tensor<1x1x1024xf32>,
           tensor<1x8x2048x128xf32>, tensor<1x8x2048x128xf32>, tensor<1xi64>)
        -> (tensor<1x1x4096xf32>, tensor<1x8x2048x128xf32>,
            tensor<1x8x2048x128xf32>)
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$query, LLM_FloatTensor:$key,
                       LLM_FloatTensor:$value,
                       Optional<LLM_MaskTensor>:$mask,
                       Optional<LLM_FloatTensor>:$k_cache,
                       Optional<LLM_FloatTensor>:$v_cache,
                       Optional<LLM_IndexTensor>:$cache_position,
                       I64Attr:$num_heads,
                       OptionalAttr<I64Attr>:$num_kv_heads,
                       UnitAttr:$causal,
                       OptionalAttr<F64Attr>:$scale);
  // With a KV cache, `updated_caches` holds the updated key and value caches.
  let results = (outs LLM_FloatTensor:$result,
                      Variadic<LLM_FloatTensor>:$updated_caches);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` $mask^)?
    (`cache` `(` $k_cache^ `,` $v_cache `,` $cache_position `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$query, "::mlir::Value":$key,
                   "::mlir::Value":$value, "int64_t":$numHeads,
                   CArg<"int64_t", "0">:$numKVHeads,
                   CArg<"bool", "false">:$causal,
                   CArg<"::mlir::Value", "{}">:$mask,
                   CArg<"std::optional<double>", "std::nullopt">:$scale)>,
    OpBuilder<(ins "::mlir::Value":$query, "::mlir::Value":$key,
                   "::mlir::Value":$value, "::mlir::Value":$kCache,
                   "::mlir::Value":$vCache, "::mlir::Value":$cachePosition,
                   "int64_t":$numHeads, CArg<"int64_t", "0">:$numKVHeads,
                   CArg<"bool", "true">:$causal,
                   CArg<"::mlir::Value", "{}">:$mask)>
  ];
  let extraClassDeclaration = [{
    /// The number of key/value heads (defaults to the number of heads).
    int64_t getEffectiveNumKVHeads() {
      return getNumKvHeads().value_or(getNumHeads());
    }
    /// Features per query/key head.
    int64_t getHeadDim();
    /// Features per value head.
    int64_t getValueHeadDim();
    /// The softmax scale, defaulting to 1/sqrt(head_dim).
    double getEffectiveScale();
    /// True when the op reads and writes a KV cache.
    bool hasKVCache() { return static_cast<bool>(getKCache()); }
    /// The key cache after this op's write (null without a cache).
    ::mlir::Value getUpdatedKCache() {
      return hasKVCache() ? getUpdatedCaches()[0] : ::mlir::Value();
    }
    /// The value cache after this op's write (null without a cache).
    ::mlir::Value getUpdatedVCache() {
      return hasKVCache() ? getUpdatedCaches()[1] : ::mlir::Value();
    }
  }];
  let hasCanonicalizer = 1;
}

def LLM_AttentionGradOp : LLM_Op<"attention_grad",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "Gradients of llm.attention's query, key and value";
  let description = [{
    Given an `llm.attention` (without a KV cache) of `query`, `key`, `value`
    and `mask` with the same attributes, its result `output` and the
    gradient `output_grad` of a loss with respect to that result, returns
    the gradients with respect to `query`, `key` and `value` (their types).
    With P = softmax(S), S = Q K^T scale + mask:
    dV = P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dO * O)) * scale,
    dQ = dS K, dK = dS^T Q, the query heads of a group summed into their KV
    head. The mask gets no gradient: `llm-autodiff` uses this op only where
    the mask is boolean or does not depend on a float argument.

    Lowered like the forward, it either materializes the scores or, with
    `llm-fuse-attention`, recomputes them in [query tile x key tile]
    blocks (after FlashAttention-2's backward): one pass for each row's
    log-sum-exp, then one over the blocks for dQ, dK and dV, causal tiles
    above the diagonal skipped. Memory then grows linearly with the
    sequence.

    Example:

    ```mlir
    %dq, %dk, %dv = llm.attention_grad %q, %k, %v, %o, %do
        {causal, num_heads = 12 : i64}
        : (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>,
           tensor<1x?x768xf32>, tensor<1x?x768xf32>)
        -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>)
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$query, LLM_FloatTensor:$key,
                       LLM_FloatTensor:$value, LLM_FloatTensor:$output,
                       LLM_FloatTensor:$output_grad,
                       Optional<LLM_MaskTensor>:$mask,
                       I64Attr:$num_heads,
                       OptionalAttr<I64Attr>:$num_kv_heads,
                       UnitAttr:$causal,
                       OptionalAttr<F64Attr>:$scale);
  let results = (outs LLM_FloatTensor:$query_grad,
                      LLM_FloatTensor:$key_grad,
                      LLM_FloatTensor:$value_grad);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $output `,` $output_grad
    (`mask` $mask^)? attr-dict `:` functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// The number of key/value heads (defaults to the number of heads).
    int64_t getEffectiveNumKVHeads() {
      return getNumKvHeads().value_or(getNumHeads());
    }
    /// Features per query/key head.
    int64_t getHeadDim();
    /// Features per value head.
    int64_t getValueHeadDim();
    /// The softmax scale, defaulting to 1/sqrt(head_dim).
    double getEffectiveScale();
    /// For code shared with llm.attention: never a KV cache.
    bool hasKVCache() { return false; }
  }];
}

def LLM_FFNOp : LLM_Op<"ffn", [Pure, InferTypeOpAdaptor,
    AttrSizedOperandSegments]> {
  let summary = "Position-wise feed-forward block";
  let description = [{
    `down(act(up(x)))` for the plain activations (`relu`, `gelu`,
    `gelu_tanh`, `silu`) and `down(act(gate(x)) * up(x))` for the gated ones
    (`swiglu` uses SiLU, `geglu` uses exact GELU), each projection with its
    optional bias. Gated activations need the `gate` weight; plain ones must
    not have it. With the default `layout out_in`, `up` and `gate` are
    `[hidden, dim]` and `down` is `[dim, hidden]`; with `layout in_out` they
    are transposed (GPT-2's `Conv1D`). The result has the input's type.

    Example:

    ```mlir
    %y = llm.ffn swiglu %x up %wu gate %wg down %wd
        : (tensor<1x7x64xf32>, tensor<172x64xf32>, tensor<172x64xf32>,
           tensor<64x172xf32>) -> tensor<1x7x64xf32>
    ```
  }];
  let arguments = (ins LLM_ActivationAttr:$activation,
                       LLM_FloatTensor:$input,
                       LLM_FloatTensor:$up_weight,
                       Optional<LLM_FloatTensor>:$up_bias,
                       Optional<LLM_FloatTensor>:$gate_weight,
                       Optional<LLM_FloatTensor>:$gate_bias,
                       LLM_FloatTensor:$down_weight,
                       Optional<LLM_FloatTensor>:$down_bias,
                       DefaultValuedAttr<LLM_WeightLayoutAttr,
                           "::mlir::llm::WeightLayout::OutIn">:$weight_layout);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    `` $activation $input `up` $up_weight (`bias` $up_bias^)?
    (`gate` $gate_weight^ (`bias` $gate_bias^)?)?
    `down` $down_weight (`bias` $down_bias^)?
    (`layout` `` $weight_layout^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// True for the gated activations (SwiGLU, GeGLU).
    bool isGated() { return ::mlir::llm::isGatedActivation(getActivation()); }
    /// The hidden (intermediate) size of the block.
    int64_t getHiddenSize();
  }];
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Activations, softmax and losses
//===----------------------------------------------------------------------===//

def LLM_GeluOp : LLM_Op<"gelu", [Pure, Elementwise, SameOperandsAndResultType]> {
  let summary = "Gaussian error linear unit";
  let description = [{
    `x * Phi(x)` with the exact error function (`approximate none`, BERT), or
    `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` (`approximate tanh`,
    GPT-2's `gelu_new`). Folds on constants.

    Example:

    ```mlir
    %y = llm.gelu %x approximate tanh : tensor<?x3072xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input,
                       DefaultValuedAttr<LLM_GeluApproximationAttr,
                           "::mlir::llm::GeluApproximation::None">:$approximate);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`approximate` `` $approximate^)? attr-dict `:` type($input)
  }];
  let hasFolder = 1;
}

def LLM_GLUOp : LLM_Op<"glu", [Pure, Elementwise, SameOperandsAndResultType]> {
  let summary = "Gated linear unit: act(gate) * up, elementwise";
  let description = [{
    `act(gate) * up` with a gated activation's `act`: SiLU for `swiglu`,
    exact GELU for `geglu`. It is what a gated `llm.ffn` computes between
    its projections; `llm-fuse-qkv` writes it when it merges an FFN's gate
    and up projections into one, the operands then being the two halves of
    that projection's output.

    Example:

    ```mlir
    %h = llm.glu swiglu %gate, %up : tensor<1x7x172xf32>
    ```
  }];
  let arguments = (ins LLM_ActivationAttr:$activation,
                       LLM_FloatTensor:$gate,
                       LLM_FloatTensor:$up);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    `` $activation $gate `,` $up attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def LLM_SoftmaxOp : LLM_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "Softmax along one axis";
  let description = [{
    `exp(x - max(x)) / sum(exp(x - max(x)))` along `axis` (negative values
    count from the end; the canonical form is non-negative). Folds to ones
    when the axis has size 1.

    Example:

    ```mlir
    %p = llm.softmax %logits {axis = -1 : i64} : tensor<2x50257xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let extraClassDeclaration = [{
    /// The axis as a non-negative dimension index.
    int64_t getNormalizedAxis();
  }];
  let hasFolder = 1;
  let hasCanonicalizer = 1;
  let hasVerifier = 1;
}

def LLM_CrossEntropyOp : LLM_Op<"cross_entropy", [Pure, InferTypeOpAdaptor]> {
  let summary = "Softmax cross-entropy of logits against integer labels";
  let description = [{
    `-log_softmax(logits)[label]` for every position, as PyTorch's
    `F.cross_entropy`: `logits` is `[..., classes]`, `labels` is `[...]`.
    Positions whose label equals `ignore_index` do not count. With
    `label_smoothing` s the target puts `1 - s` on the label and spreads `s`
    evenly over all classes. `reduction` is `mean` (over counted positions;
    the default), `sum` (a scalar) or `none` (the per-position losses, shaped
    like `labels`). Serves causal LM (shifted labels) and masked LM (labels
    of unmasked tokens set to `ignore_index`).

    Example:

    ```mlir
    %loss = llm.cross_entropy %logits, %labels
        : (tensor<8x128x50257xf32>, tensor<8x128xi64>) -> tensor<f32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$logits, LLM_IndexTensor:$labels,
                       DefaultValuedAttr<I64Attr, "-100">:$ignore_index,
                       DefaultValuedAttr<LLM_ReductionAttr,
                           "::mlir::llm::Reduction::Mean">:$reduction,
                       DefaultValuedAttr<F64Attr, "0.0">:$label_smoothing);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $labels (`reduction` `` $reduction^)? attr-dict `:`
    functional-type(operands, results)
  }];
}

def LLM_KLDivOp : LLM_Op<"kl_div", [Pure, InferTypeOpAdaptor]> {
  let summary = "KL divergence from a teacher's distribution at a temperature";
  let description = [{
    The distillation loss of Hinton et al.: at every position,
    `KL(softmax(target / T) || softmax(logits / T))` summed over the classes,
    where `target` holds a teacher's logits and `T` is the rank-0
    `temperature` (read at run time, > 0). `logits` and `target` are
    `[..., classes]`; positions whose `labels` entry equals `ignore_index`
    do not count, and the result is the mean over the counted ones (as
    `llm.cross_entropy`'s default), i.e. PyTorch's
    `F.kl_div(F.log_softmax(logits / T, -1), F.softmax(target / T, -1),
    reduction="none").sum(-1)` averaged over the counted positions. The
    usual `T^2` factor and the mix with the hard-label loss are left to the
    caller (llm-build-train-step's `distill_step`). Gradients flow to
    `logits` only: the teacher and the temperature are constants.

    Example:

    ```mlir
    %kl = llm.kl_div %logits, %teacher, %labels, %t
        : (tensor<8x128x256xf32>, tensor<8x128x256xf32>, tensor<8x128xi64>,
           tensor<f32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$logits, LLM_FloatTensor:$target,
                       LLM_IndexTensor:$labels, LLM_FloatTensor:$temperature,
                       DefaultValuedAttr<I64Attr, "-100">:$ignore_index);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $target `,` $labels `,` $temperature attr-dict `:`
    functional-type(operands, results)
  }];
}

#endif // LLM_DIALECT_LLM_IR_LLMOPS_TD
