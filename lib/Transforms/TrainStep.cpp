//===- TrainStep.cpp - one compiled AdamW training step -----------*- C++
//-*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// llm-build-train-step: from `forward` (token ids -> logits) builds
//
//   train_step(forward's args, labels, adam.m.*, adam.v.*, optimizer)
//       -> (loss, grad_norm)
//   eval_step(forward's args, labels) -> (loss, logits)
//
// A forward that also returns next_sentence_logits [batch, 1, 2] (BERT
// pretraining) adds next_sentence_labels [batch] after labels, sums the
// two cross-entropies, and its eval_step returns (loss, next_sentence_loss,
// logits, next_sentence_logits).
//
//   distill_step(forward's args, labels, teacher_logits, distill, adam.m.*,
//                adam.v.*, optimizer) -> (loss, grad_norm)   [distill=true]
//
// the causal-LM (or masked-LM) cross-entropy (mixed with a teacher's KL
// divergence for distill_step), its gradients (llm-autodiff's
// builder), clipping by the global norm and an AdamW update of every
// parameter and its two moments, written in place: the updated tensors are
// results marked llm.in_place, which bufferization must place in the
// caller's buffers (llm-drop-in-place-results).
//
//===----------------------------------------------------------------------===//

#include "Autodiff.h"
#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMBUILDTRAINSTEP
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

/// The slots of the `optimizer` input, tensor<8xf32>.
enum OptimizerSlot : int64_t {
  LearningRate,
  Beta1,
  Beta2,
  Epsilon,
  WeightDecay,
  BiasCorrection1, ///< 1 - beta1^step
  BiasCorrection2, ///< 1 - beta2^step
  MaxGradNorm,     ///< 0: no clipping
  NumSlots
};

static constexpr StringLiteral kInPlaceAttrName = "llm.in_place";

/// sum(x * x) (or sum(x) without `square`) over every element, as an f32
/// scalar.
static Value sumOfSquares(OpBuilder &b, Location loc, Value x,
                          bool square = true) {
  auto type = cast<RankedTensorType>(x.getType());
  MLIRContext *ctx = b.getContext();
  Type element = type.getElementType();
  Value zero =
      arith::ConstantOp::create(b, loc, element, b.getFloatAttr(element, 0));
  unsigned rank = type.getRank();
  // Rows first (parallel, vectorized), then their sums: one float
  // accumulator over a whole embedding table's 4e7 squares would lose
  // ~1e-3 of the norm to rounding.
  unsigned kept = rank >= 2 ? rank - 1 : 0;
  SmallVector<AffineExpr> keptDims;
  SmallVector<OpFoldResult> keptSizes;
  for (unsigned d = 0; d < kept; ++d) {
    keptDims.push_back(getAffineDimExpr(d, ctx));
    keptSizes.push_back(tensor::getMixedSize(b, loc, x, d));
  }
  Value empty = tensor::EmptyOp::create(b, loc, keptSizes, element);
  Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  SmallVector<utils::IteratorType> iterators(kept,
                                             utils::IteratorType::parallel);
  iterators.append(rank - kept, utils::IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), x, init,
      ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(rank, ctx),
                          AffineMap::get(rank, 0, keptDims, ctx)},
      iterators, [&](OpBuilder &nb, Location l, ValueRange a) {
        Value term = square
                         ? arith::MulFOp::create(nb, l, a[0], a[0]).getResult()
                         : a[0];
        Value sum = arith::AddFOp::create(nb, l, a[1], term);
        linalg::YieldOp::create(nb, l, sum);
      });
  if (kept)
    return sumOfSquares(b, loc, generic.getResult(0), /*square=*/false);
  return tensor::ExtractOp::create(b, loc, generic.getResult(0), ValueRange{});
}

/// The loss a step minimizes.
enum class StepLoss {
  /// loss(args, labels) = cross_entropy(logits, labels).
  CrossEntropy,
  /// loss(args, labels, teacher_logits, distill) =
  ///   alpha * T^2 * kl_div(logits, teacher_logits, labels, T)
  ///     + (1 - alpha) * cross_entropy(logits, labels),
  /// with distill = [T, alpha].
  Distillation,
};

