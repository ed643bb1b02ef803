//===- BERT.cpp - BERT (masked LM) from a Hugging Face folder ---*- C++ -*-===//
//
// BertForMaskedLM: word + token-type + learned position embeddings and a
// LayerNorm, post-LN encoder layers with bidirectional attention under a
// padding mask, an exact-GELU FFN, and the MLM head (dense, activation,
// LayerNorm, a decoder tied to the word embeddings, plus
// cls.predictions.bias). The padding mask is taken as Hugging Face takes it,
// `[batch, seq]` i64 with 1 for tokens and 0 for padding, and turned into
// HF's additive mask `(1 - mask) * finfo(f32).min`, broadcast over heads and
// queries as `[batch, 1, 1, seq]`. Accepts the un-prefixed names of a bare
// BertModel, legacy LayerNorm gamma/beta names and the decoder's copy of the
// output bias; skips the position_ids buffer.
//
// BertForSequenceClassification replaces the MLM head with the pooler
// (dense + tanh) and a `classifier` linear over num_labels classes. HF pools
// the first token ([CLS]) only; here the pooler and classifier run at every
// position (the logits stay [batch, seq, num_labels], like the decoders'
// classifiers) and the module says the answer is at the first token
// (llm.classify_token = "first").
//
// BertForPreTraining keeps the MLM head and adds next-sentence prediction:
// the pooler over [CLS] only (`[batch, 1, hidden]`), then
// `cls.seq_relationship`, returned as a second result
// `next_sentence_logits` `[batch, 1, 2]` (class 0: sentence B follows A).
//
//===----------------------------------------------------------------------===//

#include "HFImporter.h"

#include "llm/Dialect/LLM/IR/LLMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::hf;

static constexpr StringLiteral kTokenTypeTable =
    "bert.embeddings.token_type_embeddings.weight";

namespace {
/// The activations transformers' BERT takes for `hidden_act`.
enum class BertActivation { GELU, GELUTanh, ReLU };

class BERTImporter final : public FamilyImporter {
public:
  HFModelFamily getFamily() const override { return HFModelFamily::BERT; }
  LogicalResult readConfig(const HFConfig &config) override;
  int64_t getVocabSize() const override { return vocabSize; }
  StringRef getMaxPositionsKey() const override {
    return "max_position_embeddings";
  }
  int64_t getMaxPositions() const override { return maxPositions; }
  StringRef getNumLayersKey() const override { return "num_hidden_layers"; }
  int64_t getNumLayers() const override { return numLayers; }
  bool hasLearnedPositions() const override { return true; }
  SmallVector<ParamSpec> getParamSpecs() const override;
  std::optional<std::string>
  mapTensorName(StringRef name,
                function_ref<bool(StringRef)> inCheckpoint) const override;
  bool takesAttentionMask() const override { return true; }
  int64_t getNumLabels() const override { return numLabels; }
  bool classifiesFirstToken() const override { return true; }
  int64_t
  getTypeVocabSize(function_ref<bool(StringRef)> hasParam) const override {
    return hasParam(kTokenTypeTable) ? typeVocabSize : 0;
  }
  Value buildLogits(ForwardBuilder &fb) override;

private:
  /// The additive `[batch, 1, 1, seq]` f32 mask of HF's
  /// get_extended_attention_mask.
  Value buildAdditiveMask(ForwardBuilder &fb);
  /// `hidden_act` applied on its own (the MLM transform).
  Value applyActivation(ForwardBuilder &fb, Location loc, Value x);

  int64_t vocabSize = 0, maxPositions = 0, typeVocabSize = 0, hidden = 0,
          numLayers = 0, numHeads = 0, intermediate = 0;
  int64_t numLabels = 0;
  /// BertForPreTraining: the next-sentence head besides the MLM head.
  bool nextSentence = false;
  double epsilon = 1e-12;
  BertActivation activation = BertActivation::GELU;
  bool tied = true;
};
} // namespace

