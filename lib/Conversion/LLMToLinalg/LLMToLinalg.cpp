//===- LLMToLinalg.cpp - the convert-llm-to-linalg pass ---------*- C++ -*-===//
//
// convert-llm-to-linalg applies every llm-to-linalg pattern (any llm op left
// over is an error); llm-fuse-attention applies only the tiled attention
// lowering.
//
//===----------------------------------------------------------------------===//

#include "llm/Conversion/LLMToLinalg/LLMToLinalg.h"
#include "llm/Conversion/Passes.h"
#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::llm {
#define GEN_PASS_DEF_CONVERTLLMTOLINALG
#define GEN_PASS_DEF_LLMFUSEATTENTION
#include "llm/Conversion/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

void mlir::llm::populateLLMToLinalgPatterns(RewritePatternSet &patterns) {
  populateAttentionToLinalgPatterns(patterns);
  populateLinearToLinalgPatterns(patterns);
  populateNormToLinalgPatterns(patterns);
  populateEmbeddingToLinalgPatterns(patterns);
  populateElementwiseToLinalgPatterns(patterns);
  populateLossToLinalgPatterns(patterns);
}

namespace {
struct ConvertLLMToLinalg
    : mlir::llm::impl::ConvertLLMToLinalgBase<ConvertLLMToLinalg> {
  void runOnOperation() override {
    ConversionTarget target(getContext());
    target.addIllegalDialect<LLMDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(&getContext());
    populateLLMToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

struct LLMFuseAttention
    : mlir::llm::impl::LLMFuseAttentionBase<LLMFuseAttention> {
  using Base::Base;

  void runOnOperation() override {
    if (queryTile < 1 || keyTile < 1) {
      getOperation()->emitError(
          "llm-fuse-attention: the tile sizes must be positive");
      return signalPassFailure();
    }
    ConversionTarget target(getContext());
    target.addIllegalOp<AttentionOp, AttentionGradOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(&getContext());
    populateFusedAttentionPatterns(patterns, queryTile, keyTile);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
