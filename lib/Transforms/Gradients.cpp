//===- Gradients.cpp - vector-Jacobian products of ops ------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// GradientOpInterface external models: for each op a forward uses, the
// gradients of its operands from those of its results, as tensor-level IR
// (llm ops where one fits, linalg.generic otherwise). Statistics a backward
// needs (a norm's mean and inverse deviation, softmax probabilities) are
// recomputed from the op's operands rather than saved by the forward.
//
// Implemented: llm.linear, layer_norm, rms_norm, gelu, softmax (last axis),
// embedding, positional_encoding (implicit positions), rope, ffn (every
// activation), attention (masks, causal, GQA; not the KV-cache form),
// cross_entropy;
// arith.addf/subf/mulf/divf/negf on tensors;
// tensor.extract_slice, collapse_shape, expand_shape and cast. Forms not
// covered fail with a diagnostic naming the op.
//
//===----------------------------------------------------------------------===//

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMGradientInterface.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::llm;

//===----------------------------------------------------------------------===//
// Building blocks
//===----------------------------------------------------------------------===//

namespace {
using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// Tensor-level helpers over one builder and location.
struct GradBuilder {
  OpBuilder &b;
  Location loc;

  /// An empty tensor shaped like \p like (dims from it), of \p element.
  Value emptyLike(Value like, Type element = {}) {
    auto type = cast<RankedTensorType>(like.getType());
    return tensor::EmptyOp::create(b, loc,
                                   tensor::getMixedSizes(b, loc, like),
                                   element ? element : type.getElementType());
  }

  Value constant(Type type, double value) {
    return arith::ConstantOp::create(b, loc, type,
                                     b.getFloatAttr(type, value));
  }

  Value zeros(ArrayRef<OpFoldResult> sizes, Type element) {
    Value empty = tensor::EmptyOp::create(b, loc, sizes, element);
    return linalg::FillOp::create(b, loc, constant(element, 0.0), empty)
        .getResult(0);
  }

  Value zerosLike(Value like) {
    auto type = cast<RankedTensorType>(like.getType());
    return linalg::FillOp::create(
               b, loc, constant(type.getElementType(), 0.0), emptyLike(like))
        .getResult(0);
  }

  /// out = body(inputs...) elementwise; `inputs` are full-shape (like the
  /// first) or row statistics (rank - 1, broadcast along the last dim).
  Value map(ValueRange inputs, BodyFn body, Type element = {}) {
    Value first = inputs.front();
    unsigned rank = cast<RankedTensorType>(first.getType()).getRank();
    MLIRContext *ctx = b.getContext();
    SmallVector<AffineExpr> rows;
    for (unsigned d = 0; d + 1 < rank; ++d)
      rows.push_back(getAffineDimExpr(d, ctx));
    SmallVector<AffineMap> maps;
    for (Value input : inputs) {
      unsigned r = cast<RankedTensorType>(input.getType()).getRank();
      maps.push_back(r == rank ? AffineMap::getMultiDimIdentityMap(rank, ctx)
                               : AffineMap::get(rank, 0, rows, ctx));
    }
    Value init = emptyLike(first, element);
    maps.push_back(AffineMap::getMultiDimIdentityMap(rank, ctx));
    auto generic = linalg::GenericOp::create(
        b, loc, init.getType(), inputs, init, maps,
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          linalg::YieldOp::create(nb, nloc,
                                  body(nb, nloc, args.drop_back()));
        });
    return generic.getResult(0);
  }

  /// Sums \p x [..., n] over its last dim: [...].
  Value rowSum(Value x) {
    auto type = cast<RankedTensorType>(x.getType());
    unsigned rank = type.getRank();
    MLIRContext *ctx = b.getContext();
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
    sizes.pop_back();
    Value init = zeros(sizes, type.getElementType());
    SmallVector<AffineExpr> rows;
    for (unsigned d = 0; d + 1 < rank; ++d)
      rows.push_back(getAffineDimExpr(d, ctx));
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    iterators.back() = utils::IteratorType::reduction;
    auto generic = linalg::GenericOp::create(
        b, loc, init.getType(), x, init,
        ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(rank, ctx),
                            AffineMap::get(rank, 0, rows, ctx)},
        iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value sum = arith::AddFOp::create(nb, nloc, args[1], args[0]);
          linalg::YieldOp::create(nb, nloc, sum);
        });
    return generic.getResult(0);
  }

  /// Sums \p x [..., n] over every dim but the last: [n].
  Value leadingSum(Value x) {
    auto type = cast<RankedTensorType>(x.getType());
    unsigned rank = type.getRank();
    MLIRContext *ctx = b.getContext();
    OpFoldResult n = tensor::getMixedSize(b, loc, x, rank - 1);
    Value init = zeros({n}, type.getElementType());
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::reduction);
    iterators.back() = utils::IteratorType::parallel;
    auto generic = linalg::GenericOp::create(
        b, loc, init.getType(), x, init,
        ArrayRef<AffineMap>{
            AffineMap::getMultiDimIdentityMap(rank, ctx),
            AffineMap::get(rank, 0, {getAffineDimExpr(rank - 1, ctx)}, ctx)},
        iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value sum = arith::AddFOp::create(nb, nloc, args[1], args[0]);
          linalg::YieldOp::create(nb, nloc, sum);
        });
    return generic.getResult(0);
  }

  /// out[i, j] = sum over the leading dims of a[..., i] * c[..., j].
  Value contractLeading(Value a, Value c) {
    auto type = cast<RankedTensorType>(a.getType());
    unsigned rank = type.getRank(); // leading dims: rank - 1
    MLIRContext *ctx = b.getContext();
    OpFoldResult m = tensor::getMixedSize(b, loc, a, rank - 1);
    OpFoldResult n = tensor::getMixedSize(b, loc, c, rank - 1);
    Value init = zeros({m, n}, type.getElementType());
    // Loops: (lead..., i, j).
    unsigned loops = rank + 1;
    SmallVector<AffineExpr> aExprs, cExprs;
    for (unsigned d = 0; d + 1 < rank; ++d) {
      aExprs.push_back(getAffineDimExpr(d, ctx));
      cExprs.push_back(getAffineDimExpr(d, ctx));
    }
    aExprs.push_back(getAffineDimExpr(rank - 1, ctx));
    cExprs.push_back(getAffineDimExpr(rank, ctx));
    SmallVector<utils::IteratorType> iterators(loops,
                                               utils::IteratorType::reduction);
    iterators[rank - 1] = utils::IteratorType::parallel;
    iterators[rank] = utils::IteratorType::parallel;
    auto generic = linalg::GenericOp::create(
        b, loc, init.getType(), ValueRange{a, c}, init,
        ArrayRef<AffineMap>{AffineMap::get(loops, 0, aExprs, ctx),
                            AffineMap::get(loops, 0, cExprs, ctx),
                            AffineMap::get(loops, 0,
                                           {getAffineDimExpr(rank - 1, ctx),
                                            getAffineDimExpr(rank, ctx)},
                                           ctx)},
        iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value product = arith::MulFOp::create(nb, nloc, args[0], args[1]);
          Value sum = arith::AddFOp::create(nb, nloc, args[2], product);
          linalg::YieldOp::create(nb, nloc, sum);
        });
    return generic.getResult(0);
  }

  /// x [..., n] * v [n] along the last dim.
  Value scaleLastDim(Value x, Value v) {
    MLIRContext *ctx = b.getContext();
    unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
    Value init = emptyLike(x);
    return linalg::GenericOp::create(
               b, loc, init.getType(), ValueRange{x, v}, init,
               ArrayRef<AffineMap>{
                   AffineMap::getMultiDimIdentityMap(rank, ctx),
                   AffineMap::get(rank, 0, {getAffineDimExpr(rank - 1, ctx)},
                                  ctx),
                   AffineMap::getMultiDimIdentityMap(rank, ctx)},
               SmallVector<utils::IteratorType>(rank,
                                                utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location l, ValueRange a) {
                 Value product = arith::MulFOp::create(nb, l, a[0], a[1]);
                 linalg::YieldOp::create(nb, l, product);
               })
        .getResult(0);
  }

  /// The gradient \p grad given the type of \p like (a cast when only the
  /// static information differs).
  Value castTo(Value grad, Value like) {
    if (!grad || grad.getType() == like.getType())
      return grad;
    return tensor::CastOp::create(b, loc, like.getType(), grad);
  }
};

