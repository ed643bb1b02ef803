//===- FuseEpilogue.cpp - elementwise consumers into projections ----------===//
//
// A projection's output is usually read once, by an elementwise op: the
// residual add after an attention or MLP output projection, the activation
// after an MLP's up projection, SwiGLU's act(gate) * up. Run as separate
// loops, each reads the whole [tokens, features] output back from memory and
// writes it again. This pass moves them into the projection, on tensors,
// in two ways:
//
// * An add of the output and another tensor becomes part of the
//   projection's starting value: the accumulator starts at bias + residual
//   instead of bias, and the add disappears.
// * Any other elementwise consumer is rewritten to update the projection's
//   output in place (`outs` is the projection's result) and marked
//   `llm.epilogue`. Bufferized, the two ops then write one buffer one after
//   the other, and `llm-lower-contractions-to-vector` applies the
//   consumer's body to the accumulator registers when a tile's last block
//   of K is done, so that the output is stored once.
//
// Both need the projection's result to have no other use (but for its
// shape): a value read elsewhere must exist unmodified.
//
//===----------------------------------------------------------------------===//

#include "ProjectionMatch.h"

#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMFUSEEPILOGUE
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

/// The discardable attribute that marks an in-place epilogue.
static constexpr llvm::StringLiteral kEpilogueAttrName = "llm.epilogue";

namespace {

/// A projection on tensors whose only use is an all-parallel generic reading
/// it elementwise (identity map, the consumer's loops the output's dims).
struct Match {
  linalg::GenericOp projection, consumer;
  /// The consumer's operand that reads the projection.
  OpOperand *operand;
};

static std::optional<Match> matchConsumer(linalg::GenericOp projection) {
  if (!projection.hasPureTensorSemantics() ||
      !matchProjectionMaps(projection) || projection->getNumResults() != 1)
    return std::nullopt;
  // One use besides `tensor.dim`s (which read the shape only).
  Value result = projection->getResult(0);
  OpOperand *only = nullptr;
  for (OpOperand &use : result.getUses()) {
    if (isa<tensor::DimOp>(use.getOwner()))
      continue;
    if (only)
      return std::nullopt;
    only = &use;
  }
  if (!only)
    return std::nullopt;
  OpOperand &use = *only;
  auto consumer = dyn_cast<linalg::GenericOp>(use.getOwner());
  if (!consumer || !consumer.hasPureTensorSemantics() ||
      !consumer.isDpsInput(&use) || consumer.getNumDpsInits() != 1 ||
      consumer.getNumParallelLoops() != consumer.getNumLoops() ||
      consumer.getRegion().getBlocks().size() != 1 ||
      consumer->hasAttr(kEpilogueAttrName))
    return std::nullopt;
  if (!consumer.getMatchingIndexingMap(&use).isIdentity() ||
      !consumer.getMatchingIndexingMap(consumer.getDpsInitOperand(0))
           .isIdentity() ||
      consumer->getResult(0).getType() != result.getType())
    return std::nullopt;
  for (OpOperand &operand : consumer->getOpOperands())
    if (!consumer.getMatchingIndexingMap(&operand).isProjectedPermutation(
            /*allowZeroInResults=*/true))
      return std::nullopt;
  return Match{projection, consumer, &use};
}

/// The sizes of `value`, from the `tensor.empty` it is computed into where
/// there is one: a `tensor.dim` of it would be one more use, which keeps
/// elementwise fusion from fusing the bias broadcast into the new start.
static SmallVector<OpFoldResult> sizesOf(OpBuilder &b, Location loc,
                                         Value value) {
  Value root = value;
  while (auto op = root.getDefiningOp<DestinationStyleOpInterface>())
    root = op.getTiedOpOperand(cast<OpResult>(root))->get();
  if (auto empty = root.getDefiningOp<tensor::EmptyOp>())
    return empty.getMixedSizes();
  return tensor::getMixedSizes(b, loc, value);
}

/// `out = projection + other` (either order, f32): folds `other` into the
/// projection's starting value.
struct FoldAddIntoAccumulator : OpRewritePattern<linalg::GenericOp> {
  FoldAddIntoAccumulator(MLIRContext *context, bool remarks)
      : OpRewritePattern(context, /*benefit=*/2), remarks(remarks) {}
  bool remarks;

