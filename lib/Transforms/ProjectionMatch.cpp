//===- ProjectionMatch.cpp - recognizing projection contractions ----------===//
//
// See ProjectionMatch.h.
//
//===----------------------------------------------------------------------===//

#include "ProjectionMatch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::llm;

bool mlir::llm::isF32MulAdd(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  if (body.getNumArguments() != 3 || body.getOperations().size() != 3)
    return false;
  for (BlockArgument arg : body.getArguments())
    if (!arg.getType().isF32())
      return false;
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value acc = body.getArgument(2);
  if (add.getLhs() != acc && add.getRhs() != acc)
    return false;
  Value product = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return false;
  Value in0 = body.getArgument(0), in1 = body.getArgument(1);
  return (mul.getLhs() == in0 && mul.getRhs() == in1) ||
         (mul.getLhs() == in1 && mul.getRhs() == in0);
}

AffineMap mlir::llm::getPanelWeightMap(unsigned numLoops, int64_t panel,
                                       MLIRContext *ctx) {
  AffineExpr n = getAffineDimExpr(numLoops - 2, ctx);
  AffineExpr k = getAffineDimExpr(numLoops - 1, ctx);
  return AffineMap::get(numLoops, 0, {n.floorDiv(panel), k, n % panel}, ctx);
}

std::optional<ProjectionMaps>
mlir::llm::matchProjectionMaps(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1)
    return std::nullopt;
  unsigned numLoops = op.getNumLoops();
  if (numLoops < 3)
    return std::nullopt;
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  for (unsigned i = 0; i + 1 < numLoops; ++i)
    if (iters[i] != utils::IteratorType::parallel)
      return std::nullopt;
  if (iters.back() != utils::IteratorType::reduction)
    return std::nullopt;

  MLIRContext *ctx = op.getContext();
  unsigned nDim = numLoops - 2, kDim = numLoops - 1;
  auto dim = [&](unsigned d) { return getAffineDimExpr(d, ctx); };
  SmallVector<AffineExpr> xExprs, outExprs;
  for (unsigned i = 0; i < nDim; ++i) {
    xExprs.push_back(dim(i));
    outExprs.push_back(dim(i));
  }
  xExprs.push_back(dim(kDim));
  outExprs.push_back(dim(nDim));
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (maps[0] != AffineMap::get(numLoops, 0, xExprs, ctx) ||
      maps[2] != AffineMap::get(numLoops, 0, outExprs, ctx) ||
      !isF32MulAdd(op))
    return std::nullopt;
  AffineMap w = maps[1];
  if (w == AffineMap::get(numLoops, 0, {dim(nDim), dim(kDim)}, ctx))
    return ProjectionMaps{nDim, kDim, WeightLayout::OutIn};
  if (w == AffineMap::get(numLoops, 0, {dim(kDim), dim(nDim)}, ctx))
    return ProjectionMaps{nDim, kDim, WeightLayout::InOut};
  // Panels: the divisor of the first result names the panel width.
  if (w.getNumResults() == 3)
    if (auto div = dyn_cast<AffineBinaryOpExpr>(w.getResult(0));
        div && div.getKind() == AffineExprKind::FloorDiv)
      if (auto panel = dyn_cast<AffineConstantExpr>(div.getRHS());
          panel && panel.getValue() > 0 &&
          w == getPanelWeightMap(numLoops, panel.getValue(), ctx))
        return ProjectionMaps{nDim, kDim, WeightLayout::Panels,
                              panel.getValue()};
  return std::nullopt;
}