LogicalResult BERTImporter::readConfig(const HFConfig &config) {
  FailureOr<int64_t> vocab = config.getSize("vocab_size");
  if (failed(vocab))
    return failure();
  FailureOr<int64_t> size = config.getSize("hidden_size");
  if (failed(size))
    return failure();
  FailureOr<int64_t> layers = config.getSize("num_hidden_layers");
  if (failed(layers))
    return failure();
  FailureOr<int64_t> heads = config.getSize("num_attention_heads");
  if (failed(heads))
    return failure();
  FailureOr<int64_t> ffn = config.getSize("intermediate_size");
  if (failed(ffn))
    return failure();
  FailureOr<int64_t> positions = config.getSize("max_position_embeddings");
  if (failed(positions))
    return failure();
  FailureOr<int64_t> types = config.getSize("type_vocab_size", 2);
  if (failed(types))
    return failure();
  FailureOr<double> eps = config.getNonNegative("layer_norm_eps", 1e-12);
  if (failed(eps))
    return failure();
  FailureOr<std::string> act = config.getString("hidden_act", "gelu");
  if (failed(act))
    return failure();
  FailureOr<std::string> positionKind =
      config.getString("position_embedding_type", "absolute");
  if (failed(positionKind))
    return failure();
  FailureOr<bool> tie = config.getBool("tie_word_embeddings", true);
  if (failed(tie))
    return failure();

  if (*size % *heads) {
    config.emitError("num_attention_heads")
        << "hidden_size (" << *size
        << ") is not divisible by num_attention_heads (" << *heads << ")";
    return failure();
  }
  std::optional<BertActivation> parsed =
      llvm::StringSwitch<std::optional<BertActivation>>(*act)
          .Case("gelu", BertActivation::GELU)
          .Cases({"gelu_new", "gelu_pytorch_tanh"}, BertActivation::GELUTanh)
          .Case("relu", BertActivation::ReLU)
          .Default(std::nullopt);
  if (!parsed) {
    config.emitError("hidden_act")
        << "unsupported hidden_act '" << *act
        << "'; expected one of gelu, gelu_new, gelu_pytorch_tanh, relu";
    return failure();
  }
  if (*positionKind != "absolute") {
    config.emitError("position_embedding_type")
        << "unsupported position_embedding_type '" << *positionKind
        << "'; only 'absolute' is supported";
    return failure();
  }
  if (config.hasArchitecture("BertForSequenceClassification")) {
    FailureOr<int64_t> labels = config.getNumLabels();
    if (failed(labels))
      return failure();
    numLabels = *labels;
  }
  nextSentence = !numLabels && config.hasArchitecture("BertForPreTraining");
  vocabSize = *vocab;
  hidden = *size;
  numLayers = *layers;
  numHeads = *heads;
  intermediate = *ffn;
  maxPositions = *positions;
  typeVocabSize = *types;
  epsilon = *eps;
  activation = *parsed;
  tied = *tie;
  return success();
}

