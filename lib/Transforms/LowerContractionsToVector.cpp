//===- LowerContractionsToVector.cpp - vector kernels for projections -----===//
//
// The projections are ~90% of a Transformer's FLOPs and arrive here as
// bufferized linalg.generic contractions with a dynamic row count (batch x
// sequence). Rather than tiling and vectorizing generically (which needs
// masking or peeling for the dynamic rows), this pass emits the two
// register-tiled kernels a BLAS would use, directly as scf + vector ops, with
// one-row / one-column tiles for what the main tiles leave over. The outer
// loop over output panels is an scf.parallel so that scf-to-openmp spreads
// the panels over threads, each panel's weights staying in that core's cache.
//
//===----------------------------------------------------------------------===//

#include "ProjectionMatch.h"

#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMLOWERCONTRACTIONSTOVECTOR
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {

/// A matched projection: out[m, n] (+)= sum_k x[m, k] * w(n, k).
struct Projection {
  linalg::GenericOp op;
  Value x, w, out;
  WeightLayout layout;
  /// Output columns per panel of a packed weight.
  int64_t panel;
};

/// Whether `type` has a unit innermost stride.
static bool hasUnitInnerStride(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return !strides.empty() && strides.back() == 1;
}

/// Whether memref `value` collapses to 2-D (its leading dims into one) with
/// a unit inner stride, so that the kernels can read its rows as vectors.
static bool isCollapsibleTo2D(Value value) {
  auto type = dyn_cast<MemRefType>(value.getType());
  if (!type)
    return false;
  if (type.getRank() > 2) {
    ReassociationIndices lead;
    for (int64_t i = 0; i + 1 < type.getRank(); ++i)
      lead.push_back(i);
    SmallVector<ReassociationIndices> reassociation = {lead,
                                                       {type.getRank() - 1}};
    if (!memref::CollapseShapeOp::isGuaranteedCollapsible(type, reassociation))
      return false;
    type = memref::CollapseShapeOp::computeCollapsedType(type, reassociation);
  }
  return hasUnitInnerStride(type);
}

/// Matches a bufferized projection (ProjectionMatch.h) whose operands the
/// kernels can address: w with a unit inner stride (a packed w contiguous,
/// with a static column count), x and out collapsible to 2-D.
static std::optional<Projection> matchProjection(linalg::GenericOp op,
                                                 int64_t vectorWidth) {
  if (!op.hasPureBufferSemantics())
    return std::nullopt;
  std::optional<ProjectionMaps> maps = matchProjectionMaps(op);
  if (!maps)
    return std::nullopt;
  Projection p{op,           op.getDpsInputs()[0], op.getDpsInputs()[1],
               op.getDpsInits()[0], maps->layout, maps->panel};
  auto wType = dyn_cast<MemRefType>(p.w.getType());
  if (!wType || !hasUnitInnerStride(wType))
    return std::nullopt;
  if (p.layout == WeightLayout::Panels) {
    auto outType = dyn_cast<MemRefType>(p.out.getType());
    if (!wType.getLayout().isIdentity() || p.panel % vectorWidth ||
        !outType || ShapedType::isDynamic(outType.getShape().back()))
      return std::nullopt;
  }
  if (!isCollapsibleTo2D(p.x) || !isCollapsibleTo2D(p.out))
    return std::nullopt;
  return p;
}

/// A contraction with outer dims: out(outer, m, n) += a(.., m, .., k) *
/// b(.., k, .., n) (or b(.., n, .., k)). The outer dims are the batch dims
/// (read by every operand; parallel loops) and every reduction dim but k
/// (sequential loops), such that one outer iteration is a 2-D kernel's
/// problem. a's 2-D view is [m, k], or [k, m] when `aTransposed` (the
/// weight gradients' dW = dYᵀ·X, whose rows are reduced).
struct BatchedContraction {
  linalg::GenericOp op;
  Value a, b, out;
  AffineMap aMap, bMap, outMap;
  SmallVector<unsigned> batchDims;
  /// Reduction dims other than the kernels' k.
  SmallVector<unsigned> reductionDims;
  bool outIn;
  bool aTransposed;

  /// The size of loop `d`, from the first operand that indexes it.
  Value loopSize(OpBuilder &builder, Location loc, unsigned d) {
    for (auto [value, map] : {std::pair{out, outMap}, {a, aMap}, {b, bMap}})
      if (std::optional<unsigned> pos =
              map.getResultPosition(getAffineDimExpr(d, map.getContext())))
        return memref::DimOp::create(builder, loc, value, *pos);
    llvm_unreachable("every loop dim indexes some operand");
  }

  /// The rank-reduced view of `value` at the outer indices `ivs` (the dims
  /// they do not fix keep their order).
  static Value view(OpBuilder &builder, Location loc, Value value,
                    AffineMap map, const DenseMap<unsigned, Value> &ivs) {
    auto type = cast<MemRefType>(value.getType());
    SmallVector<OpFoldResult> offsets, sizes, strides;
    SmallVector<int64_t> shape;
    for (auto [i, expr] : llvm::enumerate(map.getResults())) {
      unsigned d = cast<AffineDimExpr>(expr).getPosition();
      strides.push_back(builder.getIndexAttr(1));
      if (auto it = ivs.find(d); it != ivs.end()) {
        offsets.push_back(it->second);
        sizes.push_back(builder.getIndexAttr(1));
        continue;
      }
      offsets.push_back(builder.getIndexAttr(0));
      sizes.push_back(memref::getMixedSize(builder, loc, value, i));
      shape.push_back(type.getDimSize(i));
    }
    auto viewType = memref::SubViewOp::inferRankReducedResultType(
        shape, type, offsets, sizes, strides);
    return memref::SubViewOp::create(builder, loc, viewType, value, offsets,
                                     sizes, strides);
  }
};

/// Whether the view of `value` at fixed `outerDims` has a unit inner stride.
static bool viewHasUnitInnerStride(Value value, AffineMap map,
                                   ArrayRef<unsigned> outerDims) {
  auto type = cast<MemRefType>(value.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  // The innermost dim of the operand that the outer loops do not fix.
  for (int64_t i = map.getNumResults() - 1; i >= 0; --i) {
    unsigned d = cast<AffineDimExpr>(map.getResult(i)).getPosition();
    if (llvm::is_contained(outerDims, d))
      continue;
    return strides[i] == 1;
  }
  return false;
}

/// Matches a batched f32 contraction. n is the output's last dim, read by
/// input b only; m is an output dim that input a reads and b does not; the
/// remaining output dims are batch dims (parallel outer loops); every
/// reduction dim is read by both inputs. One reduction dim becomes the
/// kernels' k (the innermost one that gives a supported layout), the
/// others sequential outer loops. The 2-D views must then be a [m, k] or
/// [k, m] with b [k, n] (outer-product kernel), or a [m, k] with b [n, k]
/// (dot kernel).
static std::optional<BatchedContraction>
matchBatchedContraction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !isF32MulAdd(op))
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (AffineMap map : maps)
    if (!map.isProjectedPermutation(/*allowZeroInResults=*/false))
      return std::nullopt;
  AffineMap outMap = maps[2];
  if (outMap.getNumResults() < 2)
    return std::nullopt;
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  auto uses = [&](AffineMap map, unsigned d) {
    return map.getResultPosition(getAffineDimExpr(d, op.getContext()))
        .has_value();
  };
  unsigned numResults = outMap.getNumResults();
  unsigned n = cast<AffineDimExpr>(outMap.getResult(numResults - 1))
                   .getPosition();
  // Input b carries n, input a does not.
  unsigned aIdx = 0, bIdx = 1;
  if (uses(maps[0], n))
    std::swap(aIdx, bIdx);
  if (uses(maps[aIdx], n) || !uses(maps[bIdx], n))
    return std::nullopt;
  // m: the output's second-to-last dim if only a reads it, else the one
  // output dim only a reads (attention's gradients write [B, S, H, D]).
  auto outDim = [&](unsigned i) {
    return cast<AffineDimExpr>(outMap.getResult(i)).getPosition();
  };
  auto onlyA = [&](unsigned d) {
    return uses(maps[aIdx], d) && !uses(maps[bIdx], d);
  };
  std::optional<unsigned> m;
  if (onlyA(outDim(numResults - 2))) {
    m = outDim(numResults - 2);
  } else {
    for (unsigned i = 0; i + 1 < numResults; ++i) {
      if (!onlyA(outDim(i)))
        continue;
      if (m)
        return std::nullopt;
      m = outDim(i);
    }
  }
  if (!m)
    return std::nullopt;
  SmallVector<unsigned> batchDims, reductions;
  for (unsigned i = 0; i + 1 < numResults; ++i)
    if (outDim(i) != *m)
      batchDims.push_back(outDim(i));
  for (unsigned d = 0; d < op.getNumLoops(); ++d) {
    if (iters[d] != utils::IteratorType::reduction)
      continue;
    if (!uses(maps[aIdx], d) || !uses(maps[bIdx], d))
      return std::nullopt;
    reductions.push_back(d);
  }
  if (reductions.empty())
    return std::nullopt;
  using Dims = SmallVector<unsigned>;
  for (unsigned k : llvm::reverse(reductions)) {
    SmallVector<unsigned> outer = batchDims;
    for (unsigned d : reductions)
      if (d != k)
        outer.push_back(d);
    auto inner = [&](AffineMap map) {
      Dims dims;
      for (AffineExpr expr : map.getResults()) {
        unsigned d = cast<AffineDimExpr>(expr).getPosition();
        if (!llvm::is_contained(outer, d))
          dims.push_back(d);
      }
      return dims;
    };
    Dims aDims = inner(maps[aIdx]), bDims = inner(maps[bIdx]);
    bool outIn, aTransposed = false;
    if (bDims == Dims{k, n} && (aDims == Dims{*m, k} || aDims == Dims{k, *m})) {
      outIn = false;
      aTransposed = aDims == Dims{k, *m};
    } else if (bDims == Dims{n, k} && aDims == Dims{*m, k}) {
      outIn = true;
    } else {
      continue;
    }
    BatchedContraction c{op,
                         op.getDpsInputs()[aIdx],
                         op.getDpsInputs()[bIdx],
                         op.getDpsInits()[0],
                         maps[aIdx],
                         maps[bIdx],
                         outMap,
                         batchDims,
                         {},
                         outIn,
                         aTransposed};
    for (unsigned d : reductions)
      if (d != k)
        c.reductionDims.push_back(d);
    // The kernels read vectors along the inner dim of out and b (outer
    // product) or of a and b (dot).
    if (!viewHasUnitInnerStride(c.b, c.bMap, outer) ||
        !viewHasUnitInnerStride(outIn ? c.a : c.out, outIn ? c.aMap : c.outMap,
                                outer))
      continue;
    return c;
  }
  return std::nullopt;
}

