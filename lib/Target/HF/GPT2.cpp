//===- GPT2.cpp - GPT-2 from a Hugging Face folder --------------*- C++ -*-===//
//
// GPT2LMHeadModel: learned positions, pre-LN blocks, a fused c_attn
// projection split into queries, keys and values, causal attention, a
// GELU-tanh MLP, a final LayerNorm and an LM head tied to the token
// embedding. GPT2ForSequenceClassification has a `score` head over
// num_labels classes instead, read at each sequence's last token. Conv1D weights are stored [in, out] (`layout in_out`). Accepts
// the original hub names without the "transformer." prefix and skips the
// attention-mask buffers older checkpoints carry.
//
//===----------------------------------------------------------------------===//

#include "HFImporter.h"

#include "llm/Dialect/LLM/IR/LLMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <cmath>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::hf;

namespace {
class GPT2Importer final : public FamilyImporter {
public:
  HFModelFamily getFamily() const override { return HFModelFamily::GPT2; }
  LogicalResult readConfig(const HFConfig &config) override;
  int64_t getVocabSize() const override { return vocabSize; }
  StringRef getMaxPositionsKey() const override { return "n_positions"; }
  int64_t getMaxPositions() const override { return maxPositions; }
  StringRef getNumLayersKey() const override { return "n_layer"; }
  int64_t getNumLayers() const override { return numLayers; }
  bool hasLearnedPositions() const override { return true; }
  int64_t getNumLabels() const override { return numLabels; }
  SmallVector<ParamSpec> getParamSpecs() const override;
  std::optional<std::string>
  mapTensorName(StringRef name,
                function_ref<bool(StringRef)> inCheckpoint) const override;
  Value buildLogits(ForwardBuilder &fb) override;

private:
  int64_t vocabSize = 0, maxPositions = 0, hidden = 0, numLayers = 0,
          numHeads = 0, inner = 0;
  /// The classes of GPT2ForSequenceClassification's head; 0 for the LM.
  int64_t numLabels = 0;
  double epsilon = 1e-5;
  Activation activation = Activation::GELUTanh;
  bool tied = true;
  bool scaleAttnWeights = true;
  bool scaleByInverseLayerIdx = false;
};
} // namespace

/// The MLP activations of transformers' ACT2FN that llm.ffn computes.
static std::optional<Activation> parseActivation(StringRef name) {
  return llvm::StringSwitch<std::optional<Activation>>(name)
      .Case("gelu", Activation::GELU)
      .Cases({"gelu_new", "gelu_pytorch_tanh"}, Activation::GELUTanh)
      .Case("relu", Activation::ReLU)
      .Cases({"silu", "swish"}, Activation::SiLU)
      .Default(std::nullopt);
}

LogicalResult GPT2Importer::readConfig(const HFConfig &config) {
  FailureOr<int64_t> vocab = config.getSize("vocab_size");
  if (failed(vocab))
    return failure();
  FailureOr<int64_t> positions = config.getSize("n_positions");
  if (failed(positions))
    return failure();
  FailureOr<int64_t> embd = config.getSize("n_embd");
  if (failed(embd))
    return failure();
  FailureOr<int64_t> layers = config.getSize("n_layer");
  if (failed(layers))
    return failure();
  FailureOr<int64_t> heads = config.getSize("n_head");
  if (failed(heads))
    return failure();
  FailureOr<int64_t> mlp = config.getSize("n_inner", 4 * *embd);
  if (failed(mlp))
    return failure();
  FailureOr<double> eps = config.getNonNegative("layer_norm_epsilon", 1e-5);
  if (failed(eps))
    return failure();
  FailureOr<std::string> act =
      config.getString("activation_function", "gelu_new");
  if (failed(act))
    return failure();
  FailureOr<bool> tie = config.getBool("tie_word_embeddings", true);
  if (failed(tie))
    return failure();
  FailureOr<bool> scale = config.getBool("scale_attn_weights", true);
  if (failed(scale))
    return failure();
  FailureOr<bool> byLayer =
      config.getBool("scale_attn_by_inverse_layer_idx", false);
  if (failed(byLayer))
    return failure();
  FailureOr<bool> crossAttention = config.getBool("add_cross_attention", false);
  if (failed(crossAttention))
    return failure();

  if (*embd % *heads) {
    config.emitError("n_head")
        << "n_embd (" << *embd << ") is not divisible by n_head (" << *heads
        << ")";
    return failure();
  }
  std::optional<Activation> parsed = parseActivation(*act);
  if (!parsed) {
    config.emitError("activation_function")
        << "unsupported activation_function '" << *act
        << "'; expected one of gelu, gelu_new, gelu_pytorch_tanh, relu, "
           "silu, swish";
    return failure();
  }
  if (*crossAttention) {
    config.emitError("add_cross_attention")
        << "GPT-2 with cross-attention (add_cross_attention) is not supported";
    return failure();
  }
  if (config.hasArchitecture("GPT2ForSequenceClassification")) {
    FailureOr<int64_t> labels = config.getNumLabels();
    if (failed(labels))
      return failure();
    numLabels = *labels;
  }
  vocabSize = *vocab;
  maxPositions = *positions;
  hidden = *embd;
  numLayers = *layers;
  numHeads = *heads;
  inner = *mlp;
  epsilon = *eps;
  activation = *parsed;
  tied = *tie;
  scaleAttnWeights = *scale;
  scaleByInverseLayerIdx = *byLayer;
  return success();
}

