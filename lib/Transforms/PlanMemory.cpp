//===- PlanMemory.cpp - One arena for an entry point's buffers ---------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// llm-plan-memory: after bufferization (and the deallocation pipeline),
// each public function's intermediate buffers move into one arena the
// caller passes as a last argument, `memref<?xi8> {llm.input = "arena"}`.
//
// A buffer is a `memref.alloc` at the top level or in `scf.for` loops
// whose uses (through view-like ops) stay in the function: not returned
// (but see `results` below),
// not yielded, not passed to a call, freed only by `memref.dealloc`s in
// its own block (which go). Its life runs from the first top-level op that
// reads or writes it (views, casts, reshapes and `memref.dim` only compute
// addresses; bufferization allocates where the sizes are known, often long
// before the first write) to the last top-level op that uses it or a view
// of it; a buffer in a loop (llm-fuse-attention's tiles) thus keeps its
// bytes for every iteration, and no iteration allocates.
//
// Sizes may depend on the batch B and the sequence length S, read off the
// arguments whose `llm.input` names them (input_ids [B, S], labels,
// attention_mask, cache_position [B], ...; the first integer argument
// without a name is input_ids). A buffer's size in bytes is evaluated as a
// polynomial in B and S (divisions by constants and minimums with a
// constant bounded from above); buffers linear in B (every activation) are
// planned per sequence at S = max-seq, buffers without B once, in an arena
// of A0 + B x A1 bytes where each buffer starts at `offset + B x scaled
// offset` (llm::planScaledArena: the two kinds apart, [A0][B x A1], or
// planned together at B = 1 and lifted to every B where that is smaller at
// B = 1 and no larger at B = 8; llm::checkScaledArenaPlan proves it). A
// smaller S fits the slots planned for the bound.
// Buffers whose size is none of these forms, or that escape, keep their
// allocation (reported in the module attribute). With the `results` option
// a returned buffer is planned too, live to the return, so that a call
// allocates nothing; the caller then reads that result out of the arena
// (its descriptor's `allocated` pointer is the arena's; docs/ABI.md).
//
// The module attribute `llm.arenas` records per function: fixed_bytes (A0),
// bytes_per_sequence (A1), and at B = 1, S = max-seq the sum of the
// planned buffers (total_bytes), the most bytes simultaneously live
// (live_bytes), and the buffers planned and left allocated.
//
//===----------------------------------------------------------------------===//

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Support/MemoryPlanner.h"
#include "llm/Transforms/EntryArguments.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/ADT/SmallBitVector.h"

#include <algorithm>
#include <limits>
#include <map>

namespace mlir::llm {
#define GEN_PASS_DEF_LLMPLANMEMORY
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;
using ::llm::BufferRequest;
using ::llm::ScaledArenaPlan;

namespace {
/// A polynomial in the batch size B and the sequence length S with
/// integer coefficients over a common positive denominator: (power of B,
/// power of S) -> coefficient. Division by a constant (a kernel's
/// floor(rows / tile)) divides exactly, so the polynomial bounds the
/// floored value from above.
struct Polynomial {
  std::map<std::pair<unsigned, unsigned>, int64_t> terms;
  int64_t denominator = 1;

