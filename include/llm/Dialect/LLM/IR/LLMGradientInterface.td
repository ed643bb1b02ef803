//===- LLMGradientInterface.td - reverse-mode gradients ---*- tablegen -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The interface through which llm-autodiff asks an op for its vector-
// Jacobian product. The llm ops and the upstream ops a forward uses
// (elementwise arith on tensors, slices and reshapes) implement it as
// external models (lib/Transforms/Gradients.cpp), registered with the
// dialects (llm::registerLLMDialects).
//
//===----------------------------------------------------------------------===//

#ifndef LLM_DIALECT_LLM_IR_LLMGRADIENTINTERFACE_TD
#define LLM_DIALECT_LLM_IR_LLMGRADIENTINTERFACE_TD

include "mlir/IR/OpBase.td"

def LLM_GradientOpInterface : OpInterface<"GradientOpInterface"> {
  let description = [{
    An op that can build the gradients of its operands from the gradients
    of its results (reverse mode): for `y = f(x)` and an incoming `dL/dy`,
    `dL/dx = dL/dy * df/dx`, emitted as tensor-level IR (llm ops, linalg,
    tensor, arith) at the builder's insertion point, which is after the op:
    the op's operands and results may be used.
  }];
  let cppNamespace = "::mlir::llm";
  let methods = [
    InterfaceMethod<[{
        Sets `operandGrads` to one value per operand: the gradient of the
        loss with respect to that operand, with the operand's type, or null
        when none flows (integer operands, operands the result does not
        depend on differentiably). `resultGrads` holds one value per result,
        null for a result no gradient reaches (then its contribution is
        zero). Fails, with a diagnostic, for a form whose gradient is not
        implemented. A gradient that adds contributions into a table of
        zeros may be an `scf.for` whose first iteration argument starts at
        those zeros, marked `llm.accumulates`: the caller may then start it
        from another value, the operand's gradient so far.
      }],
      "::llvm::LogicalResult", "buildGradients",
      (ins "::mlir::OpBuilder &":$builder,
           "::mlir::ValueRange":$resultGrads,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>
  ];
}

#endif // LLM_DIALECT_LLM_IR_LLMGRADIENTINTERFACE_TD
