//===- DeriveGeneration.cpp - KV-cache prefill/decode from forward -*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// llm-derive-generation clones a decoder's forward function into the two
// entry points text generation calls, `prefill` and `decode`, which read and
// write a KV cache per attention layer; llm-drop-in-place-results makes sure,
// after bufferization, that those caches are updated in the caller's buffers.
//
//===----------------------------------------------------------------------===//

#include "RaiseMatch.h"
#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Dialect/LLM/IR/LLMOps.h"
#include "llm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/CallInterfaces.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMDERIVEGENERATION
#define GEN_PASS_DEF_LLMDROPINPLACERESULTS
#include "llm/Transforms/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

/// The result attribute naming the argument a result updates in place.
static constexpr StringLiteral kInPlaceAttrName = "llm.in_place";

namespace {
/// What the derived functions need to know about the forward function.
struct DecoderInfo {
  func::FuncOp forward;
  /// The index of the token ids argument.
  unsigned tokensIndex = 0;
  /// The attention ops, in order; each gets one key and one value cache.
  SmallVector<AttentionOp> attentions;
  /// The op computing the logits from the final hidden state
  /// (`linear(norm(x))`), when the gather can go before the norm.
  LinearOp head;
  Operation *finalNorm = nullptr;
  /// Position ids the graph builds from the sequence length (torch exports:
  /// `Range(0, seq)` broadcast over the batch); the derived functions read
  /// the absolute positions instead.
  SmallVector<Value> positionIds;
};
} // namespace

/// Checks that \p forward is a decoder the derivation understands; returns
/// a message saying why not otherwise.
static FailureOr<DecoderInfo> analyzeDecoder(func::FuncOp forward,
                                             std::string &why) {
  DecoderInfo info;
  info.forward = forward;
  if (auto module = forward->getParentOfType<ModuleOp>();
      module && module->hasAttr(LLMDialect::kNumLabelsAttrName)) {
    why = "it is a sequence classifier (its logits are classes, not "
          "tokens)";
    return failure();
  }
  std::optional<unsigned> tokens;
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i) {
    if (forward.getArgAttr(i, LLMDialect::kParamAttrName))
      continue;
    auto name = forward.getArgAttrOfType<StringAttr>(
        i, LLMDialect::kInputAttrName);
    auto type = dyn_cast<RankedTensorType>(forward.getArgument(i).getType());
    bool isIds = type && type.getRank() == 2 &&
                 isa<IntegerType>(type.getElementType()) &&
                 (!name || name.getValue() == "input_ids");
    if (!isIds || tokens) {
      why = "input #" + std::to_string(i) +
            (name ? " ('" + name.getValue().str() + "')" : std::string()) +
            " is not the only token-id input; generation entry points take "
            "token ids [batch, seq] and nothing else";
      return failure();
    }
    tokens = i;
  }
  if (!tokens) {
    why = "it has no token-id input [batch, seq]";
    return failure();
  }
  info.tokensIndex = *tokens;
  if (forward.getNumResults() != 1) {
    why = "it returns " + std::to_string(forward.getNumResults()) +
          " values; a decoder returns its logits [batch, seq, vocab]";
    return failure();
  }
  auto logitsType = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]);
  if (!logitsType || logitsType.getRank() != 3) {
    why = "its result is not logits [batch, seq, vocab]";
    return failure();
  }

  Value ids = forward.getArgument(*tokens);
  // Position ids built in the graph, and the iota generics computing them
  // (their linalg.index is the sequence position, which gets replaced).
  llvm::SmallPtrSet<Operation *, 4> iotas;
  forward.walk([&](linalg::GenericOp op) {
    if (op.getNumResults() != 1 || !raise::matchPositionIds(op.getResult(0), ids))
      return;
    info.positionIds.push_back(op.getResult(0));
    auto expand = op.getDpsInputs()[0].getDefiningOp<tensor::ExpandShapeOp>();
    iotas.insert(expand.getSrc().getDefiningOp());
  });
  auto isPositionIds = [&](Value value) {
    return llvm::is_contained(info.positionIds, raise::skipNegativeWrap(value));
  };
  WalkResult walk = forward.walk([&](Operation *op) {
    if (auto attention = dyn_cast<AttentionOp>(op)) {
      if (!attention.getCausal() || attention.getMask() ||
          attention.hasKVCache()) {
        why = "an attention is not plain causal self-attention (it is "
              "bidirectional, masked, or already cached)";
        return WalkResult::interrupt();
      }
      info.attentions.push_back(attention);
    } else if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
      if (embedding.getIds() != ids && !isPositionIds(embedding.getIds())) {
        why = "it looks up a table with ids it computes (positions computed "
              "in the graph cannot be offset by the cache position)";
        return WalkResult::interrupt();
      }
    } else if (auto encoding = dyn_cast<PositionalEncodingOp>(op)) {
      if (encoding.getPositions()) {
        why = "a positional encoding has explicit positions";
        return WalkResult::interrupt();
      }
    } else if (auto rope = dyn_cast<RopeOp>(op)) {
      if (rope.getPositions()) {
        why = "a rotary embedding has explicit positions";
        return WalkResult::interrupt();
      }
    } else if (isa<linalg::IndexOp>(op) && !iotas.contains(op->getParentOp())) {
      // Values computed from loop indices (RoPE tables, masks or position
      // ids built in the graph) would restart at 0 every step.
      why = "it computes values from positions in the graph (e.g. RoPE or "
            "a mask that was not raised to llm ops)";
      return WalkResult::interrupt();
    } else if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
      // So would a precomputed table sliced to the sequence length.
      Value source = slice.getSource();
      if (!slice.getSizes().empty() &&
          (isa<BlockArgument>(source) ||
           source.getDefiningOp<arith::ConstantOp>())) {
        why = "it slices a constant or parameter to a dynamic length (a "
              "precomputed position table)";
        return WalkResult::interrupt();
      }
    } else if (isa<CallOpInterface>(op)) {
      why = "it calls other functions";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (info.attentions.empty()) {
    why = "it has no attention";
    return failure();
  }

  // The LM head over the final norm: gather rows before both.
  auto ret = cast<func::ReturnOp>(forward.front().getTerminator());
  if (auto head = ret.getOperand(0).getDefiningOp<LinearOp>()) {
    Operation *norm = head.getInput().getDefiningOp();
    if (norm && isa<LayerNormOp, RMSNormOp>(norm) && norm->hasOneUse() &&
        head->hasOneUse()) {
      info.head = head;
      info.finalNorm = norm;
    }
  }
  return info;
}

