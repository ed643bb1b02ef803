//===- LLaMA.cpp - LLaMA from a Hugging Face folder -------------*- C++ -*-===//
//
// LlamaForCausalLM: RMSNorm pre-norm blocks, rotary embeddings on queries and
// keys in HF's rotate_half convention (the op's default, non-interleaved
// form) with theta = rope_theta, grouped-query attention with
// num_key_value_heads, a SwiGLU MLP (gate_proj, up_proj, down_proj, stored
// [out, in]), a final RMSNorm and a separate lm_head unless
// tie_word_embeddings. Skips the rotary inv_freq buffers of older
// checkpoints.
//
//===----------------------------------------------------------------------===//

#include "HFImporter.h"

#include "llm/Dialect/LLM/IR/LLMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::hf;

namespace {
class LLaMAImporter final : public FamilyImporter {
public:
  HFModelFamily getFamily() const override { return HFModelFamily::LLaMA; }
  LogicalResult readConfig(const HFConfig &config) override;
  int64_t getVocabSize() const override { return vocabSize; }
  StringRef getMaxPositionsKey() const override {
    return "max_position_embeddings";
  }
  int64_t getMaxPositions() const override { return maxPositions; }
  StringRef getNumLayersKey() const override { return "num_hidden_layers"; }
  int64_t getNumLayers() const override { return numLayers; }
  bool hasLearnedPositions() const override { return false; }
  int64_t getNumLabels() const override { return numLabels; }
  SmallVector<ParamSpec> getParamSpecs() const override;
  std::optional<std::string>
  mapTensorName(StringRef name,
                function_ref<bool(StringRef)> inCheckpoint) const override;
  Value buildLogits(ForwardBuilder &fb) override;

private:
  LogicalResult checkRopeScaling(const HFConfig &config) const;

  int64_t vocabSize = 0, maxPositions = 0, hidden = 0, intermediate = 0,
          numLayers = 0, numHeads = 0, numKVHeads = 0, headDim = 0;
  /// The classes of LlamaForSequenceClassification's `score` head; 0 for
  /// the LM.
  int64_t numLabels = 0;
  double epsilon = 1e-6;
  double ropeTheta = 10000.0;
  bool attentionBias = false, mlpBias = false, tied = false;
};
} // namespace

/// Only the default (unscaled) RoPE is supported: rope_scaling must be null
/// or name the "default" type.
LogicalResult LLaMAImporter::checkRopeScaling(const HFConfig &config) const {
  const llvm::json::Value *scaling = config.lookup("rope_scaling");
  if (!scaling)
    return success();
  const llvm::json::Object *object = scaling->getAsObject();
  if (!object) {
    config.emitError("rope_scaling")
        << "'rope_scaling' must be null or an object";
    return failure();
  }
  std::optional<StringRef> kind = object->getString("rope_type");
  if (!kind)
    kind = object->getString("type");
  if (kind && *kind == "default")
    return success();
  config.emitError("rope_scaling")
      << "unsupported rope_scaling"
      << (kind ? " type '" + kind->str() + "'" : std::string())
      << "; only the default (unscaled) RoPE is supported";
  return failure();
}

