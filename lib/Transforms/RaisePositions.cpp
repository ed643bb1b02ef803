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
#include "mlir/IR/PatternMatch.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMRAISEPOSITIONS
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::raise;

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
          !matchPositionIds(skipNegativeWrap(table.getIds()),
                            tokenLookup.getIds()))
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