  static Polynomial constant(int64_t c) {
    Polynomial p;
    if (c)
      p.terms[{0, 0}] = c;
    return p;
  }
  static Polynomial symbol(bool batch) {
    Polynomial p;
    p.terms[batch ? std::make_pair(1u, 0u) : std::make_pair(0u, 1u)] = 1;
    return p;
  }
  /// Fails on overflow.
  std::optional<Polynomial> add(const Polynomial &o) const {
    Polynomial r;
    if (__builtin_mul_overflow(denominator, o.denominator, &r.denominator))
      return std::nullopt;
    auto accumulate = [&](const Polynomial &p, int64_t scale) {
      for (auto [powers, c] : p.terms) {
        int64_t term;
        if (__builtin_mul_overflow(c, scale, &term) ||
            __builtin_add_overflow(r.terms[powers], term, &r.terms[powers]))
          return false;
      }
      return true;
    };
    if (!accumulate(*this, o.denominator) || !accumulate(o, denominator))
      return std::nullopt;
    r.dropZeros();
    return r;
  }
  std::optional<Polynomial> multiply(const Polynomial &o) const {
    Polynomial r;
    if (__builtin_mul_overflow(denominator, o.denominator, &r.denominator))
      return std::nullopt;
    for (auto [a, x] : terms)
      for (auto [b, y] : o.terms) {
        std::pair<unsigned, unsigned> powers = {a.first + b.first,
                                                a.second + b.second};
        int64_t term;
        if (__builtin_mul_overflow(x, y, &term) ||
            __builtin_add_overflow(r.terms[powers], term, &r.terms[powers]))
          return std::nullopt;
      }
    r.dropZeros();
    return r;
  }
  /// An upper bound of floor(this / divisor), divisor > 0.
  std::optional<Polynomial> divide(int64_t divisor) const {
    Polynomial r = *this;
    if (divisor <= 0 ||
        __builtin_mul_overflow(denominator, divisor, &r.denominator))
      return std::nullopt;
    return r;
  }
  /// Every term has B to the power \p batchPower and a coefficient >= 0
  /// (so the value grows with S).
  bool isMonotoneIn(unsigned batchPower) const {
    return llvm::all_of(terms, [&](const auto &term) {
      return term.first.first == batchPower && term.second >= 0;
    });
  }
  bool dependsOnS() const {
    return llvm::any_of(terms,
                        [](const auto &term) { return term.first.second; });
  }
  /// The value at B = 1 and S = \p s, rounded up; nullopt on overflow.
  std::optional<uint64_t> evaluate(int64_t s) const {
    uint64_t sum = 0;
    for (auto [powers, c] : terms) {
      uint64_t term = static_cast<uint64_t>(c);
      for (unsigned i = 0; i < powers.second; ++i)
        if (__builtin_mul_overflow(term, static_cast<uint64_t>(s), &term))
          return std::nullopt;
      if (__builtin_add_overflow(sum, term, &sum))
        return std::nullopt;
    }
    return llvm::divideCeil(sum, static_cast<uint64_t>(denominator));
  }

private:
  void dropZeros() {
    for (auto it = terms.begin(); it != terms.end();)
      it = it->second ? std::next(it) : terms.erase(it);
  }
};

/// Evaluates index values as polynomials in B and S.
class SizeEvaluator {
public:
  explicit SizeEvaluator(func::FuncOp func) : func(func) {}

  std::optional<Polynomial> evaluate(Value value, unsigned depth = 0) {
    if (depth > 32)
      return std::nullopt;
    if (std::optional<int64_t> c = getConstantIntValue(value))
      return Polynomial::constant(*c);
    Operation *op = value.getDefiningOp();
    if (!op)
      return std::nullopt;
    if (auto dim = dyn_cast<memref::DimOp>(op)) {
      std::optional<int64_t> index = dim.getConstantIndex();
      if (!index)
        return std::nullopt;
      return evaluateDim(dim.getSource(), *index, depth + 1);
    }
    if (auto mul = dyn_cast<arith::MulIOp>(op)) {
      auto lhs = evaluate(mul.getLhs(), depth + 1);
      auto rhs = evaluate(mul.getRhs(), depth + 1);
      if (lhs && rhs)
        return lhs->multiply(*rhs);
      return std::nullopt;
    }
    if (auto add = dyn_cast<arith::AddIOp>(op)) {
      auto lhs = evaluate(add.getLhs(), depth + 1);
      auto rhs = evaluate(add.getRhs(), depth + 1);
      if (lhs && rhs)
        return lhs->add(*rhs);
      return std::nullopt;
    }
    // Unsigned division by a positive constant: sizes are never negative.
    if (auto div = dyn_cast<arith::DivUIOp>(op)) {
      std::optional<int64_t> divisor = getConstantIntValue(div.getRhs());
      auto lhs = evaluate(div.getLhs(), depth + 1);
      if (lhs && divisor)
        return lhs->divide(*divisor);
      return std::nullopt;
    }
    // min(x, c) with a constant c >= 0 (a tile of a dynamic length) is at
    // most c.
    if (isa<arith::MinUIOp, arith::MinSIOp>(op)) {
      for (Value operand : op->getOperands())
        if (std::optional<int64_t> c = getConstantIntValue(operand);
            c && *c >= 0)
          return Polynomial::constant(*c);
      return std::nullopt;
    }
    // affine.min with a constant among its results (llm-fuse-norm's last,
    // partial tile of rows) is at most that constant.
    if (auto min = dyn_cast<affine::AffineMinOp>(op)) {
      for (AffineExpr result : min.getAffineMap().getResults())
        if (auto c = dyn_cast<AffineConstantExpr>(result);
            c && c.getValue() >= 0)
          return Polynomial::constant(c.getValue());
      return std::nullopt;
    }
    if (auto apply = dyn_cast<affine::AffineApplyOp>(op))
      return evaluateAffine(apply.getAffineMap().getResult(0),
                            apply.getMapOperands(),
                            apply.getAffineMap().getNumDims(), depth + 1);
    return std::nullopt;
  }

