//===- RaiseMatch.cpp - matching imported linalg graphs ---------*- C++ -*-===//

#include "RaiseMatch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::raise;

std::optional<Elementwise> raise::matchElementwise(Value value) {
  if (!value)
    return std::nullopt;
  auto generic = value.getDefiningOp<linalg::GenericOp>();
  if (!generic || generic.getNumResults() != 1 ||
      generic.getNumLoops() != generic.getNumParallelLoops() ||
      !generic.getIndexingMapsArray().back().isIdentity())
    return std::nullopt;
  Block &block = generic.getRegion().front();
  if (block.getOperations().size() != 2)
    return std::nullopt;
  Operation *body = &block.front();
  if (body->getNumResults() != 1 ||
      block.getTerminator()->getOperand(0) != body->getResult(0))
    return std::nullopt;
  return Elementwise{generic, body};
}

std::pair<Value, AffineMap> Elementwise::input(unsigned i) const {
  auto arg = dyn_cast<BlockArgument>(body->getOperand(i));
  if (!arg || arg.getOwner() != body->getBlock() ||
      arg.getArgNumber() >= static_cast<unsigned>(op.getNumDpsInputs()))
    return {};
  OpOperand *operand = op.getDpsInputOperand(arg.getArgNumber());
  return {operand->get(), op.getMatchingIndexingMap(operand)};
}

std::optional<double> Elementwise::scalar(unsigned i) const {
  FloatAttr attr;
  if (matchPattern(body->getOperand(i), m_Constant(&attr)))
    return attr.getValueAsDouble();
  Value in = input(i).first;
  DenseFPElementsAttr dense;
  if (in && matchPattern(in, m_Constant(&dense)) && dense.isSplat())
    return dense.getSplatValue<APFloat>().convertToDouble();
  return std::nullopt;
}

Value Elementwise::fullInput(unsigned i) const {
  auto [in, map] = input(i);
  if (!in || !map.isIdentity() ||
      in.getType() != op.getResult(0).getType())
    return {};
  return in;
}

bool raise::isRightAlignedBroadcast(AffineMap map, ShapedType type,
                                    unsigned numLoops) {
  int64_t rank = type.getRank();
  if (map.getNumDims() != numLoops || map.getNumResults() != rank ||
      rank > numLoops)
    return false;
  for (int64_t i = 0; i < rank; ++i) {
    AffineExpr expr = map.getResult(i);
    if (auto c = dyn_cast<AffineConstantExpr>(expr)) {
      if (c.getValue() != 0 || type.getDimSize(i) != 1)
        return false;
      continue;
    }
    auto dim = dyn_cast<AffineDimExpr>(expr);
    if (!dim || dim.getPosition() != numLoops - rank + i)
      return false;
  }
  return true;
}

bool raise::isFilledWith(Value value, double constant) {
  if (auto fill = value.getDefiningOp<linalg::FillOp>()) {
    FloatAttr attr;
    return matchPattern(fill.getInputs()[0], m_Constant(&attr)) &&
           attr.getValueAsDouble() == constant;
  }
  DenseFPElementsAttr dense;
  return matchPattern(value, m_Constant(&dense)) && dense.isSplat() &&
         dense.getSplatValue<APFloat>().convertToDouble() == constant;
}

Value raise::matchLastDimSum(Value value) {
  auto generic = value ? value.getDefiningOp<linalg::GenericOp>() : nullptr;
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumResults() != 1 || generic.getNumReductionLoops() != 1)
    return {};
  unsigned rank = generic.getNumLoops();
  auto iterators = generic.getIteratorTypesArray();
  if (iterators.back() != utils::IteratorType::reduction)
    return {};
  OpOperand *input = generic.getDpsInputOperand(0);
  if (!generic.getMatchingIndexingMap(input).isIdentity() ||
      !isLastDimBroadcast(
          generic.getMatchingIndexingMap(generic.getDpsInitOperand(0)), rank) ||
      !isFilledWith(generic.getDpsInitOperand(0)->get(), 0.0))
    return {};
  Block &block = generic.getRegion().front();
  if (block.getOperations().size() != 2)
    return {};
  auto add = dyn_cast<arith::AddFOp>(block.front());
  if (!add || block.getTerminator()->getOperand(0) != add.getResult())
    return {};
  Value in = block.getArgument(0), acc = block.getArgument(1);
  if (!((add.getLhs() == in && add.getRhs() == acc) ||
        (add.getLhs() == acc && add.getRhs() == in)))
    return {};
  return input->get();
}

Value raise::matchLastDimMean(Value value) {
  std::optional<Elementwise> e = matchElementwise(value);
  if (!e)
    return {};
  Value sum;
  double factor = 0.0;
  if (isa<arith::DivFOp>(e->body) && e->fullInput(0) && e->scalar(1)) {
    sum = e->fullInput(0);
    factor = 1.0 / *e->scalar(1);
  } else if (isa<arith::MulFOp>(e->body)) {
    for (unsigned i = 0; i < 2 && !sum; ++i)
      if (e->fullInput(i) && e->scalar(1 - i)) {
        sum = e->fullInput(i);
        factor = *e->scalar(1 - i);
      }
  }
  Value x = matchLastDimSum(sum);
  if (!x)
    return {};
  int64_t size = cast<ShapedType>(x.getType()).getShape().back();
  if (ShapedType::isDynamic(size) ||
      std::abs(factor * size - 1.0) > 1e-6)
    return {};
  return x;
}