LogicalResult LLaMAImporter::readConfig(const HFConfig &config) {
  FailureOr<int64_t> vocab = config.getSize("vocab_size");
  if (failed(vocab))
    return failure();
  FailureOr<int64_t> size = config.getSize("hidden_size");
  if (failed(size))
    return failure();
  FailureOr<int64_t> ffn = config.getSize("intermediate_size");
  if (failed(ffn))
    return failure();
  FailureOr<int64_t> layers = config.getSize("num_hidden_layers");
  if (failed(layers))
    return failure();
  FailureOr<int64_t> heads = config.getSize("num_attention_heads");
  if (failed(heads))
    return failure();
  FailureOr<int64_t> kvHeads = config.getSize("num_key_value_heads", *heads);
  if (failed(kvHeads))
    return failure();
  FailureOr<int64_t> positions = config.getSize("max_position_embeddings");
  if (failed(positions))
    return failure();
  FailureOr<double> eps = config.getNonNegative("rms_norm_eps", 1e-6);
  if (failed(eps))
    return failure();
  FailureOr<double> theta = config.getPositive("rope_theta", 10000.0);
  if (failed(theta))
    return failure();
  FailureOr<std::string> act = config.getString("hidden_act", "silu");
  if (failed(act))
    return failure();
  FailureOr<bool> attnBias = config.getBool("attention_bias", false);
  if (failed(attnBias))
    return failure();
  FailureOr<bool> ffnBias = config.getBool("mlp_bias", false);
  if (failed(ffnBias))
    return failure();
  FailureOr<bool> tie = config.getBool("tie_word_embeddings", false);
  if (failed(tie))
    return failure();
  if (failed(checkRopeScaling(config)))
    return failure();

  // head_dim defaults to hidden_size / num_attention_heads, which must then
  // divide evenly.
  int64_t dh = 0;
  if (config.lookup("head_dim")) {
    FailureOr<int64_t> explicitHeadDim = config.getSize("head_dim");
    if (failed(explicitHeadDim))
      return failure();
    dh = *explicitHeadDim;
  } else if (*size % *heads) {
    config.emitError("num_attention_heads")
        << "hidden_size (" << *size
        << ") is not divisible by num_attention_heads (" << *heads << ")";
    return failure();
  } else {
    dh = *size / *heads;
  }
  if (dh % 2) {
    config.emitError(config.lookup("head_dim") ? "head_dim"
                                               : "num_attention_heads")
        << "the head size " << dh
        << " is odd; rotary embeddings rotate pairs of features";
    return failure();
  }
  if (*heads % *kvHeads) {
    config.emitError("num_key_value_heads")
        << "num_key_value_heads (" << *kvHeads
        << ") does not divide num_attention_heads (" << *heads << ")";
    return failure();
  }
  if (*act != "silu" && *act != "swish") {
    config.emitError("hidden_act")
        << "unsupported hidden_act '" << *act
        << "'; LLaMA's gated MLP is supported with silu (SwiGLU)";
    return failure();
  }
  vocabSize = *vocab;
  hidden = *size;
  intermediate = *ffn;
  numLayers = *layers;
  numHeads = *heads;
  numKVHeads = *kvHeads;
  headDim = dh;
  maxPositions = *positions;
  epsilon = *eps;
  ropeTheta = *theta;
  attentionBias = *attnBias;
  mlpBias = *ffnBias;
  tied = *tie;
  if (config.hasArchitecture("LlamaForSequenceClassification")) {
    FailureOr<int64_t> labels = config.getNumLabels();
    if (failed(labels))
      return failure();
    numLabels = *labels;
  }
  return success();
}

SmallVector<ParamSpec> LLaMAImporter::getParamSpecs() const {
  int64_t h = hidden, f = intermediate;
  int64_t qRows = numHeads * headDim, kvRows = numKVHeads * headDim;
  const char *vector = "[hidden_size]";
  SmallVector<ParamSpec> specs = {{"model.embed_tokens.weight",
                                   {vocabSize, h},
                                   "[vocab_size, hidden_size]"}};
  for (int64_t i = 0; i < numLayers; ++i) {
    std::string l = layerPrefix("model.layers.", i, ".");
    specs.push_back({l + "input_layernorm.weight", {h}, vector});
    struct Projection {
      StringRef name;
      int64_t rows;
      StringRef rowsText;
    };
    for (const Projection &p :
         {Projection{"q_proj", qRows, "num_attention_heads * head_dim"},
          Projection{"k_proj", kvRows, "num_key_value_heads * head_dim"},
          Projection{"v_proj", kvRows, "num_key_value_heads * head_dim"}}) {
      specs.push_back({l + "self_attn." + p.name.str() + ".weight",
                       {p.rows, h},
                       ("[" + p.rowsText + ", hidden_size]").str()});
      if (attentionBias)
        specs.push_back({l + "self_attn." + p.name.str() + ".bias",
                         {p.rows},
                         ("[" + p.rowsText + "]").str()});
    }
    specs.push_back({l + "self_attn.o_proj.weight",
                     {h, qRows},
                     "[hidden_size, num_attention_heads * head_dim]"});
    if (attentionBias)
      specs.push_back({l + "self_attn.o_proj.bias", {h}, vector});
    specs.push_back({l + "post_attention_layernorm.weight", {h}, vector});
    struct MLPProjection {
      StringRef name;
      int64_t rows, cols;
      StringRef shapeText, biasText;
    };
    for (const MLPProjection &p :
         {MLPProjection{"gate_proj", f, h, "[intermediate_size, hidden_size]",
                        "[intermediate_size]"},
          MLPProjection{"up_proj", f, h, "[intermediate_size, hidden_size]",
                        "[intermediate_size]"},
          MLPProjection{"down_proj", h, f, "[hidden_size, intermediate_size]",
                        "[hidden_size]"}}) {
      specs.push_back({l + "mlp." + p.name.str() + ".weight",
                       {p.rows, p.cols},
                       p.shapeText.str()});
      if (mlpBias)
        specs.push_back(
            {l + "mlp." + p.name.str() + ".bias", {p.rows}, p.biasText.str()});
    }
  }
  specs.push_back({"model.norm.weight", {h}, vector});
  if (numLabels)
    specs.push_back(
        {"score.weight", {numLabels, h}, "[num_labels, hidden_size]"});
  else if (!tied)
    specs.push_back(
        {"lm_head.weight", {vocabSize, h}, "[vocab_size, hidden_size]"});
  return specs;
}

