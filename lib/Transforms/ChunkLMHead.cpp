//===- ChunkLMHead.cpp - the LM head and its loss over chunks of rows -----===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// llm-chunk-lm-head: in a function that computes a language model's loss
// and its gradient (a training step, a VJP), the logits are [rows, vocab]:
// at GPT-2's 50257 classes, 196 MiB for 1024 tokens, and the softmax's
// gradient is as large again. Yet every row of them only feeds its own
// row of the loss and of the gradients. This pass finds
//
//   %logits = llm.linear %h, %w ...             (only read by the next two)
//   %loss   = llm.cross_entropy %logits, %labels
//   %p      = llm.softmax %logits {axis = last}  (read by one generic)
//   %dl     = linalg.generic ins(%p, row-indexed or row-invariant inputs)
//                            (all parallel, the row dims leading)
//   uses of %dl: llm.linear %dl, ... (the input gradient) and
//                linalg.generic sums over the rows into an accumulator
//                (the weight gradient, dW += dlᵀ·h)
//
// (what llm-autodiff emits for llm.linear + llm.cross_entropy) and puts all
// of them in one loop over chunks of `rows` rows (and over the batch):
// each iteration projects its rows, adds their loss to a running sum (the
// mean divides it by the count of labelled positions after the loop),
// takes their softmax and its gradient, writes their rows of the input
// gradient and accumulates the weight gradient in place. The logits and
// their gradient then exist for one chunk at a time; the FLOPs are the same.
//
//===----------------------------------------------------------------------===//

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMCHUNKLMHEAD
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
/// One LM head, its loss and their gradients.
struct Group {
  LinearOp head;
  CrossEntropyOp loss;
  SoftmaxOp softmax;
  linalg::GenericOp gradient;
  /// llm.linear ops reading the logits' gradient (their rows are chunked).
  SmallVector<LinearOp> projections;
  /// Generics summing over the rows into an accumulator.
  SmallVector<linalg::GenericOp> reductions;
};

/// How an operand's dims relate to the rows: its leading `rowDims` dims are
/// the rows (sliced per chunk), or it does not vary with the rows at all.
enum class RowAccess { Rows, Invariant, Other };

/// How operand `map` of a generic reads the row dims `rows` (loop dims).
RowAccess rowAccess(AffineMap map, ArrayRef<unsigned> rows) {
  bool any =
      llvm::any_of(rows, [&](unsigned d) { return map.isFunctionOfDim(d); });
  if (!any)
    return RowAccess::Invariant;
  if (map.getNumResults() < rows.size())
    return RowAccess::Other;
  for (auto [i, d] : llvm::enumerate(rows))
    if (map.getResult(i) != getAffineDimExpr(d, map.getContext()))
      return RowAccess::Other;
  for (AffineExpr e : map.getResults().drop_front(rows.size()))
    if (llvm::any_of(rows, [&](unsigned d) { return e.isFunctionOfDim(d); }))
      return RowAccess::Other;
  return RowAccess::Rows;
}

/// Whether the body of \p op is `out + f(inputs)` with `out` read nowhere
/// else: a sum that may be split over the loop's reduction dims.
bool accumulates(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1 || op.getNumResults() != 1)
    return false;
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  BlockArgument out = body.getArgument(op.getNumDpsInputs());
  if (!add || add->getBlock() != &body || !out.hasOneUse())
    return false;
  return add.getLhs() == out || add.getRhs() == out;
}

