//===- RaiseLinear.cpp - MatMul (+ Add) on a weight to llm.linear -*- C++ -*-===//
//
// A 2-D linalg.matmul into zeros whose right operand is a weight (an
// `llm.param` argument or a constant), read as is (`[in, out]`, ONNX MatMul
// and Gemm) or through a linalg.transpose (`[out, in]`, Gemm with transB),
// becomes llm.linear; a following elementwise add of a `[out]` vector
// broadcast over the rows becomes its bias.
//
//===----------------------------------------------------------------------===//

#include "RaiseMatch.h"
#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMRAISELINEAR
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::raise;

namespace {

struct RaiseLinearPattern : OpRewritePattern<linalg::MatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::MatmulOp matmul,
                                PatternRewriter &rewriter) const override {
    if (matmul.hasUserDefinedMaps() || !matmul.hasPureTensorSemantics() ||
        !isFilledWith(matmul.getDpsInitOperand(0)->get(), 0.0))
      return failure();
    Value x = matmul.getDpsInputOperand(0)->get();
    Value rhs = matmul.getDpsInputOperand(1)->get();
    Value weight;
    WeightLayout layout = WeightLayout::InOut;
    if (isWeight(rhs)) {
      weight = rhs;
    } else if (auto transpose = rhs.getDefiningOp<linalg::TransposeOp>();
               transpose && transpose.hasPureTensorSemantics() &&
               transpose.getPermutation() == ArrayRef<int64_t>{1, 0} &&
               isWeight(transpose.getInput())) {
      weight = transpose.getInput();
      layout = WeightLayout::OutIn;
    } else {
      return rewriter.notifyMatchFailure(matmul, "right operand is no weight");
    }
    auto resultType = cast<RankedTensorType>(matmul.getResult(0).getType());
    Type elementType = resultType.getElementType();
    if (cast<ShapedType>(x.getType()).getElementType() != elementType ||
        cast<ShapedType>(weight.getType()).getElementType() != elementType)
      return rewriter.notifyMatchFailure(matmul, "mixed element types");

    // A bias: the one user adds a [N] vector broadcast over the rows, either
    // to the product or to the product with its rows split again (an N-D
    // MatMul that the importer collapsed to 2-D).
    Value bias;
    Operation *replaced = matmul;
    Value product = matmul.getResult(0);
    tensor::ExpandShapeOp rowSplit;
    if (product.hasOneUse()) {
      rowSplit = dyn_cast<tensor::ExpandShapeOp>(*product.getUsers().begin());
      if (rowSplit && (rowSplit.getReassociationIndices().back() !=
                           ReassociationIndices{rowSplit.getResultType()
                                                    .getRank() - 1} ||
                       !rowSplit.getResult().hasOneUse()))
        rowSplit = {};
      if (rowSplit)
        product = rowSplit.getResult();
    }
    auto productType = cast<RankedTensorType>(product.getType());
    unsigned rank = productType.getRank();
    Operation *user =
        product.hasOneUse() ? *product.getUsers().begin() : nullptr;
    if (user && user->getNumResults() == 1) {
      if (auto add = matchElementwiseOf<arith::AddFOp>(user->getResult(0))) {
        for (unsigned i = 0; i < 2 && !bias; ++i) {
          auto [vector, map] = add->input(1 - i);
          if (add->fullInput(i) != product || !vector ||
              map != AffineMap::get(rank, 0,
                                    rewriter.getAffineDimExpr(rank - 1)))
            continue;
          auto vectorType = cast<ShapedType>(vector.getType());
          if (vectorType.getElementType() != elementType ||
              vectorType.getDimSize(0) != resultType.getDimSize(1))
            continue;
          bias = vector;
          replaced = add->op;
        }
      }
    }
    if (!bias)
      rowSplit = {};
    // Everything the rewrite reads dominates the op it replaces.
    rewriter.setInsertionPoint(replaced);

    Value linear =
        LinearOp::create(rewriter, matmul.getLoc(), x, weight, bias,
                         WeightLayoutAttr::get(getContext(), layout));
    if (linear.getType() != matmul.getResult(0).getType())
      linear = tensor::CastOp::create(rewriter, matmul.getLoc(),
                                      matmul.getResult(0).getType(), linear);
    if (rowSplit)
      linear = tensor::ExpandShapeOp::create(
          rewriter, rowSplit.getLoc(), rowSplit.getResultType(), linear,
          rowSplit.getReassociationIndices(), rowSplit.getMixedOutputShape());
    Type replacedType = replaced->getResult(0).getType();
    if (linear.getType() != replacedType)
      linear = tensor::CastOp::create(rewriter, matmul.getLoc(), replacedType,
                                      linear);
    rewriter.replaceOp(replaced, linear);
    return success();
  }

  /// A weight: an `llm.param` argument of the function, or a constant.
  static bool isWeight(Value value) {
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
      return func && arg.getOwner()->isEntryBlock() &&
             func.getArgAttr(arg.getArgNumber(),
                             LLMDialect::kParamAttrName);
    }
    return matchPattern(value, m_Constant());
  }
};

struct LLMRaiseLinear : mlir::llm::impl::LLMRaiseLinearBase<LLMRaiseLinear> {
  void runOnOperation() override {
    if (failed(applyRaisingPattern<RaiseLinearPattern>(getOperation())))
      signalPassFailure();
  }
};

} // namespace
