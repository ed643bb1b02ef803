//===- ProjectionMatch.h - recognizing projection contractions --*- C++ -*-===//
//
// The projections `convert-llm-to-linalg` emits are linalg.generic ops with
// loops (lead..., n, k), x(lead..., k), out(lead..., n), a weight read as
// w(n, k) (out_in), w(k, n) (in_out) or, once `llm-pack-weights` has run,
// w(n floordiv P, k, n mod P) (panels of P output columns), and the body
// `out + x * w` in f32. Both the packing pass (on tensors) and the vector
// kernels (on buffers) recognize them here.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_LIB_TRANSFORMS_PROJECTIONMATCH_H
#define LLM_LIB_TRANSFORMS_PROJECTIONMATCH_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>

namespace mlir::llm {

/// How a projection reads its weight.
enum class WeightLayout { OutIn, InOut, Panels };

/// The loop structure of a matched projection.
struct ProjectionMaps {
  unsigned nDim, kDim;
  WeightLayout layout;
  /// Output columns per panel (Panels only).
  int64_t panel = 0;
};

/// Whether the body of `op` is `yield(out + in0 * in1)` in f32.
bool isF32MulAdd(linalg::GenericOp op);

/// Matches the loops, maps and body of a projection (tensor or buffer
/// semantics alike); operand 0 is x, operand 1 the weight.
std::optional<ProjectionMaps> matchProjectionMaps(linalg::GenericOp op);

/// The weight map (lead..., n, k) -> (n floordiv panel, k, n mod panel).
AffineMap getPanelWeightMap(unsigned numLoops, int64_t panel,
                            MLIRContext *ctx);

} // namespace mlir::llm

#endif // LLM_LIB_TRANSFORMS_PROJECTIONMATCH_H
