//===- LoweringUtils.h - helpers shared by the llm lowerings ----*- C++ -*-===//
//
// Builders for the linalg.generic shapes every llm lowering needs: empty and
// filled tensors sized like a value, elementwise maps, contractions over a
// weight in its stored layout, and the scalar math of activations. Private to
// lib/Conversion/LLMToLinalg.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_LIB_CONVERSION_LLMTOLINALG_LOWERINGUTILS_H
#define LLM_LIB_CONVERSION_LLMTOLINALG_LOWERINGUTILS_H

#include "llm/Dialect/LLM/IR/LLMOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Builders.h"

namespace mlir::llm::lowering {

/// The sizes of a ranked tensor value, static where known.
SmallVector<OpFoldResult> getSizes(OpBuilder &b, Location loc, Value tensor);

/// Terminates a linalg.generic body with one value.
inline void yieldValue(OpBuilder &b, Location loc, Value value) {
  linalg::YieldOp::create(b, loc, ValueRange{value});
}

/// `tensor.empty` of the given sizes and element type.
Value createEmpty(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType);

/// `tensor.empty` + `linalg.fill` with `value`.
Value createFilled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elementType, double value);

/// A float constant of `type` (which must be a float type).
Value floatConstant(OpBuilder &b, Location loc, Type type, double value);

/// The type computations run in: f32 for narrower floats, else the type.
FloatType computeType(Type elementType);
/// Extends `value` to `type` when it is narrower.
Value extendTo(OpBuilder &b, Location loc, Value value, FloatType type);
/// Truncates `value` to `type` when it is wider.
Value truncateTo(OpBuilder &b, Location loc, Value value, Type type);

/// `n` parallel iterators, then `m` reduction iterators.
SmallVector<utils::IteratorType> iterators(unsigned numParallel,
                                           unsigned numReduction = 0);

/// The identity map over `rank` dims and the map that drops the last `drop`
/// dims of it, both over `numDims` loop dims.
AffineMap identityPrefix(MLIRContext *context, unsigned numDims,
                         unsigned rank);

/// A map over `numDims` loop dims selecting the listed dims (constant 0 for
/// entries that are -1, i.e. broadcast size-1 dims).
AffineMap selectDims(MLIRContext *context, unsigned numDims,
                     ArrayRef<int64_t> dims);

/// Applies `fn` to every element of `input` (same shape; result element type
/// `resultType`, the input's when null). `fn` sees the element extended to
/// the compute type and returns a compute-type value.
Value mapElementwise(
    OpBuilder &b, Location loc, Value input,
    function_ref<Value(OpBuilder &, Location, Value)> fn,
    Type resultType = nullptr);

/// `x · Wᵀ + bias` over the last dimension of `x`, reading `weight` in its
/// stored layout. The bias (if any) initializes the accumulator.
Value buildProjection(OpBuilder &b, Location loc, Value x, Value weight,
                      Value bias, WeightLayout layout);

/// Scalar activations on compute-type values.
Value buildGelu(OpBuilder &b, Location loc, Value x, bool tanhApproximation);
Value buildSilu(OpBuilder &b, Location loc, Value x);
Value buildRelu(OpBuilder &b, Location loc, Value x);
/// The plain (non-gated) activation of an FFN kind; for the gated kinds, the
/// activation applied to the gate.
Value buildActivation(OpBuilder &b, Location loc, Value x,
                      Activation activation);

} // namespace mlir::llm::lowering

#endif // LLM_LIB_CONVERSION_LLMTOLINALG_LOWERINGUTILS_H
