//===- LLMAttrs.td - enums and attributes of the llm dialect -*- tablegen -*-===//
//
// Enumerations that parameterize llm ops (activation kinds, weight layouts,
// loss reductions, ...). Each is a dialect attribute printed as a bare
// keyword inside an op's custom form, e.g. `llm.ffn swiglu ...`: the op
// formats put `` before them, since the attribute prints its own space.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_DIALECT_LLM_IR_LLMATTRS_TD
#define LLM_DIALECT_LLM_IR_LLMATTRS_TD

include "llm/Dialect/LLM/IR/LLMDialect.td"
include "mlir/IR/EnumAttr.td"

def LLM_Activation : I32EnumAttr<"Activation",
    "activation of a feed-forward block", [
      I32EnumAttrCase<"ReLU", 0, "relu">,
      I32EnumAttrCase<"GELU", 1, "gelu">,
      I32EnumAttrCase<"GELUTanh", 2, "gelu_tanh">,
      I32EnumAttrCase<"SiLU", 3, "silu">,
      I32EnumAttrCase<"SwiGLU", 4, "swiglu">,
      I32EnumAttrCase<"GeGLU", 5, "geglu">
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::llm";
}
def LLM_ActivationAttr : EnumAttr<LLM_Dialect, LLM_Activation, "activation">;

def LLM_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "approximation used by GELU", [
      I32EnumAttrCase<"None", 0, "none">,
      I32EnumAttrCase<"Tanh", 1, "tanh">
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::llm";
}
def LLM_GeluApproximationAttr
    : EnumAttr<LLM_Dialect, LLM_GeluApproximation, "gelu_approximation">;

def LLM_PositionalEncodingKind : I32EnumAttr<"PositionalEncodingKind",
    "kind of additive positional encoding", [
      I32EnumAttrCase<"Sinusoidal", 0, "sinusoidal">,
      I32EnumAttrCase<"Learned", 1, "learned">
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::llm";
}
def LLM_PositionalEncodingKindAttr
    : EnumAttr<LLM_Dialect, LLM_PositionalEncodingKind, "positional_encoding_kind">;

def LLM_WeightLayout : I32EnumAttr<"WeightLayout",
    "how a projection weight is stored", [
      I32EnumAttrCase<"OutIn", 0, "out_in">,
      I32EnumAttrCase<"InOut", 1, "in_out">
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::llm";
}
def LLM_WeightLayoutAttr
    : EnumAttr<LLM_Dialect, LLM_WeightLayout, "weight_layout">;

def LLM_Reduction : I32EnumAttr<"Reduction",
    "how a loss is reduced over its elements", [
      I32EnumAttrCase<"None", 0, "none">,
      I32EnumAttrCase<"Mean", 1, "mean">,
      I32EnumAttrCase<"Sum", 2, "sum">
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::llm";
}
def LLM_ReductionAttr : EnumAttr<LLM_Dialect, LLM_Reduction, "reduction">;

#endif // LLM_DIALECT_LLM_IR_LLMATTRS_TD