/// The heads of a forward function: its results.
struct ForwardHeads {
  /// The logits, [batch, seq, classes].
  RankedTensorType logits;
  /// BERT pretraining's next-sentence logits, [batch, 1, 2], the second
  /// result named "next_sentence_logits"; null without that head.
  RankedTensorType nextSentence;
};

static constexpr StringLiteral kNextSentenceLogits = "next_sentence_logits";

/// Checks that \p forward returns logits [batch, seq, classes], possibly
/// followed by next-sentence logits [batch, 1, 2].
static FailureOr<ForwardHeads> headsOf(func::FuncOp forward) {
  auto error = [&]() {
    return forward.emitError("llm-build-train-step: '")
           << forward.getName()
           << "' must return logits [batch, seq, vocab], optionally followed "
              "by next_sentence_logits [batch, 1, 2]";
  };
  unsigned numResults = forward.getNumResults();
  if (numResults != 1 && numResults != 2)
    return error();
  ForwardHeads heads;
  heads.logits = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]);
  if (!heads.logits || heads.logits.getRank() != 3)
    return error();
  if (numResults == 2) {
    auto name =
        forward.getResultAttrOfType<StringAttr>(1, LLMDialect::kNameAttrName);
    heads.nextSentence =
        dyn_cast<RankedTensorType>(forward.getResultTypes()[1]);
    if (!name || name.getValue() != kNextSentenceLogits ||
        !heads.nextSentence || heads.nextSentence.getRank() != 3 ||
        heads.nextSentence.getDimSize(1) != 1 ||
        heads.nextSentence.getDimSize(2) != 2 ||
        heads.nextSentence.getDimSize(0) != heads.logits.getDimSize(0))
      return error();
  }
  return heads;
}

static DictionaryAttr inputNamed(OpBuilder &b, StringRef name) {
  return b.getDictionaryAttr(
      b.getNamedAttr(LLMDialect::kInputAttrName, b.getStringAttr(name)));
}

/// A loss function and the values eval_step returns besides the loss.
struct LossFunction {
  func::FuncOp func;
  Value logits;
  /// With a next-sentence head: its cross-entropy and logits.
  Value nextSentenceLoss, nextSentenceLogits;
};