/// Arithmetic on scalars inside a generic's body.
struct Scalar {
  OpBuilder &b;
  Location loc;
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value c(Type type, double v) {
    return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, v));
  }
};

/// d/dx GELU(x) at \p x: exact, Phi(x) + x phi(x), or of the tanh form,
/// 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2) with t = tanh(k (x + c x^3)).
static Value geluDerivative(Scalar &s, Value x, bool tanhForm, Type element) {
  Value half = s.c(element, 0.5), one = s.c(element, 1.0);
  if (tanhForm) {
    double k = std::sqrt(2.0 / M_PI), c = 0.044715;
    Value x2 = s.mul(x, x);
    Value inner =
        s.mul(s.c(element, k), s.add(x, s.mul(s.c(element, c), s.mul(x2, x))));
    Value t = math::TanhOp::create(s.b, s.loc, inner);
    Value dInner =
        s.mul(s.c(element, k), s.add(one, s.mul(s.c(element, 3 * c), x2)));
    return s.add(s.mul(half, s.add(one, t)),
                 s.mul(s.mul(half, x), s.mul(s.sub(one, s.mul(t, t)), dInner)));
  }
  Value erf =
      math::ErfOp::create(s.b, s.loc, s.mul(x, s.c(element, M_SQRT1_2)));
  Value cdf = s.mul(half, s.add(one, erf));
  Value pdf = s.mul(
      s.c(element, 1.0 / std::sqrt(2.0 * M_PI)),
      math::ExpOp::create(s.b, s.loc, s.mul(s.c(element, -0.5), s.mul(x, x))));
  return s.add(cdf, s.mul(x, pdf));
}

/// The activation of a feed-forward block at \p x, and its derivative.
static std::pair<Value, Value> activationAndDerivative(Scalar &s, Value x,
                                                       Activation kind,
                                                       Type element) {
  switch (kind) {
  case Activation::ReLU: {
    Value zero = s.c(element, 0.0);
    Value positive = arith::CmpFOp::create(s.b, s.loc,
                                           arith::CmpFPredicate::OGT, x, zero);
    return {arith::SelectOp::create(s.b, s.loc, positive, x, zero),
            arith::SelectOp::create(s.b, s.loc, positive, s.c(element, 1.0),
                                    zero)};
  }
  case Activation::GELU:
  case Activation::GeGLU:
  case Activation::GELUTanh: {
    bool tanhForm = kind == Activation::GELUTanh;
    Value half = s.c(element, 0.5), one = s.c(element, 1.0);
    Value value;
    if (tanhForm) {
      double k = std::sqrt(2.0 / M_PI), c = 0.044715;
      Value inner = s.mul(s.c(element, k),
                          s.add(x, s.mul(s.c(element, c), s.mul(s.mul(x, x), x))));
      value = s.mul(s.mul(half, x),
                    s.add(one, math::TanhOp::create(s.b, s.loc, inner)));
    } else {
      Value erf =
          math::ErfOp::create(s.b, s.loc, s.mul(x, s.c(element, M_SQRT1_2)));
      value = s.mul(s.mul(half, x), s.add(one, erf));
    }
    return {value, geluDerivative(s, x, tanhForm, element)};
  }
  case Activation::SiLU:
  case Activation::SwiGLU: {
    // silu = x sigma(x); silu' = sigma(x) (1 + x (1 - sigma(x))).
    Value one = s.c(element, 1.0);
    Value sigma = s.div(
        one, s.add(one, math::ExpOp::create(s.b, s.loc,
                                            arith::NegFOp::create(s.b, s.loc,
                                                                  x))));
    return {s.mul(x, sigma),
            s.mul(sigma, s.add(one, s.mul(x, s.sub(one, sigma))))};
  }
  }
  llvm_unreachable("unknown activation");
}

/// The last dim of \p value as a static size, or failure.
static FailureOr<int64_t> staticLastDim(Operation *op, Value value) {
  int64_t n = cast<RankedTensorType>(value.getType()).getShape().back();
  if (ShapedType::isDynamic(n))
    return op->emitOpError("gradient needs a static last dimension");
  return n;
}

//===----------------------------------------------------------------------===//
// llm ops
//===----------------------------------------------------------------------===//

/// y = x W^T + b (out_in) or x W + b (in_out).
struct LinearGradient
    : GradientOpInterface::ExternalModel<LinearGradient, LinearOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<LinearOp>(operation);
    GradBuilder g{b, op.getLoc()};
    Value dy = resultGrads[0];
    operandGrads.assign(op->getNumOperands(), Value());
    if (!dy)
      return success();
    bool outIn = op.getWeightLayout() == WeightLayout::OutIn;
    // dx = dy W (out_in) or dy W^T (in_out): a linear with the other layout.
    Value dx = LinearOp::create(b, op.getLoc(), dy, op.getWeight(),
                                /*bias=*/Value(),
                                outIn ? WeightLayout::InOut
                                      : WeightLayout::OutIn);
    operandGrads[0] = g.castTo(dx, op.getInput());
    Value dw = outIn ? g.contractLeading(dy, op.getInput())
                     : g.contractLeading(op.getInput(), dy);
    operandGrads[1] = g.castTo(dw, op.getWeight());
    if (op.getBias())
      operandGrads[2] = g.castTo(g.leadingSum(dy), op.getBias());
    return success();
  }
};