/// Matches the group around \p loss, or returns nothing.
std::optional<Group> match(CrossEntropyOp loss) {
  Group g;
  g.loss = loss;
  g.head = loss.getLogits().getDefiningOp<LinearOp>();
  if (!g.head)
    return std::nullopt;
  auto logitsType = cast<RankedTensorType>(g.head.getType());
  unsigned rank = logitsType.getRank();
  if (rank < 2 || ShapedType::isDynamic(logitsType.getShape().back()))
    return std::nullopt;
  Block *block = loss->getBlock();
  // The logits feed the loss and one softmax over the classes, nothing else
  // (but their sizes).
  for (Operation *user : g.head->getUsers()) {
    if (user == loss.getOperation())
      continue;
    if (auto dim = dyn_cast<tensor::DimOp>(user)) {
      if (!dim.getConstantIndex())
        return std::nullopt;
      continue;
    }
    auto softmax = dyn_cast<SoftmaxOp>(user);
    if (!softmax || g.softmax ||
        softmax.getNormalizedAxis() != static_cast<int64_t>(rank) - 1)
      return std::nullopt;
    g.softmax = softmax;
  }
  if (!g.softmax || !g.softmax->hasOneUse() || g.head->getBlock() != block ||
      g.softmax->getBlock() != block)
    return std::nullopt;
  // The softmax's gradient: elementwise over the logits' shape.
  OpOperand &pUse = *g.softmax->use_begin();
  g.gradient = dyn_cast<linalg::GenericOp>(pUse.getOwner());
  if (!g.gradient || g.gradient->getBlock() != block ||
      g.gradient.getNumResults() != 1 || !g.gradient.isDpsInput(&pUse) ||
      g.gradient.getNumLoops() != rank ||
      g.gradient.getNumParallelLoops() != rank)
    return std::nullopt;
  SmallVector<unsigned> rows;
  for (unsigned d = 0; d + 1 < rank; ++d)
    rows.push_back(d);
  AffineMap identity =
      AffineMap::getMultiDimIdentityMap(rank, loss.getContext());
  if (g.gradient.getMatchingIndexingMap(&pUse) != identity ||
      g.gradient.getIndexingMapMatchingResult(
          cast<OpResult>(g.gradient.getResult(0))) != identity)
    return std::nullopt;
  Block &gradientBody = g.gradient.getRegion().front();
  if (!gradientBody.getArgument(g.gradient.getNumDpsInputs()).use_empty())
    return std::nullopt;
  for (OpOperand *input : g.gradient.getDpsInputOperands())
    if (rowAccess(g.gradient.getMatchingIndexingMap(input), rows) ==
        RowAccess::Other)
      return std::nullopt;
  // Its readers: projections of its rows, sums over its rows.
  for (OpOperand &use : g.gradient.getResult(0).getUses()) {
    Operation *user = use.getOwner();
    if (user->getBlock() != block)
      return std::nullopt;
    if (auto linear = dyn_cast<LinearOp>(user)) {
      if (use.getOperandNumber() != 0)
        return std::nullopt;
      g.projections.push_back(linear);
      continue;
    }
    auto sum = dyn_cast<linalg::GenericOp>(user);
    if (!sum || !sum.isDpsInput(&use) || !accumulates(sum))
      return std::nullopt;
    // The loop dims that run over the gradient's rows must be reductions,
    // every input reads them as its leading dims (or not at all), and the
    // accumulator does not vary with them.
    AffineMap map = sum.getMatchingIndexingMap(&use);
    SmallVector<unsigned> sumRows;
    if (map.getNumResults() + 1 < rank)
      return std::nullopt;
    for (unsigned i = 0; i + 1 < rank; ++i) {
      auto dim = dyn_cast<AffineDimExpr>(map.getResult(i));
      if (!dim)
        return std::nullopt;
      sumRows.push_back(dim.getPosition());
    }
    SmallVector<utils::IteratorType> iterators = sum.getIteratorTypesArray();
    if (llvm::any_of(sumRows, [&](unsigned d) {
          return iterators[d] != utils::IteratorType::reduction;
        }))
      return std::nullopt;
    for (OpOperand *input : sum.getDpsInputOperands())
      if (rowAccess(sum.getMatchingIndexingMap(input), sumRows) ==
          RowAccess::Other)
        return std::nullopt;
    if (rowAccess(sum.getMatchingIndexingMap(sum.getDpsInitOperand(0)),
                  sumRows) != RowAccess::Invariant)
      return std::nullopt;
    g.reductions.push_back(sum);
  }
  if (g.projections.empty() && g.reductions.empty())
    return std::nullopt;
  return g;
}

