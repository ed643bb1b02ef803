//===- FuseNorm.cpp - a norm and its input in one pass over the rows ------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// llm-fuse-norm: LayerNorm and RMSNorm arrive from convert-llm-to-linalg as
// a chain of generics over the whole activation: row sums (mean, then the
// variance or the mean square), per-row scalars (1 / sqrt(var + eps)), and
// the normalizing generic. Each walks every row, so the input is read from
// memory three times, and each is its own parallel loop. This pass tiles the
// normalizing generic along its rows (an scf.forall of `rows` rows per
// iteration) and fuses the chain into the tile with upstream's
// tileConsumerAndFuseProducersUsingSCF: the row statistics of a tile are
// computed right before it is normalized, while its rows are in cache.
//
// An elementwise producer of the norm's input that only the norm reads is
// fused too. One with other uses (a residual add the residual stream reads
// again) stays a loop of its own: the tile-and-fuse driver clones a fused
// producer for each slice of it a tile takes, so yielding it would compute
// it, and the statistics that read it, more than once per tile.
//
//===----------------------------------------------------------------------===//

#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMFUSENORM
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {

/// The map (d0, ..., dn-1) -> (d0, ..., dn-2) of \p numLoops loops.
static AffineMap dropLastMap(unsigned numLoops, MLIRContext *ctx) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d = 0; d + 1 < numLoops; ++d)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(numLoops, 0, exprs, ctx);
}

/// Whether \p op is a generic on tensors without the `llm.epilogue` mark (a
/// projection's in-place update stays next to its projection).
static bool isPlainTensorGeneric(linalg::GenericOp op) {
  return op && op.hasPureTensorSemantics() && !op->hasAttr("llm.epilogue") &&
         op.getNumDpsInits() == 1;
}

/// A row reduction over \p rank loops: the last loop reduced by an add
/// (sums and sums of squares), the others parallel, the output per row, the
/// inputs whole rows or per-row values.
static bool isRowSum(linalg::GenericOp op, unsigned rank) {
  if (!isPlainTensorGeneric(op) || op.getNumLoops() != rank ||
      op.getNumReductionLoops() != 1 ||
      op.getIteratorTypesArray().back() != utils::IteratorType::reduction)
    return false;
  MLIRContext *ctx = op.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap row = dropLastMap(rank, ctx);
  if (op.getIndexingMapsArray().back() != row)
    return false;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map != identity && map != row)
      return false;
  }
  auto yield = cast<linalg::YieldOp>(op.getBody()->getTerminator());
  Operation *combiner = yield.getOperand(0).getDefiningOp();
  return isa_and_nonnull<arith::AddFOp>(combiner) &&
         llvm::is_contained(combiner->getOperands(),
                            op.getBody()->getArguments().back());
}

/// An all-parallel generic over \p rank loops whose maps are projected
/// permutations (an input may be broadcast, as a norm's weight is): per-row
/// scalars (rank - 1 loops) or an elementwise op on rows.
static bool isElementwise(linalg::GenericOp op, unsigned rank) {
  if (!isPlainTensorGeneric(op) || op.getNumLoops() != rank ||
      op.getNumLoops() != op.getNumParallelLoops())
    return false;
  return llvm::all_of(op.getIndexingMapsArray(), [&](AffineMap map) {
    return map.isProjectedPermutation() && map.getNumResults() <= rank;
  });
}

/// A matched norm: the normalizing generic and the chain computing its
/// per-row statistics.
struct NormChain {
  linalg::GenericOp root;
  /// The row sums and per-row elementwise ops the root depends on.
  DenseSet<Operation *> chain;
  /// The rows the statistics are taken of (the root's input).
  Value input;
};

