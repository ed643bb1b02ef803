//===- PassStats.cpp - llm-compile --stats ----------------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//

#include "PassStats.h"

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Transforms/EntryArguments.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Pass/Pass.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace mlir::llm {

/// Whether \p op is a unit of work: an llm op, a linalg op or a loop.
static bool isKernel(Operation *op) {
  return isa<LLMDialect>(op->getDialect()) ||
         isa<linalg::LinalgOp, LoopLikeOpInterface>(op);
}

OpCounts countOps(Operation *root) {
  OpCounts counts;
  root->walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (op == root)
      return WalkResult::advance();
    ++counts.ops;
    if (!isKernel(op))
      return WalkResult::advance();
    ++counts.kernels;
    // What a kernel holds is part of it: count its ops, not its kernels.
    op->walk([&](Operation *nested) {
      if (nested != op)
        ++counts.ops;
    });
    return WalkResult::skip();
  });
  return counts;
}

/// The value of the integer or index \p value once every tensor it reads
/// has a static shape: constants, folded through the ops that compute it
/// (tensor.dim of a static dimension, arith, affine.apply/min/max).
static std::optional<int64_t> evaluateIndex(Value value, unsigned depth = 0) {
  APInt constant;
  if (matchPattern(value, m_ConstantInt(&constant)))
    return constant.getSExtValue();
  Operation *op = value.getDefiningOp();
  if (!op || depth > 64)
    return std::nullopt;
  SmallVector<Attribute> operands;
  for (Value operand : op->getOperands()) {
    Attribute attr;
    if (operand.getType().isIntOrIndex())
      if (std::optional<int64_t> v = evaluateIndex(operand, depth + 1))
        attr = IntegerAttr::get(operand.getType(), *v);
    operands.push_back(attr);
  }
  SmallVector<OpFoldResult> folded;
  if (failed(op->fold(operands, folded)) ||
      folded.size() != op->getNumResults())
    return std::nullopt;
  OpFoldResult result = folded[cast<OpResult>(value).getResultNumber()];
  if (auto attr = dyn_cast<Attribute>(result)) {
    if (auto integer = dyn_cast<IntegerAttr>(attr))
      return integer.getValue().getSExtValue();
    return std::nullopt;
  }
  Value forwarded = cast<Value>(result);
  if (forwarded == value)
    return std::nullopt;
  return evaluateIndex(forwarded, depth + 1);
}

/// An upper bound of the index \p value, for sizes a loop computes (the
/// attended length of a KV cache, max_b(min(position[b], last) + len)):
/// its value where known, through min, max, add and casts, and for an
/// `scf.for` result the bound the loop keeps (its init's and every
/// iteration's, given the bound so far). \p assumed bounds iteration
/// arguments.
static std::optional<int64_t> upperBoundIndex(Value value,
                                              DenseMap<Value, int64_t> &assumed,
                                              unsigned depth = 0) {
  if (auto it = assumed.find(value); it != assumed.end())
    return it->second;
  if (std::optional<int64_t> exact = evaluateIndex(value))
    return exact;
  Operation *op = value.getDefiningOp();
  if (!op || depth > 64)
    return std::nullopt;
  auto bound = [&](Value operand) {
    return upperBoundIndex(operand, assumed, depth + 1);
  };
  if (isa<arith::MinSIOp, arith::MinUIOp>(op)) {
    std::optional<int64_t> lhs = bound(op->getOperand(0));
    std::optional<int64_t> rhs = bound(op->getOperand(1));
    if (lhs && rhs)
      return std::min(*lhs, *rhs);
    return lhs ? lhs : rhs;
  }
  if (isa<arith::MaxSIOp, arith::MaxUIOp, arith::AddIOp>(op)) {
    std::optional<int64_t> lhs = bound(op->getOperand(0));
    std::optional<int64_t> rhs = bound(op->getOperand(1));
    if (!lhs || !rhs)
      return std::nullopt;
    if (isa<arith::AddIOp>(op))
      return *lhs + *rhs;
    return std::max(*lhs, *rhs);
  }
  if (isa<arith::IndexCastOp, arith::IndexCastUIOp>(op))
    return bound(op->getOperand(0));
  if (auto loop = dyn_cast<scf::ForOp>(op)) {
    unsigned i = cast<OpResult>(value).getResultNumber();
    Value iterArg = loop.getRegionIterArgs()[i];
    Value yielded = loop.getYieldedValues()[i];
    std::optional<int64_t> limit = bound(loop.getInits()[i]);
    // Twice: the bound after one iteration must hold after the next.
    for (int round = 0; limit && round < 2; ++round) {
      assumed[iterArg] = *limit;
      std::optional<int64_t> next = bound(yielded);
      assumed.erase(iterArg);
      if (!next)
        return std::nullopt;
      if (*next <= *limit)
        return limit;
      limit = std::max(*limit, *next);
    }
    return std::nullopt;
  }
  return std::nullopt;
}