  LogicalResult matchAndRewrite(linalg::GenericOp projection,
                                PatternRewriter &rewriter) const override {
    std::optional<Match> match = matchConsumer(projection);
    if (!match)
      return failure();
    linalg::GenericOp consumer = match->consumer;
    Block &body = consumer.getRegion().front();
    auto yield = cast<linalg::YieldOp>(body.getTerminator());
    auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
    if (!add || add->getBlock() != &body || !add.getType().isF32() ||
        std::distance(body.begin(), body.end()) != 2)
      return failure();
    BlockArgument mine = consumer.getMatchingBlockArgument(match->operand);
    Value other = add.getLhs() == mine ? add.getRhs() : add.getLhs();
    auto otherArg = dyn_cast<BlockArgument>(other);
    if (!llvm::is_contained(add->getOperands(), Value(mine)) || other == mine ||
        !otherArg || otherArg.getOwner() != &body ||
        otherArg.getArgNumber() >= consumer.getNumDpsInputs())
      return failure();
    OpOperand *otherOperand =
        consumer.getDpsInputOperand(otherArg.getArgNumber());

    // start = projection's init + other, built where both exist: the
    // projection (pure) moves down to its consumer when `other` is computed
    // after it.
    if (!DominanceInfo().properlyDominates(otherOperand->get(), projection))
      rewriter.moveOpBefore(projection, consumer);
    rewriter.setInsertionPoint(projection);
    Location loc = consumer.getLoc();
    Value init = projection.getDpsInits()[0];
    auto type = cast<RankedTensorType>(init.getType());
    unsigned rank = type.getRank();
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, init);
    Value empty =
        tensor::EmptyOp::create(rewriter, loc, sizes, type.getElementType());
    SmallVector<utils::IteratorType> parallel(rank,
                                              utils::IteratorType::parallel);
    Value start =
        linalg::GenericOp::create(
            rewriter, loc, type, ValueRange{init, otherOperand->get()}, empty,
            {identity, consumer.getMatchingIndexingMap(otherOperand), identity},
            parallel,
            [](OpBuilder &b, Location l, ValueRange args) {
              linalg::YieldOp::create(
                  b, l,
                  arith::AddFOp::create(b, l, args[0], args[1]).getResult());
            })
            .getResult(0);
    rewriter.modifyOpInPlace(
        projection, [&] { projection.getDpsInitsMutable()[0].set(start); });
    if (remarks)
      consumer.emitRemark("add folded into the projection's starting value");
    rewriter.replaceOp(consumer, projection->getResults());
    return success();
  }
};

/// Any other elementwise consumer: rewritten to update the projection's
/// output in place, for the kernels to apply to the accumulators.
struct ConsumeInPlace : OpRewritePattern<linalg::GenericOp> {
  ConsumeInPlace(MLIRContext *context, bool remarks)
      : OpRewritePattern(context, /*benefit=*/1), remarks(remarks) {}
  bool remarks;

  LogicalResult matchAndRewrite(linalg::GenericOp projection,
                                PatternRewriter &rewriter) const override {
    std::optional<Match> match = matchConsumer(projection);
    if (!match)
      return failure();
    linalg::GenericOp consumer = match->consumer;
    Block &body = consumer.getRegion().front();
    // The consumer's own output must not be read: the projection's takes
    // its place.
    BlockArgument initArg = body.getArguments().back();
    if (!initArg.use_empty())
      return failure();
    // Its body is computed per element, from elements only (no indices, no
    // loads, no regions).
    for (Operation &op : body.without_terminator())
      if (op.getNumRegions() || !isMemoryEffectFree(&op) ||
          isa<linalg::IndexOp>(op))
        return failure();
    // The kernels apply the body when the projection's tile is done: every
    // other input must be computed before the projection starts. Where one
    // is not, the projection (pure) moves down to the consumer.
    for (OpOperand *input : consumer.getDpsInputOperands())
      if (input != match->operand &&
          !DominanceInfo().properlyDominates(input->get(), projection)) {
        rewriter.moveOpBefore(projection, consumer);
        break;
      }

    SmallVector<Value> inputs;
    SmallVector<AffineMap> maps;
    for (OpOperand *input : consumer.getDpsInputOperands()) {
      if (input == match->operand)
        continue;
      inputs.push_back(input->get());
      maps.push_back(consumer.getMatchingIndexingMap(input));
    }
    maps.push_back(consumer.getMatchingIndexingMap(match->operand));
    rewriter.setInsertionPoint(consumer);
    auto fused = linalg::GenericOp::create(
        rewriter, consumer.getLoc(), consumer->getResultTypes(), inputs,
        projection->getResult(0), maps, consumer.getIteratorTypesArray());
    fused->setAttr(kEpilogueAttrName, rewriter.getUnitAttr());
    // The body, its projection argument becoming the output argument.
    Region &region = fused.getRegion();
    rewriter.inlineRegionBefore(consumer.getRegion(), region, region.end());
    Block &block = region.front();
    BlockArgument mine = block.getArgument(match->operand->getOperandNumber());
    rewriter.modifyOpInPlace(fused, [&] {
      mine.replaceAllUsesWith(initArg);
      block.eraseArgument(mine.getArgNumber());
    });
    if (remarks)
      consumer.emitRemark("fused into the projection as its epilogue");
    rewriter.replaceOp(consumer, fused->getResults());
    return success();
  }
};

struct LLMFuseEpilogue : mlir::llm::impl::LLMFuseEpilogueBase<LLMFuseEpilogue> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // Folding an add costs nothing at run time: it goes first (benefit 2).
    patterns.add<FoldAddIntoAccumulator, ConsumeInPlace>(&getContext(),
                                                         remarks);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
