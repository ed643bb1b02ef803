//===- FuseQKV.cpp - sibling projections as one matmul --------------------===//
//
// LLaMA and BERT checkpoints store the query, key and value projections as
// three tensors, and the model reads its normalized input three times, once
// per projection: three kernels, three interleaved copies of the input,
// three parallel regions (per decode step, too). GPT-2 stores them as one
// [d, 3d] tensor and runs one. This pass gives the others the same: the
// `llm.linear` ops of a function that project the same input with weights
// that are parameters become one projection over a parameter that is their
// concatenation along the output features, and each old result a slice of
// the new one. A gated FFN's gate and up projections (SwiGLU, GeGLU) read
// one input too: the FFN becomes one projection over `[gate; up]`, an
// `llm.glu` of the two halves of its output, and the down projection.
//
// Parameters are bound by the runtime, not known here, so the concatenation
// is the runtime's: the new argument carries `llm.concat` (the checkpoint
// tensors and their sizes), which `llm-compile` writes into the manifest,
// and the runtime builds the tensor once when it binds the weights
// (docs/ABI.md), before packing it like any other. Nothing is concatenated
// per call.
//
//===----------------------------------------------------------------------===//

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMFUSEQKV
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {

/// A parameter of `func` that the runtime binds as is: an entry-block
/// argument named by `llm.param`, with a static f32 type, neither packed nor
/// concatenated already, and not updated in place by the function.
static StringAttr getBoundParamName(func::FuncOp func, Value value) {
  auto arg = dyn_cast<BlockArgument>(value);
  if (!arg || arg.getOwner() != &func.getBody().front())
    return {};
  unsigned index = arg.getArgNumber();
  auto name =
      func.getArgAttrOfType<StringAttr>(index, LLMDialect::kParamAttrName);
  auto type = dyn_cast<RankedTensorType>(arg.getType());
  if (!name || !type || !type.hasStaticShape() ||
      !type.getElementType().isF32() ||
      func.getArgAttr(index, LLMDialect::kPackedAttrName) ||
      func.getArgAttr(index, LLMDialect::kConcatAttrName))
    return {};
  for (unsigned r = 0, e = func.getNumResults(); r < e; ++r)
    if (func.getResultAttr(r, "llm.in_place") == name)
      return {};
  return name;
}

/// Projections that can share one matmul: same input, layout (as an
/// integer) and bias-ness.
using GroupKey = std::tuple<Value, unsigned, unsigned>;

struct LLMFuseQKV : mlir::llm::impl::LLMFuseQKVBase<LLMFuseQKV> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    // The signature changes: only for entry points, whose callers read the
    // manifest; training steps take the parameters as the runtime owns them.
    if (func.isExternal() || !func.isPublic() ||
        func->hasAttr("llm.unpacked_params"))
      return;
    llvm::MapVector<GroupKey, SmallVector<LinearOp>> groups;
    func.walk([&](LinearOp op) {
      if (!getBoundParamName(func, op.getWeight()) ||
          (op.getBias() && !getBoundParamName(func, op.getBias())))
        return;
      groups[{op.getInput(), static_cast<unsigned>(op.getWeightLayout()),
              op.getBias() ? 1u : 0u}]
          .push_back(op);
    });
    SmallVector<FFNOp> ffns;
    if (gateUp)
      func.walk([&](FFNOp op) {
        if (canFuseGateUp(func, op))
          ffns.push_back(op);
      });
    for (FFNOp op : ffns)
      fuseGateUp(func, op);
    for (auto &[key, ops] : groups) {
      // Each weight (and bias) once: the same tensor twice is not a fusion.
      llvm::SmallPtrSet<Value, 4> weights, biases;
      for (LinearOp op : ops) {
        weights.insert(op.getWeight());
        if (op.getBias())
          biases.insert(op.getBias());
      }
      if (ops.size() < 2 || weights.size() != ops.size() ||
          (std::get<2>(key) && biases.size() != ops.size()))
        continue;
      fuse(func, ops);
    }
    // Arguments left without uses (the weights and biases read by fused
    // projections only).
    llvm::BitVector unused(func.getNumArguments());
    for (BlockArgument arg : func.getArguments())
      if (arg.use_empty() &&
          func.getArgAttr(arg.getArgNumber(), LLMDialect::kParamAttrName) &&
          llvm::is_contained(fusedArgs, arg))
        unused.set(arg.getArgNumber());
    if (failed(func.eraseArguments(unused)))
      return signalPassFailure();
  }

  /// A new argument concatenating the params `values` along `axis` (the
  /// output features), inserted before the first of them.
  BlockArgument concatArgument(func::FuncOp func, ArrayRef<Value> values,
                               int64_t axis) {
    Builder b(&getContext());
    SmallVector<Attribute> parts;
    SmallVector<int64_t> sizes;
    std::string joined;
    auto type = cast<RankedTensorType>(values.front().getType());
    SmallVector<int64_t> shape = llvm::to_vector(type.getShape());
    shape[axis] = 0;
    unsigned first = func.getNumArguments();
    for (Value value : values) {
      StringAttr name = getBoundParamName(func, value);
      parts.push_back(name);
      joined += (joined.empty() ? "" : "+") + name.getValue().str();
      int64_t size = cast<RankedTensorType>(value.getType()).getDimSize(axis);
      sizes.push_back(size);
      shape[axis] += size;
      first = std::min(first, cast<BlockArgument>(value).getArgNumber());
      fusedArgs.push_back(cast<BlockArgument>(value));
    }
    NamedAttribute param(b.getStringAttr(LLMDialect::kParamAttrName),
                         b.getStringAttr(joined));
    NamedAttribute concat(
        b.getStringAttr(LLMDialect::kConcatAttrName),
        b.getDictionaryAttr(
            {b.getNamedAttr("axis", b.getI64IntegerAttr(axis)),
             b.getNamedAttr("parts", b.getArrayAttr(parts)),
             b.getNamedAttr("sizes", b.getDenseI64ArrayAttr(sizes))}));
    auto concatType = RankedTensorType::get(shape, type.getElementType());
    (void)func.insertArgument(first, concatType,
                              b.getDictionaryAttr({param, concat}),
                              values.front().getLoc());
    return func.getArgument(first);
  }

  /// A gated FFN whose gate and up weights (and biases, both or neither)
  /// are two distinct bound parameters.
  static bool canFuseGateUp(func::FuncOp func, FFNOp op) {
    if (!op.isGated() || op.getGateWeight() == op.getUpWeight() ||
        !getBoundParamName(func, op.getGateWeight()) ||
        !getBoundParamName(func, op.getUpWeight()))
      return false;
    Value gateBias = op.getGateBias(), upBias = op.getUpBias();
    if (!gateBias && !upBias)
      return true;
    return gateBias && upBias && gateBias != upBias &&
           getBoundParamName(func, gateBias) && getBoundParamName(func, upBias);
  }

  /// `[offset, offset + size)` of \p value's last dimension.
  static Value sliceFeatures(OpBuilder &b, Location loc, Value value,
                             int64_t offset, int64_t size) {
    auto type = cast<RankedTensorType>(value.getType());
    int64_t rank = type.getRank();
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)),
        sizes = tensor::getMixedSizes(b, loc, value),
        strides(rank, b.getIndexAttr(1));
    offsets.back() = b.getIndexAttr(offset);
    sizes.back() = b.getIndexAttr(size);
    SmallVector<int64_t> shape = llvm::to_vector(type.getShape());
    shape.back() = size;
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get(shape, type.getElementType()), value,
        offsets, sizes, strides);
  }

  /// `down(act(gate(x)) * up(x))` as `down(glu(slices of [gate; up](x)))`:
  /// one projection over the concatenated gate and up weights.
  void fuseGateUp(func::FuncOp func, FFNOp op) {
    WeightLayout layout = op.getWeightLayout();
    int64_t axis = layout == WeightLayout::OutIn ? 0 : 1;
    Value weight =
        concatArgument(func, {op.getGateWeight(), op.getUpWeight()}, axis);
    Value bias =
        op.getGateBias()
            ? concatArgument(func, {op.getGateBias(), op.getUpBias()}, 0)
            : Value();
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto fused = LinearOp::create(b, loc, op.getInput(), weight, bias,
                                  op.getWeightLayoutAttr());
    if (remarks)
      fused.emitRemark() << "fused the gate and up projections of a gated "
                            "FFN";
    int64_t hidden = op.getHiddenSize();
    Value gate = sliceFeatures(b, loc, fused, 0, hidden);
    Value up = sliceFeatures(b, loc, fused, hidden, hidden);
    Value product =
        GLUOp::create(b, loc, op.getActivationAttr(), gate, up).getResult();
    auto down = LinearOp::create(b, loc, product, op.getDownWeight(),
                                 op.getDownBias(), op.getWeightLayoutAttr());
    op.replaceAllUsesWith(down.getResult());
    op.erase();
  }

  void fuse(func::FuncOp func, ArrayRef<LinearOp> ops) {
    LinearOp firstOp = ops.front();
    WeightLayout layout = firstOp.getWeightLayout();
    // The output features: rows of an [out, in] weight, columns of [in, out].
    int64_t axis = layout == WeightLayout::OutIn ? 0 : 1;
    SmallVector<Value> weights, biases;
    for (LinearOp op : ops) {
      weights.push_back(op.getWeight());
      if (op.getBias())
        biases.push_back(op.getBias());
    }
    Value weight = concatArgument(func, weights, axis);
    Value bias = biases.empty() ? Value() : concatArgument(func, biases, 0);

    // The walk visited the ops in order: the first one's place has the input
    // and every parameter.
    OpBuilder b(firstOp);
    Location loc = b.getFusedLoc(llvm::to_vector(
        llvm::map_range(ops, [](LinearOp op) { return op.getLoc(); })));
    auto fused = LinearOp::create(b, loc, firstOp.getInput(), weight, bias,
                                  firstOp.getWeightLayoutAttr());
    if (remarks)
      fused.emitRemark() << "fused " << ops.size()
                         << " projections of one input";
    int64_t offset = 0;
    for (LinearOp op : ops) {
      int64_t size = op.getType().getDimSize(op.getType().getRank() - 1);
      Value slice = sliceFeatures(b, op.getLoc(), fused, offset, size);
      op.replaceAllUsesWith(slice);
      offset += size;
    }
    // Erased last: the builder inserts before the first of them.
    for (LinearOp op : ops)
      op.erase();
  }

  /// The arguments whose projections were fused.
  SmallVector<BlockArgument> fusedArgs;
};

} // namespace
