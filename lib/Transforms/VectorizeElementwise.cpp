//===- VectorizeElementwise.cpp - vector loops for elementwise generics ---===//
//
// Everything a Transformer computes besides its contractions (activations,
// softmax, layer norm, masking, bias broadcasts, residual adds, copies)
// arrives here as bufferized linalg.generic ops whose innermost loop walks a
// contiguous row. Instead of the scalar loops convert-linalg-to-loops would
// emit, this pass writes the loop nest itself: the outer dims as an
// scf.parallel (or scf.for), the innermost dim in steps of one vector, and a
// masked vector step for the elements left over.
//
// Every value of the body is either uniform (the same for all lanes: outer
// indices, operands that do not read the innermost dim, values defined above
// the op), computed once per row as a scalar, or varying, computed in each
// step as a vector. A row reduction (innermost dim a reduction, the body
// folding one value into the output by add / mul / max / min) carries a
// vector accumulator along the row and reduces it horizontally at the end.
//
//===----------------------------------------------------------------------===//

#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include <limits>

namespace mlir::llm {
#define GEN_PASS_DEF_LLMVECTORIZEELEMENTWISE
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {

/// Whether `type` has a static unit innermost stride.
static bool hasUnitInnerStride(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (type.getRank() == 0 || failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return strides.back() == 1;
}

/// Whether a memref of `type` can be read or written a vector at a time
/// along its innermost dim.
static bool isVectorizableMemRef(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  return memref && memref.getElementType().isIntOrIndexOrFloat() &&
         !memref.getElementType().isInteger(1) && hasUnitInnerStride(memref);
}

/// The buffer `value` is a view of.
static Value rootOf(Value value) {
  while (auto view = value.getDefiningOp<ViewLikeOpInterface>())
    value = view.getViewSource();
  return value;
}

/// The horizontal reduction and the neutral element of a row reduction's
/// combining op, in f32 / f16 / ....
static std::optional<std::pair<vector::CombiningKind, double>>
combiningKind(Operation *op) {
  double inf = std::numeric_limits<double>::infinity();
  double nan = std::numeric_limits<double>::quiet_NaN();
  if (isa<arith::AddFOp>(op))
    return std::pair{vector::CombiningKind::ADD, -0.0};
  if (isa<arith::MulFOp>(op))
    return std::pair{vector::CombiningKind::MUL, 1.0};
  if (isa<arith::MaximumFOp>(op))
    return std::pair{vector::CombiningKind::MAXIMUMF, -inf};
  if (isa<arith::MinimumFOp>(op))
    return std::pair{vector::CombiningKind::MINIMUMF, inf};
  // maxnum / minnum ignore a NaN operand: NaN is their neutral element.
  if (isa<arith::MaxNumFOp>(op))
    return std::pair{vector::CombiningKind::MAXNUMF, nan};
  if (isa<arith::MinNumFOp>(op))
    return std::pair{vector::CombiningKind::MINNUMF, nan};
  return std::nullopt;
}

/// A generic the pass can vectorize, and how.
struct Plan {
  linalg::GenericOp op;
  /// The innermost loop dim, which the vectors run along.
  unsigned inner;
  /// Row reduction: the op folding the body's value into the output.
  Operation *combiner = nullptr;
  vector::CombiningKind kind = vector::CombiningKind::ADD;
  double neutral = 0;
  /// Values of the body that differ between the lanes of a vector.
  DenseSet<Value> varying;
  /// Per loop dim: a memref operand and the dim of it that the loop spans.
  SmallVector<std::pair<Value, unsigned>> loopSizes;

  bool isReduction() const { return combiner != nullptr; }
};

/// Checks that `op` has the shape the pass handles and classifies the values
/// of its body.
static std::optional<Plan> analyze(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() < 1 ||
      op.getRegion().getBlocks().size() != 1)
    return std::nullopt;
  Plan plan;
  plan.op = op;
  unsigned numLoops = op.getNumLoops();
  plan.inner = numLoops - 1;
  MLIRContext *ctx = op.getContext();
  AffineExpr innerExpr = getAffineDimExpr(plan.inner, ctx);

  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  for (unsigned d = 0; d < plan.inner; ++d)
    if (iters[d] != utils::IteratorType::parallel)
      return std::nullopt;
  bool reduction = iters.back() == utils::IteratorType::reduction;
  if (reduction && op.getNumDpsInits() != 1)
    return std::nullopt;

  Block &body = op.getRegion().front();
  plan.loopSizes.assign(numLoops, {Value(), 0});
  SmallVector<Value> outputRoots;
  for (OpOperand &init : op.getDpsInitsMutable())
    outputRoots.push_back(rootOf(init.get()));
  if (llvm::SmallDenseSet<Value>(outputRoots.begin(), outputRoots.end())
          .size() != outputRoots.size())
    return std::nullopt;

  for (OpOperand &operand : op->getOpOperands()) {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (!map.isProjectedPermutation(/*allowZeroInResults=*/true))
      return std::nullopt;
    Value value = operand.get();
    BlockArgument arg = op.getMatchingBlockArgument(&operand);
    bool isInit = op.isDpsInit(&operand);
    auto type = dyn_cast<MemRefType>(value.getType());
    if (!type) {
      // A scalar input, the same for every iteration.
      if (isInit || isa<ShapedType>(value.getType()))
        return std::nullopt;
      continue;
    }
    for (auto [i, expr] : llvm::enumerate(map.getResults()))
      if (auto dim = dyn_cast<AffineDimExpr>(expr))
        if (!plan.loopSizes[dim.getPosition()].first)
          plan.loopSizes[dim.getPosition()] = {value, i};

    std::optional<unsigned> innerPos = map.getResultPosition(innerExpr);
    if (isInit) {
      // Every iteration writes an element of its own, the vectors contiguous;
      // a reduction's output stays in place along the row.
      unsigned dims = 0;
      for (AffineExpr expr : map.getResults())
        dims += isa<AffineDimExpr>(expr);
      if (reduction) {
        if (innerPos || dims != plan.inner)
          return std::nullopt;
        continue;
      }
      if (dims != numLoops || innerPos != map.getNumResults() - 1 ||
          !isVectorizableMemRef(type))
        return std::nullopt;
      plan.varying.insert(arg);
      continue;
    }

    // An input that is also written: only elementwise in place.
    Value root = rootOf(value);
    for (OpOperand &init : op.getDpsInitsMutable()) {
      if (root != rootOf(init.get()))
        continue;
      if (reduction || value != init.get() ||
          map != op.getMatchingIndexingMap(&init))
        return std::nullopt;
    }
    if (!innerPos || arg.use_empty())
      continue;
    if (*innerPos != map.getNumResults() - 1 || !isVectorizableMemRef(type))
      return std::nullopt;
    plan.varying.insert(arg);
  }
  for (auto [source, dim] : plan.loopSizes)
    if (!source)
      return std::nullopt;

  // The row reduction: `yield combine(out, value)`, the output read nowhere
  // else.
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (reduction) {
    BlockArgument acc = body.getArguments().back();
    if (!acc.hasOneUse() || !isa<FloatType>(acc.getType()))
      return std::nullopt;
    Operation *combiner = *acc.user_begin();
    std::optional<std::pair<vector::CombiningKind, double>> kind =
        combiningKind(combiner);
    if (!kind || combiner->getBlock() != &body ||
        yield.getOperand(0) != combiner->getResult(0) ||
        !combiner->getResult(0).hasOneUse())
      return std::nullopt;
    plan.combiner = combiner;
    std::tie(plan.kind, plan.neutral) = *kind;
  }

  // Classify the body; give up on anything not known to be elementwise.
  DenseSet<Value> innerIndices;
  for (Operation &inner : body.without_terminator()) {
    if (&inner == plan.combiner)
      continue;
    if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
      if (index.getDim() == plan.inner) {
        plan.varying.insert(index);
        innerIndices.insert(index);
      }
      continue;
    }
    if (auto load = dyn_cast<memref::LoadOp>(inner)) {
      // A load that no output of the op may write.
      if (llvm::is_contained(outputRoots, rootOf(load.getMemRef())))
        return std::nullopt;
      ValueRange indices = load.getIndices();
      if (llvm::none_of(indices,
                        [&](Value v) { return plan.varying.contains(v); }))
        continue;
      // A contiguous row: only the last index runs along the innermost dim.
      if (!innerIndices.contains(indices.back()) ||
          !isVectorizableMemRef(load.getMemRef().getType()) ||
          llvm::any_of(indices.drop_back(),
                       [&](Value v) { return plan.varying.contains(v); }))
        return std::nullopt;
      plan.varying.insert(load);
      continue;
    }
    if (inner.getNumRegions() != 0 || !isMemoryEffectFree(&inner))
      return std::nullopt;
    // A uniform op runs once per step, on the values of a real element.
    if (llvm::none_of(inner.getOperands(),
                      [&](Value v) { return plan.varying.contains(v); }))
      continue;
    // A varying op: lanes computed independently, each on its own element,
    // and also on the masked-off lanes of the last step: it must be defined
    // for any input (no division by a divisor that may be zero).
    if (!isa<arith::ArithDialect, math::MathDialect>(inner.getDialect()) ||
        !OpTrait::hasElementwiseMappableTraits(&inner) ||
        !isSpeculatable(&inner) || inner.getNumResults() != 1)
      return std::nullopt;
    for (Value operand : inner.getOperands())
      if (!operand.getType().isIntOrIndexOrFloat())
        return std::nullopt;
    if (!inner.getResult(0).getType().isIntOrIndexOrFloat())
      return std::nullopt;
    plan.varying.insert(inner.getResult(0));
  }
  for (Value value : yield.getOperands())
    if (!value.getType().isIntOrIndexOrFloat())
      return std::nullopt;
  return plan;
}

/// Emits the loop nest of one planned generic.
class Emitter {
public:
  Emitter(OpBuilder &b, Plan &plan, int64_t vectorWidth)
      : b(b), loc(plan.op.getLoc()), plan(plan), vw(vectorWidth) {}

