//===- ModelTest.cpp - Tests of loading and calling a model ---------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The whole open / bind / forward / free path against the fake model
// library (FakeModel.c): results read through descriptors of every shape
// the ABI allows, every artifact and weights error, and token checks that
// stop bad input before the library is called. Under ASan these tests also
// prove that each result allocation is freed exactly once.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Model.h"

#include "RuntimeTestUtils.h"

#include <unistd.h>

using namespace llm::rt;
using namespace llm::rt::test;

namespace {

class ModelTest : public ::testing::Test {
protected:
  void SetUp() override {
    artifactDir = dir / "artifact";
    writeFakeCheckpoint(dir / "model.safetensors");
  }

  /// Writes the artifact with \p manifest (default: the fake manifest).
  void writeFake(const Json &manifest = getFakeManifest(),
                 const std::string &library = LLM_FAKE_MODEL_LIB) {
    writeArtifact(artifactDir, manifest, library);
  }

  /// The fake manifest calling \p symbol for "forward".
  static Json withSymbol(const std::string &symbol) {
    Json manifest = getFakeManifest();
    manifest["entry_points"][0]["symbol"] = symbol;
    return manifest;
  }

  Expected<std::unique_ptr<Model>> open(const ModelOptions &options = {}) {
    return Model::open(artifactDir, dir / "model.safetensors", options);
  }

  /// Opens the artifact, expecting success.
  std::unique_ptr<Model> openOk(const ModelOptions &options = {}) {
    Expected<std::unique_ptr<Model>> model = open(options);
    EXPECT_TRUE(model) << model.message();
    return model ? model.take() : nullptr;
  }

  /// Expects opening to fail with \p code and a message holding \p parts.
  void expectOpenError(ErrorCode code, const std::vector<std::string> &parts,
                       const ModelOptions &options = {}) {
    Expected<std::unique_ptr<Model>> model = open(options);
    ASSERT_FALSE(model) << "unexpectedly opened";
    EXPECT_EQ(model.getStatus().code(), code) << model.message();
    expectContains(model.message(), parts);
  }

  /// Expects \p logits to be the fake model's logits of \p batch.
  static void expectFakeLogits(const float *logits, const TokenBatch &batch) {
    const std::vector<int64_t> &ids = batch.getIds();
    for (size_t t = 0; t < ids.size(); ++t)
      for (int64_t v = 0; v < FakeVocab; ++v)
        ASSERT_EQ(logits[t * FakeVocab + v], fakeLogit(ids[t], v))
            << "token " << t << ", v " << v;
  }

  static TokenBatch makeBatch(const std::vector<std::vector<int64_t>> &rows) {
    return TokenBatch::fromRows(rows).take();
  }

  int64_t numCalls() const {
    return getFakeNumCalls(artifactDir + "/libmodel.so");
  }