SmallVector<ParamSpec> BERTImporter::getParamSpecs() const {
  int64_t h = hidden, f = intermediate;
  const char *vector = "[hidden_size]";
  const char *square = "[hidden_size, hidden_size]";
  SmallVector<ParamSpec> specs = {
      {"bert.embeddings.word_embeddings.weight",
       {vocabSize, h},
       "[vocab_size, hidden_size]"},
      {"bert.embeddings.position_embeddings.weight",
       {maxPositions, h},
       "[max_position_embeddings, hidden_size]"},
      {kTokenTypeTable.str(),
       {typeVocabSize, h},
       "[type_vocab_size, hidden_size]",
       /*optional=*/true},
      {"bert.embeddings.LayerNorm.weight", {h}, vector},
      {"bert.embeddings.LayerNorm.bias", {h}, vector}};
  for (int64_t i = 0; i < numLayers; ++i) {
    std::string l = layerPrefix("bert.encoder.layer.", i, ".");
    for (StringRef m : {"query", "key", "value"})
      specs.append(
          {{l + "attention.self." + m.str() + ".weight", {h, h}, square},
           {l + "attention.self." + m.str() + ".bias", {h}, vector}});
    specs.append({
        {l + "attention.output.dense.weight", {h, h}, square},
        {l + "attention.output.dense.bias", {h}, vector},
        {l + "attention.output.LayerNorm.weight", {h}, vector},
        {l + "attention.output.LayerNorm.bias", {h}, vector},
        {l + "intermediate.dense.weight",
         {f, h},
         "[intermediate_size, hidden_size]"},
        {l + "intermediate.dense.bias", {f}, "[intermediate_size]"},
        {l + "output.dense.weight", {h, f}, "[hidden_size, intermediate_size]"},
        {l + "output.dense.bias", {h}, vector},
        {l + "output.LayerNorm.weight", {h}, vector},
        {l + "output.LayerNorm.bias", {h}, vector},
    });
  }
  if (numLabels || nextSentence)
    specs.append({{"bert.pooler.dense.weight", {h, h}, square},
                  {"bert.pooler.dense.bias", {h}, vector}});
  if (numLabels) {
    specs.append({
        {"classifier.weight", {numLabels, h}, "[num_labels, hidden_size]"},
        {"classifier.bias", {numLabels}, "[num_labels]"},
    });
    return specs;
  }
  specs.append({
      {"cls.predictions.bias", {vocabSize}, "[vocab_size]"},
      {"cls.predictions.transform.dense.weight", {h, h}, square},
      {"cls.predictions.transform.dense.bias", {h}, vector},
      {"cls.predictions.transform.LayerNorm.weight", {h}, vector},
      {"cls.predictions.transform.LayerNorm.bias", {h}, vector},
  });
  if (!tied)
    specs.push_back({"cls.predictions.decoder.weight",
                     {vocabSize, h},
                     "[vocab_size, hidden_size]"});
  if (nextSentence)
    specs.append({{"cls.seq_relationship.weight", {2, h}, "[2, hidden_size]"},
                  {"cls.seq_relationship.bias", {2}, "[2]"}});
  return specs;
}

std::optional<std::string>
BERTImporter::mapTensorName(StringRef name,
                            function_ref<bool(StringRef)> inCheckpoint) const {
  std::string canonical = name.str();
  // A bare BertModel saves its trunk without the "bert." prefix.
  if (name.starts_with("embeddings.") || name.starts_with("encoder.") ||
      name.starts_with("pooler."))
    canonical = "bert." + canonical;
  if (canonical == "bert.embeddings.position_ids")
    return std::nullopt;
  // TensorFlow-era checkpoints call the LayerNorm parameters gamma and beta.
  StringRef ref = canonical;
  if (ref.consume_back(".LayerNorm.gamma"))
    canonical = (ref + ".LayerNorm.weight").str();
  else if (ref.consume_back(".LayerNorm.beta"))
    canonical = (ref + ".LayerNorm.bias").str();
  // The decoder's bias is the same Parameter as cls.predictions.bias; a
  // checkpoint may hold either or both.
  if (canonical == "cls.predictions.decoder.bias") {
    if (inCheckpoint("cls.predictions.bias"))
      return std::nullopt;
    return std::string("cls.predictions.bias");
  }
  // A tied decoder duplicates the word embeddings; HF ignores the copy.
  if (tied && canonical == "cls.predictions.decoder.weight")
    return std::nullopt;
  return canonical;
}