Value raise::matchSquare(Value value) {
  std::optional<Elementwise> e = matchElementwiseOf<arith::MulFOp>(value);
  if (!e || !e->fullInput(0) || e->fullInput(0) != e->fullInput(1))
    return {};
  return e->fullInput(0);
}

bool raise::isLastDimBroadcast(AffineMap map, unsigned rank) {
  if (map.getNumDims() != rank || map.getNumResults() != rank)
    return false;
  for (unsigned i = 0; i + 1 < rank; ++i)
    if (map.getResult(i) != getAffineDimExpr(i, map.getContext()))
      return false;
  auto last = dyn_cast<AffineConstantExpr>(map.getResult(rank - 1));
  return last && last.getValue() == 0;
}

bool raise::isLastDimVector(AffineMap map, unsigned rank) {
  return map == AffineMap::get(rank, 0,
                               getAffineDimExpr(rank - 1, map.getContext()));
}

std::optional<BinaryOperands> raise::splitFullOperand(const Elementwise &e,
                                                      bool commutative) {
  if (e.body->getNumOperands() != 2)
    return std::nullopt;
  for (unsigned i = 0; i < (commutative ? 2u : 1u); ++i) {
    Value full = e.fullInput(i);
    auto [other, map] = e.input(1 - i);
    if (full && other)
      return BinaryOperands{full, other, map, 1 - i};
  }
  return std::nullopt;
}

Value raise::collapsedLeadingPair(Value value) {
  auto collapse = value.getDefiningOp<tensor::CollapseShapeOp>();
  if (!collapse || collapse.getSrcType().getRank() != 4)
    return {};
  SmallVector<ReassociationIndices> groups =
      collapse.getReassociationIndices();
  if (groups.size() != 3 || groups[0] != ReassociationIndices{0, 1} ||
      groups[1] != ReassociationIndices{2} ||
      groups[2] != ReassociationIndices{3})
    return {};
  return collapse.getSrc();
}

Value raise::getYielded(linalg::GenericOp op) {
  if (op.getNumResults() != 1)
    return nullptr;
  return cast<linalg::YieldOp>(op.getBody()->getTerminator()).getOperand(0);
}

Value raise::skipNegativeWrap(Value value) {
  auto op = value.getDefiningOp<linalg::GenericOp>();
  if (!op || op.getNumDpsInputs() != 1 || op.getNumResults() != 1 ||
      op.getNumParallelLoops() != op.getNumLoops() ||
      !llvm::all_of(op.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return value;
  Value in = op.getBody()->getArgument(0);
  auto select = getYielded(op).getDefiningOp<arith::SelectOp>();
  auto cmp =
      select ? select.getCondition().getDefiningOp<arith::CmpIOp>() : nullptr;
  if (!cmp || select.getFalseValue() != in ||
      cmp.getPredicate() != arith::CmpIPredicate::slt || cmp.getLhs() != in ||
      !matchPattern(cmp.getRhs(), m_Zero()))
    return value;
  return op.getDpsInputs()[0];
}

/// `n`, or `max(n, 0)` of it: the iota's length.
static Value skipNonNegativeMax(Value value) {
  if (auto max = value.getDefiningOp<arith::MaxSIOp>())
    if (matchPattern(max.getRhs(), m_Zero()))
      return max.getLhs();
  return value;
}

linalg::GenericOp raise::matchPositionIds(Value ids, Value tokens) {
  // The broadcast over the batch: (d0, d1) -> (0, d1), yielding the input.
  auto broadcast = ids.getDefiningOp<linalg::GenericOp>();
  if (!broadcast || broadcast.getNumDpsInputs() != 1 ||
      broadcast.getNumLoops() != 2 ||
      broadcast.getNumParallelLoops() != 2 ||
      getYielded(broadcast) != broadcast.getBody()->getArgument(0))
    return nullptr;
  MLIRContext *ctx = ids.getContext();
  AffineMap rowMap = AffineMap::get(
      2, 0, {getAffineConstantExpr(0, ctx), getAffineDimExpr(1, ctx)}, ctx);
  if (broadcast.getIndexingMapsArray()[0] != rowMap)
    return nullptr;
  auto expand =
      broadcast.getDpsInputs()[0].getDefiningOp<tensor::ExpandShapeOp>();
  if (!expand || expand.getSrcType().getRank() != 1 ||
      expand.getResultType().getRank() != 2 ||
      expand.getResultType().getDimSize(0) != 1)
    return nullptr;
  // The iota: no inputs, yields index_cast(linalg.index 0).
  auto iota = expand.getSrc().getDefiningOp<linalg::GenericOp>();
  if (!iota || iota.getNumDpsInputs() != 0 || iota.getNumLoops() != 1)
    return nullptr;
  auto cast = getYielded(iota).getDefiningOp<arith::IndexCastOp>();
  auto index = cast ? cast.getIn().getDefiningOp<linalg::IndexOp>() : nullptr;
  if (!index || index.getDim() != 0)
    return nullptr;
  // Its length is the token ids' sequence dim.
  auto empty = iota.getDpsInits()[0].getDefiningOp<tensor::EmptyOp>();
  if (!empty || empty.getDynamicSizes().size() != 1)
    return nullptr;
  auto dim = skipNonNegativeMax(empty.getDynamicSizes()[0])
                 .getDefiningOp<tensor::DimOp>();
  std::optional<int64_t> dimIndex = dim ? dim.getConstantIndex() : std::nullopt;
  if (!dim || dim.getSource() != tokens || dimIndex != 1)
    return nullptr;
  return broadcast;
}
