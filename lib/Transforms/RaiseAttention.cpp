//===- RaiseAttention.cpp - attention subgraphs to llm.attention -*- C++ -*-===//
//
// Recognizes scaled dot-product attention in an imported graph:
//
//   scores = expand(batch_matmul(collapse(Q), collapse(K^T)))   [B,H,S,T]
//   scores = scores / c  (or * c)                               optional
//   scores = where(m, -big, scores) | scores + mask             optional
//   out    = batch_matmul(collapse(softmax(scores, -1)), collapse(V))
//
// with Q [B,H,S,D], K^T [B,H,D,T] and V [B,H,T,Dv] whatever computed them
// (reshape/transpose plumbing, RoPE, repeated KV heads), and rewrites it as
// one llm.attention over heads packed in the feature dim (a Trilu-built
// causal mask becomes `causal`). The transposes it
// adds fold into the plumbing around it on canonicalization.
//
//===----------------------------------------------------------------------===//

#include "RaiseMatch.h"
#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMRAISEATTENTION
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::raise;

/// Scores at or below this count as -inf (torch exports the dtype's lowest
/// value as the masked score).
static constexpr double kMaskedScore = -1.0e30;

/// `value` ([B, H, X, Y]) transposed by `permutation` (to [B, X, H, Y]) and
/// its last two dims merged: [B, X, H * Y].
static Value packHeads(OpBuilder &b, Location loc, Value value,
                       ArrayRef<int64_t> permutation) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape;
  SmallVector<Value> dynamicSizes;
  for (int64_t d : permutation) {
    shape.push_back(type.getDimSize(d));
    if (type.isDynamicDim(d))
      dynamicSizes.push_back(tensor::DimOp::create(b, loc, value, d));
  }
  Value init = tensor::EmptyOp::create(b, loc, shape, type.getElementType(),
                                       dynamicSizes);
  Value transposed =
      linalg::TransposeOp::create(b, loc, value, init, permutation)
          .getResult()[0];
  return tensor::CollapseShapeOp::create(
      b, loc, transposed,
      SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
}

/// The elementwise negation of an i1 tensor, reusing `x` when the tensor is
/// already `not x`.
static Value negateMask(OpBuilder &b, Location loc, Value mask) {
  if (auto e = matchElementwiseOf<arith::XOrIOp>(mask)) {
    // xor with true (an i1 one).
    for (unsigned i = 0; i < 2; ++i)
      if (Value x = e->fullInput(i);
          x && matchPattern(e->body->getOperand(1 - i), m_One()))
        return x;
  }
  auto type = cast<RankedTensorType>(mask.getType());
  SmallVector<Value> dynamicSizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      dynamicSizes.push_back(tensor::DimOp::create(b, loc, mask, d));
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                       type.getElementType(), dynamicSizes);
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> iterators(type.getRank(),
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, type, mask, init, ArrayRef<AffineMap>{identity, identity},
             iterators,
             [](OpBuilder &nb, Location l, ValueRange args) {
               Value one = arith::ConstantIntOp::create(nb, l, 1, 1);
               linalg::YieldOp::create(
                   nb, l, ValueRange{arith::XOrIOp::create(nb, l, args[0], one)});
             })
      .getResult(0);
}

/// True when `mask` keeps exactly the causal positions of square scores:
/// Trilu's lower triangle (j - i <= 0) of an all-true [S, S] tensor, as the
/// importer writes it, possibly reshaped to [1, 1, S, S]. Broadcast against
/// [B, H, S, T] scores it forces T == S, where it equals `causal`.
static bool isCausalKeepMask(Value mask) {
  if (auto expand = mask.getDefiningOp<tensor::ExpandShapeOp>()) {
    if (expand.getSrcType().getRank() != 2 ||
        expand.getResultType().getRank() != 4 ||
        expand.getResultType().getDimSize(0) != 1 ||
        expand.getResultType().getDimSize(1) != 1)
      return false;
    mask = expand.getSrc();
  }
  auto generic = mask.getDefiningOp<linalg::GenericOp>();
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumResults() != 1 || generic.getNumLoops() != 2 ||
      generic.getNumParallelLoops() != 2 ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return false;
  // The input: all true.
  auto fill = generic.getDpsInputOperand(0)->get().getDefiningOp<linalg::FillOp>();
  IntegerAttr fillValue;
  if (!fill || !matchPattern(fill.getInputs()[0], m_Constant(&fillValue)) ||
      !fillValue.getType().isInteger(1) || fillValue.getInt() == 0)
    return false;
  // The body: select(index(1) - index(0) <= 0, in, false).
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto select = yield.getOperand(0).getDefiningOp<arith::SelectOp>();
  IntegerAttr falseValue, zero;
  if (!select || select.getTrueValue() != body.getArgument(0) ||
      !matchPattern(select.getFalseValue(), m_Constant(&falseValue)) ||
      falseValue.getInt() != 0)
    return false;
  auto cmp = select.getCondition().getDefiningOp<arith::CmpIOp>();
  if (!cmp || cmp.getPredicate() != arith::CmpIPredicate::sle ||
      !matchPattern(cmp.getRhs(), m_Constant(&zero)) || zero.getInt() != 0)
    return false;
  auto sub = cmp.getLhs().getDefiningOp<arith::SubIOp>();
  auto j = sub ? sub.getLhs().getDefiningOp<linalg::IndexOp>() : nullptr;
  auto i = sub ? sub.getRhs().getDefiningOp<linalg::IndexOp>() : nullptr;
  return j && i && j.getDim() == 1 && i.getDim() == 0;
}