/// An in-place elementwise update of a projection's output that
/// `llm-fuse-epilogue` marked: the kernels apply its body to each tile's
/// accumulators after the tile's last block of K, and store the result.
struct Epilogue {
  /// How an input of the update is read at output element [row, col].
  enum class Kind { Tile, Row, Scalar };
  struct Input {
    BlockArgument arg;
    Value value;
    Kind kind;
  };
  linalg::GenericOp op;
  SmallVector<Input> inputs;
};

/// The buffer `value` is a view of.
static Value rootOf(Value value) {
  while (auto view = value.getDefiningOp<ViewLikeOpInterface>())
    value = view.getViewSource();
  return value;
}

/// The `llm.epilogue` generic right after projection `p`, updating its
/// output in place, if the kernels can apply it: f32 inputs read as a tile
/// of the output's shape, as a row broadcast over the output's rows, or as
/// a scalar; a body of elementwise arith / math ops.
static std::optional<Epilogue> matchEpilogue(linalg::GenericOp p, Value out) {
  auto op = dyn_cast_or_null<linalg::GenericOp>(p->getNextNode());
  if (!op || !op->hasAttr("llm.epilogue") || !op.hasPureBufferSemantics() ||
      op.getNumDpsInits() != 1 || op.getDpsInits()[0] != out ||
      op.getNumParallelLoops() != op.getNumLoops() ||
      !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity())
    return std::nullopt;
  Epilogue epilogue{op, {}};
  unsigned rank = op.getNumLoops();
  AffineExpr last = getAffineDimExpr(rank - 1, op.getContext());
  for (OpOperand *input : op.getDpsInputOperands()) {
    BlockArgument arg = op.getMatchingBlockArgument(input);
    Value value = input->get();
    AffineMap map = op.getMatchingIndexingMap(input);
    auto type = dyn_cast<MemRefType>(value.getType());
    if (!type) {
      if (!value.getType().isF32())
        return std::nullopt;
      epilogue.inputs.push_back({arg, value, Epilogue::Kind::Scalar});
      continue;
    }
    if (!type.getElementType().isF32() || rootOf(value) == rootOf(out))
      return std::nullopt;
    if (map.isIdentity() &&
        type.getShape() == cast<MemRefType>(out.getType()).getShape() &&
        isCollapsibleTo2D(value))
      epilogue.inputs.push_back({arg, value, Epilogue::Kind::Tile});
    else if (map.getNumResults() == 1 && map.getResult(0) == last &&
             hasUnitInnerStride(type))
      epilogue.inputs.push_back({arg, value, Epilogue::Kind::Row});
    else
      return std::nullopt;
  }
  Block &body = op.getRegion().front();
  for (Operation &inner : body.without_terminator()) {
    if (isa<arith::ConstantOp>(inner) &&
        inner.getResult(0).getType().isIntOrFloat())
      continue;
    if (!isa<arith::ArithDialect, math::MathDialect>(inner.getDialect()) ||
        !OpTrait::hasElementwiseMappableTraits(&inner) ||
        inner.getNumResults() != 1 || inner.getNumRegions() ||
        !isMemoryEffectFree(&inner) ||
        !inner.getResult(0).getType().isIntOrFloat())
      return std::nullopt;
  }
  return epilogue;
}

