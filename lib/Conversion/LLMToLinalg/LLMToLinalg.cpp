//===- LLMToLinalg.cpp - the convert-llm-to-linalg pass ---------*- C++ -*-===//
//
// Applies every llm-to-linalg pattern; any llm op left over is an error.
//
//===----------------------------------------------------------------------===//

#include "llm/Conversion/LLMToLinalg/LLMToLinalg.h"
#include "llm/Conversion/Passes.h"
#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"

#include "mlir/Transforms/DialectConversion.h"

namespace mlir::llm {
#define GEN_PASS_DEF_CONVERTLLMTOLINALG
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
} // namespace