/// y = (x - mean) * rstd * w + b over the last dim.
struct LayerNormGradient
    : GradientOpInterface::ExternalModel<LayerNormGradient, LayerNormOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<LayerNormOp>(operation);
    Location loc = op.getLoc();
    GradBuilder g{b, loc};
    Value dy = resultGrads[0];
    operandGrads.assign(op->getNumOperands(), Value());
    if (!dy)
      return success();
    Value x = op.getInput();
    FailureOr<int64_t> n = staticLastDim(op, x);
    if (failed(n))
      return failure();
    Type element = cast<RankedTensorType>(x.getType()).getElementType();
    double inv = 1.0 / static_cast<double>(*n), eps = op.getEpsilon().convertToDouble();

    // Statistics, recomputed: mean, rstd = 1 / sqrt(var + eps).
    Value mean = g.map({g.rowSum(x)}, [&](OpBuilder &nb, Location l,
                                          ValueRange a) {
      Scalar s{nb, l};
      return s.mul(a[0], s.c(element, inv));
    });
    Value centered = g.map({x, mean}, [&](OpBuilder &nb, Location l,
                                          ValueRange a) {
      return Scalar{nb, l}.sub(a[0], a[1]);
    });
    Value squares = g.map({centered}, [&](OpBuilder &nb, Location l,
                                          ValueRange a) {
      return Scalar{nb, l}.mul(a[0], a[0]);
    });
    Value rstd = g.map({g.rowSum(squares)}, [&](OpBuilder &nb, Location l,
                                                ValueRange a) {
      Scalar s{nb, l};
      Value var = s.add(s.mul(a[0], s.c(element, inv)), s.c(element, eps));
      return math::RsqrtOp::create(nb, l, var).getResult();
    });
    Value xhat = g.map({centered, rstd}, [&](OpBuilder &nb, Location l,
                                             ValueRange a) {
      return Scalar{nb, l}.mul(a[0], a[1]);
    });
    // gy = dy * w.
    Value gy = dy;
    if (Value w = op.getWeight())
      gy = g.scaleLastDim(dy, w);
    // dx = rstd * (gy - mean(gy) - xhat * mean(gy * xhat)).
    Value gyXhat = g.map({gy, xhat}, [&](OpBuilder &nb, Location l,
                                         ValueRange a) {
      return Scalar{nb, l}.mul(a[0], a[1]);
    });
    Value sumGy = g.rowSum(gy), sumGyXhat = g.rowSum(gyXhat);
    Value dx = g.map({gy, xhat, rstd, sumGy, sumGyXhat},
                     [&](OpBuilder &nb, Location l, ValueRange a) {
                       Scalar s{nb, l};
                       Value k = s.c(element, inv);
                       Value t = s.sub(a[0], s.mul(a[3], k));
                       t = s.sub(t, s.mul(a[1], s.mul(a[4], k)));
                       return s.mul(t, a[2]);
                     });
    operandGrads[0] = g.castTo(dx, x);
    unsigned next = 1;
    if (Value w = op.getWeight()) {
      Value dyXhat = g.map({dy, xhat}, [&](OpBuilder &nb, Location l,
                                           ValueRange a) {
        return Scalar{nb, l}.mul(a[0], a[1]);
      });
      operandGrads[next++] = g.castTo(g.leadingSum(dyXhat), w);
    }
    if (Value bias = op.getBias())
      operandGrads[next] = g.castTo(g.leadingSum(dy), bias);
    return success();
  }
};

/// The derivative of GELU, exact or tanh-approximated.
struct GeluGradient
    : GradientOpInterface::ExternalModel<GeluGradient, GeluOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<GeluOp>(operation);
    GradBuilder g{b, op.getLoc()};
    operandGrads.assign(1, Value());
    Value dy = resultGrads[0];
    if (!dy)
      return success();
    bool tanhForm = op.getApproximate() == GeluApproximation::Tanh;
    Type element =
        cast<RankedTensorType>(op.getInput().getType()).getElementType();
    operandGrads[0] = g.map(
        {dy, op.getInput()}, [&](OpBuilder &nb, Location l, ValueRange a) {
          Scalar s{nb, l};
          Value x = a[1];
          Value derivative = geluDerivative(s, x, tanhForm, element);
          return s.mul(a[0], derivative);
        });
    return success();
  }
};

/// table[ids]: the rows of dy added into a zero table (scatter-add); ids are
/// clamped into the table as the lowering does. The loop is marked
/// `llm.accumulates`.
struct EmbeddingGradient
    : GradientOpInterface::ExternalModel<EmbeddingGradient, EmbeddingOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<EmbeddingOp>(operation);
    Location loc = op.getLoc();
    GradBuilder g{b, loc};
    operandGrads.assign(2, Value());
    Value dy = resultGrads[0];
    if (!dy)
      return success();
    auto tableType = cast<RankedTensorType>(op.getTable().getType());
    Value ids = op.getIds();
    auto idsType = cast<RankedTensorType>(ids.getType());
    // Flatten: ids [N], dy [N, D].
    SmallVector<ReassociationIndices> allIds = {
        llvm::to_vector(llvm::seq<int64_t>(0, idsType.getRank()))};
    Value flatIds =
        idsType.getRank() == 1
            ? ids
            : tensor::CollapseShapeOp::create(b, loc, ids, allIds).getResult();
    ReassociationIndices lead =
        llvm::to_vector(llvm::seq<int64_t>(0, idsType.getRank()));
    Value flatDy = tensor::CollapseShapeOp::create(
        b, loc, dy,
        ArrayRef<ReassociationIndices>{lead, {idsType.getRank()}});
    Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
    Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
    Value count = tensor::DimOp::create(b, loc, flatIds, c0);
    Value lastRow =
        arith::ConstantIndexOp::create(b, loc, tableType.getDimSize(0) - 1);
    int64_t dim = tableType.getDimSize(1);
    auto loop = scf::ForOp::create(
        b, loc, c0, count, c1, ValueRange{g.zerosLike(op.getTable())},
        [&](OpBuilder &nb, Location l, Value n, ValueRange acc) {
          Value id = tensor::ExtractOp::create(nb, l, flatIds, n);
          Value row = arith::IndexCastOp::create(nb, l, nb.getIndexType(), id);
          row = arith::MinSIOp::create(
              nb, l, arith::MaxSIOp::create(nb, l, row, c0), lastRow);
          SmallVector<OpFoldResult> one = {nb.getIndexAttr(1),
                                           nb.getIndexAttr(1)};
          SmallVector<OpFoldResult> sizes = {nb.getIndexAttr(1),
                                             nb.getIndexAttr(dim)};
          auto rowType =
              RankedTensorType::get({1, dim}, tableType.getElementType());
          Value current = tensor::ExtractSliceOp::create(
              nb, l, rowType, acc[0],
              ArrayRef<OpFoldResult>{row, nb.getIndexAttr(0)}, sizes, one);
          Value update = tensor::ExtractSliceOp::create(
              nb, l, rowType, flatDy,
              ArrayRef<OpFoldResult>{n, nb.getIndexAttr(0)}, sizes, one);
          Value sum = arith::AddFOp::create(nb, l, current, update);
          Value next = tensor::InsertSliceOp::create(
              nb, l, sum, acc[0],
              ArrayRef<OpFoldResult>{row, nb.getIndexAttr(0)}, sizes, one);
          scf::YieldOp::create(nb, l, next);
        });
    // Linear in its start: llm-autodiff may start it from the table's
    // gradient so far (a tied LM head's) instead of adding the two.
    loop->setAttr(LLMDialect::kAccumulatesAttrName, b.getUnitAttr());
    operandGrads[0] = loop.getResult(0);
    return success();
  }
};

/// The weight of each position of a loss over labelled positions: 0 where
/// the label is \p ignore, else dL (sum), dL / count (mean) or dL[...]
/// (none).
static Value positionWeights(GradBuilder &g, Value labels, int64_t ignore,
                             Reduction reduction, Value dl, Type element) {
  OpBuilder &b = g.b;
  Location loc = g.loc;
  Type labelElement = cast<RankedTensorType>(labels.getType()).getElementType();
  Value counted = g.map({labels}, [&](OpBuilder &nb, Location l,
                                      ValueRange a) {
    Value ignoreValue = arith::ConstantOp::create(
        nb, l, labelElement, nb.getIntegerAttr(labelElement, ignore));
    Value keep = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ne, a[0],
                                       ignoreValue);
    return arith::UIToFPOp::create(nb, l, element, keep).getResult();
  }, element);
  if (reduction == Reduction::None)
    return g.map({counted, dl}, [&](OpBuilder &nb, Location l, ValueRange a) {
      return Scalar{nb, l}.mul(a[0], a[1]);
    });
  // A scalar factor: dL, divided by the count for the mean.
  Value factor = tensor::ExtractOp::create(b, loc, dl, ValueRange{});
  if (reduction == Reduction::Mean) {
    Value total = counted;
    while (cast<RankedTensorType>(total.getType()).getRank() > 0)
      total = g.rowSum(total);
    Value count = tensor::ExtractOp::create(b, loc, total, ValueRange{});
    factor = arith::DivFOp::create(b, loc, factor, count);
  }
  return g.map({counted}, [&](OpBuilder &nb, Location l, ValueRange a) {
    return Scalar{nb, l}.mul(a[0], factor);
  });
}

