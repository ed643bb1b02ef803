//===- Autodiff.h - reverse-mode gradient functions --------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The function builder behind llm-autodiff, shared with llm-build-train-step.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_LIB_TRANSFORMS_AUTODIFF_H
#define LLM_LIB_TRANSFORMS_AUTODIFF_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::llm {

/// Adds NAME_vjp(args, result grads) -> (results, grads of the float
/// arguments) next to \p forward (see llm-autodiff) and returns it; emits a
/// diagnostic and fails when an op on the gradient path has no gradient.
FailureOr<func::FuncOp> buildVJP(func::FuncOp forward);

} // namespace mlir::llm

#endif // LLM_LIB_TRANSFORMS_AUTODIFF_H