  void emit(bool parallel) {
    unsigned numLoops = plan.op.getNumLoops();
    SmallVector<Value> sizes;
    for (auto [source, dim] : plan.loopSizes) {
      int64_t size = cast<MemRefType>(source.getType()).getDimSize(dim);
      sizes.push_back(ShapedType::isDynamic(size)
                          ? memref::DimOp::create(b, loc, source, dim)
                          : idx(size));
    }
    Value zero = idx(0), one = idx(1);
    ivs.assign(numLoops, Value());
    OpBuilder::InsertionGuard guard(b);
    if (numLoops > 1 && parallel) {
      SmallVector<Value> lbs(plan.inner, zero), steps(plan.inner, one);
      auto loop = scf::ParallelOp::create(b, loc, lbs,
                                          ArrayRef(sizes).drop_back(), steps);
      b.setInsertionPoint(loop.getBody()->getTerminator());
      llvm::copy(loop.getInductionVars(), ivs.begin());
    } else {
      for (unsigned d = 0; d < plan.inner; ++d) {
        auto loop = scf::ForOp::create(b, loc, zero, sizes[d], one);
        b.setInsertionPoint(loop.getBody()->getTerminator());
        ivs[d] = loop.getInductionVar();
      }
    }
    emitRow(sizes.back());
  }

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  VectorType vectorOf(Type type) { return VectorType::get({vw}, type); }