/// Softmax cross-entropy: d logits = (p - target) * scale on counted
/// positions, with target (1 - s) onehot(label) + s / C.
struct CrossEntropyGradient
    : GradientOpInterface::ExternalModel<CrossEntropyGradient,
                                         CrossEntropyOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<CrossEntropyOp>(operation);
    Location loc = op.getLoc();
    GradBuilder g{b, loc};
    operandGrads.assign(2, Value());
    Value dl = resultGrads[0];
    if (!dl)
      return success();
    Value logits = op.getLogits(), labels = op.getLabels();
    FailureOr<int64_t> classes = staticLastDim(op, logits);
    if (failed(classes))
      return failure();
    auto logitsType = cast<RankedTensorType>(logits.getType());
    Type element = logitsType.getElementType();
    unsigned rank = logitsType.getRank();
    MLIRContext *ctx = b.getContext();
    double smoothing = op.getLabelSmoothing().convertToDouble();
    int64_t ignore = op.getIgnoreIndex();
    Reduction reduction = op.getReduction();

    Value weights = positionWeights(g, labels, ignore, reduction, dl, element);
    Value probabilities = SoftmaxOp::create(b, loc, logits.getType(), logits,
                                            b.getI64IntegerAttr(-1));
    // Loops (rows..., c): p and dlogits full, labels and weights per row.
    SmallVector<AffineExpr> rows;
    for (unsigned d = 0; d + 1 < rank; ++d)
      rows.push_back(getAffineDimExpr(d, ctx));
    AffineMap full = AffineMap::getMultiDimIdentityMap(rank, ctx);
    AffineMap perRow = AffineMap::get(rank, 0, rows, ctx);
    Value init = g.emptyLike(logits);
    double onValue = 1.0 - smoothing,
           spread = smoothing / static_cast<double>(*classes);
    Value dlogits =
        linalg::GenericOp::create(
            b, loc, init.getType(), ValueRange{probabilities, labels, weights},
            init, ArrayRef<AffineMap>{full, perRow, perRow, full},
            SmallVector<utils::IteratorType>(rank,
                                             utils::IteratorType::parallel),
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Scalar s{nb, l};
              Value c = linalg::IndexOp::create(nb, l, rank - 1);
              Value label =
                  arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[1]);
              Value isLabel = arith::CmpIOp::create(
                  nb, l, arith::CmpIPredicate::eq, c, label);
              Value target = arith::SelectOp::create(
                  nb, l, isLabel, s.c(element, onValue + spread),
                  s.c(element, spread));
              linalg::YieldOp::create(nb, l,
                                      s.mul(s.sub(a[0], target), a[2]));
            })
            .getResult(0);
    operandGrads[0] = dlogits;
    return success();
  }
};

/// KL(softmax(t / T) || softmax(s / T)) per counted position, averaged:
/// d s = (softmax(s / T) - softmax(t / T)) / T * weight. The teacher's
/// logits and the temperature get no gradient.
struct KLDivGradient
    : GradientOpInterface::ExternalModel<KLDivGradient, KLDivOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<KLDivOp>(operation);
    Location loc = op.getLoc();
    GradBuilder g{b, loc};
    operandGrads.assign(op->getNumOperands(), Value());
    Value dl = resultGrads[0];
    if (!dl)
      return success();
    Value logits = op.getLogits(), target = op.getTarget();
    if (failed(staticLastDim(op, logits)))
      return failure();
    auto logitsType = cast<RankedTensorType>(logits.getType());
    Type element = logitsType.getElementType();
    unsigned rank = logitsType.getRank();
    MLIRContext *ctx = b.getContext();
    Value weights = positionWeights(g, op.getLabels(), op.getIgnoreIndex(),
                                    Reduction::Mean, dl, element);
    Value temperature =
        tensor::ExtractOp::create(b, loc, op.getTemperature(), ValueRange{});
    auto softmaxAt = [&](Value x) -> Value {
      Value scaled = g.map({x}, [&](OpBuilder &nb, Location l, ValueRange a) {
        return arith::DivFOp::create(nb, l, a[0], temperature).getResult();
      });
      return SoftmaxOp::create(b, loc, scaled.getType(), scaled,
                               b.getI64IntegerAttr(-1));
    };
    Value q = softmaxAt(logits), p = softmaxAt(target);
    SmallVector<AffineExpr> rows;
    for (unsigned d = 0; d + 1 < rank; ++d)
      rows.push_back(getAffineDimExpr(d, ctx));
    AffineMap full = AffineMap::getMultiDimIdentityMap(rank, ctx);
    AffineMap perRow = AffineMap::get(rank, 0, rows, ctx);
    Value init = g.emptyLike(logits);
    operandGrads[0] =
        linalg::GenericOp::create(
            b, loc, init.getType(), ValueRange{q, p, weights}, init,
            ArrayRef<AffineMap>{full, full, perRow, full},
            SmallVector<utils::IteratorType>(rank,
                                             utils::IteratorType::parallel),
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Scalar s{nb, l};
              Value scale = arith::DivFOp::create(nb, l, a[2], temperature);
              linalg::YieldOp::create(nb, l,
                                      s.mul(s.sub(a[0], a[1]), scale));
            })
            .getResult(0);
    return success();
  }
};

/// y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps) over the last dim.
struct RMSNormGradient
    : GradientOpInterface::ExternalModel<RMSNormGradient, RMSNormOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<RMSNormOp>(operation);
    Location loc = op.getLoc();
    GradBuilder g{b, loc};
    operandGrads.assign(op->getNumOperands(), Value());
    Value dy = resultGrads[0];
    if (!dy)
      return success();
    Value x = op.getInput();
    FailureOr<int64_t> n = staticLastDim(op, x);
    if (failed(n))
      return failure();
    Type element = cast<RankedTensorType>(x.getType()).getElementType();
    double inv = 1.0 / static_cast<double>(*n),
           eps = op.getEpsilon().convertToDouble();
    Value squares = g.map({x}, [&](OpBuilder &nb, Location l, ValueRange a) {
      return Scalar{nb, l}.mul(a[0], a[0]);
    });
    Value rstd = g.map({g.rowSum(squares)}, [&](OpBuilder &nb, Location l,
                                                ValueRange a) {
      Scalar s{nb, l};
      Value ms = s.add(s.mul(a[0], s.c(element, inv)), s.c(element, eps));
      return math::RsqrtOp::create(nb, l, ms).getResult();
    });
    Value gy = dy;
    if (Value w = op.getWeight())
      gy = g.scaleLastDim(dy, w);
    // dx = rstd * (gy - x * rstd^2 * mean(gy * x)).
    Value gyX = g.map({gy, x}, [&](OpBuilder &nb, Location l, ValueRange a) {
      return Scalar{nb, l}.mul(a[0], a[1]);
    });
    Value dx = g.map({gy, x, rstd, g.rowSum(gyX)},
                     [&](OpBuilder &nb, Location l, ValueRange a) {
                       Scalar s{nb, l};
                       Value r2 = s.mul(a[2], a[2]);
                       Value t = s.mul(s.mul(a[1], r2),
                                       s.mul(a[3], s.c(element, inv)));
                       return s.mul(a[2], s.sub(a[0], t));
                     });
    operandGrads[0] = g.castTo(dx, x);
    if (Value w = op.getWeight()) {
      Value normalized = g.map({dy, x, rstd}, [&](OpBuilder &nb, Location l,
                                                  ValueRange a) {
        Scalar s{nb, l};
        return s.mul(a[0], s.mul(a[1], a[2]));
      });
      operandGrads[1] = g.castTo(g.leadingSum(normalized), w);
    }
    return success();
  }
};

