//===- Autodiff.cpp - reverse-mode gradient functions -------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// llm-autodiff: for a function f(args) -> results, builds
// f_vjp(args, result grads) -> (results, arg grads): the forward cloned,
// then its ops in reverse, each asked through GradientOpInterface for the
// gradients of its operands, summed over uses.
//
//===----------------------------------------------------------------------===//

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMGradientInterface.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "Autodiff.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMAUTODIFF
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

/// True for a ranked tensor of floats (the values gradients flow through).
static bool isFloatTensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && isa<FloatType>(tensor.getElementType());
}

/// Zeros shaped like \p like.
static Value zerosLike(OpBuilder &b, Location loc, Value like) {
  auto type = cast<RankedTensorType>(like.getType());
  Value zero = arith::ConstantOp::create(
      b, loc, type.getElementType(),
      b.getFloatAttr(type.getElementType(), 0.0));
  Value empty = tensor::EmptyOp::create(
      b, loc, tensor::getMixedSizes(b, loc, like), type.getElementType());
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// Where \p grad is a loop marked `llm.accumulates` (it adds contributions
/// into zeros), starts it from \p sum instead: the loop then computes sum +
/// grad, without a table of zeros or a separate add. \p sum dominates the
/// loop, which was built after it.
static LogicalResult startAccumulationAt(Value grad, Value sum) {
  auto loop = grad.getDefiningOp<scf::ForOp>();
  if (!loop || !loop->hasAttr(LLMDialect::kAccumulatesAttrName) ||
      loop.getNumResults() != 1 || !grad.use_empty() ||
      loop.getInitArgs()[0].getType() != sum.getType())
    return failure();
  OpOperand &start = loop.getInitArgsMutable()[0];
  Value zeros = start.get();
  start.set(sum);
  loop->removeAttr(LLMDialect::kAccumulatesAttrName);
  if (auto fill = zeros.getDefiningOp<linalg::FillOp>();
      fill && fill->use_empty()) {
    Value empty = fill.getDpsInits()[0];
    fill.erase();
    if (Operation *def = empty.getDefiningOp(); def && def->use_empty())
      def->erase();
  }
  return success();
}

FailureOr<func::FuncOp> mlir::llm::buildVJP(func::FuncOp forward) {
  MLIRContext *ctx = forward.getContext();
  Location loc = forward.getLoc();
  if (!forward.getBody().hasOneBlock())
    return forward.emitError("llm-autodiff: '")
           << forward.getName() << "' must have one block";
  for (Type type : forward.getResultTypes())
    if (!isFloatTensor(type))
      return forward.emitError("llm-autodiff: '")
             << forward.getName()
             << "' must return floating-point tensors, got " << type;

  // Signature: args, then a gradient per result; results, then a gradient
  // per float argument.
  SmallVector<Type> argTypes(forward.getArgumentTypes());
  argTypes.append(forward.getResultTypes().begin(),
                  forward.getResultTypes().end());
  SmallVector<Type> resultTypes(forward.getResultTypes());
  SmallVector<unsigned> differentiable;
  for (auto [i, type] : llvm::enumerate(forward.getArgumentTypes()))
    if (isFloatTensor(type)) {
      differentiable.push_back(i);
      resultTypes.push_back(type);
    }

  OpBuilder b(ctx);
  b.setInsertionPointAfter(forward);
  std::string name = (forward.getName() + "_vjp").str();
  if (SymbolTable::lookupNearestSymbolFrom(forward, b.getStringAttr(name)))
    return forward.emitError("llm-autodiff: a symbol named '")
           << name << "' exists already";
  auto vjp = func::FuncOp::create(b, loc, name,
                                  b.getFunctionType(argTypes, resultTypes));
  // Argument attributes carry over (params keep their names); the seeds
  // are inputs named after the result they differentiate.
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i)
    vjp.setArgAttrs(i, forward.getArgAttrDict(i));
  for (unsigned i = 0, e = forward.getNumResults(); i < e; ++i)
    vjp.setArgAttr(forward.getNumArguments() + i, LLMDialect::kInputAttrName,
                   b.getStringAttr("grad_result_" + Twine(i)));
  Block *body = vjp.addEntryBlock();
  b.setInsertionPointToStart(body);

  // The forward, cloned.
  IRMapping mapping;
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i)
    mapping.map(forward.getArgument(i), body->getArgument(i));
  auto ret = cast<func::ReturnOp>(forward.front().getTerminator());
  SmallVector<Operation *> ops;
  for (Operation &op : forward.front().without_terminator())
    ops.push_back(b.clone(op, mapping));
  SmallVector<Value> results;
  for (Value value : ret.getOperands())
    results.push_back(mapping.lookup(value));

  // Gradients, accumulated per value.
  DenseMap<Value, Value> grads;
  auto accumulate = [&](Value value, Value grad) {
    if (!grad)
      return;
    if (grad.getType() != value.getType())
      grad = tensor::CastOp::create(b, loc, value.getType(), grad);
    Value &slot = grads[value];
    if (slot && succeeded(startAccumulationAt(grad, slot))) {
      slot = grad;
      return;
    }
    slot = slot ? arith::AddFOp::create(b, loc, slot, grad).getResult() : grad;
  };
  for (auto [i, value] : llvm::enumerate(results))
    accumulate(value, body->getArgument(forward.getNumArguments() + i));

  for (Operation *op : llvm::reverse(ops)) {
    SmallVector<Value> resultGrads;
    bool any = false;
    for (Value result : op->getResults()) {
      Value grad = grads.lookup(result);
      resultGrads.push_back(grad);
      any |= static_cast<bool>(grad);
    }
    if (!any)
      continue;
    // Nothing flows back through ops without float tensor operands.
    if (llvm::none_of(op->getOperandTypes(), isFloatTensor))
      continue;
    auto gradient = dyn_cast<GradientOpInterface>(op);
    if (!gradient)
      return op->emitOpError("is on the gradient path of '")
             << forward.getName() << "' but has no gradient";
    SmallVector<Value> operandGrads;
    if (failed(gradient.buildGradients(b, resultGrads, operandGrads)))
      return failure();
    for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads))
      if (isFloatTensor(operand.getType()))
        accumulate(operand, grad);
  }

  SmallVector<Value> returned = results;
  for (unsigned index : differentiable) {
    Value arg = body->getArgument(index);
    Value grad = grads.lookup(arg);
    returned.push_back(grad ? grad : zerosLike(b, loc, arg));
  }
  func::ReturnOp::create(b, loc, returned);
  vjp.walk([](scf::ForOp loop) {
    loop->removeAttr(LLMDialect::kAccumulatesAttrName);
  });
  return vjp;
}

namespace {
struct LLMAutodiffPass
    : mlir::llm::impl::LLMAutodiffBase<LLMAutodiffPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> targets;
    if (functions.empty()) {
      for (auto func : module.getOps<func::FuncOp>())
        if (func.isPublic() && !func.isExternal() &&
            func.getNumResults() > 0 && !func.getName().ends_with("_vjp"))
          targets.push_back(func);
    } else {
      for (const std::string &name : functions) {
        auto func = module.lookupSymbol<func::FuncOp>(name);
        if (!func || func.isExternal()) {
          module.emitError() << "llm-autodiff: no function '" << name
                             << "' with a body";
          return signalPassFailure();
        }
        targets.push_back(func);
      }
    }
    for (func::FuncOp func : targets)
      if (failed(buildVJP(func)))
        return signalPassFailure();
  }
};
} // namespace