/// Builds the private function NAME(forward's args, labels[,
/// next_sentence_labels][, teacher_logits, distill]) -> loss after \p after:
/// forward's body cloned, then the loss of \p kind (plus the next-sentence
/// cross-entropy when forward has that head, as BertForPreTraining sums
/// them).
static LossFunction buildLossFunction(func::FuncOp forward, Operation *after,
                                      const ForwardHeads &heads, StepLoss kind,
                                      StringRef name) {
  MLIRContext *ctx = forward.getContext();
  Location loc = forward.getLoc();
  OpBuilder b(ctx);
  auto ret = cast<func::ReturnOp>(forward.front().getTerminator());
  RankedTensorType logitsType = heads.logits;
  // Labels may index classes rather than tokens: a sequence classifier's
  // logits are [batch, seq, num_labels], labelled at one token of each
  // sequence only (its last, or BERT's [CLS]; -100 elsewhere), which makes
  // the mean the batch's mean.
  auto labelsType = RankedTensorType::get(
      {logitsType.getDimSize(0), logitsType.getDimSize(1)}, b.getI64Type());
  auto sentenceLabelsType =
      RankedTensorType::get({logitsType.getDimSize(0)}, b.getI64Type());
  Type element = logitsType.getElementType();
  auto scalar = RankedTensorType::get({}, element);
  SmallVector<Type> argTypes(forward.getArgumentTypes());
  SmallVector<StringRef> inputNames = {"labels"};
  argTypes.push_back(labelsType);
  if (heads.nextSentence) {
    argTypes.push_back(sentenceLabelsType);
    inputNames.push_back("next_sentence_labels");
  }
  if (kind == StepLoss::Distillation) {
    argTypes.push_back(logitsType);
    argTypes.push_back(RankedTensorType::get({2}, element));
    inputNames.append({"teacher_logits", "distill"});
  }
  b.setInsertionPointAfter(after);
  auto func =
      func::FuncOp::create(b, loc, name, b.getFunctionType(argTypes, {scalar}));
  func.setPrivate();
  unsigned numForwardArgs = forward.getNumArguments();
  for (unsigned i = 0; i < numForwardArgs; ++i)
    func.setArgAttrs(i, forward.getArgAttrDict(i));
  for (auto [i, input] : llvm::enumerate(inputNames))
    func.setArgAttrs(numForwardArgs + i, inputNamed(b, input));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  IRMapping mapping;
  for (unsigned i = 0; i < numForwardArgs; ++i)
    mapping.map(forward.getArgument(i), body->getArgument(i));
  for (Operation &op : forward.front().without_terminator())
    b.clone(op, mapping);
  LossFunction result;
  result.func = func;
  Value logits = result.logits = mapping.lookup(ret.getOperand(0));
  Value labels = body->getArgument(numForwardArgs);
  auto crossEntropy = [&](Value logits, Value labels) -> Value {
    return CrossEntropyOp::create(
        b, loc, scalar, logits, labels, b.getI64IntegerAttr(-100),
        ReductionAttr::get(ctx, Reduction::Mean), b.getF64FloatAttr(0.0));
  };
  Value loss = crossEntropy(logits, labels);
  if (kind == StepLoss::Distillation) {
    // Scalars read from distill; they carry no gradient (from_elements has
    // no float tensor operand).
    Value distill = body->getArgument(numForwardArgs + inputNames.size() - 1);
    auto slot = [&](int64_t index) -> Value {
      Value i = arith::ConstantIndexOp::create(b, loc, index);
      return tensor::ExtractOp::create(b, loc, distill, ValueRange{i});
    };
    Value temperature = slot(0), alpha = slot(1);
    auto asTensor = [&](Value x) -> Value {
      return tensor::FromElementsOp::create(b, loc, scalar, ValueRange{x});
    };
    Value one = arith::ConstantOp::create(b, loc, element,
                                          b.getFloatAttr(element, 1.0));
    Value soft = KLDivOp::create(
        b, loc, scalar, logits,
        body->getArgument(numForwardArgs + inputNames.size() - 2), labels,
        asTensor(temperature), b.getI64IntegerAttr(-100));
    // Hinton et al.'s T^2 keeps the soft gradients' scale independent of T.
    Value softWeight = arith::MulFOp::create(
        b, loc, alpha, arith::MulFOp::create(b, loc, temperature, temperature));
    Value hardWeight = arith::SubFOp::create(b, loc, one, alpha);
    loss = arith::AddFOp::create(
        b, loc, arith::MulFOp::create(b, loc, soft, asTensor(softWeight)),
        arith::MulFOp::create(b, loc, loss, asTensor(hardWeight)));
  }
  if (heads.nextSentence) {
    // [batch] labels against [batch, 1, 2] logits, as [batch, 1].
    Value sentenceLabels = body->getArgument(numForwardArgs + 1);
    SmallVector<OpFoldResult> shape = {
        tensor::getMixedSize(b, loc, sentenceLabels, 0), b.getIndexAttr(1)};
    Value expanded = tensor::ExpandShapeOp::create(
        b, loc, labelsType.clone({logitsType.getDimSize(0), 1}), sentenceLabels,
        ArrayRef<ReassociationIndices>{{0, 1}}, shape);
    result.nextSentenceLogits = mapping.lookup(ret.getOperand(1));
    result.nextSentenceLoss = crossEntropy(result.nextSentenceLogits, expanded);
    loss = arith::AddFOp::create(b, loc, loss, result.nextSentenceLoss);
  }
  func::ReturnOp::create(b, loc, loss);
  return result;
}