  /// The size of dimension \p index of \p source.
  std::optional<Polynomial> evaluateDim(Value source, int64_t index,
                                        unsigned depth) {
    auto type = dyn_cast<MemRefType>(source.getType());
    if (!type || index < 0 || index >= type.getRank())
      return std::nullopt;
    if (!type.isDynamicDim(index))
      return Polynomial::constant(type.getDimSize(index));
    if (auto arg = dyn_cast<BlockArgument>(source)) {
      if (arg.getOwner() != &func.front())
        return std::nullopt;
      switch (getArgumentDimRole(func, arg.getArgNumber(), index)) {
      case DimRole::Batch:
        return Polynomial::symbol(/*batch=*/true);
      case DimRole::Sequence:
        return Polynomial::symbol(/*batch=*/false);
      case DimRole::Unknown:
        return std::nullopt;
      }
    }
    Operation *op = source.getDefiningOp();
    if (auto alloc = dyn_cast_or_null<memref::AllocOp>(op))
      return evaluate(alloc.getDynamicSizes()[type.getDynamicDimIndex(index)],
                      depth + 1);
    if (auto view = dyn_cast_or_null<memref::ViewOp>(op))
      return evaluate(view.getSizes()[type.getDynamicDimIndex(index)],
                      depth + 1);
    if (auto cast = dyn_cast_or_null<memref::CastOp>(op))
      return evaluateDim(cast.getSource(), index, depth + 1);
    if (auto subview = dyn_cast_or_null<memref::SubViewOp>(op)) {
      // The result keeps the sizes that are not dropped.
      llvm::SmallBitVector dropped = subview.getDroppedDims();
      SmallVector<OpFoldResult> sizes = subview.getMixedSizes();
      int64_t kept = -1;
      for (auto [d, size] : llvm::enumerate(sizes))
        if (!dropped.test(d) && ++kept == index)
          return evaluateFoldResult(size, depth + 1);
      return std::nullopt;
    }
    if (auto expand = dyn_cast_or_null<memref::ExpandShapeOp>(op))
      return evaluateFoldResult(expand.getMixedOutputShape()[index], depth + 1);
    if (auto collapse = dyn_cast_or_null<memref::CollapseShapeOp>(op)) {
      // The product of the source dimensions folded into this one.
      std::optional<Polynomial> product = Polynomial::constant(1);
      SmallVector<ReassociationIndices> groups =
          collapse.getReassociationIndices();
      for (int64_t d : groups[index]) {
        std::optional<Polynomial> dim =
            evaluateDim(collapse.getSrc(), d, depth + 1);
        if (!dim || !(product = product->multiply(*dim)))
          return std::nullopt;
      }
      return product;
    }
    return std::nullopt;
  }