Value BERTImporter::buildAdditiveMask(ForwardBuilder &fb) {
  OpBuilder &b = fb.getBuilder();
  Location loc = fb.loc("bert.extended_attention_mask");
  Value mask = fb.getAttentionMask();
  auto maskType = cast<RankedTensorType>(mask.getType());
  // HF: (1.0 - mask.to(f32)) * torch.finfo(f32).min.
  Value asFloat =
      arith::SIToFPOp::create(b, loc, maskType.clone(b.getF32Type()), mask);
  SmallVector<OpFoldResult> sizes = {fb.getBatchSize(), fb.getSeqLen()};
  Value ones = fb.splat(loc, sizes, 1.0);
  Value lowest = fb.splat(loc, sizes, -std::numeric_limits<float>::max());
  Value inverted = arith::SubFOp::create(b, loc, ones, asFloat);
  Value additive = arith::MulFOp::create(b, loc, inverted, lowest);
  // [batch, seq] -> [batch, 1, 1, seq], broadcast over heads and queries.
  SmallVector<int64_t> shape = {maskType.getDimSize(0), 1, 1,
                                maskType.getDimSize(1)};
  SmallVector<OpFoldResult> outputShape = {sizes[0], b.getIndexAttr(1),
                                           b.getIndexAttr(1), sizes[1]};
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, b.getF32Type()), additive,
      ArrayRef<ReassociationIndices>{{0, 1, 2}, {3}}, outputShape);
}

Value BERTImporter::applyActivation(ForwardBuilder &fb, Location loc, Value x) {
  OpBuilder &b = fb.getBuilder();
  switch (activation) {
  case BertActivation::GELU:
    return GeluOp::create(b, loc, x, GeluApproximation::None);
  case BertActivation::GELUTanh:
    return GeluOp::create(b, loc, x, GeluApproximation::Tanh);
  case BertActivation::ReLU:
    return arith::MaximumFOp::create(
        b, loc, x,
        fb.splat(loc,
                 {fb.getBatchSize(), fb.getSeqLen(), b.getIndexAttr(hidden)},
                 0.0));
  }
  return x;
}