  /// `scalar` in every lane (a splat constant for a constant).
  Value broadcast(Value scalar) {
    auto [it, inserted] = broadcasts.try_emplace(scalar);
    if (!inserted)
      return it->second;
    VectorType type = vectorOf(scalar.getType());
    Attribute attr;
    if (matchPattern(scalar, m_Constant(&attr)) &&
        isa<IntegerAttr, FloatAttr>(attr))
      it->second = arith::ConstantOp::create(
          b, loc, type, DenseElementsAttr::get(type, attr));
    else
      it->second = vector::BroadcastOp::create(b, loc, type, scalar);
    return it->second;
  }

  /// The indices of `map` at the current outer ivs, with `j` for the
  /// innermost dim.
  SmallVector<Value> indicesOf(AffineMap map, Value j) {
    SmallVector<Value> indices;
    for (AffineExpr expr : map.getResults()) {
      if (auto dim = dyn_cast<AffineDimExpr>(expr))
        indices.push_back(
            dim.getPosition() == plan.inner ? j : ivs[dim.getPosition()]);
      else
        indices.push_back(idx(cast<AffineConstantExpr>(expr).getValue()));
    }
    return indices;
  }

  /// A vector of `base` at `indices`, masked when `mask` is set.
  Value loadVector(Value base, ValueRange indices, Value mask) {
    VectorType type =
        vectorOf(cast<MemRefType>(base.getType()).getElementType());
    if (!mask)
      return vector::LoadOp::create(b, loc, type, base, indices);
    Value passThru =
        arith::ConstantOp::create(b, loc, type, b.getZeroAttr(type));
    return vector::MaskedLoadOp::create(b, loc, type, base, indices, mask,
                                        passThru);
  }