/// Builds the public STEPNAME(loss's args, adam.m.*, adam.v.*, optimizer) ->
/// (loss, grad_norm, updated params and moments in place) after \p lossFunc:
/// its gradients (llm-autodiff's builder), clipping by the global norm and
/// AdamW.
static FailureOr<func::FuncOp> buildUpdateStep(func::FuncOp forward,
                                               func::FuncOp lossFunc,
                                               StringRef stepName) {
  MLIRContext *ctx = forward.getContext();
  Location loc = forward.getLoc();
  OpBuilder b(ctx);
  auto scalar = cast<RankedTensorType>(lossFunc.getResultTypes()[0]);

  FailureOr<func::FuncOp> vjp = buildVJP(lossFunc);
  if (failed(vjp))
    return failure();
  (*vjp).setPrivate();

  // The parameters: forward's float arguments (the loss's later float
  // inputs, a teacher's logits, are constants).
  SmallVector<unsigned> params;
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i) {
    auto type = dyn_cast<RankedTensorType>(forward.getArgument(i).getType());
    if (type && isa<FloatType>(type.getElementType()))
      params.push_back(i);
  }
  for (unsigned i : params)
    if (!forward.getArgAttr(i, LLMDialect::kParamAttrName))
      return forward.emitError("llm-build-train-step: float argument #")
             << i << " is not a parameter (llm.param)";
  SmallVector<Type> argTypes(lossFunc.getArgumentTypes());
  SmallVector<DictionaryAttr> argAttrs;
  for (unsigned i = 0, e = lossFunc.getNumArguments(); i < e; ++i)
    argAttrs.push_back(lossFunc.getArgAttrDict(i));
  unsigned firstMoment = argTypes.size();
  for (StringRef which : {"adam.m.", "adam.v."})
    for (unsigned i : params) {
      argTypes.push_back(forward.getArgument(i).getType());
      auto name =
          forward.getArgAttrOfType<StringAttr>(i, LLMDialect::kParamAttrName);
      argAttrs.push_back(inputNamed(b, (which + name.getValue()).str()));
    }
  unsigned optimizerIndex = argTypes.size();
  argTypes.push_back(RankedTensorType::get({NumSlots}, b.getF32Type()));
  argAttrs.push_back(inputNamed(b, "optimizer"));

  SmallVector<Type> resultTypes = {scalar, scalar};
  for (unsigned round = 0; round < 3; ++round)
    for (unsigned i : params)
      resultTypes.push_back(forward.getArgument(i).getType());
  b.setInsertionPointAfter(*vjp);
  auto step = func::FuncOp::create(b, loc, stepName,
                                   b.getFunctionType(argTypes, resultTypes));
  step.setAllArgAttrs(argAttrs);
  step->setAttr("llm.train_step", b.getUnitAttr());
  step->setAttr("llm.unpacked_params", b.getUnitAttr());
  Block *body = step.addEntryBlock();
  b.setInsertionPointToStart(body);

  // Inline the gradient function with a seed of 1.
  unsigned numLossArgs = lossFunc.getNumArguments();
  IRMapping mapping;
  for (unsigned i = 0; i < numLossArgs; ++i)
    mapping.map((*vjp).getArgument(i), body->getArgument(i));
  Value one = arith::ConstantOp::create(
      b, loc, scalar,
      DenseElementsAttr::get(scalar,
                             b.getFloatAttr(scalar.getElementType(), 1.0)));
  mapping.map((*vjp).getArgument(numLossArgs), one);
  for (Operation &op : (*vjp).front().without_terminator())
    b.clone(op, mapping);
  auto vjpReturn = cast<func::ReturnOp>((*vjp).front().getTerminator());
  Value loss = mapping.lookup(vjpReturn.getOperand(0));
  // The gradient function returns a gradient per float argument: the
  // parameters first, in order (checked above), then the loss's other
  // float inputs, whose (zero) gradients are dropped.
  SmallVector<Value> grads;
  for (Value grad : vjpReturn.getOperands().drop_front())
    grads.push_back(mapping.lookup(grad));
  if (grads.size() < params.size())
    return forward.emitError("llm-build-train-step: gradient count mismatch");
  grads.resize(params.size());
  (*vjp).erase();

  Type f32 = b.getF32Type();
  Value optimizer = body->getArgument(optimizerIndex);
  auto slot = [&](int64_t index) -> Value {
    Value i = arith::ConstantIndexOp::create(b, loc, index);
    return tensor::ExtractOp::create(b, loc, optimizer, ValueRange{i});
  };
  Value lr = slot(LearningRate), beta1 = slot(Beta1), beta2 = slot(Beta2),
        eps = slot(Epsilon), decay = slot(WeightDecay),
        correction1 = slot(BiasCorrection1),
        correction2 = slot(BiasCorrection2), maxNorm = slot(MaxGradNorm);
  auto constant = [&](double v) -> Value {
    return arith::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(v));
  };

  // Global norm and the clipping factor (PyTorch's clip_grad_norm_).
  Value squares = constant(0.0);
  for (Value grad : grads)
    squares =
        arith::AddFOp::create(b, loc, squares, sumOfSquares(b, loc, grad));
  Value norm = math::SqrtOp::create(b, loc, squares);
  Value coefficient = arith::DivFOp::create(
      b, loc, maxNorm, arith::AddFOp::create(b, loc, norm, constant(1e-6)));
  Value clipped = arith::MinimumFOp::create(b, loc, coefficient, constant(1.0));
  Value clipping = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                         maxNorm, constant(0.0));
  Value clipScale =
      arith::SelectOp::create(b, loc, clipping, clipped, constant(1.0));

  // AdamW per parameter, decay on matrices only (not on biases and norm
  // weights, as the usual parameter groups do).
  SmallVector<Value> newParams, newM, newV;
  for (auto [k, index] : llvm::enumerate(params)) {
    Value p = body->getArgument(index);
    Value m = body->getArgument(firstMoment + k);
    Value v = body->getArgument(firstMoment + params.size() + k);
    auto type = cast<RankedTensorType>(p.getType());
    unsigned rank = type.getRank();
    Value paramDecay = rank >= 2 ? decay : constant(0.0);
    AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    // The parameter and moments are the outputs (destination-passing):
    // bufferization writes the update into the caller's buffers.
    auto update = linalg::GenericOp::create(
        b, loc, TypeRange{type, type, type}, ValueRange{grads[k]},
        ValueRange{p, m, v}, SmallVector<AffineMap>(4, id),
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &nb, Location l, ValueRange a) {
          auto mul = [&](Value x, Value y) -> Value {
            return arith::MulFOp::create(nb, l, x, y);
          };
          auto add = [&](Value x, Value y) -> Value {
            return arith::AddFOp::create(nb, l, x, y);
          };
          auto sub = [&](Value x, Value y) -> Value {
            return arith::SubFOp::create(nb, l, x, y);
          };
          auto div = [&](Value x, Value y) -> Value {
            return arith::DivFOp::create(nb, l, x, y);
          };
          Value oneValue =
              arith::ConstantOp::create(nb, l, f32, nb.getF32FloatAttr(1.0));
          Value g = mul(a[0], clipScale);
          Value m2 = add(mul(beta1, a[2]), mul(sub(oneValue, beta1), g));
          Value v2 =
              add(mul(beta2, a[3]), mul(sub(oneValue, beta2), mul(g, g)));
          Value mHat = div(m2, correction1);
          Value vHat = div(v2, correction2);
          Value denominator =
              add(math::SqrtOp::create(nb, l, vHat).getResult(), eps);
          // p * (1 - lr * decay) - lr * mHat / denominator.
          Value decayed = mul(a[1], sub(oneValue, mul(lr, paramDecay)));
          Value p2 = sub(decayed, mul(lr, div(mHat, denominator)));
          linalg::YieldOp::create(nb, l, ValueRange{p2, m2, v2});
        });
    newParams.push_back(update.getResult(0));
    newM.push_back(update.getResult(1));
    newV.push_back(update.getResult(2));
  }

  SmallVector<Value> results = {
      loss, tensor::FromElementsOp::create(b, loc, scalar, ValueRange{norm})};
  results.append(newParams);
  results.append(newM);
  results.append(newV);
  func::ReturnOp::create(b, loc, results);

  // Results 2.. update their arguments in place; name the two scalars.
  step.setResultAttr(0, LLMDialect::kNameAttrName, b.getStringAttr("loss"));
  step.setResultAttr(1, LLMDialect::kNameAttrName,
                     b.getStringAttr("grad_norm"));
  unsigned r = 2;
  for (unsigned i : params)
    step.setResultAttr(r++, kInPlaceAttrName,
                       forward.getArgAttr(i, LLMDialect::kParamAttrName));
  for (unsigned a = firstMoment; a < optimizerIndex; ++a)
    step.setResultAttr(r++, kInPlaceAttrName,
                       step.getArgAttr(a, LLMDialect::kInputAttrName));
  return step;
}