SmallVector<ParamSpec> GPT2Importer::getParamSpecs() const {
  int64_t d = hidden, f = inner;
  SmallVector<ParamSpec> specs = {
      {"transformer.wte.weight", {vocabSize, d}, "[vocab_size, n_embd]"},
      {"transformer.wpe.weight", {maxPositions, d}, "[n_positions, n_embd]"}};
  for (int64_t i = 0; i < numLayers; ++i) {
    std::string h = layerPrefix("transformer.h.", i, ".");
    specs.append({
        {h + "ln_1.weight", {d}, "[n_embd]"},
        {h + "ln_1.bias", {d}, "[n_embd]"},
        {h + "attn.c_attn.weight", {d, 3 * d}, "[n_embd, 3 * n_embd]"},
        {h + "attn.c_attn.bias", {3 * d}, "[3 * n_embd]"},
        {h + "attn.c_proj.weight", {d, d}, "[n_embd, n_embd]"},
        {h + "attn.c_proj.bias", {d}, "[n_embd]"},
        {h + "ln_2.weight", {d}, "[n_embd]"},
        {h + "ln_2.bias", {d}, "[n_embd]"},
        {h + "mlp.c_fc.weight", {d, f}, "[n_embd, n_inner]"},
        {h + "mlp.c_fc.bias", {f}, "[n_inner]"},
        {h + "mlp.c_proj.weight", {f, d}, "[n_inner, n_embd]"},
        {h + "mlp.c_proj.bias", {d}, "[n_embd]"},
    });
  }
  specs.append({{"transformer.ln_f.weight", {d}, "[n_embd]"},
                {"transformer.ln_f.bias", {d}, "[n_embd]"}});
  if (numLabels)
    specs.push_back({"score.weight", {numLabels, d}, "[num_labels, n_embd]"});
  else if (!tied)
    specs.push_back({"lm_head.weight", {vocabSize, d}, "[vocab_size, n_embd]"});
  return specs;
}

std::optional<std::string>
GPT2Importer::mapTensorName(StringRef name,
                            function_ref<bool(StringRef)>) const {
  // The causal-mask buffers of older checkpoints, with or without prefix.
  StringRef unprefixed = name;
  unprefixed.consume_front("transformer.");
  if (std::optional<StringRef> rest = stripLayerPrefix(unprefixed, "h."))
    if (*rest == "attn.bias" || *rest == "attn.masked_bias")
      return std::nullopt;
  // A tied LM head duplicates wte; HF ignores it and so do we.
  if (tied && name == "lm_head.weight")
    return std::nullopt;
  // The original hub checkpoints name the trunk without "transformer.".
  if (name.starts_with("wte.") || name.starts_with("wpe.") ||
      name.starts_with("ln_f.") || stripLayerPrefix(name, "h."))
    return ("transformer." + name).str();
  return name.str();
}

