//===- WeightsTest.cpp - Tests of binding checkpoints to entry points -----===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Weights.h"

#include "RuntimeTestUtils.h"

using namespace llm::rt;
using namespace llm::rt::test;

namespace {

/// The fake model's forward entry point.
EntryPoint getFakeEntry() {
  Expected<Manifest> manifest =
      parseManifest(getFakeManifest().dump(), "manifest.json");
  EXPECT_TRUE(manifest) << manifest.message();
  return manifest ? manifest->entryPoints[0] : EntryPoint();
}

class WeightsTest : public ::testing::Test {
protected:
  /// Opens the checkpoint at \p path (into `checkpoint`) and binds it.
  Expected<BoundWeights> bind(const std::string &path,
                              const EntryPoint &entry = getFakeEntry(),
                              bool strict = false) {
    Expected<std::unique_ptr<SafeTensorsModel>> model =
        SafeTensorsModel::open(path);
    if (!model)
      return model.getStatus();
    checkpoint = model.take();
    BindOptions options;
    options.strict = strict;
    return bindWeights(entry, *checkpoint, options);
  }

  /// Expects input 1 and 2 (wte, bias) of \p weights to hold the fake
  /// values as f32.
  static void expectFakeValues(const BoundWeights &weights) {
    EXPECT_EQ(weights.getData(0), nullptr); // The tokens are not a param.
    const float *wte = static_cast<const float *>(weights.getData(1));
    const float *bias = static_cast<const float *>(weights.getData(2));
    ASSERT_NE(wte, nullptr);
    ASSERT_NE(bias, nullptr);
    for (int64_t i = 0; i < FakeVocab; ++i)
      for (int64_t j = 0; j < FakeDim; ++j)
        ASSERT_EQ(wte[i * FakeDim + j], fakeWte(i, j)) << i << "," << j;
    for (int64_t j = 0; j < FakeDim; ++j)
      ASSERT_EQ(bias[j], fakeBias(j));
  }

  TempDir dir;
  std::unique_ptr<SafeTensorsModel> checkpoint;
};

TEST_F(WeightsTest, F32BindsZeroCopy) {
  writeFakeCheckpoint(dir / "model.safetensors");
  Expected<BoundWeights> weights = bind(dir.str());
  ASSERT_TRUE(weights) << weights.message();
  expectFakeValues(*weights);
  EXPECT_EQ(weights->getData(1),
            checkpoint->lookup("transformer.wte.weight")->data);
  EXPECT_EQ(weights->getData(2),
            checkpoint->lookup("transformer.ln_f.bias")->data);
  EXPECT_EQ(weights->getNumZeroCopy(), 2u);
  EXPECT_EQ(weights->getOwnedBytes(), 0u);
  EXPECT_TRUE(weights->getWarnings().empty());
}

TEST_F(WeightsTest, F16AndBF16AreConvertedOnce) {
  for (DType dtype : {DType::F16, DType::BF16}) {
    SCOPED_TRACE(getDTypeName(dtype));
    std::string path = dir / (std::string(getDTypeName(dtype)) + ".st");
    writeFakeCheckpoint(path, dtype);
    Expected<BoundWeights> weights = bind(path);
    ASSERT_TRUE(weights) << weights.message();
    expectFakeValues(*weights);
    EXPECT_NE(weights->getData(1),
              checkpoint->lookup("transformer.wte.weight")->data);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(weights->getData(1)) % 64, 0u);
    EXPECT_EQ(weights->getNumZeroCopy(), 0u);
    EXPECT_EQ(weights->getOwnedBytes(), (11u * 4 + 4) * 4);
  }
}

