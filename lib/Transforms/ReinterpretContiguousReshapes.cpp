//===- ReinterpretContiguousReshapes.cpp - dynamic reshapes as casts ------===//
//
// A memref.expand_shape is a reinterpretation of the same bytes with new
// sizes and strides: each source dim's stride stays on the innermost of the
// dims it splits into, and the outer ones multiply by the sizes within.
// Upstream `expand-strided-metadata` crashes (MLIR 22) on expand_shape ops
// that split one dynamic dim into several dynamic ones, which the ONNX
// importer emits for torch's dynamic reshapes (of whole buffers, and of
// slices of a fused Q/K/V projection's output); this pass rewrites every
// expand_shape of a strided buffer into the equivalent
// memref.reinterpret_cast first.
//
//===----------------------------------------------------------------------===//

#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMREINTERPRETCONTIGUOUSRESHAPES
#define GEN_PASS_DEF_LLMCOPIESTOLINALG
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {

/// `lhs * rhs`, folded where both are constants or one is 1.
static OpFoldResult multiply(OpBuilder &b, Location loc, OpFoldResult lhs,
                             OpFoldResult rhs) {
  std::optional<int64_t> l = getConstantIntValue(lhs);
  std::optional<int64_t> r = getConstantIntValue(rhs);
  if (l && r)
    return b.getIndexAttr(*l * *r);
  if (l == 1)
    return rhs;
  if (r == 1)
    return lhs;
  return arith::MulIOp::create(b, loc,
                               getValueOrCreateConstantIndexOp(b, loc, lhs),
                               getValueOrCreateConstantIndexOp(b, loc, rhs))
      .getResult();
}

struct LLMReinterpretContiguousReshapes
    : mlir::llm::impl::LLMReinterpretContiguousReshapesBase<
          LLMReinterpretContiguousReshapes> {
  void runOnOperation() override {
    SmallVector<memref::ExpandShapeOp> reshapes;
    getOperation().walk([&](memref::ExpandShapeOp op) {
      if (op.getSrcType().isStrided() && op.getResultType().isStrided())
        reshapes.push_back(op);
    });
    for (memref::ExpandShapeOp op : reshapes) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      SmallVector<OpFoldResult> sizes = op.getMixedOutputShape();
      // The source's strides and offset: row-major and 0 for an identity
      // layout, else read from its descriptor (a slice of a wider buffer,
      // such as one of Q, K and V out of a fused projection's output).
      Value source = op.getSrc();
      OpFoldResult offset = b.getIndexAttr(0);
      SmallVector<OpFoldResult> srcStrides;
      if (op.getSrcType().getLayout().isIdentity()) {
        int64_t rank = op.getSrcType().getRank();
        srcStrides.assign(rank, b.getIndexAttr(1));
        for (int64_t i = rank - 2; i >= 0; --i)
          srcStrides[i] =
              multiply(b, loc, srcStrides[i + 1],
                       memref::getMixedSize(b, loc, op.getSrc(), i + 1));
      } else {
        auto meta = memref::ExtractStridedMetadataOp::create(b, loc, source);
        source = meta.getBaseBuffer();
        offset = meta.getConstifiedMixedOffset();
        srcStrides = meta.getConstifiedMixedStrides();
      }
      // Within each group of output dims that one source dim splits into,
      // the innermost keeps the source dim's stride and each outer one is
      // the next one's stride times its size.
      SmallVector<OpFoldResult> strides(sizes.size(), b.getIndexAttr(1));
      for (auto [d, group] : llvm::enumerate(op.getReassociationIndices())) {
        strides[group.back()] = srcStrides[d];
        for (int64_t j = static_cast<int64_t>(group.size()) - 2; j >= 0; --j)
          strides[group[j]] =
              multiply(b, loc, strides[group[j + 1]], sizes[group[j + 1]]);
      }
      auto cast = memref::ReinterpretCastOp::create(
          b, loc, op.getResultType(), source, offset, sizes, strides);
      op.replaceAllUsesWith(cast.getResult());
      op.erase();
    }
  }
};

/// memref.copy between buffers that are not both contiguous lowers to a
/// call into MLIR's C runner utilities (`memrefCopy`), which artifacts do
/// not link; as linalg.copy it becomes loops like every other linalg op.
struct LLMCopiesToLinalg
    : mlir::llm::impl::LLMCopiesToLinalgBase<LLMCopiesToLinalg> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) { copies.push_back(op); });
    for (memref::CopyOp op : copies) {
      OpBuilder b(op);
      linalg::CopyOp::create(b, op.getLoc(), op.getSource(), op.getTarget());
      op.erase();
    }
  }
};

} // namespace