/// The capacity of the caches: the option, else the module's sequence
/// bound, else the rows of the learned position table.
static int64_t getCapacity(ModuleOp module, DecoderInfo info,
                           int64_t option) {
  if (option > 0)
    return option;
  if (auto bound = module->getAttrOfType<IntegerAttr>("llm.max_positions"))
    return bound.getInt();
  int64_t rows = 0;
  info.forward.walk([&](PositionalEncodingOp op) {
    if (Value table = op.getTable())
      rows = cast<RankedTensorType>(table.getType()).getDimSize(0);
  });
  return rows;
}

/// `positions[b, s] = start[b] + s` for ids [B, S].
static Value buildPositions(OpBuilder &b, Location loc, Value ids,
                            Value start) {
  auto idsType = cast<RankedTensorType>(ids.getType());
  auto i64 = b.getI64Type();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, ids);
  Value init = tensor::EmptyOp::create(b, loc, sizes, i64);
  MLIRContext *ctx = b.getContext();
  AffineMap rows = AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
  AffineMap all = AffineMap::getMultiDimIdentityMap(2, ctx);
  auto generic = linalg::GenericOp::create(
      b, loc, RankedTensorType::get(idsType.getShape(), i64), start, init,
      ArrayRef<AffineMap>{rows, all},
      ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                    utils::IteratorType::parallel},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value s = linalg::IndexOp::create(nb, nloc, 1);
        Value offset = arith::IndexCastOp::create(nb, nloc, i64, s);
        Value sum = arith::AddIOp::create(nb, nloc, args[0], offset);
        linalg::YieldOp::create(nb, nloc, sum);
      });
  return generic.getResult(0);
}