/// Reads the logits' sizes off the projection's input (the rows) and the
/// type (the classes), so that nothing but the group reads the logits.
void readSizesElsewhere(Group &g) {
  for (Operation *user : llvm::make_early_inc_range(g.head->getUsers())) {
    auto dim = dyn_cast<tensor::DimOp>(user);
    if (!dim)
      continue;
    int64_t d = *dim.getConstantIndex();
    auto type = cast<RankedTensorType>(g.head.getType());
    if (d + 1 < type.getRank()) {
      dim.getSourceMutable().assign(g.head.getInput());
      continue;
    }
    OpBuilder b(dim);
    dim.replaceAllUsesWith(
        arith::ConstantIndexOp::create(b, dim.getLoc(), type.getDimSize(d))
            .getResult());
    dim.erase();
  }
}

/// The ops of \p g in block order.
SmallVector<Operation *> groupOps(const Group &g) {
  SmallVector<Operation *> ops = {g.head, g.loss, g.softmax, g.gradient};
  for (LinearOp op : g.projections)
    ops.push_back(op);
  for (linalg::GenericOp op : g.reductions)
    ops.push_back(op);
  llvm::sort(ops,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  return ops;
}

/// Where the loop goes: after every value the group reads from outside it
/// (in its block), before every use of the values it replaces. Null when
/// no point is both.
Operation *insertionPoint(const Group &g) {
  SmallVector<Operation *> ops = groupOps(g);
  DenseSet<Operation *> inGroup(ops.begin(), ops.end());
  Block *block = g.loss->getBlock();
  Operation *after = nullptr;
  for (Operation *op : ops) {
    // Operands and values the regions (generic bodies) capture.
    llvm::SetVector<Value> read(op->operand_begin(), op->operand_end());
    getUsedValuesDefinedAbove(op->getRegions(), read);
    for (Value operand : read) {
      Operation *def = operand.getDefiningOp();
      if (!def || inGroup.contains(def))
        continue;
      Operation *ancestor = block->findAncestorOpInBlock(*def);
      if (!ancestor)
        continue; // Defined above the block.
      if (!after || after->isBeforeInBlock(ancestor))
        after = ancestor;
    }
  }
  // Before the first group op that comes after every input.
  Operation *point = nullptr;
  for (Operation *op : ops)
    if (!after || after->isBeforeInBlock(op)) {
      point = op;
      break;
    }
  if (!point)
    point = after->getNextNode();
  // Every outside use of what the group computes comes later.
  for (Operation *op : ops)
    for (Operation *user : op->getUsers()) {
      if (inGroup.contains(user))
        continue;
      Operation *ancestor = block->findAncestorOpInBlock(*user);
      if (!ancestor || !point->isBeforeInBlock(ancestor))
        return nullptr;
    }
  return point;
}

/// The offsets and sizes of the rows [ivs..., start : start + size] of
/// \p full, whose leading `ivs.size() + 1` dims are the rows.
void rowWindow(OpBuilder &b, Location loc, Value full, ValueRange ivs,
               Value start, Value size, SmallVectorImpl<OpFoldResult> &offsets,
               SmallVectorImpl<OpFoldResult> &sizes) {
  auto type = cast<RankedTensorType>(full.getType());
  for (Value iv : ivs) {
    offsets.push_back(iv);
    sizes.push_back(b.getIndexAttr(1));
  }
  offsets.push_back(start);
  sizes.push_back(size);
  for (int64_t d = ivs.size() + 1; d < type.getRank(); ++d) {
    offsets.push_back(b.getIndexAttr(0));
    sizes.push_back(tensor::getMixedSize(b, loc, full, d));
  }
}

/// The rows [ivs..., start : start + size] of \p value.
Value sliceRows(OpBuilder &b, Location loc, Value value, ValueRange ivs,
                Value start, Value size) {
  SmallVector<OpFoldResult> offsets, sizes;
  rowWindow(b, loc, value, ivs, start, size, offsets, sizes);
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, value, offsets, sizes, strides);
}

