//===- LLMDialect.td - the llm dialect definition ----------*- tablegen -*-===//
//
// The llm dialect models the building blocks of Transformer models at the
// tensor level: embeddings, positional encodings, norms, linear layers,
// attention, feed-forward blocks and losses.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_DIALECT_LLM_IR_LLMDIALECT_TD
#define LLM_DIALECT_LLM_IR_LLMDIALECT_TD

include "mlir/IR/OpBase.td"

def LLM_Dialect : Dialect {
  let name = "llm";
  let cppNamespace = "::mlir::llm";
  let summary = "Tensor-level building blocks of Transformer models";
  let description = [{
    The `llm` dialect is the entry level of llm-opt. Every op works on builtin
    ranked tensors whose batch and sequence dimensions may be dynamic. The ops
    are coarse on purpose: attention is one op rather than a matmul/softmax
    pattern, so that importers raise it once and every later pass (flash-style
    fusion, head pruning, KV-cache insertion, autodiff) works on the op.

    Activations use the layout `[batch, seq, features]`; the heads of an
    attention op are packed into the feature dimension (`heads * head_dim`),
    so that the op reads the output of a linear layer directly. Weights are
    laid out as PyTorch stores them (`[out, in]` for a linear layer) unless the
    op says otherwise (`layout in_out`, as GPT-2's `Conv1D` stores them).

    Weights are function arguments bound by the runtime, not constants: one
    compiled model serves many checkpoints and training updates them in place.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
  let hasConstantMaterializer = 1;
  // `llm.param = "name"` on a function argument names the checkpoint tensor
  // the runtime binds to it; `llm.input = "name"` names a runtime input
  // (`input_ids`, `attention_mask`, `token_type_ids`, ...).
  // `llm.packed = {panel, layout, shape}` marks a parameter the code
  // generator asked for in panel-major order (see `llm-pack-weights`).
  let hasRegionArgAttrVerify = 1;
  let extraClassDeclaration = [{
    /// The argument attribute naming the checkpoint tensor of a parameter.
    static constexpr ::llvm::StringLiteral kParamAttrName = "llm.param";
    /// The argument attribute naming a runtime input.
    static constexpr ::llvm::StringLiteral kInputAttrName = "llm.input";
    /// The result attribute naming what an entry point returns ("logits",
    /// "loss", ...; the manifest's result names).
    static constexpr ::llvm::StringLiteral kNameAttrName = "llm.name";
    /// The argument attribute describing a parameter packed into panels:
    /// `{panel = P, layout = "in_out" | "out_in", shape = [r, c]}`, where
    /// `shape` is the checkpoint tensor's.
    static constexpr ::llvm::StringLiteral kPackedAttrName = "llm.packed";
    /// The argument attribute of a parameter the runtime concatenates from
    /// several checkpoint tensors when it binds them (see `llm-fuse-qkv`):
    /// `{axis = A, parts = ["name", ...], sizes = [s, ...]}`, each part's
    /// extent along `axis` of the checkpoint-layout tensor.
    static constexpr ::llvm::StringLiteral kConcatAttrName = "llm.concat";
    /// The module attribute naming the model family (`gpt2`, `bert`, ...).
    static constexpr ::llvm::StringLiteral kFamilyAttrName = "llm.family";
    /// The module attribute of a sequence classifier: its number of
    /// classes (the logits' last dim), read at each sequence's last token
    /// unless kClassifyTokenAttrName says otherwise.
    static constexpr ::llvm::StringLiteral kNumLabelsAttrName =
        "llm.num_labels";
    /// The module attribute naming the token whose logits are a
    /// classifier's answer: "first" (BERT's [CLS]) or "last" (GPT-2, LLaMA;
    /// the default).
    static constexpr ::llvm::StringLiteral kClassifyTokenAttrName =
        "llm.classify_token";
    /// Marks a gradient built as an `scf.for` that adds contributions
    /// into its first iteration argument, started at zeros (an embedding
    /// table's scatter-add): `llm-autodiff` may start it from the
    /// gradient accumulated so far instead, which saves a zero table and a
    /// sum of two tables.
    static constexpr ::llvm::StringLiteral kAccumulatesAttrName =
        "llm.accumulates";
    /// Unit attribute on a norm `llm-recompute-norms` cloned for the
    /// backward. Its lowering puts it on the first reduction over the
    /// input, so that CSE does not fold the recomputation back into the
    /// forward's norm (which would keep the forward's output alive again).
    static constexpr ::llvm::StringLiteral kRecomputedAttrName =
        "llm.recomputed";
  }];
  let useDefaultAttributePrinterParser = 1;
}

// Every tensor an llm op touches must have a byte size that fits in int64, so
// that no later size computation overflows.
def LLM_BoundedTensorSizes : NativeOpTrait<"BoundedTensorSizes"> {
  let cppNamespace = "::mlir::OpTrait::llm";
}

class LLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<LLM_Dialect, mnemonic, !listconcat([LLM_BoundedTensorSizes], traits)>;

#endif // LLM_DIALECT_LLM_IR_LLMDIALECT_TD