/// Emits the kernels for one projection.
class KernelEmitter {
public:
  KernelEmitter(OpBuilder &b, Location loc, int64_t vectorWidth)
      : b(b), loc(loc), vw(vectorWidth),
        vecType(VectorType::get({vectorWidth}, b.getF32Type())) {}

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value l, int64_t r) {
    return r == 0 ? l : arith::AddIOp::create(b, loc, l, idx(r)).getResult();
  }
  /// (v / multiple) * multiple.
  Value roundDown(Value v, int64_t multiple) {
    if (multiple == 1)
      return v;
    Value m = idx(multiple);
    return arith::MulIOp::create(b, loc,
                                 arith::DivUIOp::create(b, loc, v, m), m);
  }

  /// Rows of 2-D `value` as a 2-D memref (collapsing leading dims).
  Value as2D(Value value) {
    auto type = cast<MemRefType>(value.getType());
    if (type.getRank() == 2)
      return value;
    ReassociationIndices lead;
    for (int64_t i = 0; i + 1 < type.getRank(); ++i)
      lead.push_back(i);
    SmallVector<ReassociationIndices> reassociation = {lead,
                                                       {type.getRank() - 1}};
    return memref::CollapseShapeOp::create(b, loc, value, reassociation);
  }

  /// `scf.for` from lb to ub by step whose body is built by `fn(iv)`.
  void forLoop(Value lb, Value ub, int64_t step,
               function_ref<void(Value)> fn) {
    auto loop = scf::ForOp::create(b, loc, lb, ub, idx(step));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    fn(loop.getInductionVar());
  }

  /// The stack buffer a panel's block of packed weight rows goes to.
  Value allocPanelBuffer(int64_t rows, int64_t cols) {
    auto type = MemRefType::get({rows, cols * vw}, b.getF32Type());
    return memref::AllocaOp::create(b, loc, type, b.getI64IntegerAttr(64));
  }

  /// `scf.parallel` from lb to ub by step.
  void parallelLoop(Value lb, Value ub, int64_t step,
                    function_ref<void(Value)> fn) {
    auto loop = scf::ParallelOp::create(b, loc, ValueRange{lb}, ValueRange{ub},
                                        ValueRange{idx(step)});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    fn(loop.getInductionVars()[0]);
  }

  /// out[i:i+rows, j:j+cols*vw] += x[i:i+rows, :] * w[:, j:j+cols*vw] with
  /// w stored [k, n]: the accumulator tile stays in registers over K.
  /// With `lastLanes` > 0, the last column vector of out holds only that
  /// many columns: it is read and written through a mask (w's is whole).
  /// With `xTile` ([K, rows], the tile's rows of x interleaved), x is read
  /// from there instead: one sequential stream rather than `rows` strided
  /// ones.
  void outerProductTile(Value x, Value w, Value out, Value k, Value kOffset,
                        Value i, Value j, Value wCol, int64_t rows,
                        int64_t cols, int64_t lastLanes = 0, Value xTile = {},
                        const Epilogue *epilogue = nullptr) {
    SmallVector<Value> rowIdx, colIdx, wColIdx;
    for (int64_t r = 0; r < rows; ++r)
      rowIdx.push_back(add(i, r));
    for (int64_t c = 0; c < cols; ++c) {
      colIdx.push_back(add(j, c * vw));
      wColIdx.push_back(add(wCol, c * vw));
    }
    Value mask, zero;
    if (lastLanes) {
      mask = vector::ConstantMaskOp::create(
          b, loc, VectorType::get({vw}, b.getI1Type()),
          ArrayRef<int64_t>{lastLanes});
      zero = arith::ConstantOp::create(
          b, loc, vecType,
          DenseElementsAttr::get(vecType, b.getF32FloatAttr(0)));
    }
    auto masked = [&](int64_t c) { return lastLanes && c == cols - 1; };
    SmallVector<Value> init;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        SmallVector<Value, 2> at{rowIdx[r], colIdx[c]};
        init.push_back(
            masked(c)
                ? vector::MaskedLoadOp::create(b, loc, vecType, out, at, mask,
                                               zero)
                      .getResult()
                : vector::LoadOp::create(b, loc, vecType, out, at)
                      .getResult());
      }
    auto loop = scf::ForOp::create(
        b, loc, idx(0), k, idx(1), init,
        [&](OpBuilder &nb, Location nloc, Value kk, ValueRange acc) {
          SmallVector<Value> wv, next;
          for (int64_t c = 0; c < cols; ++c)
            wv.push_back(vector::LoadOp::create(nb, nloc, vecType, w,
                                                ValueRange{kk, wColIdx[c]}));
          Value xk = arith::AddIOp::create(nb, nloc, kk, kOffset);
          for (int64_t r = 0; r < rows; ++r) {
            Value xs =
                xTile ? memref::LoadOp::create(nb, nloc, xTile,
                                               ValueRange{xk, idx(r)})
                      : memref::LoadOp::create(nb, nloc, x,
                                               ValueRange{rowIdx[r], xk});
            Value xv = vector::BroadcastOp::create(nb, nloc, vecType, xs);
            for (int64_t c = 0; c < cols; ++c)
              next.push_back(vector::FMAOp::create(nb, nloc, xv, wv[c],
                                                   acc[r * cols + c]));
          }
          scf::YieldOp::create(nb, nloc, next);
        });
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        SmallVector<Value, 2> at{rowIdx[r], colIdx[c]};
        Value acc = loop.getResult(r * cols + c);
        if (epilogue)
          acc = applyEpilogue(*epilogue, acc, rowIdx[r], colIdx[c],
                              masked(c) ? mask : Value());
        if (masked(c))
          vector::MaskedStoreOp::create(b, loc, out, at, mask, acc);
        else
          vector::StoreOp::create(b, loc, acc, out, at);
      }
  }

  /// The epilogue's body on the accumulator vector `acc` of output
  /// [row, col:col+vw] (the lanes of `mask` only, when set): its inputs
  /// loaded at the same element, everything uniform broadcast.
  Value applyEpilogue(const Epilogue &epilogue, Value acc, Value row, Value col,
                      Value mask) {
    linalg::GenericOp op = epilogue.op;
    Block &body = op.getRegion().front();
    IRMapping map;
    map.map(body.getArguments().back(), acc);
    auto splat = [&](Value scalar) -> Value {
      auto type = VectorType::get({vw}, scalar.getType());
      return vector::BroadcastOp::create(b, loc, type, scalar);
    };
    for (const Epilogue::Input &input : epilogue.inputs) {
      if (input.arg.use_empty())
        continue;
      if (input.kind == Epilogue::Kind::Scalar) {
        map.map(input.arg, splat(input.value));
        continue;
      }
      SmallVector<Value, 2> at;
      if (input.kind == Epilogue::Kind::Tile)
        at = {row, col};
      else
        at = {col};
      Value vector =
          mask ? vector::MaskedLoadOp::create(
                     b, loc, vecType, input.value, at, mask,
                     arith::ConstantOp::create(b, loc, vecType,
                                               b.getZeroAttr(vecType)))
                     .getResult()
               : vector::LoadOp::create(b, loc, vecType, input.value, at)
                     .getResult();
      map.map(input.arg, vector);
    }
    for (Operation &inner : body.without_terminator()) {
      if (auto constant = dyn_cast<arith::ConstantOp>(inner)) {
        auto type = VectorType::get({vw}, constant.getType());
        map.map(constant.getResult(),
                arith::ConstantOp::create(
                    b, loc, type,
                    DenseElementsAttr::get(type, constant.getValue())));
        continue;
      }
      // Operands from outside the body are the same in every lane.
      for (Value operand : inner.getOperands())
        if (!map.contains(operand))
          map.map(operand, splat(operand));
      Operation *vectorOp = b.clone(inner, map);
      vectorOp->getResult(0).setType(
          VectorType::get({vw}, inner.getResult(0).getType()));
      map.map(inner.getResult(0), vectorOp->getResult(0));
    }
    return map.lookup(body.getTerminator()->getOperand(0));
  }

  /// out[i:i+rows, j:j+cols] += x[i:i+rows, :] . w[j:j+cols, :] with w
  /// stored [n, k]: vector accumulators along K (up to kVec, a multiple of
  /// vw), a horizontal sum, then the scalar tail of K.
  void dotTile(Value x, Value w, Value out, Value k, Value kVec, Value i,
               Value j, int64_t rows, int64_t cols) {
    SmallVector<Value> rowIdx, colIdx;
    for (int64_t r = 0; r < rows; ++r)
      rowIdx.push_back(add(i, r));
    for (int64_t c = 0; c < cols; ++c)
      colIdx.push_back(add(j, c));
    Value zero = arith::ConstantOp::create(
        b, loc, vecType, DenseElementsAttr::get(vecType, b.getF32FloatAttr(0)));
    SmallVector<Value> init(rows * cols, zero);
    auto loop = scf::ForOp::create(
        b, loc, idx(0), kVec, idx(vw), init,
        [&](OpBuilder &nb, Location nloc, Value kk, ValueRange acc) {
          SmallVector<Value> xv, wv, next;
          for (int64_t r = 0; r < rows; ++r)
            xv.push_back(vector::LoadOp::create(nb, nloc, vecType, x,
                                                ValueRange{rowIdx[r], kk}));
          for (int64_t c = 0; c < cols; ++c)
            wv.push_back(vector::LoadOp::create(nb, nloc, vecType, w,
                                                ValueRange{colIdx[c], kk}));
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c)
              next.push_back(
                  vector::FMAOp::create(nb, nloc, xv[r], wv[c],
                                        acc[r * cols + c]));
          scf::YieldOp::create(nb, nloc, next);
        });
    SmallVector<Value> sums;
    for (int64_t t = 0; t < rows * cols; ++t)
      sums.push_back(vector::ReductionOp::create(
          b, loc, vector::CombiningKind::ADD, loop.getResult(t),
          arith::FastMathFlags::reassoc));
    auto tail = scf::ForOp::create(
        b, loc, kVec, k, idx(1), sums,
        [&](OpBuilder &nb, Location nloc, Value kk, ValueRange acc) {
          SmallVector<Value> xs, ws, next;
          for (int64_t r = 0; r < rows; ++r)
            xs.push_back(memref::LoadOp::create(nb, nloc, x,
                                                ValueRange{rowIdx[r], kk}));
          for (int64_t c = 0; c < cols; ++c)
            ws.push_back(memref::LoadOp::create(nb, nloc, w,
                                                ValueRange{colIdx[c], kk}));
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c)
              next.push_back(arith::AddFOp::create(
                  nb, nloc, acc[r * cols + c],
                  arith::MulFOp::create(nb, nloc, xs[r], ws[c])));
          scf::YieldOp::create(nb, nloc, next);
        });
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        SmallVector<Value, 2> at{rowIdx[r], colIdx[c]};
        Value old = memref::LoadOp::create(b, loc, out, at);
        Value sum = arith::AddFOp::create(b, loc, old,
                                          tail.getResult(r * cols + c));
        memref::StoreOp::create(b, loc, sum, out, at);
      }
  }

  /// Columns i:i+rows of 2-D `x` (all its rows): a [K, rows] tile of a
  /// transposed x, which outerProductTile reads like an interleaved one.
  Value columns(Value x, Value i, int64_t rows) {
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), i};
    SmallVector<OpFoldResult> sizes = {memref::getMixedSize(b, loc, x, 0),
                                       b.getIndexAttr(rows)};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    return memref::SubViewOp::create(b, loc, x, offsets, sizes, strides);
  }

  /// The scalar contraction over out[:, n0:n1] (columns no vector tile
  /// covers), as a 2-D linalg.generic that later passes lower to loops; x
  /// is [m, k], or [k, m] when `xTransposed`.
  void scalarColumns(Value x, Value w, Value out, bool outIn,
                     bool xTransposed, Value n0, Value n1) {
    Value m = memref::DimOp::create(b, loc, out, 0);
    Value k = memref::DimOp::create(b, loc, x, xTransposed ? 0 : 1);
    Value cols = arith::SubIOp::create(b, loc, n1, n0);
    Value one = idx(1), zero = idx(0);
    Value outSlice = memref::SubViewOp::create(
        b, loc, out, ValueRange{zero, n0}, ValueRange{m, cols},
        ValueRange{one, one});
    Value wSlice =
        outIn ? memref::SubViewOp::create(b, loc, w, ValueRange{n0, zero},
                                          ValueRange{cols, k},
                                          ValueRange{one, one})
                    .getResult()
              : memref::SubViewOp::create(b, loc, w, ValueRange{zero, n0},
                                          ValueRange{k, cols},
                                          ValueRange{one, one})
                    .getResult();
    MLIRContext *ctx = b.getContext();
    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx),
               d2 = getAffineDimExpr(2, ctx);
    SmallVector<AffineMap> maps = {
        AffineMap::get(3, 0,
                       xTransposed ? SmallVector<AffineExpr>{d2, d0}
                                   : SmallVector<AffineExpr>{d0, d2},
                       ctx),
        AffineMap::get(3, 0,
                       outIn ? SmallVector<AffineExpr>{d1, d2}
                             : SmallVector<AffineExpr>{d2, d1},
                       ctx),
        AffineMap::get(3, 0, {d0, d1}, ctx)};
    linalg::GenericOp::create(
        b, loc, ValueRange{x, wSlice}, ValueRange{outSlice}, maps,
        {utils::IteratorType::parallel, utils::IteratorType::parallel,
         utils::IteratorType::reduction},
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          Value product = arith::MulFOp::create(nb, nloc, args[0], args[1]);
          Value sum = arith::AddFOp::create(nb, nloc, args[2], product);
          linalg::YieldOp::create(nb, nloc, sum);
        });
  }

  OpBuilder &b;
  Location loc;
  int64_t vw;
  VectorType vecType;
};