  std::optional<Polynomial> evaluateFoldResult(OpFoldResult value,
                                               unsigned depth) {
    if (std::optional<int64_t> c = getConstantIntValue(value))
      return Polynomial::constant(*c);
    return evaluate(cast<Value>(value), depth);
  }

private:
  std::optional<Polynomial> evaluateAffine(AffineExpr expr, ValueRange operands,
                                           unsigned numDims, unsigned depth) {
    if (auto c = dyn_cast<AffineConstantExpr>(expr))
      return Polynomial::constant(c.getValue());
    if (auto d = dyn_cast<AffineDimExpr>(expr))
      return evaluate(operands[d.getPosition()], depth);
    if (auto s = dyn_cast<AffineSymbolExpr>(expr))
      return evaluate(operands[numDims + s.getPosition()], depth);
    auto binary = dyn_cast<AffineBinaryOpExpr>(expr);
    if (!binary || (expr.getKind() != AffineExprKind::Add &&
                    expr.getKind() != AffineExprKind::Mul))
      return std::nullopt;
    auto lhs = evaluateAffine(binary.getLHS(), operands, numDims, depth);
    auto rhs = evaluateAffine(binary.getRHS(), operands, numDims, depth);
    if (!lhs || !rhs)
      return std::nullopt;
    return expr.getKind() == AffineExprKind::Add ? lhs->add(*rhs)
                                                 : lhs->multiply(*rhs);
  }

  func::FuncOp func;
};

/// A buffer to place.
struct Candidate {
  memref::AllocOp alloc;
  Polynomial bytes;
  /// Linear in B (planned per sequence) or independent of it.
  bool perSequence = false;
  /// Returned by the function (directly or through views): lives to the
  /// return.
  bool returned = false;
  int64_t first = 0, last = 0;
  SmallVector<memref::DeallocOp> deallocs;
};

/// The top-level op of \p block that is or holds \p op.
static Operation *topLevelAncestor(Block &block, Operation *op) {
  return block.findAncestorOpInBlock(*op);
}

/// Whether \p alloc sits in \p block or in `scf.for` loops (sequential, so
/// one buffer can serve every iteration) nested in it.
static bool isInSequentialLoops(memref::AllocOp alloc, Block &block) {
  for (Operation *op = alloc->getParentOp(); op != block.getParentOp();
       op = op->getParentOp())
    if (!op || !isa<scf::ForOp>(op))
      return false;
  return true;
}

/// Collects the life and deallocations of \p alloc, or fails when the
/// buffer may escape the function or, for a buffer allocated in a loop, its
/// iteration (a yielded buffer holds a value the next iteration reads). A
/// buffer in a loop lives through the whole top-level loop, so that every
/// iteration may use the same bytes. With \p allowReturn, a top-level
/// buffer the function returns is one too, live to the return.
static LogicalResult traceUses(memref::AllocOp alloc, Block &block,
                               const DenseMap<Operation *, int64_t> &position,
                               bool allowReturn, Candidate &c) {
  int64_t allocated = position.lookup(topLevelAncestor(block, alloc));
  c.last = allocated;
  // The first top-level op that reads or writes the bytes: views and
  // shapes only compute addresses, so until then the bytes may still hold
  // another buffer (bufferization allocates where the sizes are known,
  // often well before the first write).
  int64_t firstAccess = std::numeric_limits<int64_t>::max();
  SmallVector<Value> worklist = {alloc.getResult()};
  DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (!seen.insert(value).second)
      continue;
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      Operation *top = topLevelAncestor(block, user);
      if (!top)
        return failure();
      if (auto dealloc = dyn_cast<memref::DeallocOp>(user)) {
        if (dealloc->getBlock() != alloc->getBlock() ||
            value != alloc.getResult())
          return failure();
        c.deallocs.push_back(dealloc);
        continue;
      }
      if (isa<func::ReturnOp>(user) && allowReturn &&
          user->getBlock() == &block && alloc->getBlock() == &block) {
        c.returned = true;
        c.last = std::max(c.last, position.lookup(user));
        continue;
      }
      if (isa<func::ReturnOp, func::CallOp>(user) ||
          user->hasTrait<OpTrait::IsTerminator>())
        return failure();
      c.last = std::max(c.last, position.lookup(top));
      if (!isa<ViewLikeOpInterface, memref::CastOp, memref::ExpandShapeOp,
               memref::CollapseShapeOp, memref::ReinterpretCastOp,
               memref::DimOp>(user))
        firstAccess = std::min(firstAccess, position.lookup(top));
      // A view of the buffer lives as long as the buffer must.
      if (auto view = dyn_cast<ViewLikeOpInterface>(user)) {
        if (view.getViewSource() == value)
          for (Value result : user->getResults())
            worklist.push_back(result);
        continue;
      }
      if (isa<memref::CastOp, memref::ExpandShapeOp, memref::CollapseShapeOp,
              memref::ReinterpretCastOp>(user)) {
        for (Value result : user->getResults())
          worklist.push_back(result);
        continue;
      }
      // Any other op returning a memref might return this one.
      if (llvm::any_of(user->getResultTypes(),
                       [](Type t) { return isa<BaseMemRefType>(t); }))
        return failure();
    }
  }
  c.first = firstAccess == std::numeric_limits<int64_t>::max()
                ? allocated
                : std::clamp(firstAccess, allocated, c.last);
  return success();
}