TEST_F(WeightsTest, HalfPrecisionParamsBindHalfCheckpointsZeroCopy) {
  Json manifest = getFakeManifest();
  for (Json &input : manifest["entry_points"][0]["inputs"])
    if (input["kind"] == "param")
      input["dtype"] = "bf16";
  EntryPoint entry = parseManifest(manifest.dump(), "m.json")->entryPoints[0];
  writeFakeCheckpoint(dir / "bf16.safetensors", DType::BF16);
  Expected<BoundWeights> weights = bind(dir / "bf16.safetensors", entry);
  ASSERT_TRUE(weights) << weights.message();
  EXPECT_EQ(weights->getNumZeroCopy(), 2u);

  // An f32 checkpoint is not narrowed.
  writeFakeCheckpoint(dir / "f32.safetensors", DType::F32);
  Expected<BoundWeights> refused = bind(dir / "f32.safetensors", entry);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.message(),
            "checkpoint tensor 'transformer.wte.weight' has dtype F32, but "
            "the model expects bf16");
}

TEST_F(WeightsTest, MisalignedF32IsCopied) {
  // A one-byte tensor first puts the f32 data at an odd offset.
  std::vector<float> bias = {fakeBias(0), fakeBias(1), fakeBias(2),
                             fakeBias(3)};
  std::vector<float> wte;
  for (int64_t i = 0; i < FakeVocab; ++i)
    for (int64_t j = 0; j < FakeDim; ++j)
      wte.push_back(fakeWte(i, j));
  uint8_t flag = 1;
  Status s = writeSafeTensors(
      dir / "odd.safetensors",
      {{"a.flag", DType::U8, {1}, &flag, 1},
       {"transformer.wte.weight",
        DType::F32,
        {11, 4},
        wte.data(),
        wte.size() * 4},
       {"transformer.ln_f.bias", DType::F32, {4}, bias.data(), 16}});
  ASSERT_TRUE(s.isOk()) << s.message();
  Expected<BoundWeights> weights = bind(dir / "odd.safetensors");
  ASSERT_TRUE(weights) << weights.message();
  ASSERT_NE(reinterpret_cast<uintptr_t>(
                checkpoint->lookup("transformer.wte.weight")->data) %
                4,
            0u);
  expectFakeValues(*weights);
  EXPECT_EQ(weights->getOwnedBytes(), (11u * 4 + 4) * 4);
  ASSERT_EQ(weights->getWarnings().size(), 1u);
  EXPECT_EQ(weights->getWarnings()[0],
            "checkpoint tensor 'a.flag' is not used by the model; ignoring it");
}

TEST_F(WeightsTest, MissingTensorIsNamed) {
  std::vector<float> bias(4, 0.0f);
  ASSERT_TRUE(writeSafeTensors(
                  dir / "m.safetensors",
                  {{"transformer.ln_f.bias", DType::F32, {4}, bias.data(), 16}})
                  .isOk());
  Expected<BoundWeights> weights = bind(dir / "m.safetensors");
  ASSERT_FALSE(weights);
  EXPECT_EQ(weights.getStatus().code(), ErrorCode::Weights);
  EXPECT_EQ(weights.message(),
            "the checkpoint has no tensor 'transformer.wte.weight', which "
            "entry point 'forward' needs (input 1)");
}

TEST_F(WeightsTest, MissingTensorHintsAtAnotherPrefix) {
  std::vector<float> wte(44, 0.0f), bias(4, 0.0f);
  ASSERT_TRUE(
      writeSafeTensors(
          dir / "m.safetensors",
          {{"wte.weight", DType::F32, {11, 4}, wte.data(), wte.size() * 4},
           {"transformer.ln_f.bias", DType::F32, {4}, bias.data(), 16}})
          .isOk());
  Expected<BoundWeights> weights = bind(dir / "m.safetensors");
  ASSERT_FALSE(weights);
  expectContains(weights.message(),
                 {"no tensor 'transformer.wte.weight'", "it has 'wte.weight'"});
}

TEST_F(WeightsTest, WrongShapeNamesBothShapes) {
  std::vector<float> wte(44, 0.0f), bias(4, 0.0f);
  ASSERT_TRUE(writeSafeTensors(
                  dir / "m.safetensors",
                  {{"transformer.wte.weight",
                    DType::F32,
                    {4, 11},
                    wte.data(),
                    wte.size() * 4},
                   {"transformer.ln_f.bias", DType::F32, {4}, bias.data(), 16}})
                  .isOk());
  Expected<BoundWeights> weights = bind(dir / "m.safetensors");
  ASSERT_FALSE(weights);
  EXPECT_EQ(weights.message(), "checkpoint tensor 'transformer.wte.weight' "
                               "has shape [4, 11], but the model expects "
                               "[11, 4]");
}

