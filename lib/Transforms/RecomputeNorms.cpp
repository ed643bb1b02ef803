//===- RecomputeNorms.cpp - norms recomputed for the backward -------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// llm-recompute-norms: in a function that computes a loss and then its
// gradient (a training step, llm-autodiff's VJPs), a norm's output is read
// twice: by the projection after it in the forward, and by that
// projection's weight gradient in the backward. Kept, it is one activation
// per norm held from the forward to the backward ([S, d] each: 3 MiB per
// norm at GPT-2-small's 1024 tokens, two norms per layer). The norm's own
// gradient reads its input, which therefore stays live anyway; recomputing
// the output from it where the backward first reads it costs one pass over
// [S, d] and frees the output after the forward's use.
//
// The forward ends at the first op that is or holds the loss
// (`llm.cross_entropy`, `llm.kl_div`). A `llm.layer_norm` or `llm.rms_norm`
// before it whose result is read both before and after it, whose input is
// read after that first late use too (so recomputing extends no life), and
// whose weight and bias are arguments or read after it as well, is cloned
// right before its first late reader, which reads the clone from then on.
// The clone is marked `llm.recomputed`, which its lowering keeps on its
// first reduction, so that CSE does not merge it back into the original.
//
//===----------------------------------------------------------------------===//

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMRECOMPUTENORMS
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
/// The first op of \p block that is or holds a loss, or null.
Operation *findLoss(Block &block) {
  for (Operation &op : block) {
    WalkResult found = op.walk([](Operation *inner) {
      return isa<CrossEntropyOp, KLDivOp>(inner) ? WalkResult::interrupt()
                                                 : WalkResult::advance();
    });
    if (found.wasInterrupted())
      return &op;
  }
  return nullptr;
}

/// Whether \p value is available at \p point without being kept for it: an
/// argument of the function, or read at or after \p point (other than by
/// \p except).
bool liveAt(Value value, Operation *point, Operation *except) {
  if (isa<BlockArgument>(value))
    return true;
  Block *block = point->getBlock();
  return llvm::any_of(value.getUsers(), [&](Operation *user) {
    Operation *ancestor = block->findAncestorOpInBlock(*user);
    return user != except && ancestor &&
           (ancestor == point || point->isBeforeInBlock(ancestor));
  });
}

struct LLMRecomputeNormsPass
    : mlir::llm::impl::LLMRecomputeNormsBase<LLMRecomputeNormsPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    Block &block = func.front();
    Operation *loss = findLoss(block);
    if (!loss)
      return;
    SmallVector<Operation *> norms;
    for (Operation &op : block) {
      if (&op == loss)
        break;
      if (isa<LayerNormOp, RMSNormOp>(op))
        norms.push_back(&op);
    }
    for (Operation *norm : norms) {
      // The readers after the loss, and the first of them.
      SmallVector<OpOperand *> late;
      Operation *first = nullptr;
      bool early = false;
      for (OpOperand &use : norm->getResult(0).getUses()) {
        Operation *ancestor = block.findAncestorOpInBlock(*use.getOwner());
        if (!ancestor || !loss->isBeforeInBlock(ancestor)) {
          early = true;
          continue;
        }
        late.push_back(&use);
        if (!first || ancestor->isBeforeInBlock(first))
          first = ancestor;
      }
      if (!early || late.empty())
        continue;
      if (!llvm::all_of(norm->getOperands(), [&](Value operand) {
            return liveAt(operand, first, norm);
          }))
        continue;
      OpBuilder b(first);
      Operation *clone = b.clone(*norm);
      clone->setAttr(LLMDialect::kRecomputedAttrName, b.getUnitAttr());
      for (OpOperand *use : late)
        use->set(clone->getResult(0));
      if (remarks)
        norm->emitRemark() << "recomputed for the backward";
    }
  }
};
} // namespace