Value BERTImporter::buildLogits(ForwardBuilder &fb) {
  OpBuilder &b = fb.getBuilder();
  FloatAttr eps = b.getF64FloatAttr(epsilon);
  Activation ffnActivation =
      activation == BertActivation::GELU       ? Activation::GELU
      : activation == BertActivation::GELUTanh ? Activation::GELUTanh
                                               : Activation::ReLU;

  // Embeddings, summed in HF's order: words + token types + positions.
  Location embLoc = fb.loc("bert.embeddings");
  Value words = fb.param("bert.embeddings.word_embeddings.weight");
  Value e = EmbeddingOp::create(b, fb.loc("bert.embeddings.word_embeddings"),
                                words, fb.getInputIds());
  if (Value tokenTypes = fb.getTokenTypeIds()) {
    Value t =
        EmbeddingOp::create(b, fb.loc("bert.embeddings.token_type_embeddings"),
                            fb.param(kTokenTypeTable), tokenTypes);
    e = arith::AddFOp::create(b, embLoc, e, t);
  }
  e = PositionalEncodingOp::create(
      b, fb.loc("bert.embeddings.position_embeddings"),
      PositionalEncodingKind::Learned, e,
      fb.param("bert.embeddings.position_embeddings.weight"),
      /*positions=*/Value());
  Value x =
      LayerNormOp::create(b, fb.loc("bert.embeddings.LayerNorm"), e,
                          fb.param("bert.embeddings.LayerNorm.weight"),
                          fb.param("bert.embeddings.LayerNorm.bias"), eps);
  Value mask = buildAdditiveMask(fb);

  for (int64_t i = 0; i < numLayers; ++i) {
    std::string l = layerPrefix("bert.encoder.layer.", i, ".");
    std::string self = l + "attention.self.";
    auto project = [&](StringRef m) -> Value {
      return LinearOp::create(b, fb.loc(self + m), x,
                              fb.param(self + m.str() + ".weight"),
                              fb.param(self + m.str() + ".bias"));
    };
    Value q = project("query"), k = project("key"), v = project("value");
    Value ctx = AttentionOp::create(b, fb.loc(l + "attention"), q, k, v,
                                    numHeads, /*numKVHeads=*/0,
                                    /*causal=*/false, mask)
                    .getResult();
    std::string out = l + "attention.output.";
    Value a = LinearOp::create(b, fb.loc(out + "dense"), ctx,
                               fb.param(out + "dense.weight"),
                               fb.param(out + "dense.bias"));
    Value sum = arith::AddFOp::create(b, fb.loc(out + "dense"), a, x);
    x = LayerNormOp::create(b, fb.loc(out + "LayerNorm"), sum,
                            fb.param(out + "LayerNorm.weight"),
                            fb.param(out + "LayerNorm.bias"), eps);
    Value f = FFNOp::create(b, fb.loc(l + "intermediate"), ffnActivation, x,
                            fb.param(l + "intermediate.dense.weight"),
                            fb.param(l + "intermediate.dense.bias"),
                            /*gate_weight=*/Value(), /*gate_bias=*/Value(),
                            fb.param(l + "output.dense.weight"),
                            fb.param(l + "output.dense.bias"));
    Value sum2 = arith::AddFOp::create(b, fb.loc(l + "output.dense"), f, x);
    x = LayerNormOp::create(b, fb.loc(l + "output.LayerNorm"), sum2,
                            fb.param(l + "output.LayerNorm.weight"),
                            fb.param(l + "output.LayerNorm.bias"), eps);
  }

  // BertPooler: dense + tanh.
  auto pool = [&](Value hidden) -> Value {
    Value pooled = LinearOp::create(b, fb.loc("bert.pooler.dense"), hidden,
                                    fb.param("bert.pooler.dense.weight"),
                                    fb.param("bert.pooler.dense.bias"));
    return math::TanhOp::create(b, fb.loc("bert.pooler.activation"), pooled);
  };
  // A classifier: the pooler and the classifier at every position (the
  // runtime reads the first).
  if (numLabels)
    return LinearOp::create(b, fb.loc("classifier"), pool(x),
                            fb.param("classifier.weight"),
                            fb.param("classifier.bias"));
  // Next-sentence prediction reads the pooled [CLS] only: [batch, 1, 2].
  if (nextSentence) {
    Location clsLoc = fb.loc("bert.pooler");
    SmallVector<OpFoldResult> offsets(3, b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes = {fb.getBatchSize(), b.getIndexAttr(1),
                                       b.getIndexAttr(hidden)};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    Value cls =
        tensor::ExtractSliceOp::create(b, clsLoc, x, offsets, sizes, strides);
    fb.addResult("next_sentence_logits",
                 LinearOp::create(b, fb.loc("cls.seq_relationship"), pool(cls),
                                  fb.param("cls.seq_relationship.weight"),
                                  fb.param("cls.seq_relationship.bias")));
  }

  // The MLM head.
  StringRef transform = "cls.predictions.transform.";
  Value t = LinearOp::create(b, fb.loc(transform + "dense"), x,
                             fb.param(transform.str() + "dense.weight"),
                             fb.param(transform.str() + "dense.bias"));
  t = applyActivation(fb, fb.loc(transform + "transform_act_fn"), t);
  t = LayerNormOp::create(b, fb.loc(transform + "LayerNorm"), t,
                          fb.param(transform.str() + "LayerNorm.weight"),
                          fb.param(transform.str() + "LayerNorm.bias"), eps);
  Value decoder = tied ? words : fb.param("cls.predictions.decoder.weight");
  return LinearOp::create(b, fb.loc("cls.predictions.decoder"), t, decoder,
                          fb.param("cls.predictions.bias"));
}

std::unique_ptr<FamilyImporter> mlir::llm::hf::createBERTImporter() {
  return std::make_unique<BERTImporter>();
}