  void storeVector(Value value, Value base, ValueRange indices, Value mask) {
    if (!mask)
      vector::StoreOp::create(b, loc, value, base, indices);
    else
      vector::MaskedStoreOp::create(b, loc, base, indices, mask, value);
  }

  /// The uniform values of the body, once per row: the operands not indexed
  /// by the innermost dim, the outer indices, the ops on nothing else.
  void emitUniform() {
    linalg::GenericOp op = plan.op;
    uniform = IRMapping();
    for (OpOperand &operand : op->getOpOperands()) {
      BlockArgument arg = op.getMatchingBlockArgument(&operand);
      if (arg.use_empty() || plan.varying.contains(arg) ||
          (plan.isReduction() && op.isDpsInit(&operand)))
        continue;
      Value value = operand.get();
      if (isa<MemRefType>(value.getType()))
        value = memref::LoadOp::create(
            b, loc, value,
            indicesOf(op.getMatchingIndexingMap(&operand), Value()));
      uniform.map(arg, value);
    }
    for (Operation &inner : op.getRegion().front().without_terminator()) {
      if (&inner == plan.combiner ||
          llvm::any_of(inner.getResults(),
                       [&](Value v) { return plan.varying.contains(v); }))
        continue;
      if (auto index = dyn_cast<linalg::IndexOp>(inner))
        uniform.map(index.getResult(), ivs[index.getDim()]);
      else
        b.clone(inner, uniform);
    }
  }

  /// One vector of the row at `j` (the lanes of `mask` only, when set): the
  /// varying values of the body. Stores the outputs; for a reduction,
  /// returns the value to fold in.
  Value emitStep(Value j, Value mask) {
    linalg::GenericOp op = plan.op;
    Block &body = op.getRegion().front();
    IRMapping map = uniform;
    broadcasts.clear();
    auto lookup = [&](Value v) {
      Value mapped = map.lookupOrDefault(v);
      return plan.varying.contains(v) ? mapped : broadcast(mapped);
    };

    for (OpOperand &operand : op->getOpOperands()) {
      BlockArgument arg = op.getMatchingBlockArgument(&operand);
      if (!arg.use_empty() && plan.varying.contains(arg))
        map.map(arg,
                loadVector(operand.get(),
                           indicesOf(op.getMatchingIndexingMap(&operand), j),
                           mask));
    }

    Value folded;
    for (Operation &inner : body.without_terminator()) {
      if (&inner == plan.combiner) {
        Value acc = body.getArguments().back();
        folded = lookup(inner.getOperand(inner.getOperand(0) == acc ? 1 : 0));
        continue;
      }
      if (llvm::none_of(inner.getResults(),
                        [&](Value v) { return plan.varying.contains(v); }))
        continue;
      if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
        // j + [0, 1, ..., vw - 1].
        SmallVector<int64_t> lanes = llvm::to_vector(llvm::seq<int64_t>(0, vw));
        Value step = arith::ConstantOp::create(
            b, loc, vectorOf(b.getIndexType()), b.getIndexVectorAttr(lanes));
        map.map(index.getResult(),
                arith::AddIOp::create(b, loc, broadcast(j), step));
        continue;
      }
      if (auto load = dyn_cast<memref::LoadOp>(inner)) {
        SmallVector<Value> indices;
        for (Value index : load.getIndices().drop_back())
          indices.push_back(map.lookupOrDefault(index));
        indices.push_back(j);
        map.map(load.getResult(), loadVector(load.getMemRef(), indices, mask));
        continue;
      }
      // The same op on vectors, uniform operands broadcast.
      IRMapping operands;
      for (Value operand : inner.getOperands())
        operands.map(operand, lookup(operand));
      Operation *vectorOp = b.clone(inner, operands);
      vectorOp->getResult(0).setType(vectorOf(inner.getResult(0).getType()));
      map.map(inner.getResult(0), vectorOp->getResult(0));
    }