/// y = softmax(x) along the last dim: dx = y * (dy - sum(dy * y)).
struct SoftmaxGradient
    : GradientOpInterface::ExternalModel<SoftmaxGradient, SoftmaxOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<SoftmaxOp>(operation);
    operandGrads.assign(1, Value());
    Value dy = resultGrads[0];
    if (!dy)
      return success();
    auto type = cast<RankedTensorType>(op.getInput().getType());
    if (op.getNormalizedAxis() != type.getRank() - 1)
      return op.emitOpError("gradient along an axis other than the last is "
                            "not implemented");
    GradBuilder g{b, op.getLoc()};
    Value y = op.getResult();
    Value dyY = g.map({dy, y}, [&](OpBuilder &nb, Location l, ValueRange a) {
      return Scalar{nb, l}.mul(a[0], a[1]);
    });
    operandGrads[0] = g.map({dy, y, g.rowSum(dyY)},
                            [&](OpBuilder &nb, Location l, ValueRange a) {
                              Scalar s{nb, l};
                              return s.mul(a[1], s.sub(a[0], a[2]));
                            });
    return success();
  }
};

/// y = x + PE(positions): dx = dy; a learned table's rows gather dy.
struct PositionalEncodingGradient
    : GradientOpInterface::ExternalModel<PositionalEncodingGradient,
                                         PositionalEncodingOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<PositionalEncodingOp>(operation);
    Location loc = op.getLoc();
    GradBuilder g{b, loc};
    operandGrads.assign(op->getNumOperands(), Value());
    Value dy = resultGrads[0];
    if (!dy)
      return success();
    operandGrads[0] = dy;
    Value table = op.getTable();
    if (!table)
      return success();
    if (op.getPositions())
      return op.emitOpError("gradient of a position table read with "
                            "explicit positions is not implemented");
    // Rows 0 .. S-1 of the table get dy summed over the leading dims.
    auto type = cast<RankedTensorType>(dy.getType());
    unsigned rank = type.getRank();
    Value rows = dy;
    if (rank > 2) {
      // [..., S, D] -> [S, D]: sum the leading dims one at a time.
      MLIRContext *ctx = b.getContext();
      SmallVector<OpFoldResult> sizes = {
          tensor::getMixedSize(b, loc, dy, rank - 2),
          tensor::getMixedSize(b, loc, dy, rank - 1)};
      Value init = g.zeros(sizes, type.getElementType());
      SmallVector<utils::IteratorType> iterators(
          rank, utils::IteratorType::reduction);
      iterators[rank - 2] = iterators[rank - 1] =
          utils::IteratorType::parallel;
      rows = linalg::GenericOp::create(
                 b, loc, init.getType(), dy, init,
                 ArrayRef<AffineMap>{
                     AffineMap::getMultiDimIdentityMap(rank, ctx),
                     AffineMap::get(rank, 0,
                                    {getAffineDimExpr(rank - 2, ctx),
                                     getAffineDimExpr(rank - 1, ctx)},
                                    ctx)},
                 iterators,
                 [&](OpBuilder &nb, Location l, ValueRange a) {
                   Value sum = arith::AddFOp::create(nb, l, a[1], a[0]);
                   linalg::YieldOp::create(nb, l, sum);
                 })
                 .getResult(0);
    }
    Value zeros = g.zerosLike(table);
    SmallVector<OpFoldResult> offsets(2, b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, rows);
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    operandGrads[1] = tensor::InsertSliceOp::create(b, loc, rows, zeros,
                                                    offsets, sizes, strides);
    return success();
  }
};

/// RoPE rotates each pair by its position's angle; the rotation's
/// transpose is the rotation by the negated angle: RoPE at -positions.
struct RopeGradient
    : GradientOpInterface::ExternalModel<RopeGradient, RopeOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<RopeOp>(operation);
    Location loc = op.getLoc();
    GradBuilder g{b, loc};
    operandGrads.assign(op->getNumOperands(), Value());
    Value dy = resultGrads[0];
    if (!dy)
      return success();
    Value negated;
    if (Value positions = op.getPositions()) {
      negated = g.map({positions}, [&](OpBuilder &nb, Location l,
                                       ValueRange a) {
        Value zero = arith::ConstantOp::create(
            nb, l, a[0].getType(), nb.getIntegerAttr(a[0].getType(), 0));
        return arith::SubIOp::create(nb, l, zero, a[0]).getResult();
      });
    } else {
      // -s for s in 0 .. seq-1, as an [seq] tensor.
      auto type = cast<RankedTensorType>(dy.getType());
      unsigned rank = type.getRank();
      OpFoldResult seq = tensor::getMixedSize(b, loc, dy, rank - 2);
      Value init = tensor::EmptyOp::create(b, loc, ArrayRef<OpFoldResult>{seq},
                                           b.getI64Type());
      MLIRContext *ctx = b.getContext();
      negated =
          linalg::GenericOp::create(
              b, loc, init.getType(), ValueRange{}, init,
              ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(1, ctx)},
              ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
              [&](OpBuilder &nb, Location l, ValueRange) {
                Value i = linalg::IndexOp::create(nb, l, 0);
                Value v = arith::IndexCastOp::create(nb, l, nb.getI64Type(), i);
                Value zero = arith::ConstantOp::create(
                    nb, l, nb.getI64Type(), nb.getI64IntegerAttr(0));
                Value neg = arith::SubIOp::create(nb, l, zero, v);
                linalg::YieldOp::create(nb, l, neg);
              })
              .getResult(0);
    }
    auto inverse = cast<RopeOp>(b.clone(*op));
    inverse->setOperand(0, dy);
    inverse.getPositionsMutable().assign(negated);
    operandGrads[0] = g.castTo(inverse.getResult(), op.getInput());
    return success();
  }
};

