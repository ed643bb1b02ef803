//===- RaiseMatch.h - matching imported linalg graphs -----------*- C++ -*-===//
//
// Helpers shared by the raising passes (llm-raise-*), which recognize the
// op-by-op linalg form of an imported graph (one linalg.generic per ONNX
// elementwise node, named contractions, reshapes) and rewrite Transformer
// structures into llm ops.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_LIB_TRANSFORMS_RAISEMATCH_H
#define LLM_LIB_TRANSFORMS_RAISEMATCH_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Value.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <optional>

namespace mlir::llm::raise {

/// An all-parallel linalg.generic with one result written through the
/// identity map whose body computes one op (`body`) and yields it.
struct Elementwise {
  mutable linalg::GenericOp op;
  Operation *body = nullptr;

  /// The input feeding operand `i` of `body` and its indexing map; a null
  /// value when the operand is not an input's block argument.
  std::pair<Value, AffineMap> input(unsigned i) const;
  /// Operand `i` of `body` as a float constant: an arith.constant captured
  /// from outside, or an input that is a splat constant.
  std::optional<double> scalar(unsigned i) const;
  /// The input feeding operand `i` when it is read through the identity map
  /// (same shape as the result); null otherwise.
  Value fullInput(unsigned i) const;
};

/// Matches `value` as the result of an elementwise generic.
std::optional<Elementwise> matchElementwise(Value value);

/// Matches `value` as an elementwise generic whose body op is `OpTy`.
template <typename OpTy>
std::optional<Elementwise> matchElementwiseOf(Value value) {
  std::optional<Elementwise> e = matchElementwise(value);
  if (!e || !isa<OpTy>(e->body))
    return std::nullopt;
  return e;
}

/// True when `map` reads a tensor of `type` broadcast NumPy-style
/// (right-aligned) over `numLoops` loops: result i is either the loop dim
/// `numLoops - rank + i` or the constant 0 on a size-1 dim.
bool isRightAlignedBroadcast(AffineMap map, ShapedType type,
                             unsigned numLoops);

/// True when `value` is a linalg.fill of `constant` (or a splat constant).
bool isFilledWith(Value value, double constant);

/// The source of a tensor.collapse_shape of `value` merging dims 0 and 1 of
/// a rank-4 tensor ([[0, 1], [2], [3]]); null otherwise.
Value collapsedLeadingPair(Value value);

/// Matches `value` as the sum of `x` over its last dim, keeping it as a size-1
/// dim (a reduction generic into zeros); returns `x` or null.
Value matchLastDimSum(Value value);

/// Matches `value` as the mean of `x` over its last dim, keeping the dim:
/// the sum divided by (or multiplied by the inverse of) the static dim size.
/// Returns `x` or null.
Value matchLastDimMean(Value value);

/// Matches `value` as `x * x` (both operands the same full-shape input);
/// returns `x` or null.
Value matchSquare(Value value);

/// True when `map` reads a keep-dim statistic ([..., 1]) broadcast over the
/// last of `rank` loops: (d0, ..., d(rank-2), 0).
bool isLastDimBroadcast(AffineMap map, unsigned rank);

/// True when `map` reads a [dim] vector along the last of `rank` loops.
bool isLastDimVector(AffineMap map, unsigned rank);

/// For a binary elementwise `e` (commutative when `commutative`): the operand
/// read through the identity map and the other operand's input and map.
/// Returns false when no operand order fits.
struct BinaryOperands {
  Value full;
  Value other;
  AffineMap otherMap;
  unsigned otherIndex = 0;
};
std::optional<BinaryOperands> splitFullOperand(const Elementwise &e,
                                               bool commutative);

/// The value a single-result generic yields, or null.
Value getYielded(linalg::GenericOp op);
/// `select(x < 0, x + c, x)` of one full-shape input (ONNX Gather's wrap of
/// negative indices): returns the input x, else `value`.
Value skipNegativeWrap(Value value);
/// Matches position ids as torch exports them, `Range(0, seq)` broadcast
/// over the batch: a generic reading `expand_shape(iota) : 1 x S` through
/// (d0, d1) -> (0, d1), the iota (`index_cast(linalg.index 0)`) as long as
/// the sequence dim of `tokens` ([B, S] token ids). Returns the broadcast
/// generic (its result is `ids`), else null.
linalg::GenericOp matchPositionIds(Value ids, Value tokens);
/// Applies the one rewrite pattern of a raising pass to `op`, greedily.
template <typename PatternT>
LogicalResult applyRaisingPattern(Operation *op) {
  RewritePatternSet patterns(op->getContext());
  patterns.add<PatternT>(op->getContext());
  return applyPatternsGreedily(op, std::move(patterns));
}

} // namespace mlir::llm::raise

#endif // LLM_LIB_TRANSFORMS_RAISEMATCH_H