TEST_F(WeightsTest, WrongDTypeIsNamed) {
  for (DType dtype :
       {DType::I64, DType::F64, DType::I32, DType::U8, DType::F8E4M3}) {
    SCOPED_TRACE(getDTypeName(dtype));
    std::vector<uint8_t> wte(44 * getDTypeSize(dtype), 0);
    std::vector<float> bias(4, 0.0f);
    std::string path = dir / (std::string(getDTypeName(dtype)) + ".st");
    ASSERT_TRUE(
        writeSafeTensors(
            path,
            {{"transformer.wte.weight", dtype, {11, 4}, wte.data(), wte.size()},
             {"transformer.ln_f.bias", DType::F32, {4}, bias.data(), 16}})
            .isOk());
    Expected<BoundWeights> weights = bind(path);
    ASSERT_FALSE(weights);
    EXPECT_EQ(weights.getStatus().code(), ErrorCode::Weights);
    EXPECT_EQ(weights.message(),
              std::string("checkpoint tensor 'transformer.wte.weight' has "
                          "dtype ") +
                  getDTypeName(dtype) +
                  ", but the model expects f32 (F32 binds as is; F16 and "
                  "BF16 are converted)");
  }
}

TEST_F(WeightsTest, UnusedTensorsWarnOrFailInStrictMode) {
  std::vector<uint8_t> four(16, 0);
  writeFakeCheckpoint(dir / "model.safetensors", DType::F32,
                      {{"lm_head.weight", DType::F32, {4}, four},
                       {"extra.scale", DType::F32, {4}, four}});
  Expected<BoundWeights> weights = bind(dir.str());
  ASSERT_TRUE(weights) << weights.message();
  ASSERT_EQ(weights->getWarnings().size(), 2u);
  std::string all = weights->getWarnings()[0] + weights->getWarnings()[1];
  expectContains(all, {"checkpoint tensor 'lm_head.weight' is not used",
                       "checkpoint tensor 'extra.scale' is not used"});

  Expected<BoundWeights> strict = bind(dir.str(), getFakeEntry(), true);
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.getStatus().code(), ErrorCode::Weights);
  expectContains(strict.message(),
                 {"the checkpoint holds 2 tensors that the model does not use "
                  "(refused in strict mode): ",
                  "'lm_head.weight'", "'extra.scale'"});
}

TEST_F(WeightsTest, StrictModeListsAtMostTenNames) {
  std::vector<ExtraTensor> extra;
  for (int i = 0; i < 12; ++i)
    extra.push_back({"unused." + std::to_string(i), DType::U8, {1}, {0}});
  writeFakeCheckpoint(dir / "model.safetensors", DType::F32, extra);
  Expected<BoundWeights> strict = bind(dir.str(), getFakeEntry(), true);
  ASSERT_FALSE(strict);
  expectContains(strict.message(), {"holds 12 tensors", ", and 2 more"});
}

TEST_F(WeightsTest, KnownBuffersLoadSilentlyEvenInStrictMode) {
  std::vector<uint8_t> one(4, 0);
  writeFakeCheckpoint(
      dir / "model.safetensors", DType::F32,
      {{"h.0.attn.bias", DType::F32, {1}, one},
       {"transformer.h.1.attn.masked_bias", DType::F32, {1}, one},
       {"bert.embeddings.position_ids",
        DType::I64,
        {1},
        {0, 0, 0, 0, 0, 0, 0, 0}},
       {"model.layers.0.self_attn.rotary_emb.inv_freq", DType::F32, {1}, one}});
  Expected<BoundWeights> weights = bind(dir.str(), getFakeEntry(), true);
  ASSERT_TRUE(weights) << weights.message();
  EXPECT_TRUE(weights->getWarnings().empty());
}