/// `out[b, 0, :] = x[b, clamp(lengths[b] - 1, 0, S - 1), :]` for x
/// [B, S, F].
static Value gatherLastRows(OpBuilder &b, Location loc, Value x,
                            Value lengths) {
  auto type = cast<RankedTensorType>(x.getType());
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value batch = tensor::DimOp::create(b, loc, x, c0);
  Value seq = tensor::DimOp::create(b, loc, x, c1);
  Value last = arith::SubIOp::create(b, loc, seq, c1);
  SmallVector<OpFoldResult> sizes = {batch, b.getIndexAttr(1)};
  sizes.push_back(tensor::getMixedSize(b, loc, x, 2));
  Value init = tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
  MLIRContext *ctx = b.getContext();
  AffineMap rows = AffineMap::get(3, 0, {getAffineDimExpr(0, ctx)}, ctx);
  AffineMap all = AffineMap::getMultiDimIdentityMap(3, ctx);
  auto resultType = RankedTensorType::get(
      {type.getDimSize(0), 1, type.getDimSize(2)}, type.getElementType());
  auto generic = linalg::GenericOp::create(
      b, loc, resultType, lengths, init, ArrayRef<AffineMap>{rows, all},
      SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value length = arith::IndexCastOp::create(nb, nloc,
                                                  nb.getIndexType(), args[0]);
        Value row = arith::SubIOp::create(nb, nloc, length, c1);
        row = arith::MaxSIOp::create(nb, nloc, row, c0);
        row = arith::MinSIOp::create(nb, nloc, row, last);
        Value bIndex = linalg::IndexOp::create(nb, nloc, 0);
        Value fIndex = linalg::IndexOp::create(nb, nloc, 2);
        Value value = tensor::ExtractOp::create(nb, nloc, x,
                                                ValueRange{bIndex, row, fIndex});
        linalg::YieldOp::create(nb, nloc, value);
      });
  return generic.getResult(0);
}

/// [B, 1, V] (statically or dynamically one row) -> [B, V].
static Value dropRowDim(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getDimSize(1) != 1) {
    auto oneRow = RankedTensorType::get(
        {type.getDimSize(0), 1, type.getDimSize(2)}, type.getElementType());
    x = tensor::CastOp::create(b, loc, oneRow, x);
  }
  return tensor::CollapseShapeOp::create(
      b, loc, x, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
}

/// Clones \p op with \p mapping and re-infers its result types from the new
/// operands (the final norm and LM head on gathered rows).
static FailureOr<Operation *> cloneRetyped(OpBuilder &b, Operation &op,
                                           IRMapping &mapping) {
  Operation *clone = b.clone(op, mapping);
  auto infer = dyn_cast<InferTypeOpInterface>(clone);
  if (!infer)
    return failure();
  SmallVector<Type> types;
  if (failed(infer.inferReturnTypes(
          clone->getContext(), clone->getLoc(), clone->getOperands(),
          clone->getRawDictionaryAttrs(), clone->getPropertiesStorage(),
          clone->getRegions(), types)))
    return failure();
  for (auto [result, type] : llvm::zip_equal(clone->getResults(), types))
    result.setType(type);
  return clone;
}