/// \p chunk written over the rows [ivs..., start : start + size] of
/// \p into.
Value insertRows(OpBuilder &b, Location loc, Value chunk, Value into,
                 ValueRange ivs, Value start, Value size) {
  SmallVector<OpFoldResult> offsets, sizes;
  rowWindow(b, loc, into, ivs, start, size, offsets, sizes);
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  return tensor::InsertSliceOp::create(b, loc, chunk, into, offsets, sizes,
                                       strides);
}

/// \p type with its leading dims replaced by the chunk's: 1 per outer row
/// dim, then the chunk's rows (dynamic).
RankedTensorType chunkType(RankedTensorType type, unsigned rowDims) {
  SmallVector<int64_t> shape(type.getShape());
  for (unsigned d = 0; d + 1 < rowDims; ++d)
    shape[d] = 1;
  shape[rowDims - 1] = ShapedType::kDynamic;
  return type.clone(shape);
}

/// An empty tensor of \p like's shape.
Value emptyLike(OpBuilder &b, Location loc, Value like) {
  return tensor::EmptyOp::create(
      b, loc, tensor::getMixedSizes(b, loc, like),
      cast<RankedTensorType>(like.getType()).getElementType());
}

/// A tensor of the static \p type holding zeros.
Value zeros(OpBuilder &b, Location loc, RankedTensorType type) {
  Value zero = arith::ConstantOp::create(
      b, loc, b.getFloatAttr(type.getElementType(), 0));
  Value empty =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  return linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{empty})
      .getResult(0);
}

/// The number of positions of \p labels not equal to \p ignore, as a
/// rank-0 tensor of \p element.
Value countLabelled(OpBuilder &b, Location loc, Value labels, int64_t ignore,
                    Type element) {
  auto type = cast<RankedTensorType>(labels.getType());
  MLIRContext *ctx = b.getContext();
  auto scalar = RankedTensorType::get({}, element);
  Value init = zeros(b, loc, scalar);
  unsigned rank = type.getRank();
  SmallVector<AffineMap> maps = {AffineMap::getMultiDimIdentityMap(rank, ctx),
                                 AffineMap::get(rank, 0, {}, ctx)};
  return linalg::GenericOp::create(
             b, loc, scalar, ValueRange{labels}, ValueRange{init}, maps,
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::reduction),
             [&](OpBuilder &nb, Location l, ValueRange a) {
               Value skip = arith::ConstantOp::create(
                   nb, l, nb.getIntegerAttr(type.getElementType(), ignore));
               Value keep = arith::CmpIOp::create(
                   nb, l, arith::CmpIPredicate::ne, a[0], skip);
               Value one = arith::UIToFPOp::create(nb, l, element, keep);
               linalg::YieldOp::create(
                   nb, l, ValueRange{arith::AddFOp::create(nb, l, a[1], one)});
             })
      .getResult(0);
}