TEST(WeightsBufferTest, KnownUnusedBufferNames) {
  EXPECT_TRUE(isKnownUnusedBuffer("h.0.attn.bias"));
  EXPECT_TRUE(isKnownUnusedBuffer("transformer.h.11.attn.masked_bias"));
  EXPECT_TRUE(isKnownUnusedBuffer("attn.bias"));
  EXPECT_TRUE(isKnownUnusedBuffer("embeddings.position_ids"));
  EXPECT_TRUE(isKnownUnusedBuffer("bert.embeddings.position_ids"));
  EXPECT_TRUE(
      isKnownUnusedBuffer("model.layers.3.self_attn.rotary_emb.inv_freq"));
  // Real parameters with similar names are not buffers.
  EXPECT_FALSE(isKnownUnusedBuffer("h.0.attn.c_attn.bias"));
  EXPECT_FALSE(isKnownUnusedBuffer("h.0.attn.c_proj.bias"));
  EXPECT_FALSE(isKnownUnusedBuffer("h.0.xattn.bias"));
  EXPECT_FALSE(
      isKnownUnusedBuffer("bert.embeddings.position_embeddings.weight"));
  EXPECT_FALSE(isKnownUnusedBuffer("lm_head.weight"));
  EXPECT_FALSE(isKnownUnusedBuffer(""));
}

TEST_F(WeightsTest, TiedParamsShareOneBuffer) {
  Json manifest = getFakeManifest();
  Json &inputs = manifest["entry_points"][0]["inputs"];
  inputs.push_back(inputs[1]);
  EntryPoint entry = parseManifest(manifest.dump(), "m.json")->entryPoints[0];
  writeFakeCheckpoint(dir / "model.safetensors", DType::F16);
  Expected<BoundWeights> weights = bind(dir.str(), entry);
  ASSERT_TRUE(weights) << weights.message();
  EXPECT_EQ(weights->getData(3), weights->getData(1));
  EXPECT_EQ(weights->getOwnedBytes(), (11u * 4 + 4) * 4); // Converted once.
}

TEST_F(WeightsTest, PackedParamsArePackedIntoPanels) {
  // The table bound three ways: as is, packed [out, in] with panels of 4
  // (11 rows -> 3 panels, the last one padded with a zero row), and
  // packed as if it were [in, out] (4 columns -> one panel of 3 + 1 pad).
  for (DType dtype : {DType::F32, DType::BF16}) {
    SCOPED_TRACE(getDTypeName(dtype));
    Json manifest = getFakeManifest();
    Json &inputs = manifest["entry_points"][0]["inputs"];
    Json outIn = inputs[1], inOut = inputs[1];
    outIn["packing"] = {{"panel", 4}, {"layout", "out_in"}};
    inOut["packing"] = {{"panel", 3}, {"layout", "in_out"}};
    inputs.push_back(outIn);
    inputs.push_back(inOut);
    Expected<Manifest> parsed = parseManifest(manifest.dump(), "m.json");
    ASSERT_TRUE(parsed) << parsed.message();
    const EntryPoint &entry = parsed->entryPoints[0];
    EXPECT_EQ(entry.inputs[3].getBufferShape(),
              (std::vector<int64_t>{3, FakeDim, 4}));
    EXPECT_EQ(entry.inputs[4].getBufferShape(),
              (std::vector<int64_t>{2, FakeVocab, 3}));
    std::string path = dir / (std::string(getDTypeName(dtype)) + ".st");
    writeFakeCheckpoint(path, dtype);
    Expected<BoundWeights> weights = bind(path, entry);
    ASSERT_TRUE(weights) << weights.message();
    expectFakeValues(*weights);
    const float *panels = static_cast<const float *>(weights->getData(3));
    for (int64_t nb = 0; nb < 3; ++nb)
      for (int64_t k = 0; k < FakeDim; ++k)
        for (int64_t c = 0; c < 4; ++c) {
          int64_t row = nb * 4 + c;
          ASSERT_EQ(panels[(nb * FakeDim + k) * 4 + c],
                    row < FakeVocab ? fakeWte(row, k) : 0.0f)
              << nb << "," << k << "," << c;
        }
    // In [in, out] terms the table is [K = 11, N = 4].
    const float *columns = static_cast<const float *>(weights->getData(4));
    for (int64_t nb = 0; nb < 2; ++nb)
      for (int64_t k = 0; k < FakeVocab; ++k)
        for (int64_t c = 0; c < 3; ++c) {
          int64_t column = nb * 3 + c;
          ASSERT_EQ(columns[(nb * FakeVocab + k) * 3 + c],
                    column < FakeDim ? fakeWte(k, column) : 0.0f)
              << nb << "," << k << "," << c;
        }
    EXPECT_NE(weights->getData(3), weights->getData(1));
  }
}