/// Builds train_step and eval_step (and distill_step with \p distill) next
/// to \p forward.
static LogicalResult buildTrainStep(func::FuncOp forward, bool distill) {
  FailureOr<ForwardHeads> heads = headsOf(forward);
  if (failed(heads))
    return failure();
  if (distill && heads->nextSentence)
    return forward.emitError("llm-build-train-step: distillation takes a "
                             "model with one head; '")
           << forward.getName() << "' also returns next_sentence_logits";
  LossFunction eval = buildLossFunction(forward, forward, *heads,
                                        StepLoss::CrossEntropy, "eval_step");
  FailureOr<func::FuncOp> trainStep =
      buildUpdateStep(forward, eval.func, "train_step");
  if (failed(trainStep))
    return failure();
  if (distill) {
    func::FuncOp distillLoss =
        buildLossFunction(forward, *trainStep, *heads, StepLoss::Distillation,
                          "distill_loss")
            .func;
    if (failed(buildUpdateStep(forward, distillLoss, "distill_step")))
      return failure();
    distillLoss.erase();
  }

  // eval_step(forward's args, labels[, next_sentence_labels]) -> (loss[,
  // next_sentence_loss], logits[, next_sentence_logits]): the loss function
  // itself, public, with the parameters unpacked as train_step has them,
  // also returning the logits (a classifier's accuracy needs them) and,
  // with a next-sentence head, that head's own loss and logits.
  OpBuilder b(forward.getContext());
  auto lossReturn = cast<func::ReturnOp>(eval.func.front().getTerminator());
  SmallVector<Value> results = {lossReturn.getOperand(0)};
  SmallVector<StringRef> names = {"loss"};
  if (heads->nextSentence) {
    results.push_back(eval.nextSentenceLoss);
    names.push_back("next_sentence_loss");
  }
  results.push_back(eval.logits);
  names.push_back("logits");
  if (heads->nextSentence) {
    results.push_back(eval.nextSentenceLogits);
    names.push_back(kNextSentenceLogits);
  }
  lossReturn->setOperands(results);
  eval.func.setType(b.getFunctionType(eval.func.getArgumentTypes(),
                                      ValueRange(results).getTypes()));
  eval.func.setPublic();
  for (auto [index, name] : llvm::enumerate(names))
    eval.func.setResultAttr(index, LLMDialect::kNameAttrName,
                            b.getStringAttr(name));
  eval.func->setAttr("llm.unpacked_params", b.getUnitAttr());
  return success();
}

namespace {
struct LLMBuildTrainStepPass
    : mlir::llm::impl::LLMBuildTrainStepBase<LLMBuildTrainStepPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>(forwardName);
    if (!forward || forward.isExternal()) {
      module.emitError() << "llm-build-train-step: no function '" << forwardName
                         << "'";
      return signalPassFailure();
    }
    for (StringRef name : {"train_step", "eval_step", "distill_step"})
      if (module.lookupSymbol(name)) {
        module.emitError() << "llm-build-train-step: '" << name
                           << "' exists already";
        return signalPassFailure();
      }
    if (failed(buildTrainStep(forward, distill)))
      signalPassFailure();
  }
};
} // namespace