/// down(act(up(x))) or down(act(gate(x)) * up(x)): the projections are
/// rebuilt as llm.linear ops (recomputing the hidden activations) and
/// differentiated through LinearGradient.
struct FFNGradient : GradientOpInterface::ExternalModel<FFNGradient, FFNOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<FFNOp>(operation);
    Location loc = op.getLoc();
    GradBuilder g{b, loc};
    operandGrads.assign(op->getNumOperands(), Value());
    Value dy = resultGrads[0];
    if (!dy)
      return success();
    WeightLayout layout = op.getWeightLayout();
    Activation kind = op.getActivation();
    Type element =
        cast<RankedTensorType>(op.getInput().getType()).getElementType();
    auto project = [&](Value x, Value w, Value bias) {
      return LinearOp::create(b, loc, x, w, bias, layout);
    };
    auto gradientsOf = [&](LinearOp linear, Value grad,
                           SmallVectorImpl<Value> &grads) {
      return cast<GradientOpInterface>(linear.getOperation())
          .buildGradients(b, ValueRange{grad}, grads);
    };
    // Recompute: h = up(x); pre = gate(x) or h; act(pre) and act'(pre).
    LinearOp up = project(op.getInput(), op.getUpWeight(), op.getUpBias());
    LinearOp gate;
    if (op.isGated())
      gate = project(op.getInput(), op.getGateWeight(), op.getGateBias());
    Value pre = gate ? gate.getResult() : up.getResult();
    Value activated = g.map({pre}, [&](OpBuilder &nb, Location l,
                                       ValueRange a) {
      Scalar s{nb, l};
      return activationAndDerivative(s, a[0], kind, element).first;
    });
    Value slope = g.map({pre}, [&](OpBuilder &nb, Location l, ValueRange a) {
      Scalar s{nb, l};
      return activationAndDerivative(s, a[0], kind, element).second;
    });
    Value hidden = activated;
    if (gate)
      hidden = arith::MulFOp::create(b, loc, activated, up.getResult());
    LinearOp down = project(hidden, op.getDownWeight(), op.getDownBias());

    SmallVector<Value> downGrads, upGrads, gateGrads;
    if (failed(gradientsOf(down, dy, downGrads)))
      return failure();
    Value dHidden = downGrads[0];
    Value dUp, dPre;
    if (gate) {
      dUp = arith::MulFOp::create(b, loc, dHidden, activated);
      Value dActivated = arith::MulFOp::create(b, loc, dHidden, up.getResult());
      dPre = arith::MulFOp::create(b, loc, dActivated, slope);
    } else {
      dUp = arith::MulFOp::create(b, loc, dHidden, slope);
    }
    if (failed(gradientsOf(up, dUp, upGrads)))
      return failure();
    Value dx = upGrads[0];
    if (gate) {
      if (failed(gradientsOf(gate, dPre, gateGrads)))
        return failure();
      dx = arith::AddFOp::create(b, loc, dx, gateGrads[0]);
    }
    // Operands: input, up (, up bias) (, gate (, gate bias)), down
    // (, down bias), in order.
    unsigned next = 0;
    operandGrads[next++] = g.castTo(dx, op.getInput());
    operandGrads[next++] = upGrads[1];
    if (op.getUpBias())
      operandGrads[next++] = upGrads[2];
    if (gate) {
      operandGrads[next++] = gateGrads[1];
      if (op.getGateBias())
        operandGrads[next++] = gateGrads[2];
    }
    operandGrads[next++] = downGrads[1];
    if (op.getDownBias())
      operandGrads[next++] = downGrads[2];
    return success();
  }
};

/// Whether \p value may depend on a floating-point block argument (a
/// value gradients flow into).
static bool dependsOnFloatArgument(Value value) {
  SmallVector<Value> worklist = {value};
  DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    if (isa<BlockArgument>(v)) {
      Type type = getElementTypeOrSelf(v.getType());
      if (isa<FloatType>(type))
        return true;
      continue;
    }
    Operation *op = v.getDefiningOp();
    llvm::append_range(worklist, op->getOperands());
    // Values an op's regions read from above count too.
    op->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        if (!op->isAncestor(operand.getParentBlock()->getParentOp()))
          worklist.push_back(operand);
    });
  }
  return false;
}