TEST_F(WeightsTest, ShardedCheckpointsBind) {
  std::vector<float> wte, bias;
  for (int64_t i = 0; i < FakeVocab; ++i)
    for (int64_t j = 0; j < FakeDim; ++j)
      wte.push_back(fakeWte(i, j));
  for (int64_t j = 0; j < FakeDim; ++j)
    bias.push_back(fakeBias(j));
  ASSERT_TRUE(writeSafeTensors(dir / "model-00001-of-00002.safetensors",
                               {{"transformer.wte.weight",
                                 DType::F32,
                                 {11, 4},
                                 wte.data(),
                                 wte.size() * 4}})
                  .isOk());
  ASSERT_TRUE(writeSafeTensors(
                  dir / "model-00002-of-00002.safetensors",
                  {{"transformer.ln_f.bias", DType::F32, {4}, bias.data(), 16}})
                  .isOk());
  writeTextFile(dir / "model.safetensors.index.json",
                R"({"metadata": {}, "weight_map": {
                  "transformer.wte.weight":
                      "model-00001-of-00002.safetensors",
                  "transformer.ln_f.bias":
                      "model-00002-of-00002.safetensors"}})");
  Expected<BoundWeights> weights = bind(dir.str());
  ASSERT_TRUE(weights) << weights.message();
  expectFakeValues(*weights);
  EXPECT_TRUE(checkpoint->isSharded());
}

//===----------------------------------------------------------------------===//
// Concatenated params
//===----------------------------------------------------------------------===//

/// Element (r, c) of concatenation part \p p (a rank-1 part is one row):
/// distinct per part and exact in f16 and bf16.
float partValue(int64_t p, int64_t r, int64_t c) {
  return static_cast<float>(p) * 8.0f + static_cast<float>(r) +
         static_cast<float>(c) * 0.25f;
}

/// A checkpoint tensor of part \p p, of \p shape, in \p dtype.
ExtraTensor makePart(const std::string &name, int64_t p,
                     const std::vector<int64_t> &shape,
                     DType dtype = DType::F32) {
  int64_t rows = shape.size() == 2 ? shape[0] : 1, cols = shape.back();
  std::vector<float> values;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      values.push_back(partValue(p, r, c));
  return {name, dtype, shape, encode(values, dtype)};
}

/// Element (r, c) of the concatenation of parts of \p sizes along \p axis
/// (1 for rank-1 parts, which are rows).
float concatValue(const std::vector<int64_t> &sizes, int64_t axis, int64_t r,
                  int64_t c) {
  int64_t &along = axis == 0 ? r : c;
  int64_t p = 0;
  while (along >= sizes[p])
    along -= sizes[p++];
  return partValue(p, r, c);
}

/// The concatenation of parts of \p sizes along \p axis, row-major.
std::vector<float> concatValues(const std::vector<int64_t> &sizes, int64_t axis,
                                int64_t rows, int64_t cols) {
  std::vector<float> values;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      values.push_back(concatValue(sizes, axis, r, c));
  return values;
}

/// A concatenated param input "q+k+v" (or \p name) of \p shape.
Json concatInput(const std::vector<int64_t> &shape, Json concat,
                 const std::string &name = "q+k+v") {
  return {{"name", name},
          {"kind", "param"},
          {"dtype", "f32"},
          {"shape", shape},
          {"concat", std::move(concat)}};
}

/// The fake entry point with \p extra appended to its inputs (from 3 on).
EntryPoint getEntryWith(const std::vector<Json> &extra) {
  Json manifest = getFakeManifest();
  for (const Json &input : extra)
    manifest["entry_points"][0]["inputs"].push_back(input);
  Expected<Manifest> parsed = parseManifest(manifest.dump(), "m.json");
  EXPECT_TRUE(parsed) << parsed.message();
  return parsed ? parsed->entryPoints[0] : EntryPoint();
}