std::optional<std::string>
LLaMAImporter::mapTensorName(StringRef name,
                             function_ref<bool(StringRef)>) const {
  if (std::optional<StringRef> rest = stripLayerPrefix(name, "model.layers."))
    if (*rest == "self_attn.rotary_emb.inv_freq")
      return std::nullopt;
  // A tied LM head duplicates embed_tokens; HF ignores it and so do we.
  if (tied && name == "lm_head.weight")
    return std::nullopt;
  return name.str();
}

Value LLaMAImporter::buildLogits(ForwardBuilder &fb) {
  OpBuilder &b = fb.getBuilder();
  FloatAttr eps = b.getF64FloatAttr(epsilon);
  APFloat theta(ropeTheta);
  // The op's num_kv_heads defaults to num_heads; say it only when it differs.
  int64_t kvHeadsAttr = numKVHeads == numHeads ? 0 : numKVHeads;

  Value embed = fb.param("model.embed_tokens.weight");
  Value x = EmbeddingOp::create(b, fb.loc("model.embed_tokens"), embed,
                                fb.getInputIds());
  for (int64_t i = 0; i < numLayers; ++i) {
    std::string l = layerPrefix("model.layers.", i, ".");
    std::string attn = l + "self_attn.";
    Value a = RMSNormOp::create(b, fb.loc(l + "input_layernorm"), x,
                                fb.param(l + "input_layernorm.weight"), eps);
    auto project = [&](StringRef scope, StringRef name, Value input) -> Value {
      return LinearOp::create(b, fb.loc(scope + name), input,
                              fb.param(scope.str() + name.str() + ".weight"),
                              fb.param(scope.str() + name.str() + ".bias"));
    };
    Value q = project(attn, "q_proj", a);
    Value k = project(attn, "k_proj", a);
    Value v = project(attn, "v_proj", a);
    Location ropeLoc = fb.loc(attn + "rotary_emb");
    q = RopeOp::create(b, ropeLoc, q, /*positions=*/Value(), headDim,
                       /*rotary_dim=*/IntegerAttr(), theta,
                       /*interleaved=*/false);
    k = RopeOp::create(b, ropeLoc, k, /*positions=*/Value(), headDim,
                       /*rotary_dim=*/IntegerAttr(), theta,
                       /*interleaved=*/false);
    Location attnLoc = fb.loc(l + "self_attn");
    Value o = AttentionOp::create(b, attnLoc, q, k, v, numHeads, kvHeadsAttr,
                                  /*causal=*/true)
                  .getResult();
    o = project(attn, "o_proj", o);
    x = arith::AddFOp::create(b, attnLoc, x, o);
    Value m =
        RMSNormOp::create(b, fb.loc(l + "post_attention_layernorm"), x,
                          fb.param(l + "post_attention_layernorm.weight"), eps);
    std::string mlp = l + "mlp.";
    Location mlpLoc = fb.loc(l + "mlp");
    Value f = FFNOp::create(
        b, mlpLoc, Activation::SwiGLU, m, fb.param(mlp + "up_proj.weight"),
        fb.param(mlp + "up_proj.bias"), fb.param(mlp + "gate_proj.weight"),
        fb.param(mlp + "gate_proj.bias"), fb.param(mlp + "down_proj.weight"),
        fb.param(mlp + "down_proj.bias"));
    x = arith::AddFOp::create(b, mlpLoc, x, f);
  }
  x = RMSNormOp::create(b, fb.loc("model.norm"), x,
                        fb.param("model.norm.weight"), eps);
  if (numLabels)
    return LinearOp::create(b, fb.loc("score"), x, fb.param("score.weight"),
                            /*bias=*/Value());
  Value head = tied ? embed : fb.param("lm_head.weight");
  return LinearOp::create(b, fb.loc("lm_head"), x, head, /*bias=*/Value());
}

std::unique_ptr<FamilyImporter> mlir::llm::hf::createLLaMAImporter() {
  return std::make_unique<LLaMAImporter>();
}