/// Scaled dot-product attention (no KV cache), recomputed: S = Q K^T scale
/// (+ mask, causal), P = softmax(S), O = P V. Then dV = P^T dO,
/// dP = dO V^T, dS = P * (dP - rowsum(dP * P)) * scale, dQ = dS K,
/// dK = dS^T Q, with the query heads of a group summed into their KV head
/// (rowsum(dP * P) = rowsum(dO * O), which the tiled form uses).
/// Where the mask needs no gradient (none, boolean, or not computed from a
/// float argument) this is one `llm.attention_grad`, which
/// llm-fuse-attention lowers in tiles; otherwise the scores are
/// materialized here, for the mask's gradient.
struct AttentionGradient
    : GradientOpInterface::ExternalModel<AttentionGradient, AttentionOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<AttentionOp>(operation);
    Location loc = op.getLoc();
    GradBuilder g{b, loc};
    MLIRContext *ctx = b.getContext();
    operandGrads.assign(op->getNumOperands(), Value());
    Value dO = resultGrads[0];
    if (!dO)
      return success();
    if (op.hasKVCache())
      return op.emitOpError("gradient of the KV-cache form is not "
                            "implemented (training runs without a cache)");
    if (!op.getMask() ||
        getElementTypeOrSelf(op.getMask().getType()).isInteger(1) ||
        !dependsOnFloatArgument(op.getMask())) {
      auto grad = AttentionGradOp::create(
          b, loc, op.getQuery(), op.getKey(), op.getValue(), op.getResult(),
          g.castTo(dO, op.getResult()), op.getMask(), op.getNumHeadsAttr(),
          op.getNumKvHeadsAttr(), op.getCausalAttr(), op.getScaleAttr());
      operandGrads[0] = grad.getQueryGrad();
      operandGrads[1] = grad.getKeyGrad();
      operandGrads[2] = grad.getValueGrad();
      return success();
    }
    int64_t heads = op.getNumHeads(), kvHeads = op.getEffectiveNumKVHeads();
    int64_t group = heads / kvHeads, headDim = op.getHeadDim(),
            valueDim = op.getValueHeadDim();
    double scale = op.getEffectiveScale();
    Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
    auto qType = cast<RankedTensorType>(q.getType());
    Type element = qType.getElementType();

    // [B, L, H * D] <-> [B, L, H, D].
    auto split = [&](Value x, int64_t n, int64_t d) {
      auto type = cast<RankedTensorType>(x.getType());
      SmallVector<OpFoldResult> shape = {tensor::getMixedSize(b, loc, x, 0),
                                         tensor::getMixedSize(b, loc, x, 1),
                                         b.getIndexAttr(n), b.getIndexAttr(d)};
      auto result = RankedTensorType::get(
          {type.getDimSize(0), type.getDimSize(1), n, d},
          type.getElementType());
      return tensor::ExpandShapeOp::create(
                 b, loc, result, x,
                 ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}}, shape)
          .getResult();
    };
    auto merge = [&](Value x) {
      return tensor::CollapseShapeOp::create(
                 b, loc, x, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}})
          .getResult();
    };
    Value q4 = split(q, heads, headDim), k4 = split(k, kvHeads, headDim),
          v4 = split(v, kvHeads, valueDim), dO4 = split(dO, heads, valueDim);

    OpFoldResult batch = tensor::getMixedSize(b, loc, q, 0);
    OpFoldResult qLen = tensor::getMixedSize(b, loc, q, 1);
    OpFoldResult kvLen = tensor::getMixedSize(b, loc, k, 1);
    auto dim = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    auto kvHead = [&](AffineExpr h) { return h.floorDiv(group); };
    auto contract = [&](ArrayRef<OpFoldResult> sizes, ValueRange inputs,
                        ArrayRef<AffineMap> maps,
                        ArrayRef<utils::IteratorType> iterators) {
      Value init = g.zeros(sizes, element);
      SmallVector<AffineMap> all(maps);
      all.push_back(AffineMap::get(maps.front().getNumDims(), 0,
                                   {dim(0), dim(1), dim(2), dim(3)}, ctx));
      return linalg::GenericOp::create(
                 b, loc, init.getType(), inputs, init, all, iterators,
                 [&](OpBuilder &nb, Location l, ValueRange a) {
                   Scalar sc{nb, l};
                   linalg::YieldOp::create(nb, l,
                                           sc.add(a[2], sc.mul(a[0], a[1])));
                 })
          .getResult(0);
    };
    using IT = utils::IteratorType;
    IT par = IT::parallel, red = IT::reduction;

    // Scores [B, H, S, T] over loops (b, h, s, t, d).
    Value scores = contract(
        {batch, b.getIndexAttr(heads), qLen, kvLen}, ValueRange{q4, k4},
        {AffineMap::get(5, 0, {dim(0), dim(2), dim(1), dim(4)}, ctx),
         AffineMap::get(5, 0, {dim(0), dim(3), kvHead(dim(1)), dim(4)}, ctx)},
        {par, par, par, par, red});
    // Scale, mask, causal.
    Value offset = arith::SubIOp::create(
        b, loc, getValueOrCreateConstantIndexOp(b, loc, kvLen),
        getValueOrCreateConstantIndexOp(b, loc, qLen));
    SmallVector<Value> maskInputs = {scores};
    SmallVector<AffineMap> maskMaps = {AffineMap::getMultiDimIdentityMap(4, ctx)};
    Value mask = op.getMask();
    bool boolMask = false;
    if (mask) {
      auto maskType = cast<RankedTensorType>(mask.getType());
      boolMask = maskType.getElementType().isInteger(1);
      unsigned r = maskType.getRank();
      SmallVector<AffineExpr> exprs;
      for (unsigned i = 0; i < r; ++i)
        exprs.push_back(maskType.getDimSize(i) == 1
                            ? getAffineConstantExpr(0, ctx)
                            : dim(4 - r + i));
      maskInputs.push_back(mask);
      maskMaps.push_back(AffineMap::get(4, 0, exprs, ctx));
    }
    maskMaps.push_back(AffineMap::getMultiDimIdentityMap(4, ctx));
    Value maskedInit = g.emptyLike(scores);
    bool causal = op.getCausal();
    Value logits =
        linalg::GenericOp::create(
            b, loc, maskedInit.getType(), maskInputs, maskedInit, maskMaps,
            SmallVector<IT>(4, par),
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Scalar sc{nb, l};
              Value value = sc.mul(a[0], sc.c(element, scale));
              Value negInf = sc.c(element, -INFINITY);
              if (mask) {
                Value m = a[1];
                if (boolMask)
                  value = arith::SelectOp::create(nb, l, m, value, negInf);
                else
                  value = sc.add(value,
                                 m.getType() == element
                                     ? m
                                     : arith::ExtFOp::create(nb, l, element, m)
                                           .getResult());
              }
              if (causal) {
                Value sIndex = linalg::IndexOp::create(nb, l, 2);
                Value tIndex = linalg::IndexOp::create(nb, l, 3);
                Value limit = arith::AddIOp::create(nb, l, sIndex, offset);
                Value future = arith::CmpIOp::create(
                    nb, l, arith::CmpIPredicate::sgt, tIndex, limit);
                value = arith::SelectOp::create(nb, l, future, negInf, value);
              }
              linalg::YieldOp::create(nb, l, value);
            })
            .getResult(0);
    Value probabilities = SoftmaxOp::create(b, loc, logits.getType(), logits,
                                           b.getI64IntegerAttr(-1));

    // dP [B, H, S, T] over (b, h, s, t, e).
    Value dP = contract(
        {batch, b.getIndexAttr(heads), qLen, kvLen}, ValueRange{dO4, v4},
        {AffineMap::get(5, 0, {dim(0), dim(2), dim(1), dim(4)}, ctx),
         AffineMap::get(5, 0, {dim(0), dim(3), kvHead(dim(1)), dim(4)}, ctx)},
        {par, par, par, par, red});
    Value dPP = g.map({dP, probabilities},
                      [&](OpBuilder &nb, Location l, ValueRange a) {
                        return Scalar{nb, l}.mul(a[0], a[1]);
                      });
    // The gradient of the masked scores; a float mask's is that, summed
    // over the dims it is broadcast along.
    Value dLogits = g.map({dP, probabilities, g.rowSum(dPP)},
                          [&](OpBuilder &nb, Location l, ValueRange a) {
                            Scalar sc{nb, l};
                            return sc.mul(a[1], sc.sub(a[0], a[2]));
                          });
    Value dS = g.map({dLogits}, [&](OpBuilder &nb, Location l, ValueRange a) {
      Scalar sc{nb, l};
      return sc.mul(a[0], sc.c(element, scale));
    });
    if (mask && !boolMask) {
      auto maskType = cast<RankedTensorType>(mask.getType());
      if (maskType.getElementType() != element)
        return op.emitOpError("gradient of a mask of another element type "
                              "than the scores is not implemented");
      Value init = g.zerosLike(mask);
      SmallVector<IT> iterators(4, par);
      for (unsigned i = 0; i < 4; ++i) {
        int offset = static_cast<int>(i) - (4 - maskType.getRank());
        if (offset < 0 || maskType.getDimSize(offset) == 1)
          iterators[i] = red;
      }
      operandGrads[3] =
          linalg::GenericOp::create(
              b, loc, init.getType(), dLogits, init,
              ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(4, ctx),
                                  maskMaps[1]},
              iterators,
              [&](OpBuilder &nb, Location l, ValueRange a) {
                Value sum = arith::AddFOp::create(nb, l, a[1], a[0]);
                linalg::YieldOp::create(nb, l, sum);
              })
              .getResult(0);
    }

    // dQ [B, S, H, D] over (b, s, h, d, t).
    Value dQ = contract(
        {batch, qLen, b.getIndexAttr(heads), b.getIndexAttr(headDim)},
        ValueRange{dS, k4},
        {AffineMap::get(5, 0, {dim(0), dim(2), dim(1), dim(4)}, ctx),
         AffineMap::get(5, 0, {dim(0), dim(4), kvHead(dim(2)), dim(3)}, ctx)},
        {par, par, par, par, red});
    // dK [B, T, KVH, D] and dV [B, T, KVH, Dv] over (b, t, g, d, r, s),
    // reading query head g * group + r through the heads split in two.
    auto splitHeads = [&](Value x, unsigned headDimIndex) {
      auto type = cast<RankedTensorType>(x.getType());
      SmallVector<int64_t> shape;
      SmallVector<OpFoldResult> sizes;
      SmallVector<ReassociationIndices> groups;
      for (unsigned i = 0; i < type.getRank(); ++i) {
        if (i == headDimIndex) {
          groups.push_back({int64_t(shape.size()), int64_t(shape.size()) + 1});
          shape.append({kvHeads, group});
          sizes.append({b.getIndexAttr(kvHeads), b.getIndexAttr(group)});
          continue;
        }
        groups.push_back({int64_t(shape.size())});
        shape.push_back(type.getDimSize(i));
        sizes.push_back(tensor::getMixedSize(b, loc, x, i));
      }
      return tensor::ExpandShapeOp::create(
                 b, loc, RankedTensorType::get(shape, type.getElementType()), x,
                 groups, sizes)
          .getResult();
    };
    Value dS5 = splitHeads(dS, 1), p5 = splitHeads(probabilities, 1);
    Value q5 = splitHeads(q4, 2), dO5 = splitHeads(dO4, 2);
    AffineMap scoresMap =
        AffineMap::get(6, 0, {dim(0), dim(2), dim(4), dim(5), dim(1)}, ctx);
    AffineMap rowsMap =
        AffineMap::get(6, 0, {dim(0), dim(5), dim(2), dim(4), dim(3)}, ctx);
    Value dK = contract(
        {batch, kvLen, b.getIndexAttr(kvHeads), b.getIndexAttr(headDim)},
        ValueRange{dS5, q5}, {scoresMap, rowsMap},
        {par, par, par, par, red, red});
    Value dV = contract(
        {batch, kvLen, b.getIndexAttr(kvHeads), b.getIndexAttr(valueDim)},
        ValueRange{p5, dO5}, {scoresMap, rowsMap},
        {par, par, par, par, red, red});
    operandGrads[0] = g.castTo(merge(dQ), q);
    operandGrads[1] = g.castTo(merge(dK), k);
    operandGrads[2] = g.castTo(merge(dV), v);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Upstream ops