struct LLMPlanMemoryPass
    : mlir::llm::impl::LLMPlanMemoryBase<LLMPlanMemoryPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    int64_t bound = maxSeq;
    if (bound <= 0)
      if (auto attr = module->getAttrOfType<IntegerAttr>("llm.max_positions"))
        bound = attr.getInt();
    SmallVector<NamedAttribute> arenas;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (!func.isPublic() || func.isExternal())
        continue;
      FailureOr<DictionaryAttr> report = planFunction(func, bound);
      if (failed(report))
        return signalPassFailure();
      if (*report)
        arenas.push_back(NamedAttribute(
            StringAttr::get(&getContext(), func.getName()), *report));
    }
    if (!arenas.empty())
      module->setAttr("llm.arenas", DictionaryAttr::get(&getContext(), arenas));
  }

  /// Plans \p func; returns its report, or null when nothing was planned.
  FailureOr<DictionaryAttr> planFunction(func::FuncOp func, int64_t bound) {
    Block &block = func.front();
    DenseMap<Operation *, int64_t> position;
    int64_t index = 0;
    for (Operation &op : block)
      position[&op] = index++;

    SizeEvaluator sizes(func);
    int64_t leftInTiles = promoteTileBuffersToStack(func, sizes, bound);
    std::vector<Candidate> candidates;
    int64_t leftAllocated = leftInTiles;
    Value batchSource;
    SmallVector<memref::AllocOp> allocs;
    func.walk([&](memref::AllocOp alloc) {
      if (isInSequentialLoops(alloc, block))
        allocs.push_back(alloc);
    });
    for (memref::AllocOp alloc : allocs) {
      Candidate c;
      c.alloc = alloc;
      MemRefType type = alloc.getType();
      std::optional<Polynomial> bytes = Polynomial::constant(
          static_cast<int64_t>(type.getElementTypeBitWidth() / 8));
      if (!type.getLayout().isIdentity() || type.getMemorySpace() ||
          type.getElementTypeBitWidth() % 8)
        bytes.reset();
      for (int64_t d = 0; bytes && d < type.getRank(); ++d) {
        std::optional<Polynomial> dim = sizes.evaluateDim(alloc, d, 0);
        bytes = dim ? bytes->multiply(*dim) : std::nullopt;
      }
      bool ok = bytes && (bytes->isMonotoneIn(0) || bytes->isMonotoneIn(1));
      if (ok) {
        c.bytes = *bytes;
        c.perSequence = !bytes->isMonotoneIn(0);
        ok = (!c.bytes.dependsOnS() || bound > 0) &&
             succeeded(traceUses(alloc, block, position, results, c));
      }
      if (!ok) {
        ++leftAllocated;
        continue;
      }
      candidates.push_back(std::move(c));
    }
    if (candidates.empty())
      return DictionaryAttr();

    // The batch size, from the first argument whose dimension 0 is B.
    for (BlockArgument arg : func.getArguments()) {
      auto type = dyn_cast<MemRefType>(arg.getType());
      if (type && type.getRank() > 0 &&
          getArgumentDimRole(func, arg.getArgNumber(), 0) == DimRole::Batch) {
        batchSource = arg;
        break;
      }
    }
    bool needsBatch = llvm::any_of(
        candidates, [](const Candidate &c) { return c.perSequence; });
    if (needsBatch && !batchSource)
      return func.emitError("llm-plan-memory: buffers scale with the batch "
                            "but no argument gives it");

    // Plan the buffers, those that scale with the batch per sequence.
    SmallVector<BufferRequest> requests;
    uint64_t arenaAlignment = kMinAlignment;
    for (Candidate &c : candidates) {
      std::optional<uint64_t> bytes = c.bytes.evaluate(bound);
      if (!bytes)
        return func.emitError("llm-plan-memory: a buffer's size overflows");
      uint64_t alignment =
          std::max<uint64_t>(kMinAlignment, c.alloc.getAlignment().value_or(1));
      arenaAlignment = std::max(arenaAlignment, alignment);
      requests.push_back({*bytes, alignment, c.first, c.last, c.perSequence});
    }
    llvm::Expected<ScaledArenaPlan> plan =
        ::llm::planScaledArena(requests, arenaAlignment);
    if (!plan)
      return func.emitError("llm-plan-memory: ")
             << llvm::toString(plan.takeError());
    if (llvm::Error error = ::llm::checkScaledArenaPlan(requests, *plan))
      return func.emitError("llm-plan-memory: the plan is unsound: ")
             << llvm::toString(std::move(error));
    uint64_t resultBytes = 0;
    for (auto [c, request] : llvm::zip(candidates, requests))
      if (c.returned)
        resultBytes += request.size;

    // The arena argument and the views.
    MLIRContext *ctx = func.getContext();
    OpBuilder b(ctx);
    unsigned arenaIndex = func.getNumArguments();
    auto arenaType =
        MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 8));
    if (failed(func.insertArgument(
            arenaIndex, arenaType,
            b.getDictionaryAttr(b.getNamedAttr(LLMDialect::kInputAttrName,
                                               b.getStringAttr("arena"))),
            func.getLoc())))
      return failure();
    Value arena = func.getArgument(arenaIndex);
    b.setInsertionPointToStart(&block);
    Value batch = needsBatch
                      ? memref::DimOp::create(b, func.getLoc(), batchSource, 0)
                            .getResult()
                      : Value();
    for (auto [k, c] : llvm::enumerate(candidates)) {
      memref::AllocOp alloc = c.alloc;
      Location loc = alloc.getLoc();
      b.setInsertionPoint(alloc);
      // offset + B * scaled offset.
      uint64_t offset = plan->offsets[k], scaled = plan->scaledOffsets[k];
      Value where;
      if (scaled)
        where = arith::MulIOp::create(
            b, loc, batch, arith::ConstantIndexOp::create(b, loc, scaled));
      if (offset || !scaled) {
        Value fixed = arith::ConstantIndexOp::create(b, loc, offset);
        where = where ? arith::AddIOp::create(b, loc, fixed, where).getResult()
                      : fixed;
      }
      auto view = memref::ViewOp::create(b, loc, alloc.getType(), arena, where,
                                         alloc.getDynamicSizes());
      alloc.replaceAllUsesWith(view.getResult());
      for (memref::DeallocOp dealloc : c.deallocs)
        dealloc.erase();
      alloc.erase();
    }

    auto i64 = [&](uint64_t v) {
      return b.getI64IntegerAttr(static_cast<int64_t>(v));
    };
    return b.getDictionaryAttr(
        {b.getNamedAttr("fixed_bytes", i64(plan->fixedBytes)),
         b.getNamedAttr("bytes_per_sequence", i64(plan->scaledBytes)),
         b.getNamedAttr("max_seq", i64(bound > 0 ? bound : 0)),
         b.getNamedAttr("total_bytes", i64(::llm::getTotalBytes(requests))),
         b.getNamedAttr("live_bytes", i64(::llm::getLiveLowerBound(requests))),
         b.getNamedAttr("result_bytes", i64(resultBytes)),
         b.getNamedAttr("planned", i64(candidates.size())),
         b.getNamedAttr("left_allocated", i64(leftAllocated))});
  }

  /// Buffers private to one iteration of a parallel loop (bufferization
  /// gives each tile of llm-fuse-norm its statistics, and the rows a tile
  /// computes and reads twice) cannot share one arena slot. Those with a
  /// bound of at most kMaxTileStackBytes (constant, or growing with S and taken
  /// at the sequence bound \p bound) go on the stack instead: an alloca of
  /// the bound, viewed with the buffer's own sizes (scf-to-openmp scopes
  /// the allocas of each iteration). Returns how many stay allocated (per
  /// iteration, so per call).
  int64_t promoteTileBuffersToStack(func::FuncOp func, SizeEvaluator &sizes,
                                    int64_t bound) {
    SmallVector<memref::AllocOp> allocs;
    func.walk([&](memref::AllocOp alloc) {
      if (alloc->getParentOfType<scf::ParallelOp>())
        allocs.push_back(alloc);
    });
    int64_t left = 0;
    for (memref::AllocOp alloc : allocs) {
      MemRefType type = alloc.getType();
      int64_t elements = 1;
      if (!isa<scf::ParallelOp>(alloc->getParentOp()) ||
          !type.getLayout().isIdentity() || type.getMemorySpace() ||
          !type.getElementType().isIntOrFloat() ||
          type.getElementTypeBitWidth() % 8)
        elements = 0;
      for (int64_t d = 0; d < type.getRank() && elements; ++d) {
        std::optional<Polynomial> dim = sizes.evaluateDim(alloc, d, 0);
        std::optional<uint64_t> most;
        if (dim && dim->isMonotoneIn(0) && (!dim->dependsOnS() || bound > 0))
          most = dim->evaluate(bound > 0 ? bound : 0);
        elements = most && *most <= static_cast<uint64_t>(kMaxTileStackBytes)
                       ? elements * static_cast<int64_t>(*most)
                       : 0;
      }
      if (!elements ||
          elements * (type.getElementTypeBitWidth() / 8) > kMaxTileStackBytes ||
          llvm::any_of(alloc->getUsers(), [&](Operation *user) {
            return isa<func::ReturnOp, scf::YieldOp, scf::ReduceOp>(user);
          })) {
        ++left;
        continue;
      }
      OpBuilder b(alloc);
      Location loc = alloc.getLoc();
      auto stack = memref::AllocaOp::create(
          b, loc, MemRefType::get({elements}, type.getElementType()),
          b.getI64IntegerAttr(kMinAlignment));
      // Row-major strides of the buffer's own sizes.
      SmallVector<OpFoldResult> shape = memref::getMixedSizes(b, loc, alloc);
      // Static where the sizes inward are: the result type says so.
      SmallVector<OpFoldResult> strides(type.getRank());
      OpFoldResult stride = b.getIndexAttr(1);
      for (int64_t d = type.getRank() - 1; d >= 0; --d) {
        strides[d] = stride;
        std::optional<int64_t> inner = getConstantIntValue(stride);
        std::optional<int64_t> size = getConstantIntValue(shape[d]);
        if (inner && size)
          stride = b.getIndexAttr(*inner * *size);
        else
          stride = arith::MulIOp::create(
                       b, loc, getValueOrCreateConstantIndexOp(b, loc, stride),
                       getValueOrCreateConstantIndexOp(b, loc, shape[d]))
                       .getResult();
      }
      auto view = memref::ReinterpretCastOp::create(
          b, loc, type, stack, b.getIndexAttr(0), shape, strides);
      for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
        if (isa<memref::DeallocOp>(user))
          user->erase();
      alloc.replaceAllUsesWith(view.getResult());
      alloc.erase();
    }
    return left;
  }

  /// Every buffer starts on a cache line (what bufferization asks for too).
  static constexpr uint64_t kMinAlignment = 64;
};
} // namespace