/// Matches a normalizing generic: all parallel over rows of rank >= 2,
/// reading an input x whole and per-row values computed, through per-row
/// elementwise ops, from row sums of x.
static std::optional<NormChain> matchNorm(linalg::GenericOp root) {
  if (!isPlainTensorGeneric(root) || root.getNumLoops() < 2 ||
      root.getNumLoops() != root.getNumParallelLoops() ||
      root.getNumResults() != 1 ||
      !cast<ShapedType>(root.getResult(0).getType()).getElementType().isF32())
    return std::nullopt;
  unsigned rank = root.getNumLoops();
  MLIRContext *ctx = root.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap row = dropLastMap(rank, ctx);
  if (root.getIndexingMapsArray().back() != identity)
    return std::nullopt;

  NormChain norm;
  norm.root = root;
  DenseSet<Value> wholeInputs;
  SmallVector<Value> worklist;
  for (OpOperand *input : root.getDpsInputOperands()) {
    AffineMap map = root.getMatchingIndexingMap(input);
    if (map == identity)
      wholeInputs.insert(input->get());
    else if (map == row)
      worklist.push_back(input->get());
  }
  // Walk the per-row values back to the row sums they come from.
  bool sumsAnInput = false;
  while (!worklist.empty()) {
    auto op = worklist.pop_back_val().getDefiningOp<linalg::GenericOp>();
    if (!op || op->getBlock() != root->getBlock() ||
        !norm.chain.insert(op).second)
      continue;
    if (isRowSum(op, rank)) {
      for (OpOperand *input : op.getDpsInputOperands()) {
        if (op.getMatchingIndexingMap(input) == identity) {
          if (!wholeInputs.contains(input->get()))
            return std::nullopt;
          sumsAnInput = true;
          norm.input = input->get();
        } else {
          worklist.push_back(input->get());
        }
      }
      continue;
    }
    if (!isElementwise(op, rank - 1))
      return std::nullopt;
    for (Value input : op.getDpsInputs())
      if (cast<ShapedType>(input.getType()).getRank() == rank - 1)
        worklist.push_back(input);
  }
  if (!sumsAnInput)
    return std::nullopt;
  return norm;
}

/// A value the norm's tiles may overwrite with its output: read whole
/// (identity map) by the root or the ops fused with it, of the root's
/// type, computed by an op of the root's block that is not fused (whose
/// rows the tiles compute), and read by nothing but the fused ops and ops
/// before the root (none of which takes a view of it). The root's own output
/// must be a fresh `tensor.empty` its body does not read. Null when there is
/// none.
static Value findDeadRows(linalg::GenericOp root,
                          const DenseSet<Operation *> &fused) {
  OpOperand &init = root.getDpsInitsMutable()[0];
  if (!init.get().getDefiningOp<tensor::EmptyOp>() ||
      root.payloadUsesValueFromOperand(&init))
    return Value();
  Block *block = root->getBlock();
  AffineMap identity =
      AffineMap::getMultiDimIdentityMap(root.getNumLoops(), root.getContext());
  // The root's inputs first, then its producers', latest first: an order
  // of the block, not of the set's pointers, so that compiles repeat.
  SmallVector<Operation *> candidates;
  for (Operation *op : fused)
    if (op->getBlock() == block)
      candidates.push_back(op);
  llvm::sort(candidates, [](Operation *a, Operation *b) {
    return a != b && b->isBeforeInBlock(a);
  });
  for (Operation *op : candidates) {
    auto generic = cast<linalg::GenericOp>(op);
    for (OpOperand *input : generic.getDpsInputOperands()) {
      Value rows = input->get();
      Operation *producer = rows.getDefiningOp();
      if (rows.getType() != root.getResult(0).getType() ||
          generic.getMatchingIndexingMap(input) != identity || !producer ||
          producer->getBlock() != block || isa<tensor::EmptyOp>(producer) ||
          fused.contains(producer))
        continue;
      bool deadAfter = llvm::all_of(rows.getUsers(), [&](Operation *user) {
        if (fused.contains(user))
          return true;
        // A view of the rows would be read through after the root.
        if (isa<tensor::ExtractSliceOp, tensor::CollapseShapeOp,
                tensor::ExpandShapeOp, tensor::CastOp>(user))
          return false;
        Operation *top = block->findAncestorOpInBlock(*user);
        return top && top != root && top->isBeforeInBlock(root);
      });
      if (deadAfter)
        return rows;
    }
  }
  return Value();
}

