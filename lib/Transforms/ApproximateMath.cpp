//===- ApproximateMath.cpp - polynomial math for vectorizable loops -------===//
//
// libm calls (tanhf, expf, erff) cost tens of cycles each and stop LLVM's
// loop vectorizer; GELU's tanh and softmax's exp run once per activation.
// Upstream's polynomial approximations are plain arith, so the loops around
// them vectorize.
//
//===----------------------------------------------------------------------===//

#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMAPPROXIMATEMATH
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {

struct LLMApproximateMath
    : mlir::llm::impl::LLMApproximateMathBase<LLMApproximateMath> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