/// Rewrites \p g as a loop over chunks of \p chunkRows rows before
/// \p point.
void chunk(Group &g, Operation *point, int64_t chunkRows) {
  Location loc = g.loss.getLoc();
  OpBuilder b(point);
  auto logitsType = cast<RankedTensorType>(g.head.getType());
  unsigned rank = logitsType.getRank(), rowDims = rank - 1;
  Value h = g.head.getInput();
  Reduction reduction = g.loss.getReduction();
  auto lossType = cast<RankedTensorType>(g.loss.getType());
  Type element = lossType.getElementType();

  // Loops over the outer row dims (one row each) and the last in chunks.
  SmallVector<Value> lbs, ubs, steps;
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  for (unsigned d = 0; d < rowDims; ++d) {
    lbs.push_back(zero);
    ubs.push_back(tensor::DimOp::create(b, loc, h, d));
    steps.push_back(
        d + 1 < rowDims
            ? one
            : arith::ConstantIndexOp::create(b, loc, chunkRows).getResult());
  }

  // Carried: the loss (a running sum, or the per-position losses), each
  // projection's result, each sum's accumulator.
  SmallVector<Value> inits;
  if (reduction == Reduction::None)
    inits.push_back(tensor::EmptyOp::create(
        b, loc, tensor::getMixedSizes(b, loc, g.loss.getLabels()), element));
  else
    inits.push_back(zeros(b, loc, lossType));
  for (LinearOp op : g.projections) {
    // The result's shape: the rows of the gradient, the weight's features.
    SmallVector<OpFoldResult> sizes;
    for (unsigned d = 0; d < rowDims; ++d)
      sizes.push_back(tensor::getMixedSize(b, loc, h, d));
    auto type = cast<RankedTensorType>(op.getType());
    for (unsigned d = rowDims; d < type.getRank(); ++d)
      sizes.push_back(b.getIndexAttr(type.getDimSize(d)));
    inits.push_back(
        tensor::EmptyOp::create(b, loc, sizes, type.getElementType()));
  }
  for (linalg::GenericOp op : g.reductions)
    inits.push_back(op.getDpsInitOperand(0)->get());

  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lbs, ubs, steps, inits,
      [&](OpBuilder &nb, Location l, ValueRange ivs,
          ValueRange carried) -> scf::ValueVector {
        ValueRange outer = ivs.drop_back();
        Value start = ivs.back();
        MLIRContext *ctx = nb.getContext();
        AffineMap minMap = AffineMap::get(
            1, 1,
            {getAffineConstantExpr(chunkRows, ctx),
             getAffineSymbolExpr(0, ctx) - getAffineDimExpr(0, ctx)},
            ctx);
        Value size = affine::AffineMinOp::create(nb, l, minMap,
                                                 ValueRange{start, ubs.back()});
        auto rowsOf = [&](Value v) {
          return sliceRows(nb, l, v, outer, start, size);
        };
        // Project, take the loss, the softmax and its gradient.
        IRMapping mapping;
        mapping.map(h, rowsOf(h));
        Operation *head = nb.clone(*g.head, mapping);
        head->getResult(0).setType(chunkType(logitsType, rowDims));
        Value logits = head->getResult(0);
        Value labels = rowsOf(g.loss.getLabels());
        Operation *loss = nb.clone(*g.loss);
        loss->setOperand(0, logits);
        loss->setOperand(1, labels);
        auto insert = [&](Value chunk, Value into) {
          return insertRows(nb, l, chunk, into, outer, start, size);
        };
        scf::ValueVector yields;
        if (reduction == Reduction::None) {
          loss->getResult(0).setType(chunkType(lossType, rowDims));
          yields.push_back(insert(loss->getResult(0), carried[0]));
        } else {
          cast<CrossEntropyOp>(loss).setReduction(Reduction::Sum);
          // Added into the carried sum (in place, as bufferization wants a
          // loop's carried buffers).
          AffineMap scalarMap = AffineMap::get(0, 0, {}, ctx);
          yields.push_back(
              linalg::GenericOp::create(
                  nb, l, lossType, ValueRange{loss->getResult(0)},
                  ValueRange{carried[0]},
                  ArrayRef<AffineMap>{scalarMap, scalarMap},
                  ArrayRef<utils::IteratorType>{},
                  [&](OpBuilder &bb, Location bl, ValueRange a) {
                    linalg::YieldOp::create(
                        bb, bl,
                        ValueRange{arith::AddFOp::create(bb, bl, a[1], a[0])});
                  })
                  .getResult(0));
        }
        Operation *softmax = nb.clone(*g.softmax);
        softmax->setOperand(0, logits);
        softmax->getResult(0).setType(logits.getType());
        // The gradient: row-indexed inputs sliced, the others as they are.
        SmallVector<unsigned> gradientRows =
            llvm::to_vector(llvm::seq<unsigned>(0, rowDims));
        IRMapping gradientMapping;
        for (OpOperand *input : g.gradient.getDpsInputOperands()) {
          Value v = input->get();
          if (v == g.softmax.getResult())
            gradientMapping.map(v, softmax->getResult(0));
          else if (rowAccess(g.gradient.getMatchingIndexingMap(input),
                             gradientRows) == RowAccess::Rows)
            gradientMapping.map(v, rowsOf(v));
        }
        gradientMapping.map(g.gradient.getDpsInitOperand(0)->get(),
                            emptyLike(nb, l, logits));
        Operation *gradient = nb.clone(*g.gradient, gradientMapping);
        gradient->getResult(0).setType(logits.getType());
        Value dl = gradient->getResult(0);
        unsigned next = 1;
        for (LinearOp op : g.projections) {
          Operation *projection = nb.clone(*op);
          projection->setOperand(0, dl);
          projection->getResult(0).setType(
              chunkType(cast<RankedTensorType>(op.getType()), rowDims));
          yields.push_back(insert(projection->getResult(0), carried[next++]));
        }
        for (linalg::GenericOp op : g.reductions) {
          IRMapping sumMapping;
          AffineMap map = op.getMatchingIndexingMap(
              &*llvm::find_if(op->getOpOperands(), [&](OpOperand &o) {
                return o.get() == g.gradient.getResult(0);
              }));
          SmallVector<unsigned> sumRows;
          for (unsigned i = 0; i < rowDims; ++i)
            sumRows.push_back(
                cast<AffineDimExpr>(map.getResult(i)).getPosition());
          for (OpOperand *input : op.getDpsInputOperands()) {
            Value v = input->get();
            if (v == g.gradient.getResult(0))
              sumMapping.map(v, dl);
            else if (rowAccess(op.getMatchingIndexingMap(input), sumRows) ==
                     RowAccess::Rows)
              sumMapping.map(v, rowsOf(v));
          }
          sumMapping.map(op.getDpsInitOperand(0)->get(), carried[next++]);
          yields.push_back(nb.clone(*op, sumMapping)->getResult(0));
        }
        return yields;
      });

  // The loop's results replace the group's.
  b.setInsertionPointAfter(nest.loops.front());
  ValueRange results = nest.results;
  Value lossValue = results[0];
  if (reduction == Reduction::Mean)
    lossValue =
        arith::DivFOp::create(b, loc, lossValue,
                              countLabelled(b, loc, g.loss.getLabels(),
                                            g.loss.getIgnoreIndex(), element));
  g.loss.getResult().replaceAllUsesWith(lossValue);
  unsigned next = 1;
  for (LinearOp op : g.projections)
    op.getResult().replaceAllUsesWith(results[next++]);
  for (linalg::GenericOp op : g.reductions)
    op.getResult(0).replaceAllUsesWith(results[next++]);
  Value gradientInit = g.gradient.getDpsInitOperand(0)->get();
  SmallVector<Operation *> ops = groupOps(g);
  for (Operation *op : llvm::reverse(ops))
    op->erase();
  // The gradient's logits-sized destination, unless something else uses it.
  if (auto empty = gradientInit.getDefiningOp<tensor::EmptyOp>())
    if (empty->use_empty())
      empty->erase();
}

struct LLMChunkLMHeadPass
    : mlir::llm::impl::LLMChunkLMHeadBase<LLMChunkLMHeadPass> {
  using Base::Base;

  void runOnOperation() override {
    if (rows < 1) {
      getOperation().emitError("llm-chunk-lm-head: rows must be positive");
      return signalPassFailure();
    }
    SmallVector<CrossEntropyOp> losses;
    getOperation().walk([&](CrossEntropyOp op) { losses.push_back(op); });
    for (CrossEntropyOp loss : losses) {
      std::optional<Group> g = match(loss);
      if (!g)
        continue;
      readSizesElsewhere(*g);
      Operation *point = insertionPoint(*g);
      if (!point)
        continue;
      if (remarks)
        loss.emitRemark() << "LM head and loss computed over chunks of "
                          << rows.getValue() << " rows";
      chunk(*g, point, rows);
    }
  }
};
} // namespace