static bool isDynamicTensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && !tensor.hasStaticShape();
}

/// Gives the dynamic tensor results of \p op (in a function being made
/// static, whose earlier ops already are) their static types: inferred
/// again from the operands' types, a destination's type, or the sizes the
/// op reifies (which \p builder may create before it). Fails when a
/// dimension stays unknown.
static LogicalResult makeResultsStatic(Operation *op, OpBuilder &builder) {
  auto setIfStatic = [](OpResult result, Type type) {
    if (isDynamicTensor(result.getType()) && isa<RankedTensorType>(type) &&
        !isDynamicTensor(type))
      result.setType(type);
  };
  auto allStatic = [&] {
    return llvm::none_of(op->getResultTypes(), isDynamicTensor);
  };
  if (allStatic())
    return success();
  if (auto infer = dyn_cast<InferTypeOpInterface>(op)) {
    SmallVector<Type> types;
    if (succeeded(infer.inferReturnTypes(
            op->getContext(), op->getLoc(), op->getOperands(),
            op->getRawDictionaryAttrs(), op->getPropertiesStorage(),
            op->getRegions(), types)) &&
        types.size() == op->getNumResults())
      for (OpResult result : op->getResults())
        setIfStatic(result, types[result.getResultNumber()]);
  }
  if (auto cast = dyn_cast<tensor::CastOp>(op))
    setIfStatic(cast->getResult(0), cast.getSource().getType());
  if (auto dps = dyn_cast<DestinationStyleOpInterface>(op))
    for (OpResult result : op->getResults())
      setIfStatic(result, dps.getTiedOpOperand(result)->get().getType());
  if (auto loop = dyn_cast<LoopLikeOpInterface>(op))
    if (std::optional<ResultRange> results = loop.getLoopResults())
      for (auto [init, result] : llvm::zip(loop.getInits(), *results))
        setIfStatic(cast<OpResult>(result), init.getType());
  if (allStatic())
    return success();
  auto evaluateSize = [](OpFoldResult size) -> std::optional<int64_t> {
    if (std::optional<int64_t> value = getConstantIntValue(size))
      return value;
    DenseMap<Value, int64_t> assumed;
    if (auto v = dyn_cast<Value>(size))
      return upperBoundIndex(v, assumed);
    return std::nullopt;
  };
  // A slice whose size is not known counts at its source's size, the most
  // it can hold.
  if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
    llvm::SmallBitVector dropped = slice.getDroppedDims();
    SmallVector<int64_t> shape;
    for (auto [d, size] : llvm::enumerate(slice.getMixedSizes())) {
      if (dropped.test(d))
        continue;
      std::optional<int64_t> value = evaluateSize(size);
      if (!value && !slice.getSourceType().isDynamicDim(d))
        value = slice.getSourceType().getDimSize(d);
      if (!value)
        return failure();
      shape.push_back(*value);
    }
    setIfStatic(slice->getResult(0), slice.getType().clone(shape));
    return success(allStatic());
  }
  builder.setInsertionPoint(op);
  ReifiedRankedShapedTypeDims shapes;
  if (failed(reifyResultShapes(builder, op, shapes)))
    return failure();
  for (OpResult result : op->getResults()) {
    auto type = dyn_cast<RankedTensorType>(result.getType());
    if (!type || type.hasStaticShape())
      continue;
    SmallVector<int64_t> shape;
    for (OpFoldResult size : shapes[result.getResultNumber()]) {
      std::optional<int64_t> value = evaluateSize(size);
      if (!value || *value < 0)
        return failure();
      shape.push_back(*value);
    }
    result.setType(type.clone(shape));
  }
  return success();
}