Value GPT2Importer::buildLogits(ForwardBuilder &fb) {
  OpBuilder &b = fb.getBuilder();
  FloatAttr eps = b.getF64FloatAttr(epsilon);
  int64_t d = hidden;
  double headDim = static_cast<double>(d / numHeads);

  Value wte = fb.param("transformer.wte.weight");
  Value tokens =
      EmbeddingOp::create(b, fb.loc("transformer.wte"), wte, fb.getInputIds());
  Value x = PositionalEncodingOp::create(
      b, fb.loc("transformer.wpe"), PositionalEncodingKind::Learned, tokens,
      fb.param("transformer.wpe.weight"), /*positions=*/Value());

  for (int64_t i = 0; i < numLayers; ++i) {
    std::string h = layerPrefix("transformer.h.", i, ".");
    Value a = LayerNormOp::create(b, fb.loc(h + "ln_1"), x,
                                  fb.param(h + "ln_1.weight"),
                                  fb.param(h + "ln_1.bias"), eps);
    Location attnLoc = fb.loc(h + "attn");
    Value qkv = LinearOp::create(
        b, fb.loc(h + "attn.c_attn"), a, fb.param(h + "attn.c_attn.weight"),
        fb.param(h + "attn.c_attn.bias"), WeightLayout::InOut);
    Value q = fb.sliceFeatures(attnLoc, qkv, 0, d);
    Value k = fb.sliceFeatures(attnLoc, qkv, d, d);
    Value v = fb.sliceFeatures(attnLoc, qkv, 2 * d, d);
    // HF divides the scores by sqrt(head_dim) (the op's default) unless
    // scale_attn_weights is off, and by layer_idx + 1 when asked to.
    std::optional<double> scale;
    if (!scaleAttnWeights || (scaleByInverseLayerIdx && i > 0)) {
      double s = scaleAttnWeights ? 1.0 / std::sqrt(headDim) : 1.0;
      if (scaleByInverseLayerIdx)
        s /= static_cast<double>(i + 1);
      scale = s;
    }
    Value att = AttentionOp::create(b, attnLoc, q, k, v, numHeads,
                                    /*numKVHeads=*/0, /*causal=*/true,
                                    /*mask=*/Value(), scale)
                    .getResult();
    Value o = LinearOp::create(
        b, fb.loc(h + "attn.c_proj"), att, fb.param(h + "attn.c_proj.weight"),
        fb.param(h + "attn.c_proj.bias"), WeightLayout::InOut);
    Value r = arith::AddFOp::create(b, attnLoc, x, o);
    Value m = LayerNormOp::create(b, fb.loc(h + "ln_2"), r,
                                  fb.param(h + "ln_2.weight"),
                                  fb.param(h + "ln_2.bias"), eps);
    Location mlpLoc = fb.loc(h + "mlp");
    Value f =
        FFNOp::create(b, mlpLoc, activation, m, fb.param(h + "mlp.c_fc.weight"),
                      fb.param(h + "mlp.c_fc.bias"),
                      /*gate_weight=*/Value(), /*gate_bias=*/Value(),
                      fb.param(h + "mlp.c_proj.weight"),
                      fb.param(h + "mlp.c_proj.bias"), WeightLayout::InOut);
    x = arith::AddFOp::create(b, mlpLoc, r, f);
  }
  Value hf = LayerNormOp::create(b, fb.loc("transformer.ln_f"), x,
                                 fb.param("transformer.ln_f.weight"),
                                 fb.param("transformer.ln_f.bias"), eps);
  // A classifier's logits at every position (the runtime reads each
  // sequence's last).
  if (numLabels)
    return LinearOp::create(b, fb.loc("score"), hf, fb.param("score.weight"),
                            /*bias=*/Value(), WeightLayout::OutIn);
  // logits = h * wte^T with the tied head: wte is [vocab, n_embd], i.e. the
  // [out, in] layout of a linear layer.
  Value head = tied ? wte : fb.param("lm_head.weight");
  return LinearOp::create(b, fb.loc("lm_head"), hf, head, /*bias=*/Value(),
                          WeightLayout::OutIn);
}

std::unique_ptr<FamilyImporter> mlir::llm::hf::createGPT2Importer() {
  return std::make_unique<GPT2Importer>();
}