/// Expects \p data to hold \p want.
void expectValues(const void *data, const std::vector<float> &want) {
  ASSERT_NE(data, nullptr);
  const float *got = static_cast<const float *>(data);
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_EQ(got[i], want[i]) << "element " << i;
}

TEST_F(WeightsTest, ConcatenatesAlongRows) {
  writeFakeCheckpoint(dir / "model.safetensors", DType::F32,
                      {makePart("q", 0, {2, 3}), makePart("k", 1, {3, 3}),
                       makePart("v", 2, {1, 3})});
  EntryPoint entry = getEntryWith(
      {concatInput({6, 3}, makeConcat(0, {{"q", 2}, {"k", 3}, {"v", 1}}))});
  // Strict: the parts count as used, the joined name is looked up nowhere.
  Expected<BoundWeights> weights = bind(dir.str(), entry, /*strict=*/true);
  ASSERT_TRUE(weights) << weights.message();
  expectFakeValues(*weights);
  expectValues(weights->getData(3), concatValues({2, 3, 1}, 0, 6, 3));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(weights->getData(3)) % 64, 0u);
  EXPECT_EQ(weights->getOwnedBytes(), 6u * 3 * 4);
  EXPECT_EQ(weights->getNumZeroCopy(), 2u);
  EXPECT_TRUE(weights->getWarnings().empty());
}

TEST_F(WeightsTest, ConcatenatesAlongColumns) {
  writeFakeCheckpoint(dir / "model.safetensors", DType::F32,
                      {makePart("a", 0, {3, 2}), makePart("b", 1, {3, 1}),
                       makePart("c", 2, {3, 4})});
  EntryPoint entry = getEntryWith({concatInput(
      {3, 7}, makeConcat(1, {{"a", 2}, {"b", 1}, {"c", 4}}), "a+b+c")});
  Expected<BoundWeights> weights = bind(dir.str(), entry, /*strict=*/true);
  ASSERT_TRUE(weights) << weights.message();
  expectValues(weights->getData(3), concatValues({2, 1, 4}, 1, 3, 7));
  EXPECT_EQ(weights->getOwnedBytes(), 3u * 7 * 4);
}

TEST_F(WeightsTest, ConcatenatesBiases) {
  writeFakeCheckpoint(dir / "model.safetensors", DType::F32,
                      {makePart("q.bias", 0, {2}), makePart("k.bias", 1, {3}),
                       makePart("v.bias", 2, {1})});
  EntryPoint entry = getEntryWith({concatInput(
      {6}, makeConcat(0, {{"q.bias", 2}, {"k.bias", 3}, {"v.bias", 1}}),
      "q.bias+k.bias+v.bias")});
  Expected<BoundWeights> weights = bind(dir.str(), entry, /*strict=*/true);
  ASSERT_TRUE(weights) << weights.message();
  // Rank-1 parts are rows: the concatenation runs along the columns.
  expectValues(weights->getData(3), concatValues({2, 3, 1}, 1, 1, 6));
  EXPECT_EQ(weights->getOwnedBytes(), 6u * 4);
}

TEST_F(WeightsTest, ConcatenationConvertsHalfPrecisionParts) {
  // Mixed dtypes, along either axis.
  writeFakeCheckpoint(dir / "model.safetensors", DType::F32,
                      {makePart("q", 0, {2, 3}, DType::F16),
                       makePart("k", 1, {3, 3}),
                       makePart("v", 2, {1, 3}, DType::BF16),
                       makePart("a", 0, {3, 2}, DType::BF16),
                       makePart("b", 1, {3, 1}, DType::F16)});
  EntryPoint entry = getEntryWith(
      {concatInput({6, 3}, makeConcat(0, {{"q", 2}, {"k", 3}, {"v", 1}})),
       concatInput({3, 3}, makeConcat(1, {{"a", 2}, {"b", 1}}), "a+b")});
  Expected<BoundWeights> weights = bind(dir.str(), entry, /*strict=*/true);
  ASSERT_TRUE(weights) << weights.message();
  expectValues(weights->getData(3), concatValues({2, 3, 1}, 0, 6, 3));
  expectValues(weights->getData(4), concatValues({2, 1}, 1, 3, 3));
  EXPECT_EQ(weights->getOwnedBytes(), (6u * 3 + 3 * 3) * 4);
}