/// Bytes of a statically shaped tensor.
static std::optional<uint64_t> tensorBytes(RankedTensorType type) {
  Type element = type.getElementType();
  uint64_t bits = element.isIndex() ? 64 : element.getIntOrFloatBitWidth();
  uint64_t bytes = llvm::divideCeil(bits, 8);
  for (int64_t dim : type.getShape())
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes))
      return std::nullopt;
  return bytes;
}

/// Whether \p use is a kernel's destination: the same buffer as that
/// kernel's result once bufferized (a linalg.fill that zeroes a matmul's
/// accumulator), so its bytes count there.
static bool isDestination(OpOperand &use) {
  auto dps = dyn_cast<DestinationStyleOpInterface>(use.getOwner());
  return dps && isKernel(use.getOwner()) && dps.isDpsInit(&use);
}

/// The bytes \p func's top-level kernels write to tensors it does not
/// return, with its batch dimensions at 1 and sequence dimensions at
/// \p seqBound; nullopt once it holds buffers or a size is unknown.
static std::optional<uint64_t> intermediateBytes(func::FuncOp func,
                                                 int64_t seqBound) {
  if (func.isExternal())
    return 0;
  bool hasBuffers = false;
  func.walk([&](Operation *op) {
    auto isBuffer = [](Type t) { return isa<BaseMemRefType>(t); };
    if (llvm::any_of(op->getResultTypes(), isBuffer) ||
        llvm::any_of(op->getOperandTypes(), isBuffer))
      hasBuffers = true;
  });
  if (hasBuffers || llvm::any_of(func.getArgumentTypes(),
                                 [](Type t) { return isa<BaseMemRefType>(t); }))
    return std::nullopt;

  // A copy whose arguments and results take the static types.
  OwningOpRef<func::FuncOp> copy(cast<func::FuncOp>(func->clone()));
  Block &body = copy->front();
  for (BlockArgument arg : body.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || type.hasStaticShape())
      continue;
    SmallVector<int64_t> shape(type.getShape());
    for (auto [d, size] : llvm::enumerate(shape)) {
      if (!ShapedType::isDynamic(size))
        continue;
      switch (getArgumentDimRole(*copy, arg.getArgNumber(), d)) {
      case DimRole::Batch:
        size = 1;
        break;
      case DimRole::Sequence:
        if (seqBound <= 0)
          return std::nullopt;
        size = seqBound;
        break;
      case DimRole::Unknown:
        return std::nullopt;
      }
    }
    arg.setType(type.clone(shape));
  }
  OpBuilder builder(copy->getContext());
  uint64_t total = 0;
  Operation *terminator = body.getTerminator();
  for (Operation &op : llvm::make_early_inc_range(body)) {
    if (failed(makeResultsStatic(&op, builder)))
      return std::nullopt;
    if (!isKernel(&op))
      continue;
    for (OpResult result : op.getResults()) {
      auto type = dyn_cast<RankedTensorType>(result.getType());
      if (!type || result.use_empty() ||
          llvm::is_contained(result.getUsers(), terminator) ||
          llvm::all_of(result.getUses(), isDestination))
        continue;
      std::optional<uint64_t> bytes = tensorBytes(type);
      if (!bytes || __builtin_add_overflow(total, *bytes, &total))
        return std::nullopt;
    }
  }
  return total;
}