    if (plan.isReduction())
      return folded;
    auto yield = cast<linalg::YieldOp>(body.getTerminator());
    for (auto [value, init] :
         llvm::zip(yield.getOperands(), op.getDpsInitsMutable()))
      storeVector(lookup(value), init.get(),
                  indicesOf(op.getMatchingIndexingMap(&init), j), mask);
    return Value();
  }

  /// `combine(acc, value)` with the reduction's op, on vectors.
  Value combine(Value acc, Value value) {
    Operation *combiner = plan.combiner;
    Value bodyAcc = plan.op.getRegion().front().getArguments().back();
    IRMapping operands;
    for (Value operand : combiner->getOperands())
      operands.map(operand, operand == bodyAcc ? acc : value);
    Operation *op = b.clone(*combiner, operands);
    op->getResult(0).setType(acc.getType());
    return op->getResult(0);
  }

  /// The innermost loop over a row of `n` elements: full vectors, then the
  /// masked remainder. An empty row is skipped (which leaves a reduction's
  /// output as it is, as folding in the neutral element would).
  void emitRow(Value n) {
    std::optional<int64_t> staticN = getConstantIntValue(n);
    if (staticN == 0)
      return;
    OpBuilder::InsertionGuard rowGuard(b);
    if (!staticN) {
      Value nonEmpty =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, idx(0), n);
      auto row = scf::IfOp::create(b, loc, nonEmpty, /*withElseRegion=*/false);
      b.setInsertionPoint(row.thenBlock()->getTerminator());
    }
    emitUniform();
    Value main;
    if (staticN)
      main = idx(*staticN - *staticN % vw);
    else
      main = arith::MulIOp::create(
          b, loc, arith::DivUIOp::create(b, loc, n, idx(vw)), idx(vw));
    bool hasMain = !staticN || *staticN >= vw;
    bool hasRest = !staticN || *staticN % vw != 0;
    auto maskFor = [&](Value count) {
      return vector::CreateMaskOp::create(
          b, loc, VectorType::get({vw}, b.getI1Type()), ValueRange{count});
    };

    if (!plan.isReduction()) {
      if (hasMain) {
        auto loop = scf::ForOp::create(b, loc, idx(0), main, idx(vw));
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(loop.getBody()->getTerminator());
        emitStep(loop.getInductionVar(), Value());
      }
      if (!hasRest)
        return;
      if (staticN) {
        emitStep(main, maskFor(idx(*staticN % vw)));
        return;
      }
      Value hasTail =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, main, n);
      auto tail = scf::IfOp::create(b, loc, hasTail, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(tail.thenBlock()->getTerminator());
      emitStep(main, maskFor(arith::SubIOp::create(b, loc, n, main)));
      return;
    }