//===----------------------------------------------------------------------===//

/// Binary elementwise arith on same-shape tensors.
template <typename OpTy>
struct BinaryGradient
    : GradientOpInterface::ExternalModel<BinaryGradient<OpTy>, OpTy> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    Location loc = operation->getLoc();
    operandGrads.assign(2, Value());
    Value dz = resultGrads[0];
    if (!dz || !isa<RankedTensorType>(dz.getType()))
      return success();
    Value x = operation->getOperand(0), y = operation->getOperand(1);
    [[maybe_unused]] GradBuilder g{b, loc};
    if constexpr (std::is_same_v<OpTy, arith::AddFOp>) {
      operandGrads[0] = dz;
      operandGrads[1] = dz;
    } else if constexpr (std::is_same_v<OpTy, arith::SubFOp>) {
      operandGrads[0] = dz;
      operandGrads[1] = arith::NegFOp::create(b, loc, dz);
    } else if constexpr (std::is_same_v<OpTy, arith::MulFOp>) {
      operandGrads[0] = arith::MulFOp::create(b, loc, dz, y);
      operandGrads[1] = arith::MulFOp::create(b, loc, dz, x);
    } else {
      static_assert(std::is_same_v<OpTy, arith::DivFOp>);
      operandGrads[0] = arith::DivFOp::create(b, loc, dz, y);
      Value quotient = operation->getResult(0);
      operandGrads[1] = arith::NegFOp::create(
          b, loc,
          arith::DivFOp::create(
              b, loc, arith::MulFOp::create(b, loc, dz, quotient), y));
    }
    return success();
  }
};

struct NegGradient
    : GradientOpInterface::ExternalModel<NegGradient, arith::NegFOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    operandGrads.assign(1, Value());
    if (Value dz = resultGrads[0])
      operandGrads[0] = arith::NegFOp::create(b, operation->getLoc(), dz);
    return success();
  }
};

/// y = tanh(x) on a tensor (BERT's pooler): dx = dy * (1 - y^2).
struct TanhGradient
    : GradientOpInterface::ExternalModel<TanhGradient, math::TanhOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<math::TanhOp>(operation);
    operandGrads.assign(1, Value());
    Value dy = resultGrads[0];
    if (!dy)
      return success();
    GradBuilder g{b, op.getLoc()};
    Type element = getElementTypeOrSelf(op.getType());
    operandGrads[0] = g.map(
        {op.getResult(), dy}, [&](OpBuilder &nb, Location l, ValueRange a) {
          Scalar s{nb, l};
          return s.mul(a[1], s.sub(s.c(element, 1.0), s.mul(a[0], a[0])));
        });
    return success();
  }
};

/// A slice's gradient lands in the same place of a zero source.
struct ExtractSliceGradient
    : GradientOpInterface::ExternalModel<ExtractSliceGradient,
                                         tensor::ExtractSliceOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<tensor::ExtractSliceOp>(operation);
    operandGrads.assign(op->getNumOperands(), Value());
    Value dz = resultGrads[0];
    if (!dz)
      return success();
    if (op.getSourceType().getRank() != op.getResultType().getRank())
      return op.emitOpError("gradient of a rank-reducing slice is not "
                            "implemented");
    GradBuilder g{b, op.getLoc()};
    operandGrads[0] = tensor::InsertSliceOp::create(
        b, op.getLoc(), dz, g.zerosLike(op.getSource()), op.getMixedOffsets(),
        op.getMixedSizes(), op.getMixedStrides());
    return success();
  }
};

struct CollapseShapeGradient
    : GradientOpInterface::ExternalModel<CollapseShapeGradient,
                                         tensor::CollapseShapeOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<tensor::CollapseShapeOp>(operation);
    operandGrads.assign(1, Value());
    if (Value dz = resultGrads[0])
      operandGrads[0] = tensor::ExpandShapeOp::create(
          b, op.getLoc(), op.getSrcType(), dz, op.getReassociationIndices(),
          tensor::getMixedSizes(b, op.getLoc(), op.getSrc()));
    return success();
  }
};

struct ExpandShapeGradient
    : GradientOpInterface::ExternalModel<ExpandShapeGradient,
                                         tensor::ExpandShapeOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<tensor::ExpandShapeOp>(operation);
    operandGrads.assign(op->getNumOperands(), Value());
    if (Value dz = resultGrads[0])
      operandGrads[0] = tensor::CollapseShapeOp::create(
          b, op.getLoc(), op.getSrcType(), dz, op.getReassociationIndices());
    return success();
  }
};

struct CastGradient
    : GradientOpInterface::ExternalModel<CastGradient, tensor::CastOp> {
  LogicalResult buildGradients(Operation *operation, OpBuilder &b,
                               ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto op = cast<tensor::CastOp>(operation);
    operandGrads.assign(1, Value());
    if (Value dz = resultGrads[0])
      operandGrads[0] = tensor::CastOp::create(b, op.getLoc(),
                                               op.getSource().getType(), dz);
    return success();
  }
};
} // namespace

void mlir::llm::registerGradientExternalModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, LLMDialect *) {
    LinearOp::attachInterface<LinearGradient>(*ctx);
    LayerNormOp::attachInterface<LayerNormGradient>(*ctx);
    GeluOp::attachInterface<GeluGradient>(*ctx);
    EmbeddingOp::attachInterface<EmbeddingGradient>(*ctx);
    CrossEntropyOp::attachInterface<CrossEntropyGradient>(*ctx);
    KLDivOp::attachInterface<KLDivGradient>(*ctx);
    RMSNormOp::attachInterface<RMSNormGradient>(*ctx);
    SoftmaxOp::attachInterface<SoftmaxGradient>(*ctx);
    PositionalEncodingOp::attachInterface<PositionalEncodingGradient>(*ctx);
    RopeOp::attachInterface<RopeGradient>(*ctx);
    AttentionOp::attachInterface<AttentionGradient>(*ctx);
    FFNOp::attachInterface<FFNGradient>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, arith::ArithDialect *) {
    arith::AddFOp::attachInterface<BinaryGradient<arith::AddFOp>>(*ctx);
    arith::SubFOp::attachInterface<BinaryGradient<arith::SubFOp>>(*ctx);
    arith::MulFOp::attachInterface<BinaryGradient<arith::MulFOp>>(*ctx);
    arith::DivFOp::attachInterface<BinaryGradient<arith::DivFOp>>(*ctx);
    arith::NegFOp::attachInterface<NegGradient>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, math::MathDialect *) {
    math::TanhOp::attachInterface<TanhGradient>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, tensor::TensorDialect *) {
    tensor::ExtractSliceOp::attachInterface<ExtractSliceGradient>(*ctx);
    tensor::CollapseShapeOp::attachInterface<CollapseShapeGradient>(*ctx);
    tensor::ExpandShapeOp::attachInterface<ExpandShapeGradient>(*ctx);
    tensor::CastOp::attachInterface<CastGradient>(*ctx);
  });
}