struct LLMLowerContractionsToVector
    : mlir::llm::impl::LLMLowerContractionsToVectorBase<LLMLowerContractionsToVector> {
  using Base::Base;

  void runOnOperation() override {
    if (vectorWidth < 1 || kTile < 1 || packedKTile < 1 || rowTile < 1 ||
        colVectors < 1 || dotRows < 1 || dotCols < 1) {
      getOperation().emitError("llm-lower-contractions-to-vector: tile sizes "
                               "and the vector width must be positive");
      return signalPassFailure();
    }
    SmallVector<Projection> projections;
    SmallVector<BatchedContraction> batched;
    getOperation().walk([&](linalg::GenericOp op) {
      if (std::optional<Projection> p = matchProjection(op, vectorWidth))
        projections.push_back(*p);
      else if (std::optional<BatchedContraction> c =
                   matchBatchedContraction(op))
        batched.push_back(*c);
    });
    for (Projection &p : projections)
      lower(p);
    for (BatchedContraction &c : batched)
      lower(c);
    panelBuffers.clear();
  }

  /// Sequential kernels' panel buffers, by the block they start.
  DenseMap<Block *, Value> panelBuffers;

  /// The panel buffer of a sequential kernel: one per region that scopes
  /// stack memory (the function, a parallel loop's body, an alloca scope),
  /// allocated at its start and shared by the sequential kernels in it,
  /// which run one at a time. An alloca at the kernel would take new stack
  /// on every run of a loop around it (attention's tiles), until the
  /// function returns.
  Value sharedPanelBuffer(KernelEmitter &e) {
    Operation *scope = e.b.getInsertionBlock()->getParentOp();
    while (!isa<scf::ParallelOp, scf::ForallOp, memref::AllocaScopeOp>(scope) &&
           !scope->hasTrait<OpTrait::AutomaticAllocationScope>())
      scope = scope->getParentOp();
    Block *start = &scope->getRegion(0).front();
    Value &buffer = panelBuffers[start];
    if (!buffer) {
      OpBuilder::InsertionGuard guard(e.b);
      e.b.setInsertionPointToStart(start);
      buffer = e.allocPanelBuffer(kTile, colVectors);
    }
    return buffer;
  }

  void lower(Projection &p) {
    OpBuilder b(p.op);
    KernelEmitter e(b, p.op.getLoc(), vectorWidth);
    std::optional<Epilogue> epilogue = matchEpilogue(p.op, p.out);
    if (epilogue && !canApplyEpilogue(p))
      epilogue.reset();
    if (epilogue)
      for (Epilogue::Input &input : epilogue->inputs)
        if (input.kind == Epilogue::Kind::Tile)
          input.value = e.as2D(input.value);
    const Epilogue *epi = epilogue ? &*epilogue : nullptr;
    if (p.layout == WeightLayout::Panels)
      emitPanelKernels(e, e.as2D(p.x), p.w, e.as2D(p.out), p.panel, epi);
    else
      emitKernels(e, e.as2D(p.x), p.w, e.as2D(p.out),
                  p.layout == WeightLayout::OutIn, /*xTransposed=*/false,
                  parallel, /*sharedBuf=*/{}, epi);
    if (epilogue)
      epilogue->op.erase();
    p.op.erase();
  }

  /// Whether the kernels for `p` store every output element from the
  /// outer-product tiles with a static K: the packed kernel, or the copied
  /// one when the columns fill whole panels (the dot-product kernel and
  /// the scalar columns have no register tile to finish).
  bool canApplyEpilogue(const Projection &p) {
    auto wType = cast<MemRefType>(p.w.getType());
    auto outType = cast<MemRefType>(p.out.getType());
    int64_t n = outType.getShape().back();
    switch (p.layout) {
    case WeightLayout::Panels:
      return !wType.isDynamicDim(1);
    case WeightLayout::InOut:
      return !wType.isDynamicDim(0) && !ShapedType::isDynamic(n) &&
             n % (colVectors * vectorWidth) == 0;
    case WeightLayout::OutIn:
      return false;
    }
    llvm_unreachable("covered switch over WeightLayout");
  }

  /// `fn(k0, kb)` for every block of `kTile` rows of a K of `k` (kb rows
  /// each, the last maybe fewer). With an epilogue (then K is static), the
  /// last block is emitted apart, with `last` set.
  void forBlocks(KernelEmitter &e, Value k, int64_t kTile, bool split,
                 function_ref<void(Value, Value, bool)> fn) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    auto blockOf = [&](Value k0) {
      Value rest = arith::SubIOp::create(b, loc, k, k0);
      return arith::MinUIOp::create(b, loc, rest, e.idx(kTile)).getResult();
    };
    if (!split) {
      e.forLoop(e.idx(0), k, kTile,
                [&](Value k0) { fn(k0, blockOf(k0), false); });
      return;
    }
    int64_t staticK = *getConstantIntValue(k);
    int64_t lastStart = staticK ? (staticK - 1) / kTile * kTile : 0;
    if (lastStart)
      e.forLoop(e.idx(0), e.idx(lastStart), kTile,
                [&](Value k0) { fn(k0, e.idx(kTile), false); });
    fn(e.idx(lastStart), e.idx(staticK - lastStart), true);
  }

  /// out[m, n] += x[m, k] * w[n / panel, k, n % panel]: the outer-product
  /// kernel straight on the packed weight, each panel's block of
  /// packedKTile rows one contiguous stream. The blocks are long (the whole
  /// K of most projections): a row tile's accumulators are loaded and
  /// stored once per block, and with long sequences those output rows, a
  /// whole (LM-head-wide) row apart, cost more to reload than the block
  /// costs to stream from L2. Full panels run in parallel; the last,
  /// partial one (out has a static column count) masks its last vector.
  void emitPanelKernels(KernelEmitter &e, Value x, Value w, Value out,
                        int64_t panel, const Epilogue *epilogue = nullptr) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value m = memref::DimOp::create(b, loc, out, 0);
    // K is the weight's (static) when an epilogue needs the last block.
    Value k = epilogue ? e.idx(cast<MemRefType>(w.getType()).getDimSize(1))
                       : memref::DimOp::create(b, loc, x, 1).getResult();
    int64_t n = cast<MemRefType>(out.getType()).getDimSize(1);
    Value zero = e.idx(0);
    Value mMain = e.roundDown(m, rowTile);

    // The full row tiles of x, interleaved once per call: xp[t][k][r] =
    // x[t * rowTile + r][k], so that each tile's broadcasts read one
    // sequential stream (x's rows are K apart, and every panel rereads
    // them).
    Value numTiles = arith::DivUIOp::create(b, loc, m, e.idx(rowTile));
    int64_t staticK = cast<MemRefType>(x.getType()).getDimSize(1);
    SmallVector<Value> xpSizes = {numTiles};
    if (ShapedType::isDynamic(staticK))
      xpSizes.push_back(k);
    auto xpType = MemRefType::get({ShapedType::kDynamic, staticK, rowTile},
                                  b.getF32Type());
    Value xp = memref::AllocOp::create(b, loc, xpType, xpSizes,
                                       b.getI64IntegerAttr(64));
    auto packTile = [&](Value t) {
      Value row0 = arith::MulIOp::create(b, loc, t, e.idx(rowTile));
      e.forLoop(zero, k, 1, [&](Value kk) {
        for (int64_t r = 0; r < rowTile; ++r) {
          Value v = memref::LoadOp::create(b, loc, x,
                                           ValueRange{e.add(row0, r), kk});
          memref::StoreOp::create(b, loc, v, xp,
                                  ValueRange{t, kk, e.idx(r)});
        }
      });
    };
    if (parallel)
      e.parallelLoop(zero, numTiles, 1, packTile);
    else
      e.forLoop(zero, numTiles, 1, packTile);

    auto panelTile = [&](Value nb, int64_t cols, int64_t lastLanes) {
      Value j = arith::MulIOp::create(b, loc, nb, e.idx(panel));
      forBlocks(
          e, k, packedKTile, epilogue != nullptr,
          [&](Value k0, Value kb, bool last) {
            const Epilogue *epi = last ? epilogue : nullptr;
            // w[nb, k0:k0+kb, :] as a 2-D [kb, panel] view.
            SmallVector<OpFoldResult> offsets = {nb, k0, b.getIndexAttr(0)};
            SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), kb,
                                               b.getIndexAttr(panel)};
            SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
            auto blockType = memref::SubViewOp::inferRankReducedResultType(
                {ShapedType::kDynamic, panel}, cast<MemRefType>(w.getType()),
                offsets, sizes, strides);
            Value block =
                memref::SubViewOp::create(b, loc, cast<MemRefType>(blockType),
                                          w, offsets, sizes, strides);
            e.forLoop(zero, mMain, rowTile, [&](Value i) {
              // xp[i / rowTile] as a [K, rowTile] view.
              Value t = arith::DivUIOp::create(b, loc, i, e.idx(rowTile));
              SmallVector<OpFoldResult> offsets = {t, b.getIndexAttr(0),
                                                   b.getIndexAttr(0)};
              SmallVector<OpFoldResult> sizes = {
                  b.getIndexAttr(1), memref::getMixedSize(b, loc, xp, 1),
                  b.getIndexAttr(rowTile)};
              SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
              auto tileType = memref::SubViewOp::inferRankReducedResultType(
                  {staticK, rowTile}, xpType, offsets, sizes, strides);
              Value xTile =
                  memref::SubViewOp::create(b, loc, cast<MemRefType>(tileType),
                                            xp, offsets, sizes, strides);
              e.outerProductTile(x, block, out, kb, k0, i, j, zero, rowTile,
                                 cols, lastLanes, xTile, epi);
            });
            e.forLoop(mMain, m, 1, [&](Value i) {
              e.outerProductTile(x, block, out, kb, k0, i, j, zero, 1, cols,
                                 lastLanes, Value(), epi);
            });
          });
    };
    int64_t fullPanels = n / panel, rest = n % panel;
    int64_t vectors = panel / vectorWidth;
    if (fullPanels) {
      auto body = [&](Value nb) { panelTile(nb, vectors, 0); };
      if (parallel)
        e.parallelLoop(zero, e.idx(fullPanels), 1, body);
      else
        e.forLoop(zero, e.idx(fullPanels), 1, body);
    }
    if (rest)
      panelTile(e.idx(fullPanels), (rest + vectorWidth - 1) / vectorWidth,
                rest % vectorWidth);
    memref::DeallocOp::create(b, loc, xp);
  }

  /// A batched contraction (attention's products and their gradients, the
  /// weight gradients): the batch dims as an scf.parallel (or the kernels'
  /// own parallel panels when there are none), the other reduction dims as
  /// scf.for loops inside, 2-D views of one outer element, the kernels.
  void lower(BatchedContraction &c) {
    OpBuilder b(c.op);
    Location loc = c.op.getLoc();
    KernelEmitter e(b, loc, vectorWidth);
    DenseMap<unsigned, Value> ivs;
    // Nested scf.for over `dims` from `level` on, then `body`.
    std::function<void(ArrayRef<unsigned>, function_ref<void()>)> nest =
        [&](ArrayRef<unsigned> dims, function_ref<void()> body) {
          if (dims.empty())
            return body();
          e.forLoop(e.idx(0), c.loopSize(b, loc, dims.front()), 1,
                    [&](Value iv) {
                      ivs[dims.front()] = iv;
                      nest(dims.drop_front(), body);
                    });
        };
    auto kernels = [&](bool parallelPanels, Value buf) {
      nest(c.reductionDims, [&] {
        emitKernels(e, c.view(b, loc, c.a, c.aMap, ivs),
                    c.view(b, loc, c.b, c.bMap, ivs),
                    c.view(b, loc, c.out, c.outMap, ivs), c.outIn,
                    c.aTransposed, parallelPanels, buf);
      });
    };
    if (!parallel || c.batchDims.empty()) {
      // Serial outer loops, one buffer up front; without batch dims the
      // kernels' panels are the parallel loop.
      bool parallelPanels = parallel && c.batchDims.empty();
      Value buf = parallelPanels ? Value() : sharedPanelBuffer(e);
      nest(c.batchDims, [&] { kernels(parallelPanels, buf); });
      c.op.erase();
      return;
    }
    SmallVector<Value> lbs, ubs, steps;
    for (unsigned d : c.batchDims) {
      lbs.push_back(e.idx(0));
      ubs.push_back(c.loopSize(b, loc, d));
      steps.push_back(e.idx(1));
    }
    auto loop = scf::ParallelOp::create(b, loc, lbs, ubs, steps);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    // The kernels' stack buffer lives for one outer iteration.
    auto scope = memref::AllocaScopeOp::create(b, loc, TypeRange{});
    b.createBlock(&scope.getBodyRegion());
    auto scopeEnd = memref::AllocaScopeReturnOp::create(b, loc, ValueRange{});
    b.setInsertionPoint(scopeEnd);
    for (auto [d, iv] : llvm::zip(c.batchDims, loop.getInductionVars()))
      ivs[d] = iv;
    kernels(/*parallelPanels=*/false, e.allocPanelBuffer(kTile, colVectors));
    c.op.erase();
  }

  /// out[m, n] += x[m, k] * w, w 2-D [k, n] (outIn false) or [n, k]; x is
  /// stored [k, m] when `xTransposed` (only with w [k, n]).
  /// With `epilogue` (only for w [k, n] with whole panels and a static K),
  /// the tiles of the last block of K apply it.
  void emitKernels(KernelEmitter &e, Value x, Value w, Value out, bool outIn,
                   bool xTransposed, bool parallel, Value sharedBuf = {},
                   const Epilogue *epilogue = nullptr) {
    assert(!(outIn && xTransposed) && "no dot kernel for a transposed x");
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value m = memref::DimOp::create(b, loc, out, 0);
    Value n = memref::DimOp::create(b, loc, out, 1);
    Value k =
        epilogue
            ? e.idx(cast<MemRefType>(w.getType()).getDimSize(0))
            : memref::DimOp::create(b, loc, x, xTransposed ? 0 : 1).getResult();
    Value zero = e.idx(0);
    auto panels = [&](Value lb, Value ub, int64_t step,
                      function_ref<void(Value)> fn) {
      if (parallel)
        e.parallelLoop(lb, ub, step, fn);
      else
        e.forLoop(lb, ub, step, fn);
    };

    if (!outIn) {
      int64_t panel = colVectors * vectorWidth;
      Value nMain = e.roundDown(n, panel);
      Value mMain = e.roundDown(m, rowTile);
      // Per panel, per block of kTile rows of w: copy the block into a
      // contiguous buffer on the stack (w's row stride would otherwise
      // alias in L1 and defeat the prefetchers), then run every row tile
      // over it.

      // Sequential panels share one buffer, allocated by the caller's
      // scope; parallel ones get one each, in a scope per iteration (the
      // scope must sit right in the scf.parallel body: it is lowered before
      // scf-to-cf, which would see a multi-block scf.for otherwise).
      if (!parallel && !sharedBuf)
        sharedBuf = sharedPanelBuffer(e);
      panels(zero, nMain, panel, [&](Value j) {
        OpBuilder::InsertionGuard guard(b);
        memref::AllocaScopeOp scope;
        if (parallel) {
          scope = memref::AllocaScopeOp::create(b, loc, TypeRange{});
          b.createBlock(&scope.getBodyRegion());
        }
        Value buf =
            parallel ? e.allocPanelBuffer(kTile, colVectors) : sharedBuf;
        forBlocks(e, k, kTile, epilogue != nullptr,
                  [&](Value k0, Value kb, bool last) {
                    e.forLoop(zero, kb, 1, [&](Value kk) {
                      Value row = arith::AddIOp::create(b, loc, k0, kk);
                      for (int64_t c = 0; c < colVectors; ++c) {
                        Value v = vector::LoadOp::create(
                            b, loc, e.vecType, w,
                            ValueRange{row, e.add(j, c * vectorWidth)});
                        vector::StoreOp::create(
                            b, loc, v, buf,
                            ValueRange{kk, e.idx(c * vectorWidth)});
                      }
                    });
                    // A transposed x is read through [K, rows] column tiles.
                    auto tile = [&](Value i, int64_t rows) {
                      e.outerProductTile(x, buf, out, kb, k0, i, j, zero, rows,
                                         colVectors, /*lastLanes=*/0,
                                         xTransposed ? e.columns(x, i, rows)
                                                     : Value(),
                                         last ? epilogue : nullptr);
                    };
                    e.forLoop(zero, mMain, rowTile,
                              [&](Value i) { tile(i, rowTile); });
                    e.forLoop(mMain, m, 1, [&](Value i) { tile(i, 1); });
                  });
        if (parallel)
          memref::AllocaScopeReturnOp::create(b, loc, ValueRange{});
      });
      // Columns past the last full panel (none for the usual widths).
      int64_t staticN = cast<MemRefType>(out.getType()).getDimSize(1);
      if (ShapedType::isDynamic(staticN) || staticN % panel)
        e.scalarColumns(x, w, out, /*outIn=*/false, xTransposed, nMain, n);
    } else {
      Value kVec = e.roundDown(k, vectorWidth);
      Value nMain = e.roundDown(n, dotCols);
      Value mMain = e.roundDown(m, dotRows);
      auto rowsOf = [&](Value j, int64_t cols) {
        e.forLoop(zero, mMain, dotRows, [&](Value i) {
          e.dotTile(x, w, out, k, kVec, i, j, dotRows, cols);
        });
        e.forLoop(mMain, m, 1, [&](Value i) {
          e.dotTile(x, w, out, k, kVec, i, j, 1, cols);
        });
      };
      panels(zero, nMain, dotCols, [&](Value j) { rowsOf(j, dotCols); });
      panels(nMain, n, 1, [&](Value j) { rowsOf(j, 1); });
    }
  }
};

} // namespace