TEST_F(WeightsTest, ConcatenationIsPackedLikeAParam) {
  // Each concatenation bound packed is compared with the same values
  // stored whole ("joined") and bound packed: [6, 3] out_in along the rows
  // (6 outputs -> 2 panels of 4), [3, 6] in_out along the columns (6
  // outputs -> 2 panels of 4).
  struct Case {
    int64_t axis;
    std::vector<int64_t> shape;
    const char *layout;
  };
  for (const Case &c : {Case{0, {6, 3}, "out_in"}, Case{1, {3, 6}, "in_out"}}) {
    SCOPED_TRACE(c.layout);
    std::vector<int64_t> sizes = {2, 1, 3};
    std::vector<ExtraTensor> extra;
    const char *names[] = {"q", "k", "v"};
    for (int64_t p = 0; p < 3; ++p) {
      std::vector<int64_t> shape = c.shape;
      shape[c.axis] = sizes[p];
      extra.push_back(makePart(names[p], p, shape, DType::BF16));
    }
    extra.push_back({"joined", DType::F32, c.shape,
                     encode(concatValues(sizes, c.axis, c.shape[0], c.shape[1]),
                            DType::F32)});
    std::string path = dir / (std::string(c.layout) + ".safetensors");
    writeFakeCheckpoint(path, DType::F32, extra);

    Json packing = {{"panel", 4}, {"layout", c.layout}};
    Json packed = concatInput(
        c.shape, makeConcat(c.axis, {{"q", 2}, {"k", 1}, {"v", 3}}));
    packed["packing"] = packing;
    Json plain = packed;
    plain.erase("packing");
    Json joined = {{"name", "joined"},
                   {"kind", "param"},
                   {"dtype", "f32"},
                   {"shape", c.shape},
                   {"packing", packing}};
    EntryPoint entry = getEntryWith({packed, plain, joined});
    ASSERT_EQ(entry.inputs[3].getBufferShape(),
              (std::vector<int64_t>{2, 3, 4}));
    Expected<BoundWeights> weights = bind(path, entry, /*strict=*/true);
    ASSERT_TRUE(weights) << weights.message();
    const float *got = static_cast<const float *>(weights->getData(3));
    const float *want = static_cast<const float *>(weights->getData(5));
    ASSERT_NE(got, nullptr);
    ASSERT_NE(want, nullptr);
    for (int64_t i = 0; i < 2 * 3 * 4; ++i)
      ASSERT_EQ(got[i], want[i]) << "element " << i;
    // The same concatenation unpacked is a buffer of its own.
    expectValues(weights->getData(4),
                 concatValues(sizes, c.axis, c.shape[0], c.shape[1]));
    EXPECT_EQ(weights->getOwnedBytes(), (2u * 3 * 4 * 2 + 6 * 3) * 4);
  }
}

TEST_F(WeightsTest, TiedConcatenationsShareOneBuffer) {
  writeFakeCheckpoint(dir / "model.safetensors", DType::F32,
                      {makePart("q", 0, {2, 3}), makePart("k", 1, {3, 3}),
                       makePart("v", 2, {1, 3})});
  Json qkv = concatInput({6, 3}, makeConcat(0, {{"q", 2}, {"k", 3}, {"v", 1}}));
  // A part may also be bound by itself.
  Json q = {
      {"name", "q"}, {"kind", "param"}, {"dtype", "f32"}, {"shape", {2, 3}}};
  EntryPoint entry = getEntryWith({qkv, q, qkv});
  Expected<BoundWeights> weights = bind(dir.str(), entry, /*strict=*/true);
  ASSERT_TRUE(weights) << weights.message();
  EXPECT_EQ(weights->getData(5), weights->getData(3));
  EXPECT_EQ(weights->getData(4), checkpoint->lookup("q")->data);
  EXPECT_EQ(weights->getOwnedBytes(), 6u * 3 * 4);
}

