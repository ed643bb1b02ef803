//===- CAPITest.cpp - Tests of the llmrt.h C API --------------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The C API over the fake model: status codes, messages through the
// out-parameter and per handle, both forward variants, NULL arguments.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/llmrt.h"

#include "RuntimeTestUtils.h"

using namespace llm::rt;
using namespace llm::rt::test;

namespace {

class CAPITest : public ::testing::Test {
protected:
  void SetUp() override {
    artifactDir = dir / "artifact";
    writeArtifact(artifactDir, getFakeManifest());
    writeFakeCheckpoint(dir / "model.safetensors", DType::F32,
                        {{"unused.weight", DType::F32, {1}, {0, 0, 0, 0}}});
    weights = dir / "model.safetensors";
  }

  TempDir dir;
  std::string artifactDir, weights;
};

TEST_F(CAPITest, OpenForwardFree) {
  llmrt_model *model = nullptr;
  char *error = nullptr;
  ASSERT_EQ(
      llmrt_model_open(artifactDir.c_str(), weights.c_str(), &model, &error),
      LLMRT_OK)
      << error;
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(error, nullptr);
  EXPECT_STREQ(llmrt_model_last_error(model), "");

  int64_t vocab = 0, positions = 0;
  ASSERT_EQ(llmrt_model_vocab_size(model, &vocab), LLMRT_OK);
  ASSERT_EQ(llmrt_model_max_positions(model, &positions), LLMRT_OK);
  EXPECT_EQ(vocab, 11);
  EXPECT_EQ(positions, 8);

  size_t numWarnings = 0;
  ASSERT_EQ(llmrt_model_num_warnings(model, &numWarnings), LLMRT_OK);
  ASSERT_EQ(numWarnings, 1u);
  const char *warning = nullptr;
  ASSERT_EQ(llmrt_model_warning(model, 0, &warning), LLMRT_OK);
  EXPECT_STREQ(warning, "checkpoint tensor 'unused.weight' is not used by the "
                        "model; ignoring it");
  EXPECT_EQ(llmrt_model_warning(model, 1, &warning),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(llmrt_model_last_error(model),
               "warning 1 does not exist; there are 1");

  const int64_t tokens[] = {1, 2, 3, 4, 5, 6};
  std::vector<float> logits(2 * 3 * 11);
  ASSERT_EQ(
      llmrt_model_forward(model, tokens, 2, 3, logits.data(), logits.size()),
      LLMRT_OK)
      << llmrt_model_last_error(model);
  EXPECT_STREQ(llmrt_model_last_error(model), "");
  for (int t = 0; t < 6; ++t)
    for (int v = 0; v < 11; ++v)
      ASSERT_EQ(logits[t * 11 + v], fakeLogit(tokens[t], v));

  llmrt_tensor *tensor = nullptr;
  ASSERT_EQ(llmrt_model_forward_alloc(model, tokens, 3, 2, &tensor), LLMRT_OK)
      << llmrt_model_last_error(model);
  ASSERT_NE(tensor, nullptr);
  EXPECT_EQ(llmrt_tensor_rank(tensor), 3);
  EXPECT_EQ(llmrt_tensor_dim(tensor, 0), 3);
  EXPECT_EQ(llmrt_tensor_dim(tensor, 1), 2);
  EXPECT_EQ(llmrt_tensor_dim(tensor, 2), 11);
  EXPECT_EQ(llmrt_tensor_dim(tensor, 3), -1);
  EXPECT_EQ(llmrt_tensor_dim(tensor, -1), -1);
  EXPECT_EQ(llmrt_tensor_num_elements(tensor), 66u);
  const float *data = llmrt_tensor_data(tensor);
  for (int t = 0; t < 6; ++t)
    for (int v = 0; v < 11; ++v)
      ASSERT_EQ(data[t * 11 + v], fakeLogit(tokens[t], v));

  ASSERT_EQ(llmrt_model_set_num_threads(model, 2), LLMRT_OK);
  llmrt_model_free(model);
  // The tensor outlives the model.
  EXPECT_EQ(llmrt_tensor_data(tensor)[0], fakeLogit(1, 0));
  llmrt_tensor_free(tensor);
}

TEST_F(CAPITest, OpenErrors) {
  llmrt_model *model = reinterpret_cast<llmrt_model *>(0x1);
  char *error = nullptr;
  std::string missing = dir / "missing";
  EXPECT_EQ(llmrt_model_open(missing.c_str(), weights.c_str(), &model, &error),
            LLMRT_ERROR_ARTIFACT);
  EXPECT_EQ(model, nullptr);
  ASSERT_NE(error, nullptr);
  expectContains(error, {"missing: cannot open the artifact folder"});
  llmrt_string_free(error);

  std::string noWeights = dir / "nope.safetensors";
  EXPECT_EQ(
      llmrt_model_open(artifactDir.c_str(), noWeights.c_str(), &model, &error),
      LLMRT_ERROR_WEIGHTS);
  expectContains(error, {"nope.safetensors"});
  llmrt_string_free(error);

  // The message is optional.
  EXPECT_EQ(llmrt_model_open(missing.c_str(), weights.c_str(), &model, nullptr),
            LLMRT_ERROR_ARTIFACT);

  EXPECT_EQ(llmrt_model_open(nullptr, weights.c_str(), &model, &error),
            LLMRT_ERROR_INVALID_ARGUMENT);
  expectContains(error, {"must not be NULL"});
  llmrt_string_free(error);
  EXPECT_EQ(
      llmrt_model_open(artifactDir.c_str(), weights.c_str(), nullptr, &error),
      LLMRT_ERROR_INVALID_ARGUMENT);
  llmrt_string_free(error);

  llmrt_open_options options;
  llmrt_open_options_init(&options);
  EXPECT_EQ(options.strict, 0);
  EXPECT_EQ(options.num_threads, 0);
  options.strict = 1;
  EXPECT_EQ(llmrt_model_open_with_options(artifactDir.c_str(), weights.c_str(),
                                          &options, &model, &error),
            LLMRT_ERROR_WEIGHTS);
  expectContains(error, {"refused in strict mode", "'unused.weight'"});
  llmrt_string_free(error);

  options.strict = 0;
  options.num_threads = 100000;
  EXPECT_EQ(llmrt_model_open_with_options(artifactDir.c_str(), weights.c_str(),
                                          &options, &model, &error),
            LLMRT_ERROR_INVALID_ARGUMENT);
  llmrt_string_free(error);

  options.num_threads = 4;
  ASSERT_EQ(llmrt_model_open_with_options(artifactDir.c_str(), weights.c_str(),
                                          &options, &model, &error),
            LLMRT_OK);
  EXPECT_EQ(getFakeNumThreads(artifactDir + "/libmodel.so"), 4);
  llmrt_model_free(model);
}

TEST_F(CAPITest, CallErrorsAreRecordedPerModel) {
  llmrt_model *model = nullptr;
  ASSERT_EQ(
      llmrt_model_open(artifactDir.c_str(), weights.c_str(), &model, nullptr),
      LLMRT_OK);
  const int64_t bad[] = {1, 11};
  float logits[22];
  EXPECT_EQ(llmrt_model_forward(model, bad, 1, 2, logits, 22),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(llmrt_model_last_error(model),
               "token 1 of row 0 is 11, outside the vocabulary [0, 11)");
  EXPECT_EQ(llmrt_model_forward(model, bad, 1, 1, logits, 5),
            LLMRT_ERROR_INVALID_ARGUMENT);
  expectContains(llmrt_model_last_error(model), {"holds 5 floats"});
  llmrt_tensor *tensor = reinterpret_cast<llmrt_tensor *>(0x1);
  EXPECT_EQ(llmrt_model_forward_alloc(model, bad, 0, 0, &tensor),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(tensor, nullptr);
  EXPECT_EQ(llmrt_model_forward_alloc(model, bad, 1, 1, nullptr),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmrt_model_set_num_threads(model, 0),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmrt_model_vocab_size(model, nullptr),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmrt_model_max_positions(model, nullptr),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmrt_model_num_warnings(model, nullptr),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmrt_model_warning(model, 0, nullptr),
            LLMRT_ERROR_INVALID_ARGUMENT);

  // A success clears the message.
  ASSERT_EQ(llmrt_model_forward(model, bad, 1, 1, logits, 22), LLMRT_OK);
  EXPECT_STREQ(llmrt_model_last_error(model), "");
  llmrt_model_free(model);
}

TEST_F(CAPITest, ExecutionFailure) {
  Json manifest = getFakeManifest();
  manifest["entry_points"][0]["symbol"] = "llm_forward_fails";
  writeArtifact(artifactDir, manifest);
  llmrt_model *model = nullptr;
  ASSERT_EQ(
      llmrt_model_open(artifactDir.c_str(), weights.c_str(), &model, nullptr),
      LLMRT_OK);
  const int64_t tokens[] = {1};
  float logits[11];
  EXPECT_EQ(llmrt_model_forward(model, tokens, 1, 1, logits, 11),
            LLMRT_ERROR_EXECUTION);
  EXPECT_STREQ(llmrt_model_last_error(model),
               "entry point 'forward' (llm_forward_fails) failed with code 3");
  llmrt_model_free(model);
}

TEST(CAPINullTest, NullHandles) {
  int64_t value = 0;
  EXPECT_EQ(llmrt_model_vocab_size(nullptr, &value),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmrt_model_forward(nullptr, nullptr, 1, 1, nullptr, 0),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmrt_model_set_num_threads(nullptr, 1),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(llmrt_model_last_error(nullptr), "model is NULL");
  EXPECT_EQ(llmrt_tensor_data(nullptr), nullptr);
  EXPECT_EQ(llmrt_tensor_rank(nullptr), 0);
  EXPECT_EQ(llmrt_tensor_num_elements(nullptr), 0u);
  llmrt_model_free(nullptr);
  llmrt_tensor_free(nullptr);
  llmrt_string_free(nullptr);
  llmrt_open_options_init(nullptr);
}

TEST(CAPINullTest, StatusStrings) {
  EXPECT_STREQ(llmrt_status_string(LLMRT_OK), "ok");
  EXPECT_STREQ(llmrt_status_string(LLMRT_ERROR_INVALID_ARGUMENT),
               "invalid argument");
  EXPECT_STREQ(llmrt_status_string(LLMRT_ERROR_ARTIFACT), "unusable artifact");
  EXPECT_STREQ(llmrt_status_string(LLMRT_ERROR_WEIGHTS), "unusable weights");
  EXPECT_STREQ(llmrt_status_string(LLMRT_ERROR_EXECUTION), "execution failed");
  EXPECT_STREQ(llmrt_status_string(LLMRT_ERROR_OUT_OF_MEMORY), "out of memory");
  EXPECT_STREQ(llmrt_status_string(LLMRT_ERROR_INTERNAL), "internal error");
}

//===----------------------------------------------------------------------===//
// Generation
//===----------------------------------------------------------------------===//

TEST_F(CAPITest, GeneratorOpenErrors) {
  llmrt_generator *gen = reinterpret_cast<llmrt_generator *>(0x1);
  char *error = nullptr;
  // NULL arguments.
  EXPECT_EQ(llmrt_generator_open(nullptr, weights.c_str(), "bytes", nullptr,
                                 &gen, &error),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(gen, nullptr);
  ASSERT_NE(error, nullptr);
  EXPECT_NE(std::string(error).find("must not be NULL"), std::string::npos);
  llmrt_string_free(error);
  EXPECT_EQ(llmrt_generator_open(artifactDir.c_str(), weights.c_str(), "bytes",
                                 nullptr, nullptr, nullptr),
            LLMRT_ERROR_INVALID_ARGUMENT);

  // The fake model has a forward entry point only.
  ASSERT_EQ(llmrt_generator_open(artifactDir.c_str(), weights.c_str(), "bytes",
                                 nullptr, &gen, &error),
            LLMRT_ERROR_ARTIFACT);
  EXPECT_EQ(gen, nullptr);
  ASSERT_NE(error, nullptr);
  EXPECT_NE(std::string(error).find("has no prefill and decode entry points"),
            std::string::npos)
      << error;
  llmrt_string_free(error);

  // A tokenizer folder without tokenizer files.
  error = nullptr;
  EXPECT_NE(llmrt_generator_open(artifactDir.c_str(), weights.c_str(),
                                 dir.str().c_str(), nullptr, &gen, &error),
            LLMRT_OK);
  EXPECT_EQ(gen, nullptr);
  ASSERT_NE(error, nullptr);
  llmrt_string_free(error);
}

TEST(CAPINullTest, GeneratorNullHandles) {
  EXPECT_STREQ(llmrt_generator_last_error(nullptr), "generator is NULL");
  llmrt_generator_free(nullptr);
  size_t count = 0;
  int64_t ids[4];
  EXPECT_EQ(llmrt_tokenize(nullptr, "a", 1, ids, 4, &count),
            LLMRT_ERROR_INVALID_ARGUMENT);
  char *text = reinterpret_cast<char *>(0x1);
  EXPECT_EQ(llmrt_generate(nullptr, "a", nullptr, nullptr, nullptr, &text,
                           nullptr),
            LLMRT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(text, nullptr);
  llmrt_generate_options options;
  llmrt_generate_options_init(&options);
  EXPECT_EQ(options.max_new_tokens, 64);
  EXPECT_EQ(options.temperature, 0.0f);
  EXPECT_EQ(options.top_p, 1.0f);
  EXPECT_EQ(options.repetition_penalty, 1.0f);
  llmrt_generate_options_init(nullptr);
}

} // namespace