  TempDir dir;
  std::string artifactDir;
};

TEST_F(ModelTest, ForwardComputesLogits) {
  writeFake();
  std::unique_ptr<Model> model = openOk();
  ASSERT_TRUE(model);
  EXPECT_EQ(model->getVocabSize(), FakeVocab);
  EXPECT_EQ(model->getMaxPositions(), FakeMaxPositions);
  EXPECT_TRUE(model->getWarnings().empty());
  EXPECT_EQ(model->getEntryPoint().symbol, "llm_forward");

  TokenBatch batch = makeBatch({{1, 2, 3}, {10, 0, 7}});
  Expected<Tensor> logits = model->forward(batch);
  ASSERT_TRUE(logits) << logits.message();
  EXPECT_EQ(logits->getShape(), (std::vector<int64_t>{2, 3, 11}));
  EXPECT_EQ(logits->getNumElements(), 66u);
  expectFakeLogits(logits->getData(), batch);
  EXPECT_EQ(numCalls(), 1);

  // A second call, a batch of one full-length row.
  TokenBatch full = makeBatch({{0, 1, 2, 3, 4, 5, 6, 7}});
  Expected<Tensor> again = model->forward(full);
  ASSERT_TRUE(again) << again.message();
  expectFakeLogits(again->getData(), full);
}

TEST_F(ModelTest, HalfPrecisionCheckpointsGiveTheSameLogits) {
  writeFake();
  TokenBatch batch = makeBatch({{4, 5}, {6, 9}});
  for (DType dtype : {DType::F16, DType::BF16}) {
    SCOPED_TRACE(getDTypeName(dtype));
    writeFakeCheckpoint(dir / "model.safetensors", dtype);
    std::unique_ptr<Model> model = openOk();
    ASSERT_TRUE(model);
    Expected<Tensor> logits = model->forward(batch);
    ASSERT_TRUE(logits) << logits.message();
    expectFakeLogits(logits->getData(), batch);
  }
}

TEST_F(ModelTest, ForwardIntoCallerBuffer) {
  writeFake();
  std::unique_ptr<Model> model = openOk();
  ASSERT_TRUE(model);
  TokenBatch batch = makeBatch({{3, 1}});
  std::vector<float> buffer(2 * FakeVocab + 1, -7.0f);
  Status s = model->forwardInto(batch.getView(), buffer.data(), buffer.size());
  ASSERT_TRUE(s.isOk()) << s.message();
  expectFakeLogits(buffer.data(), batch);
  EXPECT_EQ(buffer.back(), -7.0f); // Nothing written past the logits.

  int64_t calls = numCalls();
  s = model->forwardInto(batch.getView(), buffer.data(), 2 * FakeVocab - 1);
  ASSERT_TRUE(s.isError());
  EXPECT_EQ(s.code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(s.message(), "the logits buffer holds 21 floats, but 1 x 2 x 11 "
                         "= 22 are needed");
  s = model->forwardInto(batch.getView(), nullptr, 100);
  ASSERT_TRUE(s.isError());
  EXPECT_EQ(s.message(), "the logits buffer is a null pointer");
  EXPECT_EQ(numCalls(), calls);
}

TEST_F(ModelTest, BadTokensNeverReachTheLibrary) {
  writeFake();
  std::unique_ptr<Model> model = openOk();
  ASSERT_TRUE(model);
  int64_t ids[] = {1, 2, -1, 3, 4, 5, 6, 7, 8};
  int64_t row1bad[] = {1, 11};
  struct Case {
    TokenView tokens;
    const char *message;
  } cases[] = {
      {{ids, 0, 0}, "no tokens: the batch is 0 x 0"},
      {{nullptr, 1, 2}, "the token ids are a null pointer"},
      {{ids, 1, 3}, "token 2 of row 0 is -1, outside the vocabulary [0, 11)"},
      {{row1bad, 2, 1}, "token 0 of row 1 is 11, outside the vocabulary"},
      {{ids, 1, 9},
       "the sequence has 9 tokens, more than the model's 8 "
       "positions (max_positions)"},
  };
  std::vector<float> buffer(100);
  for (const Case &c : cases) {
    SCOPED_TRACE(c.message);
    Expected<Tensor> logits = model->forward(c.tokens);
    ASSERT_FALSE(logits);
    EXPECT_EQ(logits.getStatus().code(), ErrorCode::InvalidArgument);
    expectContains(logits.message(), {c.message});
    Status s = model->forwardInto(c.tokens, buffer.data(), buffer.size());
    ASSERT_TRUE(s.isError());
    expectContains(s.message(), {c.message});
  }
  EXPECT_EQ(numCalls(), 0);
}

TEST_F(ModelTest, Threads) {
  writeFake();
  ModelOptions options;
  options.numThreads = 3;
  std::unique_ptr<Model> model = openOk(options);
  ASSERT_TRUE(model);
  EXPECT_TRUE(model->canSetNumThreads());
  EXPECT_EQ(getFakeNumThreads(artifactDir + "/libmodel.so"), 3);
  EXPECT_TRUE(model->setNumThreads(5).isOk());
  EXPECT_EQ(getFakeNumThreads(artifactDir + "/libmodel.so"), 5);
  for (int32_t bad : {0, -1, Model::MaxThreads + 1}) {
    Status s = model->setNumThreads(bad);
    ASSERT_TRUE(s.isError());
    EXPECT_EQ(s.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(s.message(), "the thread count must be between 1 and 4096, got " +
                               std::to_string(bad));
  }
  EXPECT_EQ(getFakeNumThreads(artifactDir + "/libmodel.so"), 5);

  model.reset();
  options.numThreads = -2;
  expectOpenError(ErrorCode::InvalidArgument,
                  {"the thread count must be between 1 and 4096, got -2"},
                  options);
}

TEST_F(ModelTest, LibraryWithoutThreadControlIgnoresIt) {
  writeFake(getFakeManifest(), LLM_FAKE_MODEL_NOTHREADS_LIB);
  ModelOptions options;
  options.numThreads = 2;
  std::unique_ptr<Model> model = openOk(options);
  ASSERT_TRUE(model);
  EXPECT_FALSE(model->canSetNumThreads());
  EXPECT_TRUE(model->setNumThreads(4).isOk());
  EXPECT_EQ(getFakeNumThreads(artifactDir + "/libmodel.so"), 1);
}

TEST_F(ModelTest, StridedAndOffsetResultsAreReadThroughTheDescriptor) {
  TokenBatch batch = makeBatch({{1, 2, 3}, {4, 5, 6}});
  for (const char *symbol : {"llm_forward_strided", "llm_forward_offset",
                             "llm_forward_two_results"}) {
    SCOPED_TRACE(symbol);
    Json manifest = withSymbol(symbol);
    if (std::string(symbol) == "llm_forward_two_results")
      manifest["entry_points"][0]["results"].push_back(
          {{"name", "hidden"}, {"dtype", "f32"}, {"shape", {-1, -1, 4}}});
    writeFake(manifest);
    std::unique_ptr<Model> model = openOk();
    ASSERT_TRUE(model);
    Expected<Tensor> logits = model->forward(batch);
    ASSERT_TRUE(logits) << logits.message();
    EXPECT_EQ(logits->getShape(), (std::vector<int64_t>{2, 3, 11}));
    expectFakeLogits(logits->getData(), batch);
    std::vector<float> buffer(66);
    Status s = model->forwardInto(batch.getView(), buffer.data(), 66);
    ASSERT_TRUE(s.isOk()) << s.message();
    expectFakeLogits(buffer.data(), batch);
  }
}

TEST_F(ModelTest, LogitsOutliveTheModel) {
  writeFake();
  std::unique_ptr<Model> model = openOk();
  ASSERT_TRUE(model);
  TokenBatch batch = makeBatch({{2, 4}});
  Expected<Tensor> logits = model->forward(batch);
  ASSERT_TRUE(logits);
  model.reset();
  Tensor moved = logits.take();
  expectFakeLogits(moved.getData(), batch);
  Tensor assigned;
  assigned = std::move(moved);
  EXPECT_EQ(moved.getData(), nullptr);
  expectFakeLogits(assigned.getData(), batch);
  void *raw = assigned.release();
  EXPECT_NE(raw, nullptr);
  EXPECT_EQ(assigned.getData(), nullptr);
  std::free(raw);
}

TEST_F(ModelTest, I32TokensAndMasks) {
  TokenBatch batch = makeBatch({{0, 9}, {8, 10}});
  Json i32 = withSymbol("llm_forward_i32");
  i32["entry_points"][0]["inputs"][0]["dtype"] = "i32";
  writeFake(i32);
  {
    std::unique_ptr<Model> model = openOk();
    ASSERT_TRUE(model);
    Expected<Tensor> logits = model->forward(batch);
    ASSERT_TRUE(logits) << logits.message();
    expectFakeLogits(logits->getData(), batch);
  }

  Json masked = withSymbol("llm_forward_masked");
  Json &inputs = masked["entry_points"][0]["inputs"];
  inputs.insert(inputs.begin() + 1, Json{{"name", "attention_mask"},
                                         {"kind", "mask"},
                                         {"dtype", "i64"},
                                         {"shape", {-1, -1}}});
  writeFake(masked);
  std::unique_ptr<Model> model = openOk();
  ASSERT_TRUE(model);
  Expected<Tensor> logits = model->forward(batch);
  ASSERT_TRUE(logits) << logits.message();
  expectFakeLogits(logits->getData(), batch);
}

TEST_F(ModelTest, StaticTokenShapesAreEnforced) {
  Json manifest = getFakeManifest();
  manifest["entry_points"][0]["inputs"][0]["shape"] = {1, 3};
  writeFake(manifest);
  std::unique_ptr<Model> model = openOk();
  ASSERT_TRUE(model);
  EXPECT_TRUE(model->forward(makeBatch({{1, 2, 3}})));
  Expected<Tensor> logits = model->forward(makeBatch({{1, 2}, {3, 4}}));
  ASSERT_FALSE(logits);
  EXPECT_EQ(logits.message(), "entry point 'forward' was compiled for tokens "
                              "of shape [1, 3], got a batch of 2 x 2");
}

TEST_F(ModelTest, LogitsLargerThanMemoryAreRefusedBeforeTheCall) {
  Json manifest = getFakeManifest();
  manifest["model"]["vocab_size"] = int64_t(1) << 50;
  manifest["entry_points"][0]["results"][0]["shape"] = {-1, -1, -1};
  writeFake(manifest);
  std::unique_ptr<Model> model = openOk();
  ASSERT_TRUE(model);
  Expected<Tensor> logits = model->forward(makeBatch({{1, 2}}));
  ASSERT_FALSE(logits);
  EXPECT_EQ(logits.getStatus().code(), ErrorCode::OutOfMemory);
  expectContains(logits.message(),
                 {"the logits of 1 x 2 tokens need 9007199254740992 bytes "
                  "(8388608.0 GiB), more than this machine's "});
  EXPECT_EQ(numCalls(), 0);

  // Counts that overflow are refused as such.
  manifest["model"]["vocab_size"] = int64_t(1) << 62;
  writeFake(manifest);
  model = openOk();
  ASSERT_TRUE(model);
  logits = model->forward(makeBatch({{1, 2}}));
  ASSERT_FALSE(logits);
  EXPECT_EQ(logits.message(), "the logits of 1 x 2 tokens are too many to "
                              "count");
}

TEST_F(ModelTest, LibraryFailuresAndBadResults) {
  TokenBatch batch = makeBatch({{1, 2}});
  struct Case {
    const char *symbol;
    std::string message;
  } cases[] = {
      {"llm_forward_fails",
       "entry point 'forward' (llm_forward_fails) failed with code 3"},
      {"llm_forward_bad_shape",
       "result 'logits' of entry point 'forward' has shape [1, 2, 10], "
       "expected [1, 2, 11]"},
      {"llm_forward_null",
       "result 'logits' of entry point 'forward': the aligned pointer is null "
       "but the result has 22 elements"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.symbol);
    writeFake(withSymbol(c.symbol));
    std::unique_ptr<Model> model = openOk();
    ASSERT_TRUE(model);
    Expected<Tensor> logits = model->forward(batch);
    ASSERT_FALSE(logits);
    EXPECT_EQ(logits.getStatus().code(), ErrorCode::Execution);
    EXPECT_EQ(logits.message(), c.message);
    std::vector<float> buffer(22);
    Status s = model->forwardInto(batch.getView(), buffer.data(), 22);
    ASSERT_TRUE(s.isError());
    EXPECT_EQ(s.message(), c.message);
  }
}

TEST_F(ModelTest, ArtifactFolderErrors) {
  expectOpenError(ErrorCode::Artifact,
                  {artifactDir, "cannot open the artifact folder",
                   "No such file or directory"});
  writeTextFile(dir / "file", "x");
  artifactDir = dir / "file";
  expectOpenError(ErrorCode::Artifact, {"file: not a folder"});
  artifactDir = dir / "empty";
  ASSERT_EQ(::mkdir(artifactDir.c_str(), 0755), 0);
  expectOpenError(ErrorCode::Artifact,
                  {"empty/manifest.json: cannot open: No such file"});
}

TEST_F(ModelTest, ManifestErrorsNameTheField) {
  Json manifest = getFakeManifest();
  manifest["model"]["vocab_size"] = "eleven";
  writeFake(manifest);
  expectOpenError(ErrorCode::Artifact,
                  {"manifest.json: field 'model.vocab_size' must be an "
                   "integer, got \"eleven\""});
}

TEST_F(ModelTest, LibraryErrors) {
  // Missing library.
  Json manifest = getFakeManifest();
  manifest["library"] = "libnothere.so";
  writeFake(manifest);
  expectOpenError(ErrorCode::Artifact, {"library 'libnothere.so': cannot open",
                                        "No such file or directory"});

  // Not a shared library.
  writeFake();
  writeTextFile(artifactDir + "/libmodel.so", "not an ELF file\n");
  expectOpenError(ErrorCode::Artifact, {"libmodel.so: cannot load: "});

  // A symlink leaving the folder.
  writeFake();
  ASSERT_EQ(::unlink((artifactDir + "/libmodel.so").c_str()), 0);
  ASSERT_EQ(
      ::symlink(LLM_FAKE_MODEL_LIB, (artifactDir + "/libmodel.so").c_str()), 0);
  expectOpenError(ErrorCode::Artifact,
                  {"library 'libmodel.so' resolves to ", "outside the "
                                                         "artifact folder"});

  // A folder instead of a file.
  ASSERT_EQ(::unlink((artifactDir + "/libmodel.so").c_str()), 0);
  ASSERT_EQ(::mkdir((artifactDir + "/libmodel.so").c_str(), 0755), 0);
  expectOpenError(ErrorCode::Artifact,
                  {"library 'libmodel.so' is not a regular file"});
}

TEST_F(ModelTest, AbiVersionAndSymbols) {
  writeFake(getFakeManifest(), LLM_FAKE_MODEL_ABI1_LIB);
  expectOpenError(ErrorCode::Artifact,
                  {"llm_abi_version() is 1, but this runtime implements ABI "
                   "version 2"});
  writeFake(getFakeManifest(), LLM_FAKE_MODEL_NOABI_LIB);
  expectOpenError(ErrorCode::Artifact,
                  {"does not export llm_abi_version; not an llm-opt model "
                   "library"});
  writeFake(withSymbol("llm_backward"));
  expectOpenError(ErrorCode::Artifact,
                  {"does not export llm_backward, the symbol of entry point "
                   "'forward'"});
}

TEST_F(ModelTest, EntryPointShapeIsChecked) {
  Json manifest = getFakeManifest();
  manifest["entry_points"][0]["name"] = "logits";
  writeFake(manifest);
  expectOpenError(ErrorCode::Artifact, {"no entry point named 'forward'"});
  ModelOptions options;
  options.entryPoint = "logits";
  EXPECT_TRUE(open(options));

  manifest = getFakeManifest();
  manifest["entry_points"][0]["inputs"][0]["kind"] = "mask";
  writeFake(manifest);
  expectOpenError(ErrorCode::Artifact,
                  {"entry point 'forward' has 0 tokens inputs; a forward pass "
                   "takes one"});

  manifest = getFakeManifest();
  manifest["entry_points"][0]["results"][0]["shape"] = {-1, -1, 12};
  writeFake(manifest);
  expectOpenError(ErrorCode::Artifact,
                  {"the first result of entry point 'forward' must be f32 "
                   "logits of shape [batch, seq, 11], got f32 [-1, -1, 12]"});

  manifest["entry_points"][0]["results"][0]["shape"] = {-1, 11};
  writeFake(manifest);
  expectOpenError(ErrorCode::Artifact, {"got f32 [-1, 11]"});

  manifest["entry_points"][0]["results"][0]["shape"] = {-1, -1, -1};
  manifest["entry_points"][0]["results"][0]["dtype"] = "i64";
  writeFake(manifest);
  expectOpenError(ErrorCode::Artifact, {"got i64 [-1, -1, -1]"});
}

TEST_F(ModelTest, WeightsErrors) {
  writeFake();
  Expected<std::unique_ptr<Model>> missing =
      Model::open(artifactDir, dir / "nope.safetensors");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.getStatus().code(), ErrorCode::Weights);
  expectContains(missing.message(), {"nope.safetensors", "cannot access"});

  writeTextFile(dir / "garbage.safetensors", "abc");
  Expected<std::unique_ptr<Model>> garbage =
      Model::open(artifactDir, dir / "garbage.safetensors");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.getStatus().code(), ErrorCode::Weights);
  expectContains(garbage.message(), {"too short for the 8-byte header"});

  std::vector<float> bias(4, 0.0f);
  ASSERT_TRUE(writeSafeTensors(
                  dir / "model.safetensors",
                  {{"transformer.ln_f.bias", DType::F32, {4}, bias.data(), 16}})
                  .isOk());
  expectOpenError(ErrorCode::Weights,
                  {dir / "model.safetensors",
                   ": the checkpoint has no tensor 'transformer.wte.weight'"});
}

TEST_F(ModelTest, UnusedTensorsWarnAndStrictRefuses) {
  writeFake();
  writeFakeCheckpoint(dir / "model.safetensors", DType::F32,
                      {{"lm_head.weight", DType::F32, {1}, {0, 0, 0, 0}},
                       {"h.0.attn.bias", DType::F32, {1}, {0, 0, 0, 0}}});
  std::unique_ptr<Model> model = openOk();
  ASSERT_TRUE(model);
  ASSERT_EQ(model->getWarnings().size(), 1u);
  EXPECT_EQ(model->getWarnings()[0], "checkpoint tensor 'lm_head.weight' is "
                                     "not used by the model; ignoring it");
  ModelOptions strict;
  strict.strict = true;
  expectOpenError(ErrorCode::Weights,
                  {"holds 1 tensor that the model does not use (refused in "
                   "strict mode): 'lm_head.weight'"},
                  strict);
}

} // namespace
