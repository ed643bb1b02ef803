//===- SplitDestinations.cpp - one destination per writer -----------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// llm-split-destinations: CSE merges identical `linalg.fill`s of zeros
// (every projection's accumulator of one shape, in the forward and in the
// backward), so one value ends up the destination of many ops. One-shot
// bufferization then gives it one buffer, filled once, written in place by
// one of its users and copied for each other, and that buffer lives from
// the fill to the last copy: a [B, S, d] table of zeros held across a whole
// training step, and a copy per projection.
//
// Before bufferization, this pass gives each op that writes into such a
// fill (any use but a destination-style op's input) a clone of its own,
// with its own `tensor.empty`, right before the op (its ancestor in the
// fill's block): each destination bufferizes to a buffer of its own,
// filled where it is written, and the copies go. Reads keep the original.
// A shared `tensor.empty` alone is left shared: nothing reads it, so
// bufferization writes it in place without copies.
//
//===----------------------------------------------------------------------===//

#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMSPLITDESTINATIONS
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {

/// Whether \p use only reads the value: an input of a destination-style op.
static bool isRead(OpOperand &use) {
  auto dps = dyn_cast<DestinationStyleOpInterface>(use.getOwner());
  return dps && dps.isDpsInput(&use);
}

/// Where the zeros \p fill makes are written by more than one op, or
/// written and also read, gives each op that may write them a clone of
/// \p fill (and of the `tensor.empty` it fills) placed right before that
/// op; \p fill goes if nothing reads it then.
static void split(RewriterBase &rewriter, linalg::FillOp fill) {
  Value value = fill.getResult(0);
  Block *block = fill->getBlock();
  SmallVector<std::pair<Operation *, OpOperand *>> writers;
  for (OpOperand &use : value.getUses())
    if (!isRead(use))
      if (Operation *anchor = block->findAncestorOpInBlock(*use.getOwner()))
        writers.push_back({anchor, &use});
  if (writers.empty() || value.hasOneUse())
    return;
  auto empty = fill.getDpsInits()[0].getDefiningOp<tensor::EmptyOp>();
  for (auto &writer : writers) {
    OpOperand *use = writer.second;
    rewriter.setInsertionPoint(writer.first);
    IRMapping mapping;
    if (empty)
      mapping.map(empty.getResult(), rewriter.clone(*empty)->getResult(0));
    Operation *clone = rewriter.clone(*fill, mapping);
    rewriter.modifyOpInPlace(use->getOwner(),
                             [&] { use->set(clone->getResult(0)); });
  }
  if (fill->use_empty()) {
    rewriter.eraseOp(fill);
    if (empty && empty->use_empty())
      rewriter.eraseOp(empty);
  }
}

struct LLMSplitDestinations
    : mlir::llm::impl::LLMSplitDestinationsBase<LLMSplitDestinations> {
  using Base::Base;

  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    SmallVector<linalg::FillOp> fills;
    getOperation().walk([&](linalg::FillOp fill) {
      if (fill.hasPureTensorSemantics())
        fills.push_back(fill);
    });
    for (linalg::FillOp fill : fills)
      split(rewriter, fill);
  }
};

} // namespace
