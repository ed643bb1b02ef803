//===- Passes.h - code generation passes of llm-opt -------------*- C++ -*-===//
//
// Declares and registers the code generation passes generated from
// Passes.td.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_TRANSFORMS_PASSES_H
#define LLM_TRANSFORMS_PASSES_H

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::llm {

/// The most bytes of the buffers private to one iteration of a parallel
/// loop that llm-plan-memory puts on the stack, and so the most bytes of
/// rows llm-fuse-norm gives one tile (its default max-tile-bytes): far
/// below the 4 MiB stack of an OpenMP worker.
inline constexpr int64_t kMaxTileStackBytes = 256 * 1024;

#define GEN_PASS_DECL
#include "llm/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "llm/Transforms/Passes.h.inc"

/// Attaches GradientOpInterface to the llm ops and to the upstream ops a
/// forward uses (lib/Transforms/Gradients.cpp), for llm-autodiff.
void registerGradientExternalModels(DialectRegistry &registry);

} // namespace mlir::llm

#endif // LLM_TRANSFORMS_PASSES_H
