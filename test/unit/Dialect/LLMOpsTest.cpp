//===- LLMOpsTest.cpp - builders and type inference of llm ops --*- C++ -*-===//
//
// Builds every llm op through its C++ builders and checks the inferred result
// types, including dynamic dimensions, layouts and the KV-cache form of
// attention, plus the rules the inference enforces.
//
//===----------------------------------------------------------------------===//

#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/InitAll.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Verifier.h"

#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::llm;

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

/// A function whose arguments stand for the operands of the op under test.
class LLMOpsTest : public ::testing::Test {
protected:
  LLMOpsTest() : builder(&context) {
    DialectRegistry registry;
    registerLLMDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
    loc = builder.getUnknownLoc();
    module = ModuleOp::create(builder, loc);
    builder.setInsertionPointToEnd(module->getBody());
  }

  RankedTensorType f32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, builder.getF32Type());
  }
  RankedTensorType i64(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, builder.getI64Type());
  }

  /// Creates a function with the given argument types and positions the
  /// builder inside it; returns its arguments.
  SmallVector<Value> args(ArrayRef<Type> types) {
    auto func = func::FuncOp::create(builder, loc, "f",
                                     builder.getFunctionType(types, {}));
    Block *entry = func.addEntryBlock();
    builder.setInsertionPointToStart(entry);
    return SmallVector<Value>(entry->getArguments());
  }

  /// Terminates the function and verifies the whole module (the op verifiers
  /// rerun the inference).
  bool verifies() {
    func::ReturnOp::create(builder, loc);
    return succeeded(verify(*module));
  }

  MLIRContext context;
  OpBuilder builder;
  Location loc = UnknownLoc::get(&context);
  OwningOpRef<ModuleOp> module;
};

TEST_F(LLMOpsTest, EmbeddingAppendsTheTableDim) {
  auto a = args({f32({97, 32}), i64({kDyn, 7})});
  auto op = EmbeddingOp::create(builder, loc, a[0], a[1]);
  EXPECT_EQ(op.getType(), f32({kDyn, 7, 32}));
  EXPECT_TRUE(verifies());
}

TEST_F(LLMOpsTest, LinearInfersOutFeaturesForBothLayouts) {
  auto a = args({f32({2, kDyn, 64}), f32({128, 64}), f32({64, 192}),
                 f32({192})});
  auto outIn = LinearOp::create(builder, loc, a[0], a[1], Value());
  EXPECT_EQ(outIn.getType(), f32({2, kDyn, 128}));
  EXPECT_EQ(outIn.getInFeatures(), 64);
  EXPECT_EQ(outIn.getOutFeatures(), 128);
  auto inOut = LinearOp::create(builder, loc, a[0], a[2], a[3],
                                WeightLayout::InOut);
  EXPECT_EQ(inOut.getType(), f32({2, kDyn, 192}));
  EXPECT_EQ(inOut.getOutFeatures(), 192);
  EXPECT_TRUE(verifies());
}

TEST_F(LLMOpsTest, LinearRejectsMismatchedWeight) {
  auto a = args({f32({2, 8, 64}), f32({128, 63})});
  // The inference reports the mismatch instead of building a bad op, and
  // names the shapes when it has a location to report at.
  SmallVector<Type> types;
  LinearOp::Properties properties;
  EXPECT_TRUE(failed(LinearOp::inferReturnTypes(
      &context, std::nullopt, ValueRange{a[0], a[1]}, DictionaryAttr(),
      OpaqueProperties(&properties), RegionRange(), types)));
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  EXPECT_TRUE(failed(LinearOp::inferReturnTypes(
      &context, loc, ValueRange{a[0], a[1]}, DictionaryAttr(),
      OpaqueProperties(&properties), RegionRange(), types)));
  EXPECT_EQ(message, "'llm.linear' op weight [128x63] (out_in) projects 63 "
                     "features but the input has 64");
}

TEST_F(LLMOpsTest, NormsKeepTheInputType) {
  auto a = args({f32({kDyn, kDyn, 48}), f32({48}), f32({48})});
  auto ln = LayerNormOp::create(builder, loc, a[0], a[1], a[2],
                                builder.getF64FloatAttr(1e-5));
  EXPECT_EQ(ln.getType(), f32({kDyn, kDyn, 48}));
  auto rms = RMSNormOp::create(builder, loc, a[0], a[1],
                               builder.getF64FloatAttr(1e-6));
  EXPECT_EQ(rms.getType(), f32({kDyn, kDyn, 48}));
  EXPECT_TRUE(verifies());
}

TEST_F(LLMOpsTest, AttentionGroupedQueryHeads) {
  // 8 query heads of 16 features share 2 KV heads; values have 32 features.
  auto a = args({f32({3, 5, 128}), f32({3, 9, 32}), f32({3, 9, 64})});
  auto op = AttentionOp::create(builder, loc, a[0], a[1], a[2],
                                /*numHeads=*/8, /*numKVHeads=*/2,
                                /*causal=*/true);
  EXPECT_EQ(op.getResult().getType(), f32({3, 5, 8 * 32}));
  EXPECT_EQ(op.getHeadDim(), 16);
  EXPECT_EQ(op.getValueHeadDim(), 32);
  EXPECT_DOUBLE_EQ(op.getEffectiveScale(), 0.25);
  EXPECT_FALSE(op.hasKVCache());
  EXPECT_TRUE(op.getCausal());
  EXPECT_TRUE(verifies());
}