/// A default-map batch_matmul accumulating into zeros.
static bool isPlainBatchMatmul(linalg::BatchMatmulOp op) {
  return op && !op.hasUserDefinedMaps() &&
         isFilledWith(op.getDpsInitOperand(0)->get(), 0.0);
}

namespace {

struct RaiseAttentionPattern : OpRewritePattern<linalg::BatchMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::BatchMatmulOp pv,
                                PatternRewriter &rewriter) const override {
    if (!isPlainBatchMatmul(pv) || !pv.hasPureTensorSemantics())
      return failure();
    Value probs = collapsedLeadingPair(pv.getDpsInputOperand(0)->get());
    Value v4 = collapsedLeadingPair(pv.getDpsInputOperand(1)->get());
    if (!probs || !v4)
      return rewriter.notifyMatchFailure(pv, "operands are not [B*H, ...]");
    auto softmax = probs.getDefiningOp<SoftmaxOp>();
    if (!softmax || softmax.getNormalizedAxis() != 3)
      return rewriter.notifyMatchFailure(pv, "no softmax over keys");

    // Masks, outermost first, then the scale.
    Value scores = softmax.getInput();
    Value keepMask, addMask, dropMask;
    while (std::optional<Elementwise> e = matchElementwise(scores)) {
      auto type = cast<ShapedType>(scores.getType());
      if (isa<arith::SelectOp>(e->body) && !keepMask && !dropMask) {
        // select(m, -big, s) drops where m; select(m, s, -big) keeps.
        auto [cond, condMap] = e->input(0);
        if (!cond || !isRightAlignedBroadcast(condMap,
                                              cast<ShapedType>(cond.getType()),
                                              4))
          break;
        std::optional<double> first = e->scalar(1), second = e->scalar(2);
        if (first && *first <= kMaskedScore && e->fullInput(2)) {
          dropMask = cond;
          scores = e->fullInput(2);
          continue;
        }
        if (second && *second <= kMaskedScore && e->fullInput(1)) {
          keepMask = cond;
          scores = e->fullInput(1);
          continue;
        }
        break;
      }
      if (isa<arith::AddFOp>(e->body) && !addMask) {
        bool matched = false;
        for (unsigned i = 0; i < 2 && !matched; ++i) {
          Value s = e->fullInput(i);
          auto [mask, maskMap] = e->input(1 - i);
          if (!s || !mask || mask == s ||
              cast<ShapedType>(mask.getType()).getElementType() !=
                  type.getElementType() ||
              !isRightAlignedBroadcast(maskMap,
                                       cast<ShapedType>(mask.getType()), 4))
            continue;
          addMask = mask;
          scores = s;
          matched = true;
        }
        if (matched)
          continue;
      }
      break;
    }
    if ((keepMask || dropMask) && addMask)
      return rewriter.notifyMatchFailure(pv, "both a boolean and a float mask");

    double scale = 1.0;
    if (std::optional<Elementwise> e = matchElementwise(scores)) {
      if (isa<arith::DivFOp>(e->body) && e->fullInput(0) && e->scalar(1) &&
          *e->scalar(1) != 0.0) {
        scale = 1.0 / *e->scalar(1);
        scores = e->fullInput(0);
      } else if (isa<arith::MulFOp>(e->body)) {
        for (unsigned i = 0; i < 2; ++i) {
          if (e->fullInput(i) && e->scalar(1 - i)) {
            scale = *e->scalar(1 - i);
            scores = e->fullInput(i);
            break;
          }
        }
      }
    }

    auto expand = scores.getDefiningOp<tensor::ExpandShapeOp>();
    if (!expand || expand.getSrcType().getRank() != 3 ||
        expand.getResultType().getRank() != 4 ||
        expand.getReassociationIndices()[0] != ReassociationIndices{0, 1})
      return rewriter.notifyMatchFailure(pv, "scores are not [B, H, S, T]");
    auto qk = expand.getSrc().getDefiningOp<linalg::BatchMatmulOp>();
    if (!isPlainBatchMatmul(qk))
      return rewriter.notifyMatchFailure(pv, "scores are not Q.K^T");
    Value q4 = collapsedLeadingPair(qk.getDpsInputOperand(0)->get());
    Value kt4 = collapsedLeadingPair(qk.getDpsInputOperand(1)->get());
    if (!q4 || !kt4)
      return rewriter.notifyMatchFailure(pv, "Q or K^T is not [B*H, ...]");

    auto qType = cast<RankedTensorType>(q4.getType());
    auto ktType = cast<RankedTensorType>(kt4.getType());
    auto vType = cast<RankedTensorType>(v4.getType());
    int64_t heads = qType.getDimSize(1), headDim = qType.getDimSize(3),
            valueDim = vType.getDimSize(3);
    if (ShapedType::isDynamic(heads) || ShapedType::isDynamic(headDim) ||
        ShapedType::isDynamic(valueDim) || ktType.getDimSize(1) != heads ||
        vType.getDimSize(1) != heads || ktType.getDimSize(2) != headDim ||
        expand.getResultType().getDimSize(1) != heads)
      return rewriter.notifyMatchFailure(pv, "head counts or sizes differ");
    Type elementType = qType.getElementType();
    if (ktType.getElementType() != elementType ||
        vType.getElementType() != elementType)
      return rewriter.notifyMatchFailure(pv, "mixed element types");

    Location loc = pv.getLoc();
    Value q = packHeads(rewriter, loc, q4, {0, 2, 1, 3});
    Value k = packHeads(rewriter, loc, kt4, {0, 3, 1, 2});
    Value v = packHeads(rewriter, loc, v4, {0, 2, 1, 3});
    Value mask = addMask ? addMask
                 : keepMask
                     ? keepMask
                     : (dropMask ? negateMask(rewriter, loc, dropMask)
                                 : Value());
    // The Trilu-built causal mask is the op's `causal`.
    bool causal = mask && mask != addMask && isCausalKeepMask(mask);
    if (causal)
      mask = {};
    auto attention = AttentionOp::create(rewriter, loc, q, k, v, heads,
                                         /*numKVHeads=*/0, causal, mask,
                                         scale);

    // Back to the [B*H, S, Dv] the graph continues from.
    Value out = attention.getResult();
    SmallVector<OpFoldResult> outSizes =
        tensor::getMixedSizes(rewriter, loc, out);
    SmallVector<OpFoldResult> split = {outSizes[0], outSizes[1],
                                       rewriter.getIndexAttr(heads),
                                       rewriter.getIndexAttr(valueDim)};
    auto outType = cast<RankedTensorType>(out.getType());
    auto splitType = RankedTensorType::get(
        {outType.getDimSize(0), outType.getDimSize(1), heads, valueDim},
        elementType);
    Value expanded = tensor::ExpandShapeOp::create(
        rewriter, loc, splitType, out,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}}, split);
    SmallVector<Value> dynamicSizes;
    for (int64_t d : {0, 2, 1, 3})
      if (splitType.isDynamicDim(d))
        dynamicSizes.push_back(tensor::DimOp::create(rewriter, loc, expanded, d));
    Value init = tensor::EmptyOp::create(
        rewriter, loc,
        {splitType.getDimSize(0), heads, splitType.getDimSize(1), valueDim},
        elementType, dynamicSizes);
    Value transposed =
        linalg::TransposeOp::create(rewriter, loc, expanded, init,
                                    ArrayRef<int64_t>{0, 2, 1, 3})
            .getResult()[0];
    Value merged = tensor::CollapseShapeOp::create(
        rewriter, loc, transposed,
        SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
    if (merged.getType() != pv.getResult(0).getType())
      merged = tensor::CastOp::create(rewriter, loc, pv.getResult(0).getType(),
                                      merged);
    rewriter.replaceOp(pv, merged);
    return success();
  }
};

struct LLMRaiseAttention
    : mlir::llm::impl::LLMRaiseAttentionBase<LLMRaiseAttention> {
  void runOnOperation() override {
    if (failed(applyRaisingPattern<RaiseAttentionPattern>(getOperation())))
      signalPassFailure();
  }
};

} // namespace