/// Builds `prefill` (\p decode false) or `decode` next to the forward.
static FailureOr<func::FuncOp> deriveEntryPoint(DecoderInfo info,
                                                StringRef name, bool decode,
                                                int64_t capacity) {
  func::FuncOp forward = info.forward;
  MLIRContext *ctx = forward.getContext();
  Location loc = forward.getLoc();
  OpBuilder b(ctx);
  auto idsType =
      cast<RankedTensorType>(forward.getArgument(info.tokensIndex).getType());
  int64_t batch = idsType.getDimSize(0);
  auto i64Vector = RankedTensorType::get({batch}, b.getI64Type());
  auto nameAttr = [&](StringRef inputName) {
    return b.getDictionaryAttr(b.getNamedAttr(LLMDialect::kInputAttrName,
                                              b.getStringAttr(inputName)));
  };

  // Signature: ids, cache_position, [lengths], the forward's params in
  // order, then a key and a value cache per attention.
  SmallVector<Type> argTypes;
  SmallVector<DictionaryAttr> argAttrs;
  auto newIdsType = decode ? RankedTensorType::get({batch, 1},
                                                   idsType.getElementType())
                           : idsType;
  argTypes.append({newIdsType, i64Vector});
  argAttrs.append({nameAttr("input_ids"), nameAttr("cache_position")});
  if (!decode) {
    argTypes.push_back(i64Vector);
    argAttrs.push_back(nameAttr("lengths"));
  }
  unsigned firstParam = argTypes.size();
  SmallVector<unsigned> paramIndices;
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i) {
    if (i == info.tokensIndex)
      continue;
    paramIndices.push_back(i);
    argTypes.push_back(forward.getArgument(i).getType());
    argAttrs.push_back(forward.getArgAttrDict(i));
  }
  unsigned firstCache = argTypes.size();
  for (auto [layer, attention] : llvm::enumerate(info.attentions)) {
    Type element =
        cast<RankedTensorType>(attention.getKey().getType()).getElementType();
    int64_t kvHeads = attention.getEffectiveNumKVHeads();
    argTypes.push_back(RankedTensorType::get(
        {batch, kvHeads, capacity, attention.getHeadDim()}, element));
    argAttrs.push_back(nameAttr(("cache.key." + Twine(layer)).str()));
    argTypes.push_back(RankedTensorType::get(
        {batch, kvHeads, capacity, attention.getValueHeadDim()}, element));
    argAttrs.push_back(nameAttr(("cache.value." + Twine(layer)).str()));
  }

  b.setInsertionPointAfter(forward);
  auto func = func::FuncOp::create(b, loc, name,
                                   b.getFunctionType(argTypes, {}));
  func.setAllArgAttrs(argAttrs);
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);

  IRMapping mapping;
  Value ids = body->getArgument(0);
  if (decode)
    ids = tensor::CastOp::create(b, loc, idsType, ids);
  mapping.map(forward.getArgument(info.tokensIndex), ids);
  for (auto [k, index] : llvm::enumerate(paramIndices))
    mapping.map(forward.getArgument(index), body->getArgument(firstParam + k));
  Value start = body->getArgument(1);
  Value positions = buildPositions(b, loc, ids, start);

  // Clone the body; attention ops take their cached form and position ops
  // read the absolute positions.
  SmallVector<Value> updatedCaches;
  unsigned layer = 0;
  auto ret = cast<func::ReturnOp>(forward.front().getTerminator());
  for (Operation &op : forward.front().without_terminator()) {
    if (!decode && info.head &&
        (&op == info.finalNorm || &op == info.head.getOperation()))
      continue;
    if (auto attention = dyn_cast<AttentionOp>(op)) {
      Value kCache = body->getArgument(firstCache + 2 * layer);
      Value vCache = body->getArgument(firstCache + 2 * layer + 1);
      ++layer;
      auto cached = AttentionOp::create(
          b, attention.getLoc(), mapping.lookup(attention.getQuery()),
          mapping.lookup(attention.getKey()),
          mapping.lookup(attention.getValue()), kCache, vCache, start,
          attention.getNumHeads(), attention.getEffectiveNumKVHeads(),
          /*causal=*/true);
      if (FloatAttr scale = attention.getScaleAttr())
        cached.setScaleAttr(scale);
      mapping.map(attention.getResult(), cached.getResult());
      updatedCaches.push_back(cached.getUpdatedKCache());
      updatedCaches.push_back(cached.getUpdatedVCache());
      continue;
    }
    Operation *clone = b.clone(op, mapping);
    if (auto encoding = dyn_cast<PositionalEncodingOp>(clone))
      encoding.getPositionsMutable().assign(positions);
    else if (auto rope = dyn_cast<RopeOp>(clone))
      rope.getPositionsMutable().assign(positions);
  }

  // Position ids the graph built restart at 0; use the absolute ones.
  for (Value built : info.positionIds) {
    Value cloned = mapping.lookup(built);
    Value replacement = positions;
    if (replacement.getType() != cloned.getType()) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointAfterValue(positions);
      replacement =
          tensor::CastOp::create(b, loc, cloned.getType(), positions);
    }
    cloned.replaceAllUsesWith(replacement);
  }

  // The logits of each sequence's last token.
  Value logits;
  if (decode) {
    logits = dropRowDim(b, loc, mapping.lookup(ret.getOperand(0)));
  } else if (info.head) {
    Value hidden = mapping.lookup(info.finalNorm->getOperand(0));
    Value rows = gatherLastRows(b, loc, hidden, body->getArgument(2));
    IRMapping headMapping;
    headMapping.map(info.finalNorm->getOperand(0), rows);
    for (Value operand : info.finalNorm->getOperands().drop_front())
      headMapping.map(operand, mapping.lookupOrDefault(operand));
    FailureOr<Operation *> norm = cloneRetyped(b, *info.finalNorm, headMapping);
    if (failed(norm))
      return failure();
    headMapping.map(info.head.getInput(), (*norm)->getResult(0));
    for (Value operand : info.head->getOperands().drop_front())
      headMapping.map(operand, mapping.lookupOrDefault(operand));
    FailureOr<Operation *> head = cloneRetyped(b, *info.head, headMapping);
    if (failed(head))
      return failure();
    logits = dropRowDim(b, loc, (*head)->getResult(0));
  } else {
    logits = dropRowDim(
        b, loc,
        gatherLastRows(b, loc, mapping.lookup(ret.getOperand(0)),
                       body->getArgument(2)));
  }

  SmallVector<Value> results = {logits};
  results.append(updatedCaches);
  func::ReturnOp::create(b, ret.getLoc(), results);
  func.setFunctionType(b.getFunctionType(
      argTypes, ValueRange(results).getTypes()));
  for (unsigned k = 0; k < updatedCaches.size(); ++k)
    func.setResultAttr(k + 1, kInPlaceAttrName,
                       func.getArgAttr(firstCache + k,
                                       LLMDialect::kInputAttrName));
  return func;
}