std::optional<uint64_t> countIntermediateBytes(Operation *root,
                                               int64_t seqBound) {
  if (auto func = dyn_cast<func::FuncOp>(root))
    return func.isPublic() ? intermediateBytes(func, seqBound) : 0;
  uint64_t total = 0;
  bool found = false;
  for (Region &region : root->getRegions())
    for (auto func : region.getOps<func::FuncOp>()) {
      if (!func.isPublic())
        continue;
      found = true;
      std::optional<uint64_t> bytes = intermediateBytes(func, seqBound);
      if (!bytes || __builtin_add_overflow(total, *bytes, &total))
        return std::nullopt;
    }
  // Past the lowering to the LLVM dialect there are no such functions.
  if (!found)
    return std::nullopt;
  return total;
}

PassStats::Counts PassStats::measure(Operation *op) const {
  return Counts{countOps(op), countIntermediateBytes(op, seqBound)};
}

void PassStats::runBeforePass(Pass *pass, Operation *op) {
  if (pass->getArgument().empty()) // pass-manager adaptors
    return;
  Counts counts = measure(op);
  std::lock_guard<std::mutex> lock(mutex);
  pending[{pass, op}] = counts;
}

void PassStats::runAfterPass(Pass *pass, Operation *op) {
  if (pass->getArgument().empty())
    return;
  Counts after = measure(op);
  std::lock_guard<std::mutex> lock(mutex);
  auto it = pending.find({pass, op});
  if (it == pending.end())
    return;
  Counts before = it->second;
  pending.erase(it);
  auto [slot, inserted] = rowOf.try_emplace(pass, rows.size());
  if (inserted)
    rows.push_back(Row{pass->getArgument().str(), {}, {}, 0});
  Row &row = rows[slot->second];
  row.before.add(before);
  row.after.add(after);
  ++row.runs;
}

void PassStats::Counts::add(const Counts &other) {
  ops.ops += other.ops.ops;
  ops.kernels += other.ops.kernels;
  if (!bytes || !other.bytes ||
      __builtin_add_overflow(*bytes, *other.bytes, &*bytes))
    bytes.reset();
}

namespace {
class Recorder : public PassInstrumentation {
public:
  explicit Recorder(PassStats &stats) : stats(stats) {}
  void runBeforePass(Pass *pass, Operation *op) override {
    stats.runBeforePass(pass, op);
  }
  void runAfterPass(Pass *pass, Operation *op) override {
    stats.runAfterPass(pass, op);
  }

private:
  PassStats &stats;
};
} // namespace

std::unique_ptr<PassInstrumentation> PassStats::instrument() {
  return std::make_unique<Recorder>(*this);
}

void PassStats::print(llvm::raw_ostream &os) const {
  os << "pass statistics (kernels: llm ops, linalg ops and loop nests not "
        "inside another; summed over the ops each pass ran on):\n";
  os << llvm::formatv("  intermediate bytes: what the kernels write to "
                      "tensors their function does not return, at batch 1 "
                      "and sequence length {0}; - once buffers replace "
                      "tensors\n",
                      seqBound);
  const char *format = "  {0,-40} {1,10} {2,10} {3,9} {4,9} {5,13} {6,13}\n";
  os << llvm::formatv(format, "pass", "ops before", "ops after", "kernels",
                      "kernels", "intermediate", "intermediate");
  os << llvm::formatv(format, "", "", "", "before", "after", "bytes before",
                      "bytes after");
  auto bytes = [](std::optional<uint64_t> value) {
    return value ? std::to_string(*value) : std::string("-");
  };
  int64_t unchanged = 0;
  for (const Row &row : rows) {
    if (row.before.ops.ops == row.after.ops.ops &&
        row.before.ops.kernels == row.after.ops.kernels &&
        row.before.bytes == row.after.bytes) {
      ++unchanged;
      continue;
    }
    os << llvm::formatv(format, row.pass, row.before.ops.ops, row.after.ops.ops,
                        row.before.ops.kernels, row.after.ops.kernels,
                        bytes(row.before.bytes), bytes(row.after.bytes));
  }
  os << llvm::formatv("  ({0} other passes changed neither count)\n",
                      unchanged);
}

} // namespace mlir::llm