/// In the tiles of \p forall, whose output starts as \p rows: the slices
/// of \p rows a tile reads where it then writes its output read the
/// output's block argument instead, which holds the same values until the
/// tile writes them. Bufferized, the output then takes the rows' buffer.
static void readRowsFromDestination(RewriterBase &rewriter,
                                    scf::ForallOp forall, Value rows) {
  for (unsigned i = 0, e = forall.getNumResults(); i < e; ++i) {
    if (forall.getOutputs()[i] != rows)
      continue;
    BlockArgument arg = forall.getRegionIterArgs()[i];
    SmallVector<tensor::ParallelInsertSliceOp> writes;
    for (Operation *user : arg.getUsers())
      if (auto insert = dyn_cast<tensor::ParallelInsertSliceOp>(user);
          insert && insert.getDest() == arg)
        writes.push_back(insert);
    if (writes.size() != 1)
      continue;
    tensor::ParallelInsertSliceOp write = writes.front();
    forall.getBody()->walk([&](tensor::ExtractSliceOp read) {
      if (read.getSource() != rows ||
          read.getMixedOffsets() != write.getMixedOffsets() ||
          read.getMixedSizes() != write.getMixedSizes() ||
          read.getMixedStrides() != write.getMixedStrides())
        return;
      rewriter.modifyOpInPlace(read, [&] { read.getSourceMutable().set(arg); });
    });
  }
}

struct LLMFuseNorm : mlir::llm::impl::LLMFuseNormBase<LLMFuseNorm> {
  using Base::Base;

  void runOnOperation() override {
    if (rows < 1) {
      getOperation()->emitError("llm-fuse-norm: rows must be positive");
      return signalPassFailure();
    }
    // Shapes read off the statistics (tensor.dim of a generic's result)
    // read its init instead, so that the statistics have no users outside
    // the norm and the tiles need not yield them.
    RewritePatternSet patterns(&getContext());
    memref::populateResolveRankedShapedTypeResultDimsPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    IRRewriter rewriter(&getContext());
    // One norm at a time: fusing one may erase ops another matched (a
    // training step's norm gradients share statistics with the forward).
    // The tiles' own generics, inside an scf.forall, are not matched again,
    // nor are roots already tiled (erased unless something still reads
    // them).
    DenseSet<Operation *> tiled;
    while (true) {
      std::optional<NormChain> norm;
      getOperation()->walk([&](linalg::GenericOp op) {
        if (tiled.contains(op) || op->getParentOfType<scf::ForallOp>())
          return WalkResult::advance();
        norm = matchNorm(op);
        return norm ? WalkResult::interrupt() : WalkResult::advance();
      });
      if (!norm)
        break;
      tiled.insert(norm->root);
      if (failed(fuse(rewriter, *norm)))
        return signalPassFailure();
    }
  }