TEST_F(LLMOpsTest, AttentionWithKVCacheReturnsUpdatedCaches) {
  auto a = args({f32({2, 1, 64}), f32({2, 1, 16}), f32({2, 1, 16}),
                 f32({2, 1, 128, 16}), f32({2, 1, 128, 16}), i64({2})});
  auto op = AttentionOp::create(builder, loc, a[0], a[1], a[2], a[3], a[4],
                                a[5], /*numHeads=*/4, /*numKVHeads=*/1);
  ASSERT_TRUE(op.hasKVCache());
  EXPECT_EQ(op.getResult().getType(), f32({2, 1, 64}));
  EXPECT_EQ(op.getUpdatedKCache().getType(), f32({2, 1, 128, 16}));
  EXPECT_EQ(op.getUpdatedVCache().getType(), f32({2, 1, 128, 16}));
  EXPECT_TRUE(verifies());
}

TEST_F(LLMOpsTest, AttentionBroadcastsPaddingMask) {
  auto a = args({f32({2, 7, 32}), f32({2, 7, 32}), f32({2, 7, 32}),
                 f32({2, 1, 1, 7})});
  auto op = AttentionOp::create(builder, loc, a[0], a[1], a[2],
                                /*numHeads=*/4, /*numKVHeads=*/0,
                                /*causal=*/false, /*mask=*/a[3],
                                /*scale=*/0.5);
  EXPECT_EQ(op.getEffectiveNumKVHeads(), 4);
  EXPECT_DOUBLE_EQ(op.getEffectiveScale(), 0.5);
  EXPECT_TRUE(verifies());
}

TEST_F(LLMOpsTest, FFNGatedAndPlain) {
  auto a = args({f32({1, 7, 64}), f32({172, 64}), f32({172, 64}),
                 f32({64, 172}), f32({64, 256}), f32({256, 64})});
  auto swiglu = FFNOp::create(builder, loc, Activation::SwiGLU, a[0], a[1],
                              Value(), a[2], Value(), a[3], Value());
  EXPECT_TRUE(swiglu.isGated());
  EXPECT_EQ(swiglu.getHiddenSize(), 172);
  EXPECT_EQ(swiglu.getType(), f32({1, 7, 64}));
  auto gelu = FFNOp::create(builder, loc, Activation::GELUTanh, a[0], a[4],
                            Value(), Value(), Value(), a[5], Value(),
                            WeightLayout::InOut);
  EXPECT_FALSE(gelu.isGated());
  EXPECT_EQ(gelu.getHiddenSize(), 256);
  EXPECT_TRUE(verifies());
}

TEST_F(LLMOpsTest, PositionsAndRope) {
  auto a = args({f32({1, 16, 64}), f32({1024, 64}), i64({16})});
  auto pe = PositionalEncodingOp::create(builder, loc,
                                         PositionalEncodingKind::Learned,
                                         a[0], a[1], a[2]);
  EXPECT_EQ(pe.getType(), f32({1, 16, 64}));
  auto sin = PositionalEncodingOp::create(
      builder, loc, PositionalEncodingKind::Sinusoidal, a[0], Value(),
      Value());
  EXPECT_EQ(sin.getType(), f32({1, 16, 64}));
  auto rope = RopeOp::create(builder, loc, a[0], a[2], /*head_dim=*/16,
                             /*rotary_dim=*/IntegerAttr(), APFloat(10000.0),
                             /*interleaved=*/false);
  EXPECT_EQ(rope.getType(), f32({1, 16, 64}));
  EXPECT_EQ(rope.getEffectiveRotaryDim(), 16);
  EXPECT_TRUE(verifies());
}

TEST_F(LLMOpsTest, CrossEntropyReductions) {
  auto a = args({f32({4, kDyn, 97}), i64({4, 9})});
  // Null attributes take their defaults (ignore_index -100, mean).
  auto mean = CrossEntropyOp::create(builder, loc, a[0], a[1], IntegerAttr(),
                                     ReductionAttr(), FloatAttr());
  EXPECT_EQ(mean.getType(), f32({}));
  auto none = CrossEntropyOp::create(
      builder, loc, a[0], a[1], builder.getI64IntegerAttr(-100),
      ReductionAttr::get(&context, Reduction::None), FloatAttr());
  // The per-position losses take the static length from the labels.
  EXPECT_EQ(none.getType(), f32({4, 9}));
  EXPECT_TRUE(verifies());
}

TEST_F(LLMOpsTest, GeluAndSoftmax) {
  auto a = args({f32({2, 3})});
  auto gelu = GeluOp::create(builder, loc, a[0], GeluApproximation::Tanh);
  EXPECT_EQ(gelu.getType(), f32({2, 3}));
  auto softmax = SoftmaxOp::create(builder, loc, a[0], -1);
  EXPECT_EQ(softmax.getNormalizedAxis(), 1);
  EXPECT_TRUE(verifies());
}

} // namespace