TEST_F(WeightsTest, ConcatenationMissingPartIsNamed) {
  writeFakeCheckpoint(dir / "model.safetensors", DType::F32,
                      {makePart("q", 0, {2, 3}), makePart("v", 2, {1, 3}),
                       makePart("model.k", 1, {3, 3})});
  EntryPoint entry = getEntryWith(
      {concatInput({6, 3}, makeConcat(0, {{"q", 2}, {"k", 3}, {"v", 1}}))});
  Expected<BoundWeights> weights = bind(dir.str(), entry);
  ASSERT_FALSE(weights);
  EXPECT_EQ(weights.getStatus().code(), ErrorCode::Weights);
  EXPECT_EQ(weights.message(),
            "the checkpoint has no tensor 'k', which entry point 'forward' "
            "needs (part 1 of input 3 'q+k+v'); it has 'model.k': was the "
            "model compiled from another export of this checkpoint?");
}

TEST_F(WeightsTest, ConcatenationMissingPartsAreListedWhenAllowed) {
  writeFakeCheckpoint(dir / "model.safetensors", DType::F32,
                      {makePart("q", 0, {2, 3})});
  EntryPoint entry = getEntryWith(
      {concatInput({6, 3}, makeConcat(0, {{"q", 2}, {"k", 3}, {"v", 1}}))});
  checkpoint = SafeTensorsModel::open(dir.str()).take();
  BindOptions options;
  options.allowMissing = true;
  Expected<BoundWeights> weights = bindWeights(entry, *checkpoint, options);
  ASSERT_TRUE(weights) << weights.message();
  EXPECT_EQ(weights->getMissing(), (std::vector<std::string>{"k", "v"}));
  EXPECT_EQ(weights->getData(3), nullptr);
  EXPECT_EQ(weights->getOwnedBytes(), 0u);
  // Nothing reads the part that exists.
  ASSERT_EQ(weights->getWarnings().size(), 1u);
  EXPECT_EQ(weights->getWarnings()[0],
            "checkpoint tensor 'q' is not used by the model; ignoring it");
}

TEST_F(WeightsTest, ConcatenationPartOfWrongShapeIsNamed) {
  writeFakeCheckpoint(dir / "model.safetensors", DType::F32,
                      {makePart("q", 0, {2, 3}), makePart("k", 1, {3, 2}),
                       makePart("v", 2, {1, 3})});
  EntryPoint entry = getEntryWith(
      {concatInput({6, 3}, makeConcat(0, {{"q", 2}, {"k", 3}, {"v", 1}}))});
  Expected<BoundWeights> weights = bind(dir.str(), entry);
  ASSERT_FALSE(weights);
  EXPECT_EQ(weights.getStatus().code(), ErrorCode::Weights);
  EXPECT_EQ(weights.message(),
            "checkpoint tensor 'k' has shape [3, 2], but the model expects "
            "[3, 3] (part 1 of input 3 'q+k+v', concatenated along axis 0)");
}

TEST_F(WeightsTest, ConcatenationPartOfWrongDTypeIsNamed) {
  writeFakeCheckpoint(dir / "model.safetensors", DType::F32,
                      {makePart("q", 0, {2, 3}),
                       {"k", DType::I64, {3, 3}, std::vector<uint8_t>(72, 0)},
                       makePart("v", 2, {1, 3})});
  EntryPoint entry = getEntryWith(
      {concatInput({6, 3}, makeConcat(0, {{"q", 2}, {"k", 3}, {"v", 1}}))});
  Expected<BoundWeights> weights = bind(dir.str(), entry);
  ASSERT_FALSE(weights);
  EXPECT_EQ(weights.getStatus().code(), ErrorCode::Weights);
  EXPECT_EQ(weights.message(),
            "checkpoint tensor 'k' has dtype I64, but the model expects F32, "
            "F16 or BF16 (part 1 of input 3 'q+k+v', concatenated as f32)");
}

} // namespace