    Operation *combiner = plan.combiner;
    auto floatType = cast<FloatType>(combiner->getResult(0).getType());
    VectorType accType = vectorOf(floatType);
    Value neutral = arith::ConstantOp::create(
        b, loc, accType,
        DenseElementsAttr::get(accType,
                               b.getFloatAttr(floatType, plan.neutral)));
    Value acc = neutral;
    if (hasMain) {
      auto loop =
          scf::ForOp::create(b, loc, idx(0), main, idx(vw), ValueRange{acc});
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(loop.getBody());
        Value value = emitStep(loop.getInductionVar(), Value());
        scf::YieldOp::create(b, loc,
                             combine(loop.getRegionIterArgs()[0], value));
      }
      acc = loop.getResult(0);
    }
    // The masked-off lanes fold in the neutral element.
    auto foldRest = [&](Value count) {
      Value mask = maskFor(count);
      Value value = emitStep(main, mask);
      value = arith::SelectOp::create(b, loc, mask, value, neutral);
      return combine(acc, value);
    };
    if (hasRest && staticN) {
      acc = foldRest(idx(*staticN % vw));
    } else if (hasRest) {
      Value hasTail =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, main, n);
      auto tail = scf::IfOp::create(b, loc, TypeRange{accType}, hasTail,
                                    /*withElseRegion=*/true);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(tail.thenBlock());
        scf::YieldOp::create(b, loc,
                             foldRest(arith::SubIOp::create(b, loc, n, main)));
        b.setInsertionPointToStart(tail.elseBlock());
        scf::YieldOp::create(b, loc, acc);
      }
      acc = tail.getResult(0);
    }
    // Reassociating the sum (or product) is what vectorizing it means.
    auto fastMath = plan.kind == vector::CombiningKind::ADD ||
                            plan.kind == vector::CombiningKind::MUL
                        ? arith::FastMathFlags::reassoc
                        : arith::FastMathFlags::none;
    Value rowValue =
        vector::ReductionOp::create(b, loc, plan.kind, acc, fastMath);
    OpOperand &init = plan.op.getDpsInitsMutable()[0];
    SmallVector<Value> indices =
        indicesOf(plan.op.getMatchingIndexingMap(&init), Value());
    Value old = memref::LoadOp::create(b, loc, init.get(), indices);
    Value bodyAcc = plan.op.getRegion().front().getArguments().back();
    IRMapping operands;
    for (Value operand : combiner->getOperands())
      operands.map(operand, operand == bodyAcc ? old : rowValue);
    Value result = b.clone(*combiner, operands)->getResult(0);
    memref::StoreOp::create(b, loc, result, init.get(), indices);
  }

  OpBuilder &b;
  Location loc;
  Plan &plan;
  int64_t vw;
  /// The outer ivs, by loop dim.
  SmallVector<Value> ivs;
  /// The uniform values of the current row, by value of the body.
  IRMapping uniform;
  /// The broadcasts of uniform values made in the current step.
  DenseMap<Value, Value> broadcasts;
};

/// The linalg.generic equivalent of a fill of a buffer.
static linalg::GenericOp genericOf(OpBuilder &b, linalg::FillOp fill) {
  Value out = fill.getDpsInits()[0];
  auto type = cast<MemRefType>(out.getType());
  Value value = fill.getDpsInputs()[0];
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> iters(type.getRank(),
                                         utils::IteratorType::parallel);
  return linalg::GenericOp::create(
      b, fill.getLoc(), ValueRange{}, ValueRange{out},
      ArrayRef<AffineMap>{identity}, iters,
      [&](OpBuilder &nb, Location nloc, ValueRange) {
        linalg::YieldOp::create(nb, nloc, value);
      });
}

struct LLMVectorizeElementwise
    : mlir::llm::impl::LLMVectorizeElementwiseBase<LLMVectorizeElementwise> {
  using Base::Base;

  void runOnOperation() override {
    if (vectorWidth < 1) {
      getOperation().emitError(
          "llm-vectorize-elementwise: the vector width must be positive");
      return signalPassFailure();
    }
    SmallVector<Operation *> candidates;
    getOperation().walk([&](Operation *op) {
      if (isa<linalg::GenericOp, linalg::FillOp>(op))
        candidates.push_back(op);
    });
    for (Operation *op : candidates) {
      OpBuilder b(op);
      auto generic = dyn_cast<linalg::GenericOp>(op);
      auto fill = dyn_cast<linalg::FillOp>(op);
      if (fill) {
        Type type = fill.getDpsInits()[0].getType();
        if (!fill.hasPureBufferSemantics() || !isVectorizableMemRef(type) ||
            fill.getDpsInputs()[0].getType() !=
                cast<MemRefType>(type).getElementType())
          continue;
        generic = genericOf(b, fill);
      }
      std::optional<Plan> plan = analyze(generic);
      if (!plan) {
        if (fill)
          generic.erase();
        continue;
      }
      // Inside a parallel loop already (llm-fuse-norm's tiles), a nested
      // one would only add a fork and a join per iteration.
      Emitter(b, *plan, vectorWidth)
          .emit(parallel && !op->getParentOfType<scf::ParallelOp>());
      generic.erase();
      if (fill)
        fill.erase();
    }
  }
};

} // namespace
