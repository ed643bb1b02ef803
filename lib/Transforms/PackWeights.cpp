//===- PackWeights.cpp - projection weights in panel-major order ----------===//
//
// The vector kernels stream a panel of P output columns of the weight per
// k. In the checkpoint's [in, out] layout such a panel is P floats out of
// every row (one row per 4 KiB page or more for wide layers, so the
// prefetchers give up and every call would have to copy it out first); in
// [out, in] it is P rows. This pass asks for the weight in the order the
// kernel reads it instead: a public function's parameter used as the weight
// of projections becomes a [ceil(N / P), K, P] tensor, panel by panel, the
// last panel padded with zeros, so that each panel is one contiguous
// stream. The runtime packs the checkpoint tensor once when it binds it
// (docs/ABI.md); nothing is packed per call.
//
// A parameter with other uses as well (GPT-2's tied token embedding, read
// by the embedding gather and the LM head) keeps its argument for those,
// and the projections get a second, packed argument bound to the same
// checkpoint tensor.
//
//===----------------------------------------------------------------------===//

#include "ProjectionMatch.h"

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Transforms/Passes.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMPACKWEIGHTS
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {

struct LLMPackWeights
    : mlir::llm::impl::LLMPackWeightsBase<LLMPackWeights> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (panel < 1) {
      func.emitError("llm-pack-weights: the panel width must be positive");
      return signalPassFailure();
    }
    // Packing changes the signature: only for entry points, whose callers
    // are outside the module and read the manifest.
    if (func.isExternal() || !func.isPublic())
      return;
    // Training entry points take the parameters as the runtime owns them.
    if (func->hasAttr("llm.unpacked_params"))
      return;
    // Backwards, so that inserting an argument after `i` leaves the
    // indices still to visit alone.
    for (unsigned i = func.getNumArguments(); i-- > 0;)
      if (failed(pack(func, i)))
        return signalPassFailure();
  }

  LogicalResult pack(func::FuncOp func, unsigned index) {
    BlockArgument arg = func.getArgument(index);
    auto name =
        func.getArgAttrOfType<StringAttr>(index, LLMDialect::kParamAttrName);
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!name || !type || type.getRank() != 2 || !type.hasStaticShape() ||
        !type.getElementType().isF32() ||
        func.getArgAttr(index, LLMDialect::kPackedAttrName))
      return success();
    // A parameter the function updates in place (a training step) changes
    // every call: a copy packed once would go stale.
    for (unsigned r = 0, e = func.getNumResults(); r < e; ++r)
      if (func.getResultAttr(r, "llm.in_place") == name)
        return success();

    // The projections reading the argument as their weight, all in one
    // layout (the same tensor read both ways is left alone).
    SmallVector<linalg::GenericOp> projections;
    std::optional<WeightLayout> layout;
    for (OpOperand &use : arg.getUses()) {
      auto op = dyn_cast<linalg::GenericOp>(use.getOwner());
      if (!op || use.getOperandNumber() != 1 ||
          op.getDpsInputs()[0] == arg)
        continue;
      std::optional<ProjectionMaps> maps = matchProjectionMaps(op);
      if (!maps || maps->layout == WeightLayout::Panels)
        continue;
      if (layout && *layout != maps->layout)
        return success();
      layout = maps->layout;
      projections.push_back(op);
    }
    if (projections.empty())
      return success();
    bool outIn = *layout == WeightLayout::OutIn;
    int64_t n = type.getDimSize(outIn ? 0 : 1);
    int64_t k = type.getDimSize(outIn ? 1 : 0);
    // Narrower than a panel: padding would waste more than it buys.
    if (n < panel)
      return success();

    MLIRContext *ctx = &getContext();
    Builder b(ctx);
    auto packedType = RankedTensorType::get(
        {(n + panel - 1) / panel, k, int64_t(panel)}, b.getF32Type());
    NamedAttribute packed(
        b.getStringAttr(LLMDialect::kPackedAttrName),
        b.getDictionaryAttr(
            {b.getNamedAttr("layout",
                            b.getStringAttr(outIn ? "out_in" : "in_out")),
             b.getNamedAttr("panel", b.getI64IntegerAttr(panel)),
             b.getNamedAttr("shape",
                            b.getDenseI64ArrayAttr(type.getShape()))}));
    NamedAttribute param(b.getStringAttr(LLMDialect::kParamAttrName), name);
    SmallVector<NamedAttribute> attrs = {param, packed};
    // A parameter concatenated at bind time (llm-fuse-qkv) is packed after.
    if (Attribute concat = func.getArgAttr(index, LLMDialect::kConcatAttrName))
      attrs.push_back(b.getNamedAttr(LLMDialect::kConcatAttrName, concat));
    if (failed(func.insertArgument(index + 1, packedType,
                                   b.getDictionaryAttr(attrs), arg.getLoc())))
      return func.emitError("llm-pack-weights: cannot add the packed "
                            "argument of '")
             << name.getValue() << "'";
    BlockArgument packedArg = func.getArgument(index + 1);

    for (linalg::GenericOp op : projections) {
      OpBuilder builder(op);
      SmallVector<AffineMap> maps = op.getIndexingMapsArray();
      maps[1] = getPanelWeightMap(op.getNumLoops(), panel, ctx);
      auto packedOp = linalg::GenericOp::create(
          builder, op.getLoc(), op.getResultTypes(),
          ValueRange{op.getDpsInputs()[0], packedArg}, op.getDpsInits(), maps,
          op.getIteratorTypesArray());
      packedOp.getRegion().takeBody(op.getRegion());
      op.replaceAllUsesWith(packedOp.getResults());
      op.erase();
    }
    if (arg.use_empty() && failed(func.eraseArgument(index)))
      return func.emitError("llm-pack-weights: cannot drop the unpacked "
                            "argument of '")
             << name.getValue() << "'";
    return success();
  }
};

} // namespace
