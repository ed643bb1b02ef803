//===- RaisePositions.cpp - position-table lookups to llm ops ---*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// torch exports GPT-2's learned positions as a lookup with ids it computes,
// `wpe[Range(0, seq)]` broadcast over the batch, added to the token
// embedding. Imported op by op that is
//
//   %iota = linalg.generic outs(tensor<?xi64>) { index_cast(linalg.index 0) }
//   %row  = tensor.expand_shape %iota [[0, 1]] : tensor<?xi64> into 1x?
//   %ids  = linalg.generic ins(%row: (d0, d1) -> (0, d1))  { yield %in }
//   %ids' = linalg.generic ins(%ids) { select(%in < 0, %in + rows, %in) }
//   %pe   = llm.embedding %wpe[%ids']
//   %x    = linalg.generic ins(%tok, %pe) { addf }
//
// with the iota as long as the token ids' sequence dim. The add becomes
// `llm.positional_encoding learned %tok table %wpe`, whose positions are
// implicit, so that generation can offset them by the cache position.
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
#define GEN_PASS_DEF_LLMRAISEPOSITIONS
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::raise;

/// The value a single-block generic yields, when it is its only result.
static Value getYielded(linalg::GenericOp op) {
  if (op.getNumResults() != 1)
    return nullptr;
  return cast<linalg::YieldOp>(op.getBody()->getTerminator()).getOperand(0);
}

/// `select(x < 0, x + c, x)` of one full-shape input (ONNX Gather's wrap of
/// negative indices): returns the input, else \p value.
static Value skipNegativeWrap(Value value) {
  auto op = value.getDefiningOp<linalg::GenericOp>();
  if (!op || op.getNumDpsInputs() != 1 || op.getNumResults() != 1 ||
      op.getNumParallelLoops() != op.getNumLoops() ||
      !llvm::all_of(op.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return value;
  Value in = op.getBody()->getArgument(0);
  auto select = getYielded(op).getDefiningOp<arith::SelectOp>();
  auto cmp =
      select ? select.getCondition().getDefiningOp<arith::CmpIOp>() : nullptr;
  if (!cmp || select.getFalseValue() != in ||
      cmp.getPredicate() != arith::CmpIPredicate::slt || cmp.getLhs() != in ||
      !matchPattern(cmp.getRhs(), m_Zero()))
    return value;
  return op.getDpsInputs()[0];
}

/// `n`, or `max(n, 0)` of it: the iota's length.
static Value skipNonNegativeMax(Value value) {
  if (auto max = value.getDefiningOp<arith::MaxSIOp>())
    if (matchPattern(max.getRhs(), m_Zero()))
      return max.getLhs();
  return value;
}

/// True when \p ids ([B, S]) holds 0 .. S-1 in every row, with S the
/// sequence dim of \p tokens.
static bool isPositionIota(Value ids, Value tokens) {
  ids = skipNegativeWrap(ids);
  // The broadcast over the batch: (d0, d1) -> (0, d1), yielding the input.
  auto broadcast = ids.getDefiningOp<linalg::GenericOp>();
  if (!broadcast || broadcast.getNumDpsInputs() != 1 ||
      broadcast.getNumLoops() != 2 ||
      broadcast.getNumParallelLoops() != 2 ||
      getYielded(broadcast) != broadcast.getBody()->getArgument(0))
    return false;
  MLIRContext *ctx = ids.getContext();
  AffineMap rowMap = AffineMap::get(
      2, 0, {getAffineConstantExpr(0, ctx), getAffineDimExpr(1, ctx)}, ctx);
  if (broadcast.getIndexingMapsArray()[0] != rowMap)
    return false;
  auto expand =
      broadcast.getDpsInputs()[0].getDefiningOp<tensor::ExpandShapeOp>();
  if (!expand || expand.getSrcType().getRank() != 1 ||
      expand.getResultType().getRank() != 2 ||
      expand.getResultType().getDimSize(0) != 1)
    return false;
  // The iota: no inputs, yields index_cast(linalg.index 0).
  auto iota = expand.getSrc().getDefiningOp<linalg::GenericOp>();
  if (!iota || iota.getNumDpsInputs() != 0 || iota.getNumLoops() != 1)
    return false;
  auto cast = getYielded(iota).getDefiningOp<arith::IndexCastOp>();
  auto index = cast ? cast.getIn().getDefiningOp<linalg::IndexOp>() : nullptr;
  if (!index || index.getDim() != 0)
    return false;
  // Its length is the token ids' sequence dim.
  auto empty = iota.getDpsInits()[0].getDefiningOp<tensor::EmptyOp>();
  if (!empty || empty.getDynamicSizes().size() != 1)
    return false;
  auto dim = skipNonNegativeMax(empty.getDynamicSizes()[0])
                 .getDefiningOp<tensor::DimOp>();
  std::optional<int64_t> dimIndex = dim ? dim.getConstantIndex() : std::nullopt;
  return dim && dim.getSource() == tokens && dimIndex == 1;
}

namespace {
/// `tok + wpe[iota]` -> `llm.positional_encoding learned tok table wpe`.
struct RaiseLearnedPositions : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<Elementwise> add =
        matchElementwiseOf<arith::AddFOp>(op.getResult(0));
    if (!add || op.getNumDpsInputs() != 2)
      return failure();
    for (unsigned i = 0; i < 2; ++i) {
      Value tokens = add->fullInput(i), positions = add->fullInput(1 - i);
      if (!tokens || !positions)
        continue;
      auto table = positions.getDefiningOp<EmbeddingOp>();
      auto tokenLookup = tokens.getDefiningOp<EmbeddingOp>();
      if (!table || !tokenLookup ||
          !isPositionIota(table.getIds(), tokenLookup.getIds()))
        continue;
      // The add's operands must be in the order the body reads them.
      if (add->body->getOperand(0) != op.getBody()->getArgument(0) &&
          add->body->getOperand(0) != op.getBody()->getArgument(1))
        continue;
      rewriter.replaceOpWithNewOp<PositionalEncodingOp>(
          op, op.getResult(0).getType(), PositionalEncodingKind::Learned,
          tokens, table.getTable(), /*positions=*/Value());
      return success();
    }
    return failure();
  }
};

struct LLMRaisePositionsPass
    : mlir::llm::impl::LLMRaisePositionsBase<LLMRaisePositionsPass> {
  void runOnOperation() override {
    if (failed(applyRaisingPattern<RaiseLearnedPositions>(getOperation())))
      signalPassFailure();
  }
};
} // namespace