  LogicalResult fuse(IRRewriter &rewriter, NormChain &norm) {
    linalg::GenericOp root = norm.root;
    Location loc = root.getLoc();
    unsigned rank = root.getNumLoops();
    // The rows' producer, if elementwise over the same rows and read by
    // the norm only: fused too. One with other uses (a residual stream no
    // projection took) stays a loop of its own: yielding it from the tiles
    // would clone it, and the statistics with it, for each use in a tile.
    auto inputProducer = norm.input.getDefiningOp<linalg::GenericOp>();
    DenseSet<Operation *> fused = norm.chain;
    fused.insert(root);
    if (inputProducer &&
        (!isElementwise(inputProducer, rank) ||
         llvm::any_of(inputProducer->getUsers(),
                      [&](Operation *user) { return !fused.contains(user); })))
      inputProducer = nullptr;

    // A tile's rows must fit maxTileBytes: its rows are computed into a
    // buffer of its own, which llm-plan-memory puts on the stack (a row of
    // unknown length is bounded there, by the sequence bound).
    int64_t tileRows = rows;
    int64_t rowLength = root.getStaticLoopRanges().back();
    if (!ShapedType::isDynamic(rowLength)) {
      int64_t rowBytes =
          rowLength * static_cast<int64_t>(
                          getElementTypeOrSelf(root->getResult(0).getType())
                              .getIntOrFloatBitWidth() /
                          8);
      if (rowBytes > maxTileBytes) {
        if (remarks)
          root.emitRemark() << "norm not fused: a row of " << rowBytes
                            << " bytes exceeds max-tile-bytes";
        return success();
      }
      tileRows = std::min<int64_t>(rows, maxTileBytes / rowBytes);
    }
    SmallVector<OpFoldResult> tileSizes(rank - 1, rewriter.getIndexAttr(1));
    tileSizes.back() = rewriter.getIndexAttr(tileRows);
    tileSizes.push_back(rewriter.getIndexAttr(0));
    scf::SCFTileAndFuseOptions options;
    options.tilingOptions.setTileSizes(tileSizes);
    options.tilingOptions.setLoopType(
        scf::SCFTilingOptions::LoopType::ForallOp);
    if (inputProducer)
      fused.insert(inputProducer);
    // Rows nothing reads after the norm (a training step's logits, whose
    // softmax is the loss gradient) take its output: one buffer, not two.
    Value overwritten = findDeadRows(root, fused);
    if (overwritten)
      rewriter.modifyOpInPlace(
          root, [&] { root.getDpsInitsMutable()[0].set(overwritten); });

    // A statistic also read outside the norm (by a training step's
    // backward) comes out of the tiles too.
    // Decided before tiling, whose slices are users of their own.
    DenseSet<Operation *> escaping;
    for (Operation *op : fused)
      if (op != root && llvm::any_of(op->getUsers(), [&](Operation *user) {
            return !fused.contains(user);
          }))
        escaping.insert(op);
    options.setFusionControlFn(
        [&](tensor::ExtractSliceOp, OpResult producer, bool)
            -> std::optional<scf::SCFTileAndFuseOptions::ControlFnResult> {
          Operation *op = producer.getOwner();
          if (isa<linalg::FillOp>(op))
            return scf::SCFTileAndFuseOptions::ControlFnResult{};
          if (!fused.contains(op))
            return std::nullopt;
          return scf::SCFTileAndFuseOptions::ControlFnResult{
              escaping.contains(op)};
        });
    rewriter.setInsertionPoint(root);
    FailureOr<scf::SCFTileAndFuseResult> result =
        scf::tileConsumerAndFuseProducersUsingSCF(
            rewriter, cast<TilingInterface>(root.getOperation()), options);
    if (failed(result))
      return root.emitError("llm-fuse-norm: tiling the norm failed");
    // Uses after the loop read its results; uses before it (the fused
    // ops themselves, now dead) keep the originals, which then go.
    Operation *loop = result->loops.front();
    DominanceInfo dominance(loop->getParentOp());
    for (const auto &entry : result->replacements) {
      Value replacement = entry.second;
      rewriter.replaceUsesWithIf(entry.first, replacement, [&](OpOperand &use) {
        return dominance.properlyDominates(replacement, use.getOwner());
      });
    }
    // The driver leaves slices nothing reads in the tile, and shapes read
    // off the originals: with those resolved, the originals are dead and
    // go (the greedy driver erases dead ops).
    auto forall = cast<scf::ForallOp>(loop);
    if (overwritten)
      readRowsFromDestination(rewriter, forall, overwritten);
    RewritePatternSet patterns(&getContext());
    memref::populateResolveRankedShapedTypeResultDimsPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return failure();
    // A statistic two ops of the tile read was fused twice: once is enough.
    // (Each tile's statistics then bufferize to buffers of its own, which
    // llm-plan-memory puts on the stack.)
    DominanceInfo tileDominance(forall);
    eliminateCommonSubExpressions(rewriter, tileDominance, forall);
    if (remarks)
      emitRemark(loc) << "norm fused over tiles of " << tileRows << " rows ("
                      << result->fusedProducers.size() << " producers fused)";
    return success();
  }
};

} // namespace
