//===- ReinterpretContiguousReshapes.cpp - dynamic reshapes as casts ------===//
//
// A memref.expand_shape of a contiguous (identity-layout) buffer is a
// reinterpretation of the same bytes with new sizes and the row-major
// strides of those sizes. Upstream `expand-strided-metadata` crashes (MLIR
// 22) on expand_shape ops that split one dynamic dim into several dynamic
// ones, which the ONNX importer emits for torch's dynamic reshapes; this
// pass rewrites every such contiguous expand_shape into the equivalent
// memref.reinterpret_cast first, computing the strides from the output
// shape.
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

struct LLMReinterpretContiguousReshapes
    : mlir::llm::impl::LLMReinterpretContiguousReshapesBase<
          LLMReinterpretContiguousReshapes> {
  void runOnOperation() override {
    SmallVector<memref::ExpandShapeOp> reshapes;
    getOperation().walk([&](memref::ExpandShapeOp op) {
      if (op.getSrcType().getLayout().isIdentity() &&
          op.getResultType().getLayout().isIdentity())
        reshapes.push_back(op);
    });
    for (memref::ExpandShapeOp op : reshapes) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      SmallVector<OpFoldResult> sizes = op.getMixedOutputShape();
      // Row-major strides of the output shape: folded where static.
      SmallVector<OpFoldResult> strides(sizes.size(), b.getIndexAttr(1));
      for (int64_t i = static_cast<int64_t>(sizes.size()) - 2; i >= 0; --i) {
        std::optional<int64_t> next = getConstantIntValue(strides[i + 1]);
        std::optional<int64_t> size = getConstantIntValue(sizes[i + 1]);
        if (next && size) {
          strides[i] = b.getIndexAttr(*next * *size);
          continue;
        }
        if (next == 1 || size == 1) {
          strides[i] = next == 1 ? sizes[i + 1] : strides[i + 1];
          continue;
        }
        Value lhs = getValueOrCreateConstantIndexOp(b, loc, strides[i + 1]);
        Value rhs = getValueOrCreateConstantIndexOp(b, loc, sizes[i + 1]);
        strides[i] = arith::MulIOp::create(b, loc, lhs, rhs).getResult();
      }
      auto cast = memref::ReinterpretCastOp::create(
          b, loc, op.getResultType(), op.getSrc(), b.getIndexAttr(0), sizes,
          strides);
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