/// Looks through what bufferization leaves between a buffer and its uses in
/// place: casts, and loops that carry the buffer unchanged (the per-sequence
/// cache writes).
static Value getUnderlyingBuffer(Value value) {
  while (true) {
    if (auto cast = value.getDefiningOp<memref::CastOp>()) {
      value = cast.getSource();
      continue;
    }
    auto result = dyn_cast<OpResult>(value);
    auto loop = result ? dyn_cast<scf::ForOp>(result.getOwner()) : nullptr;
    if (!loop)
      return value;
    unsigned index = result.getResultNumber();
    Value yielded = loop.getYieldedValues()[index];
    while (auto cast = yielded.getDefiningOp<memref::CastOp>())
      yielded = cast.getSource();
    if (yielded != loop.getRegionIterArgs()[index])
      return value;
    value = loop.getInitArgs()[index];
  }
}

namespace {
struct LLMDeriveGenerationPass
    : mlir::llm::impl::LLMDeriveGenerationBase<LLMDeriveGenerationPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>(forwardName);
    if (!forward || forward.isExternal()) {
      if (ifDecoder)
        return;
      module.emitError() << "llm-derive-generation: no function '"
                         << forwardName << "' to derive from";
      return signalPassFailure();
    }
    for (StringRef name : {"prefill", "decode"})
      if (module.lookupSymbol(name)) {
        module.emitError() << "llm-derive-generation: the module already "
                              "has a symbol named '"
                           << name << "'";
        return signalPassFailure();
      }
    std::string why;
    FailureOr<DecoderInfo> info = analyzeDecoder(forward, why);
    if (failed(info)) {
      if (ifDecoder)
        return;
      forward.emitError() << "cannot derive generation entry points from '"
                          << forwardName << "': " << why;
      return signalPassFailure();
    }
    int64_t rows = getCapacity(module, *info, capacity);
    if (rows <= 0) {
      if (ifDecoder)
        return;
      forward.emitError()
          << "cannot derive generation entry points from '" << forwardName
          << "': the KV cache capacity is unknown (no sequence bound or "
             "position table); give the pass a capacity";
      return signalPassFailure();
    }
    // decode after prefill, both after forward.
    if (failed(deriveEntryPoint(*info, "decode", /*decode=*/true, rows)) ||
        failed(deriveEntryPoint(*info, "prefill", /*decode=*/false, rows)))
      return signalPassFailure();
  }
};

struct LLMDropInPlaceResultsPass
    : mlir::llm::impl::LLMDropInPlaceResultsBase<LLMDropInPlaceResultsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      BitVector drop(func.getNumResults());
      for (unsigned i = 0, e = func.getNumResults(); i < e; ++i) {
        auto target = func.getResultAttrOfType<StringAttr>(i, kInPlaceAttrName);
        if (!target)
          continue;
        // Passes may add arguments (packed weights): find it by name.
        Value arg;
        for (unsigned a = 0, n = func.getNumArguments(); a < n && !arg; ++a)
          if (func.getArgAttr(a, LLMDialect::kInputAttrName) == target)
            arg = func.getArgument(a);
        for (unsigned a = 0, n = func.getNumArguments(); a < n && !arg; ++a)
          if (func.getArgAttr(a, LLMDialect::kParamAttrName) == target &&
              !func.getArgAttr(a, LLMDialect::kPackedAttrName))
            arg = func.getArgument(a);
        if (!arg) {
          func.emitError() << "result #" << i << " of '" << func.getName()
                           << "' updates input " << target
                           << ", which the function does not have";
          return signalPassFailure();
        }
        bool inPlace = true;
        func.walk([&](func::ReturnOp ret) {
          inPlace &= getUnderlyingBuffer(ret.getOperand(i)) == arg;
        });
        if (!inPlace) {
          func.emitError() << "result #" << i << " of '" << func.getName()
                           << "' must update input " << target
                           << " in place, but bufferization gave it its own "
                              "buffer (it would be copied every call)";
          return signalPassFailure();
        }
        drop.set(i);
      }
      if (drop.none())
        continue;
      func.walk([&](func::ReturnOp ret) { ret->eraseOperands(drop); });
      if (failed(func.eraseResults(drop))) {
        func.emitError() << "cannot drop in-place results";
        return signalPassFailure();
      }
    }
  }
};
} // namespace
