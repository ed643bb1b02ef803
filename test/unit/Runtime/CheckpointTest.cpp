//===- CheckpointTest.cpp - Tests of the training checkpoints -------------===//
//
// Part of the llm-opt project.
//
// Round trips, the refusals of saveCheckpoint and loadCheckpoint, and crash
// safety. Each checkpoint's values derive from a tag, so a loaded checkpoint
// shows which save it came from and whether any element is off.
//
// The crash tests run a save in a forked child:
//   - at each stage of saveCheckpoint (its onStage hook), the child tells
//     the parent through a pipe and waits; the parent SIGKILLs it there;
//   - in a larger save, the parent SIGKILLs the child at increasing delays
//     after the save began, wherever the writes happen to be;
//   - a write failure: the child lowers RLIMIT_FSIZE, so a write fails with
//     EFBIG in the middle of a file;
//   - disk full and a read-only folder for real: the child enters its own
//     user and mount namespaces and mounts a small tmpfs (skipped where the
//     system forbids unprivileged namespaces).
// After each, the checkpoint must load whole, as the previous save wrote it
// (or the new one, once renamed into place), and nothing half-written may
// stay behind.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Checkpoint.h"

#include "RuntimeTestUtils.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <thread>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace llm::rt;
using namespace llm::rt::test;

namespace {

//===----------------------------------------------------------------------===//
// Fixtures
//===----------------------------------------------------------------------===//

/// The parameters of the test model: name and shape.
const std::vector<std::pair<std::string, std::vector<int64_t>>> kParams = {
    {"wte.weight", {11, 4}},
    {"h.0.attn.c_attn.weight", {4, 12}},
    {"ln_f.bias", {4}},
    {"logit_scale", {}},
};

/// A model's weights and AdamW moments, owning their data.
struct TrainingTensors {
  std::vector<std::vector<float>> storage;
  std::vector<NamedTensor> weights;
  std::vector<NamedTensor> moments;
};

/// The value of element \p i of tensor \p t (0: weight, 1: exp_avg, 2:
/// exp_avg_sq) of parameter \p p in the checkpoint tagged \p tag.
float valueOf(float tag, size_t p, int t, uint64_t i) {
  return tag * 100.0f + static_cast<float>(p) * 10.0f + static_cast<float>(t) +
         static_cast<float>(i % 1024) / 1024.0f;
}

/// Returns tensors tagged \p tag; \p params defaults to kParams.
TrainingTensors makeTensors(
    float tag,
    const std::vector<std::pair<std::string, std::vector<int64_t>>> &params =
        kParams) {
  TrainingTensors tensors;
  tensors.storage.reserve(params.size() * 3);
  for (size_t p = 0; p < params.size(); ++p) {
    const auto &[name, shape] = params[p];
    uint64_t n = 1;
    for (int64_t dim : shape)
      n *= static_cast<uint64_t>(dim);
    const char *names[] = {"", ".exp_avg", ".exp_avg_sq"};
    for (int t = 0; t < 3; ++t) {
      std::vector<float> data(n);
      for (uint64_t i = 0; i < n; ++i)
        data[i] = valueOf(tag, p, t, i);
      tensors.storage.push_back(std::move(data));
      NamedTensor tensor{name + names[t], shape, tensors.storage.back().data()};
      (t == 0 ? tensors.weights : tensors.moments).push_back(tensor);
    }
  }
  return tensors;
}

TrainerState makeState(int64_t step) {
  TrainerState state;
  state.step = step;
  state.data.seed = 0xfedcba9876543210ULL;
  state.data.batchSize = 4;
  state.data.seqLength = 8;
  state.data.numTrainTokens = 321;
  state.data.trainTokenHash = 0x0123456789abcdefULL;
  state.data.epoch = 2;
  state.data.nextBatch = step % 10;
  state.lrSchedule.kind = LRScheduleKind::Cosine;
  state.lrSchedule.peakLR = 3e-4;
  state.lrSchedule.minLR = 3e-5;
  state.lrSchedule.warmupSteps = 100;
  state.lrSchedule.totalSteps = 5000;
  state.optimizer.beta1 = 0.9;
  state.optimizer.beta2 = 0.95;
  state.optimizer.epsilon = 1e-8;
  state.optimizer.weightDecay = 0.1;
  return state;
}

ModelFingerprint fingerprintOf(
    const std::vector<std::pair<std::string, std::vector<int64_t>>> &params) {
  std::vector<ParamSignature> signatures;
  for (const auto &[name, shape] : params)
    signatures.push_back({name, DType::F32, shape});
  return makeFingerprint(signatures);
}

/// Saves the checkpoint tagged \p tag at step \p step; returns the error
/// message, empty on success.
std::string save(const std::string &dir, float tag, int64_t step,
                 const CheckpointSaveOptions &options = {}) {
  TrainingTensors tensors = makeTensors(tag);
  Status s = saveCheckpoint(dir, tensors.weights, tensors.moments,
                            makeState(step), options);
  return s.isOk() ? "" : s.message();
}

/// Returns how \p loaded differs from the checkpoint tagged \p tag at step
/// \p step (of \p params), or "" if it does not. Usable in a forked child.
std::string describeDifference(
    const LoadedCheckpoint &loaded, float tag, int64_t step,
    const std::vector<std::pair<std::string, std::vector<int64_t>>> &params =
        kParams) {
  const TrainerState want = makeState(step);
  const TrainerState &got = loaded.state;
  if (got.step != want.step)
    return "step " + std::to_string(got.step) + " instead of " +
           std::to_string(want.step);
  if (got.data != want.data)
    return "another data cursor";
  if (got.lrSchedule != want.lrSchedule)
    return "another learning-rate schedule";
  if (!(got.optimizer == want.optimizer))
    return "other AdamW settings";
  if (loaded.fingerprint != fingerprintOf(params))
    return "another fingerprint";
  if (loaded.weights.size() != params.size() ||
      loaded.moments.size() != 2 * params.size())
    return "a wrong number of tensors";
  for (size_t p = 0; p < params.size(); ++p) {
    const auto &[name, shape] = params[p];
    const NamedTensor *tensors[] = {loaded.findWeight(name),
                                    loaded.findMoment(name + ".exp_avg"),
                                    loaded.findMoment(name + ".exp_avg_sq")};
    for (int t = 0; t < 3; ++t) {
      if (!tensors[t])
        return "tensor " + std::to_string(t) + " of " + name + " is missing";
      if (tensors[t]->shape != shape)
        return name + " has another shape";
      for (uint64_t i = 0; i < tensors[t]->getNumElements(); ++i)
        if (tensors[t]->data[i] != valueOf(tag, p, t, i))
          return "element " + std::to_string(i) + " of tensor " +
                 std::to_string(t) + " of " + name + " is " +
                 std::to_string(tensors[t]->data[i]);
    }
  }
  return "";
}

/// Loads \p dir and expects the checkpoint tagged \p tag at step \p step.
void expectCheckpoint(const std::string &dir, float tag, int64_t step,
                      bool recovered = false) {
  Expected<LoadedCheckpoint> loaded =
      loadCheckpoint(dir, fingerprintOf(kParams));
  ASSERT_TRUE(loaded.hasValue()) << loaded.message();
  EXPECT_EQ(loaded->recoveredFromPrevious, recovered);
  EXPECT_EQ(describeDifference(*loaded, tag, step), "");
}

/// Returns the names in folder \p dir, sorted.
std::vector<std::string> listFolder(const std::string &dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const fs::directory_entry &entry : fs::directory_iterator(dir, ec))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> only(const std::string &name) { return {name}; }

//===----------------------------------------------------------------------===//
// Round trips
//===----------------------------------------------------------------------===//

TEST(CheckpointTest, RoundTrip) {
  TempDir dir;
  ASSERT_EQ(save(dir / "ckpt", 1, 10), "");
  EXPECT_EQ(listFolder(dir.str()), only("ckpt"));
  EXPECT_EQ(
      listFolder(dir / "ckpt"),
      (std::vector<std::string>{"model.safetensors", "optimizer.safetensors",
                                "trainer_state.json"}));
  expectCheckpoint(dir / "ckpt", 1, 10);

  Expected<LoadedCheckpoint> loaded =
      loadCheckpoint(dir / "ckpt", fingerprintOf(kParams));
  ASSERT_TRUE(loaded.hasValue()) << loaded.message();
  EXPECT_EQ(loaded->path, dir / "ckpt");
  // Sorted by name, each weight's two moments in its order.
  std::vector<std::string> weightNames, momentNames;
  for (const NamedTensor &t : loaded->weights)
    weightNames.push_back(t.name);
  for (const NamedTensor &t : loaded->moments)
    momentNames.push_back(t.name);
  EXPECT_EQ(weightNames,
            (std::vector<std::string>{"h.0.attn.c_attn.weight", "ln_f.bias",
                                      "logit_scale", "wte.weight"}));
  EXPECT_EQ(momentNames[0], "h.0.attn.c_attn.weight.exp_avg");
  EXPECT_EQ(momentNames[1], "h.0.attn.c_attn.weight.exp_avg_sq");
  EXPECT_EQ(loaded->findWeight("nope"), nullptr);

  Json state = Json::parse(readTextFile(dir / "ckpt/trainer_state.json"));
  EXPECT_EQ(state["format_version"], CheckpointFormatVersion);
  EXPECT_EQ(state["data"]["train_token_hash"], "0123456789abcdef");
  EXPECT_EQ(state["lr_schedule"]["kind"], "cosine");
  EXPECT_EQ(state["model"]["parameters"][0]["name"], "h.0.attn.c_attn.weight");
  EXPECT_EQ(state["model"]["parameters"][0]["shape"], Json({4, 12}));
}

TEST(CheckpointTest, TheWeightsAreAnOrdinarySafeTensorsModel) {
  TempDir dir;
  ASSERT_EQ(save(dir / "ckpt", 2, 3), "");
  Expected<std::unique_ptr<SafeTensorsModel>> model =
      SafeTensorsModel::open(dir / "ckpt");
  ASSERT_TRUE(model.hasValue()) << model.message();
  const TensorView *wte = (*model)->lookup("wte.weight");
  ASSERT_NE(wte, nullptr);
  EXPECT_EQ(wte->dtype, DType::F32);
  EXPECT_EQ(wte->shape, (std::vector<int64_t>{11, 4}));
  EXPECT_EQ(wte->getNumElements(), 44u);
}

TEST(CheckpointTest, ASaveReplacesThePreviousOne) {
  TempDir dir;
  ASSERT_EQ(save(dir / "ckpt", 1, 10), "");
  ASSERT_EQ(save(dir / "ckpt/", 2, 20), "");
  expectCheckpoint(dir / "ckpt", 2, 20);
  EXPECT_EQ(listFolder(dir.str()), only("ckpt"));
}

TEST(CheckpointTest, AnEmptyFolderMayBecomeACheckpoint) {
  TempDir dir;
  ASSERT_TRUE(fs::create_directory(dir / "ckpt"));
  ASSERT_EQ(save(dir / "ckpt", 1, 10), "");
  expectCheckpoint(dir / "ckpt", 1, 10);
}

TEST(CheckpointTest, ALoadedCheckpointOutlivesTheNextSave) {
  // Resuming keeps the loaded tensors while the run saves over them.
  TempDir dir;
  ASSERT_EQ(save(dir / "ckpt", 1, 10), "");
  Expected<LoadedCheckpoint> loaded =
      loadCheckpoint(dir / "ckpt", fingerprintOf(kParams));
  ASSERT_TRUE(loaded.hasValue()) << loaded.message();
  ASSERT_EQ(save(dir / "ckpt", 2, 20), "");
  EXPECT_EQ(describeDifference(*loaded, 1, 10), "");
  expectCheckpoint(dir / "ckpt", 2, 20);
}

//===----------------------------------------------------------------------===//
// Refusals of loadCheckpoint
//===----------------------------------------------------------------------===//

void expectLoadError(const std::string &dir, const ModelFingerprint &model,
                     ErrorCode code, const std::vector<std::string> &parts) {
  Expected<LoadedCheckpoint> loaded = loadCheckpoint(dir, model);
  ASSERT_FALSE(loaded.hasValue());
  EXPECT_EQ(loaded.getStatus().code(), code) << loaded.message();
  expectContains(loaded.message(), parts);
}

TEST(CheckpointTest, RefusesACheckpointOfAnotherModel) {
  TempDir dir;
  ASSERT_EQ(save(dir / "ckpt", 1, 10), "");

  auto params = kParams;
  params[2].second = {8};
  expectLoadError(dir / "ckpt", fingerprintOf(params), ErrorCode::Weights,
                  {"checkpoint " + dir / "ckpt", "of another model",
                   "parameter 'ln_f.bias' is F32 [8] in the model but F32 "
                   "[4] in the checkpoint"});

  params = kParams;
  params.push_back({"lm_head.weight", {11, 4}});
  expectLoadError(dir / "ckpt", fingerprintOf(params), ErrorCode::Weights,
                  {"parameter 'lm_head.weight' of the model is not in the "
                   "checkpoint",
                   "the model has 5 parameters, the checkpoint 4"});

  params = kParams;
  params.erase(params.begin());
  expectLoadError(dir / "ckpt", fingerprintOf(params), ErrorCode::Weights,
                  {"parameter 'wte.weight' of the checkpoint is not in the "
                   "model"});

  // The first difference in name order is named, not the last.
  params = kParams;
  params[0].second = {12, 4};
  params[1].second = {4, 4};
  expectLoadError(dir / "ckpt", fingerprintOf(params), ErrorCode::Weights,
                  {"'h.0.attn.c_attn.weight'"});

  Expected<LoadedCheckpoint> unchecked = loadCheckpointUnchecked(dir / "ckpt");
  ASSERT_TRUE(unchecked.hasValue()) << unchecked.message();
  EXPECT_EQ(describeDifference(*unchecked, 1, 10), "");
}

TEST(CheckpointTest, RefusesMissingFolderAndFiles) {
  TempDir dir;
  ModelFingerprint model = fingerprintOf(kParams);
  expectLoadError(dir / "none", model, ErrorCode::IO,
                  {"checkpoint " + dir / "none" + " does not exist"});
  writeTextFile(dir / "file", "x");
  expectLoadError(dir / "file", model, ErrorCode::IO, {"is not a folder"});

  for (const char *file :
       {"model.safetensors", "optimizer.safetensors", "trainer_state.json"}) {
    SCOPED_TRACE(file);
    ASSERT_EQ(save(dir / "ckpt", 1, 10), "");
    ASSERT_TRUE(fs::remove(dir / "ckpt/" + file));
    expectLoadError(dir / "ckpt", model, ErrorCode::IO,
                    {"checkpoint " + dir / "ckpt", "is incomplete",
                     std::string(file) + " is missing"});
  }
}

/// Saves a good checkpoint, lets \p edit change it, and expects loading to
/// fail with \p parts.
void expectCorruptionFound(
    const std::function<void(const std::string &ckpt)> &edit,
    const std::vector<std::string> &parts) {
  TempDir dir;
  ASSERT_EQ(save(dir / "ckpt", 1, 10), "");
  edit(dir / "ckpt");
  expectLoadError(dir / "ckpt", fingerprintOf(kParams), ErrorCode::IO, parts);
}

/// Rewrites trainer_state.json of \p ckpt through \p edit.
void editState(const std::string &ckpt,
               const std::function<void(Json &)> &edit) {
  Json state = Json::parse(readTextFile(ckpt + "/trainer_state.json"));
  edit(state);
  writeTextFile(ckpt + "/trainer_state.json", state.dump());
}

TEST(CheckpointTest, RefusesCorruptFiles) {
  expectCorruptionFound(
      [](const std::string &ckpt) {
        fs::resize_file(ckpt + "/model.safetensors", 20);
      },
      {"model.safetensors", "header length"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        std::string path = ckpt + "/optimizer.safetensors";
        fs::resize_file(path, fs::file_size(path) - 4);
      },
      {"optimizer.safetensors"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        writeTextFile(ckpt + "/trainer_state.json", "{\"step\": 1");
      },
      {"trainer_state.json", "is not valid JSON"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        editState(ckpt, [](Json &s) { s["format_version"] = 2; });
      },
      {"format version 2 is not supported", "reads version 1",
       "newer llm-opt"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        editState(ckpt, [](Json &s) { s["format"] = "something-else"; });
      },
      {"field 'format'", "not an llm-opt trainer state"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        editState(ckpt, [](Json &s) { s.erase("step"); });
      },
      {"trainer_state.json", "field 'step' is missing"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        editState(ckpt, [](Json &s) { s["data"]["epoch"] = -3; });
      },
      {"field 'data.epoch' must be >= 0, not -3"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        editState(ckpt, [](Json &s) { s["data"]["next_batch"] = "7"; });
      },
      {"field 'data.next_batch' must be an integer"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        editState(ckpt,
                  [](Json &s) { s["data"]["train_token_hash"] = "0x12"; });
      },
      {"field 'data.train_token_hash' must be 16 lowercase hex digits"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        editState(ckpt, [](Json &s) { s["lr_schedule"]["kind"] = "step"; });
      },
      {"unknown schedule 'step'"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        editState(ckpt,
                  [](Json &s) { s["lr_schedule"]["warmup_steps"] = 9999; });
      },
      {"warmup of 9999 steps is longer than the 5000 steps"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        editState(ckpt, [](Json &s) { s["optimizer"]["beta2"] = 1.5; });
      },
      {"betas must be in [0, 1)"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        editState(ckpt, [](Json &s) {
          s["model"]["parameters"][1]["shape"] = Json({4, -1});
        });
      },
      {"model.parameters[1].shape", "must hold integers >= 0"});
}

/// Rewrites \p path as a safetensors file of \p tensors (zero-filled).
void writeTensors(const std::string &path,
                  const std::vector<ExtraTensor> &tensors) {
  std::vector<TensorToWrite> list;
  for (const ExtraTensor &t : tensors)
    list.push_back({t.name, t.dtype, t.shape, t.bytes.data(), t.bytes.size()});
  Status s = writeSafeTensors(path, list);
  ASSERT_TRUE(s.isOk()) << s.message();
}

/// Returns zero-filled tensors of the model (or, with \p suffixes, of its
/// moments).
std::vector<ExtraTensor> zeroTensors(bool moments) {
  std::vector<ExtraTensor> tensors;
  for (const auto &[name, shape] : kParams) {
    uint64_t n = 1;
    for (int64_t dim : shape)
      n *= static_cast<uint64_t>(dim);
    for (const char *suffix :
         moments ? std::vector<const char *>{".exp_avg", ".exp_avg_sq"}
                 : std::vector<const char *>{""})
      tensors.push_back(
          {name + suffix, DType::F32, shape, std::vector<uint8_t>(n * 4, 0)});
  }
  return tensors;
}

TEST(CheckpointTest, RefusesTensorsThatDisagreeWithTheState) {
  expectCorruptionFound(
      [](const std::string &ckpt) {
        std::vector<ExtraTensor> t = zeroTensors(false);
        t.erase(t.begin() + 2);
        writeTensors(ckpt + "/model.safetensors", t);
      },
      {"model.safetensors: parameter 'ln_f.bias'", "is missing"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        std::vector<ExtraTensor> t = zeroTensors(false);
        t[0].shape = {4, 11};
        writeTensors(ckpt + "/model.safetensors", t);
      },
      {"tensor 'wte.weight' has shape [4, 11]",
       "trainer_state.json says [11, 4]"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        std::vector<ExtraTensor> t = zeroTensors(false);
        t[2] = {"ln_f.bias", DType::F16, {4}, std::vector<uint8_t>(8, 0)};
        writeTensors(ckpt + "/model.safetensors", t);
      },
      {"tensor 'ln_f.bias' is F16", "checkpoints hold F32"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        std::vector<ExtraTensor> t = zeroTensors(false);
        t.push_back({"extra", DType::F32, {1}, std::vector<uint8_t>(4, 0)});
        writeTensors(ckpt + "/model.safetensors", t);
      },
      {"tensor 'extra' is not a parameter"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        std::vector<ExtraTensor> t = zeroTensors(true);
        t.pop_back();
        writeTensors(ckpt + "/optimizer.safetensors", t);
      },
      {"optimizer.safetensors: moment 'logit_scale.exp_avg_sq' is missing"});
  expectCorruptionFound(
      [](const std::string &ckpt) {
        std::vector<ExtraTensor> t = zeroTensors(true);
        t.push_back({"wte.weight.step", DType::F32, {}, {0, 0, 0, 0}});
        writeTensors(ckpt + "/optimizer.safetensors", t);
      },
      {"tensor 'wte.weight.step' is not a moment"});
}

//===----------------------------------------------------------------------===//
// Refusals of saveCheckpoint
//===----------------------------------------------------------------------===//

void expectSaveError(const std::string &dir, const TrainingTensors &tensors,
                     const TrainerState &state, ErrorCode code,
                     const std::vector<std::string> &parts) {
  Status s = saveCheckpoint(dir, tensors.weights, tensors.moments, state);
  ASSERT_TRUE(s.isError());
  EXPECT_EQ(s.code(), code) << s.message();
  expectContains(s.message(), parts);
}

TEST(CheckpointTest, RefusesBadTargets) {
  TempDir dir;
  TrainingTensors tensors = makeTensors(1);
  expectSaveError(dir / "missing/ckpt", tensors, makeState(1), ErrorCode::IO,
                  {"cannot save checkpoint " + dir / "missing/ckpt",
                   "folder " + dir / "missing" + " does not exist"});
  writeTextFile(dir / "file", "x");
  expectSaveError(dir / "file", tensors, makeState(1), ErrorCode::IO,
                  {"exists and is not a folder"});
  expectSaveError(dir / "file/ckpt", tensors, makeState(1), ErrorCode::IO,
                  {dir / "file" + " is not a folder"});

  // A folder of other things is never replaced.
  ASSERT_TRUE(fs::create_directory(dir / "home"));
  writeTextFile(dir / "home/notes.txt", "keep me");
  expectSaveError(dir / "home", tensors, makeState(1), ErrorCode::IO,
                  {"is a folder but not a checkpoint", "no trainer_state.json",
                   "refusing to replace it"});
  EXPECT_EQ(readTextFile(dir / "home/notes.txt"), "keep me");

  ASSERT_EQ(save(dir / "ckpt", 1, 10), "");
  fs::create_directory_symlink(dir / "ckpt", dir / "link");
  expectSaveError(dir / "link", tensors, makeState(1), ErrorCode::IO,
                  {"is a symbolic link"});
  writeTextFile(dir / "ckpt.prev", "x");
  expectSaveError(dir / "ckpt", tensors, makeState(1), ErrorCode::IO,
                  {dir / "ckpt.prev" + " exists and is not a folder"});
  expectCheckpoint(dir / "ckpt", 1, 10);
  expectSaveError("", tensors, makeState(1), ErrorCode::InvalidArgument,
                  {"does not name a checkpoint folder"});
}

TEST(CheckpointTest, RefusesBadTensorsAndState) {
  TempDir dir;
  ASSERT_EQ(save(dir / "ckpt", 1, 10), "");
  auto expectRefused =
      [&](const std::function<void(TrainingTensors &, TrainerState &)> &edit,
          const std::vector<std::string> &parts) {
        TrainingTensors tensors = makeTensors(2);
        TrainerState state = makeState(20);
        edit(tensors, state);
        expectSaveError(dir / "ckpt", tensors, state,
                        ErrorCode::InvalidArgument, parts);
      };
  expectRefused([](TrainingTensors &t, TrainerState &) { t.weights.clear(); },
                {"no weights"});
  expectRefused(
      [](TrainingTensors &t, TrainerState &) { t.moments.pop_back(); },
      {"weight 'logit_scale' has no moment 'logit_scale.exp_avg_sq'"});
  expectRefused(
      [](TrainingTensors &t, TrainerState &) { t.moments[0].shape = {44}; },
      {"moment 'wte.weight.exp_avg' has shape [44], but its weight [11, 4]"});
  expectRefused(
      [](TrainingTensors &t, TrainerState &) {
        t.moments.push_back(t.moments[0]);
        t.moments.back().name = "wte.exp_avg";
      },
      {"moment 'wte.exp_avg' belongs to no weight"});
  expectRefused([](TrainingTensors &t,
                   TrainerState &) { t.moments.push_back(t.moments[0]); },
                {"two moments are called 'wte.weight.exp_avg'"});
  expectRefused([](TrainingTensors &t,
                   TrainerState &) { t.weights.push_back(t.weights[0]); },
                {"two weights are called 'wte.weight'"});
  expectRefused(
      [](TrainingTensors &t, TrainerState &) { t.weights[1].data = nullptr; },
      {"weight 'h.0.attn.c_attn.weight': null data"});
  expectRefused(
      [](TrainingTensors &t, TrainerState &) {
        t.weights[1].shape = {-4, 12};
      },
      {"negative dimension"});
  expectRefused(
      [](TrainingTensors &t, TrainerState &) { t.weights[0].name.clear(); },
      {"a weight has an empty name"});
  expectRefused(
      [](TrainingTensors &t, TrainerState &) { t.storage[3][7] = NAN; },
      {"weight 'h.0.attn.c_attn.weight': NaN at element 7",
       "refusing to save it over the last good checkpoint"});
  expectRefused(
      [](TrainingTensors &t, TrainerState &) { t.storage[2][0] = -INFINITY; },
      {"moment 'wte.weight.exp_avg_sq': infinity at element 0"});
  expectRefused([](TrainingTensors &, TrainerState &s) { s.step = -1; },
                {"step must be >= 0"});
  expectRefused(
      [](TrainingTensors &, TrainerState &s) { s.lrSchedule.minLR = 1; },
      {"minimum learning rate 1 is above the peak"});
  expectRefused(
      [](TrainingTensors &, TrainerState &s) { s.optimizer.epsilon = 0; },
      {"epsilon"});
  // None of them touched the last good checkpoint.
  expectCheckpoint(dir / "ckpt", 1, 10);
  EXPECT_EQ(listFolder(dir.str()), only("ckpt"));

  // Unless asked to.
  TrainingTensors tensors = makeTensors(2);
  tensors.storage[0][0] = NAN;
  CheckpointSaveOptions options;
  options.allowNonFinite = true;
  Status s = saveCheckpoint(dir / "ckpt", tensors.weights, tensors.moments,
                            makeState(20), options);
  ASSERT_TRUE(s.isOk()) << s.message();
  Expected<LoadedCheckpoint> loaded = loadCheckpointUnchecked(dir / "ckpt");
  ASSERT_TRUE(loaded.hasValue()) << loaded.message();
  EXPECT_TRUE(std::isnan(loaded->findWeight("wte.weight")->data[0]));
}

//===----------------------------------------------------------------------===//
// Leftovers of interrupted saves
//===----------------------------------------------------------------------===//

TEST(CheckpointTest, LoadsThePreviousCheckpointBetweenTheRenames) {
  // What a save killed between its two renames leaves: only "<name>.prev".
  TempDir dir;
  ASSERT_EQ(save(dir / "ckpt", 1, 10), "");
  fs::rename(dir / "ckpt", dir / "ckpt.prev");
  expectCheckpoint(dir / "ckpt", 1, 10, /*recovered=*/true);
  Expected<LoadedCheckpoint> loaded = loadCheckpointUnchecked(dir / "ckpt");
  ASSERT_TRUE(loaded.hasValue()) << loaded.message();
  EXPECT_EQ(loaded->path, dir / "ckpt.prev");

  // The next save puts a checkpoint under the name and drops the old one.
  ASSERT_EQ(save(dir / "ckpt", 2, 20), "");
  expectCheckpoint(dir / "ckpt", 2, 20);
  EXPECT_EQ(listFolder(dir.str()), only("ckpt"));
}

TEST(CheckpointTest, ASaveRemovesWhatKilledSavesLeft) {
  TempDir dir;
  ASSERT_EQ(save(dir / "ckpt", 1, 10), "");
  // A temporary folder half-written, a stale "<name>.prev", and a folder of
  // another checkpoint whose name shares the prefix (kept).
  ASSERT_TRUE(fs::create_directory(dir / ".ckpt.tmp-a1b2c3"));
  writeTextFile(dir / ".ckpt.tmp-a1b2c3/model.safetensors", "partial");
  ASSERT_TRUE(fs::create_directory(dir / "ckpt.prev"));
  writeTextFile(dir / "ckpt.prev/trainer_state.json", "{}");
  ASSERT_TRUE(fs::create_directory(dir / ".ckpt.tmp-other-name"));
  ASSERT_EQ(save(dir / "ckpt", 2, 20), "");
  EXPECT_EQ(listFolder(dir.str()),
            (std::vector<std::string>{".ckpt.tmp-other-name", "ckpt"}));
  expectCheckpoint(dir / "ckpt", 2, 20);
}

//===----------------------------------------------------------------------===//
// Crash safety
//===----------------------------------------------------------------------===//

/// Writes all of \p text to \p fd.
void writeFully(int fd, const std::string &text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0 && errno != EINTR)
      return;
    if (n > 0)
      done += static_cast<size_t>(n);
  }
}

/// Reads \p fd to its end.
std::string readFully(int fd) {
  std::string text;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return text;
    text.append(buf, static_cast<size_t>(n));
  }
}

/// Runs \p body in a forked child and returns its report: what \p body
/// returned ("" for success, "SKIP: why" to skip), or how the child died.
/// The body must report through its result, not through gtest assertions.
std::string runInChild(const std::function<std::string()> &body) {
  int fds[2];
  if (::pipe(fds) != 0)
    return std::string("pipe: ") + std::strerror(errno);
  pid_t pid = ::fork();
  if (pid < 0)
    return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    ::close(fds[0]);
    writeFully(fds[1], body());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string report = readFully(fds[0]);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    report += " (the child died, status " + std::to_string(status) + ")";
  return report;
}

/// Saves checkpoint (\p tag, \p step) in a child that is SIGKILLed once
/// \p onStage reports \p stage (with \p delay after it, when \p pause is
/// false, so that the kill lands wherever the save then is). Returns ""
/// once the child was killed or finished, or what went wrong.
std::string killDuringSave(const std::string &dir, float tag, int64_t step,
                           CheckpointSaveStage stage, bool pause,
                           std::chrono::microseconds delay,
                           const TrainingTensors &tensors) {
  int fds[2];
  if (::pipe(fds) != 0)
    return std::string("pipe: ") + std::strerror(errno);
  pid_t pid = ::fork();
  if (pid < 0)
    return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    ::close(fds[0]);
    CheckpointSaveOptions options;
    options.onStage = [&](CheckpointSaveStage reached) {
      if (reached != stage)
        return;
      writeFully(fds[1], "S");
      while (pause)
        ::pause();
    };
    Status s = saveCheckpoint(dir, tensors.weights, tensors.moments,
                              makeState(step), options);
    writeFully(fds[1], s.isOk() ? "D" : "E" + s.message());
    ::_exit(0);
  }
  ::close(fds[1]);
  char first = 0;
  ssize_t n;
  do
    n = ::read(fds[0], &first, 1);
  while (n < 0 && errno == EINTR);
  std::string problem;
  if (n != 1 || first != 'S')
    problem = "the child never reached stage " +
              std::string(getCheckpointSaveStageName(stage)) + ": " +
              std::string(n == 1 ? 1 : 0, first) + readFully(fds[0]);
  else if (delay.count() > 0)
    std::this_thread::sleep_for(delay);
  ::kill(pid, SIGKILL);
  std::string rest = readFully(fds[0]);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (problem.empty() && pause &&
      !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
    problem = "the paused child was not killed: " + rest;
  if (problem.empty() && rest.size() > 0 && rest[0] == 'E')
    problem = "the save failed: " + rest.substr(1);
  return problem;
}

class KillDuringSaveTest
    : public ::testing::TestWithParam<CheckpointSaveStage> {};

TEST_P(KillDuringSaveTest, ThePreviousCheckpointSurvives) {
  CheckpointSaveStage stage = GetParam();
  TempDir dir;
  ASSERT_EQ(save(dir / "ckpt", 1, 10), "");
  ASSERT_EQ(killDuringSave(dir / "ckpt", 2, 20, stage, /*pause=*/true,
                           std::chrono::microseconds(0), makeTensors(2)),
            "");

  // Until the new folder is renamed into place, the old checkpoint is what
  // loads, whole; from then on, the new one.
  bool renamed = stage >= CheckpointSaveStage::Renamed;
  bool aside = stage == CheckpointSaveStage::PreviousMovedAside;
  expectCheckpoint(dir / "ckpt", renamed ? 2 : 1, renamed ? 20 : 10,
                   /*recovered=*/aside);

  // A resumed run saves again; that cleans up whatever the kill left.
  ASSERT_EQ(save(dir / "ckpt", 3, 30), "");
  expectCheckpoint(dir / "ckpt", 3, 30);
  EXPECT_EQ(listFolder(dir.str()), only("ckpt"));
}

INSTANTIATE_TEST_SUITE_P(
    AllStages, KillDuringSaveTest,
    ::testing::Values(CheckpointSaveStage::TempFolderCreated,
                      CheckpointSaveStage::ModelWritten,
                      CheckpointSaveStage::OptimizerWritten,
                      CheckpointSaveStage::StateWritten,
                      CheckpointSaveStage::TempFolderSynced,
                      CheckpointSaveStage::PreviousMovedAside,
                      CheckpointSaveStage::Renamed,
                      CheckpointSaveStage::Committed),
    [](const ::testing::TestParamInfo<CheckpointSaveStage> &info) {
      std::string name = getCheckpointSaveStageName(info.param);
      name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
      return name;
    });

/// A model of about 4 MiB of weights (12 MiB with the moments).
const std::vector<std::pair<std::string, std::vector<int64_t>>> kLargeParams = {
    {"a", {512, 1024}}, {"b", {1024, 512}}};

TEST(CheckpointTest, KillsAtArbitraryMomentsOfALargeSave) {
  TrainingTensors oldTensors = makeTensors(1, kLargeParams);
  TrainingTensors newTensors = makeTensors(2, kLargeParams);
  ModelFingerprint model = fingerprintOf(kLargeParams);
  int sawOld = 0, sawNew = 0;
  for (int delayUs : {0, 300, 1000, 3000, 10000, 30000, 100000}) {
    SCOPED_TRACE("killed " + std::to_string(delayUs) + " us into the save");
    TempDir dir;
    Status s = saveCheckpoint(dir / "ckpt", oldTensors.weights,
                              oldTensors.moments, makeState(10));
    ASSERT_TRUE(s.isOk()) << s.message();
    ASSERT_EQ(killDuringSave(dir / "ckpt", 2, 20,
                             CheckpointSaveStage::TempFolderCreated,
                             /*pause=*/false,
                             std::chrono::microseconds(delayUs), newTensors),
              "");
    Expected<LoadedCheckpoint> loaded = loadCheckpoint(dir / "ckpt", model);
    ASSERT_TRUE(loaded.hasValue()) << loaded.message();
    bool isNew = loaded->state.step == 20;
    (isNew ? sawNew : sawOld)++;
    EXPECT_EQ(describeDifference(*loaded, isNew ? 2 : 1, isNew ? 20 : 10,
                                 kLargeParams),
              "");
  }
  // Which one each kill leaves depends on the machine's speed.
  std::printf("[          ] old checkpoint after %d kills, new after %d\n",
              sawOld, sawNew);
}

TEST(CheckpointTest, AFailedWriteLeavesThePreviousCheckpoint) {
  // RLIMIT_FSIZE makes the write that crosses it fail with EFBIG, in
  // model.safetensors (the first case) or in optimizer.safetensors (the
  // second: the weights fit, the moments do not).
  for (int64_t elements : {int64_t(64) << 10, int64_t(6) << 10}) {
    SCOPED_TRACE(std::to_string(elements) + " elements");
    TempDir dir;
    ASSERT_EQ(save(dir / "ckpt", 1, 10), "");
    auto params = kParams;
    params.push_back({"big", {elements}});
    TrainingTensors tensors = makeTensors(2, params);
    std::string report = runInChild([&]() -> std::string {
      ::signal(SIGXFSZ, SIG_IGN);
      struct rlimit limit = {40 << 10, 40 << 10};
      if (::setrlimit(RLIMIT_FSIZE, &limit) != 0)
        return std::string("setrlimit: ") + std::strerror(errno);
      Status s = saveCheckpoint(dir / "ckpt", tensors.weights, tensors.moments,
                                makeState(20));
      return s.isOk() ? "the save succeeded" : "ERROR " + s.message();
    });
    expectContains(
        report,
        {"ERROR cannot save checkpoint " + dir / "ckpt",
         elements > (10 << 10) ? "model.safetensors" : "optimizer.safetensors",
         std::strerror(EFBIG), "the previous checkpoint is unchanged"});
    expectCheckpoint(dir / "ckpt", 1, 10);
    EXPECT_EQ(listFolder(dir.str()), only("ckpt"));
  }
}

/// In a forked child: enters new user and mount namespaces (as root of the
/// user namespace) and mounts a tmpfs of \p size at \p mountPoint. Returns ""
/// or "SKIP: why".
std::string mountPrivateTmpfs(const std::string &mountPoint,
                              const std::string &size) {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  auto writeProc = [](const char *path, const std::string &text) {
    int fd = ::open(path, O_WRONLY);
    if (fd < 0)
      return false;
    bool ok = ::write(fd, text.data(), text.size()) ==
              static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
  };
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
    return std::string("SKIP: no user and mount namespaces here (unshare: ") +
           std::strerror(errno) + ")";
  if (!writeProc("/proc/self/setgroups", "deny") ||
      !writeProc("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
      !writeProc("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))
    return std::string("SKIP: cannot map the user into the namespace: ") +
           std::strerror(errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("tmpfs", mountPoint.c_str(), "tmpfs", 0,
              ("size=" + size).c_str()) != 0)
    return std::string("SKIP: cannot mount a tmpfs: ") + std::strerror(errno);
  return "";
}

/// Fails the test with \p report unless it is empty; skips it for "SKIP:".
#define EXPECT_CHILD_OK(report)                                                \
  do {                                                                         \
    std::string childReport = (report);                                        \
    if (childReport.rfind("SKIP: ", 0) == 0)                                   \
      GTEST_SKIP() << childReport.substr(6);                                   \
    EXPECT_EQ(childReport, "");                                                \
  } while (false)

TEST(CheckpointTest, DiskFullLeavesThePreviousCheckpoint) {
  TempDir dir;
  ASSERT_TRUE(fs::create_directory(dir / "mnt"));
  std::string mnt = dir / "mnt";
  EXPECT_CHILD_OK(runInChild([&]() -> std::string {
    std::string skip = mountPrivateTmpfs(mnt, "256k");
    if (!skip.empty())
      return skip;
    if (std::string e = save(mnt + "/ckpt", 1, 10); !e.empty())
      return "the first save failed: " + e;
    // 1 MiB of weights cannot fit in 256 KiB.
    auto params = kParams;
    params.push_back({"big", {256 << 10}});
    TrainingTensors tensors = makeTensors(2, params);
    Status s = saveCheckpoint(mnt + "/ckpt", tensors.weights, tensors.moments,
                              makeState(20));
    if (s.isOk())
      return "saving 3 MiB on a 256 KiB tmpfs succeeded";
    if (s.message().find(std::strerror(ENOSPC)) == std::string::npos ||
        s.message().find("previous checkpoint is unchanged") ==
            std::string::npos)
      return "unexpected message: " + s.message();
    Expected<LoadedCheckpoint> loaded =
        loadCheckpoint(mnt + "/ckpt", fingerprintOf(kParams));
    if (!loaded)
      return "the previous checkpoint does not load: " + loaded.message();
    if (std::string d = describeDifference(*loaded, 1, 10); !d.empty())
      return "the previous checkpoint changed: " + d;
    if (listFolder(mnt) != only("ckpt"))
      return "the failed save left files behind";
    // The space of the failed save was given back: another save fits.
    if (std::string e = save(mnt + "/ckpt", 3, 30); !e.empty())
      return "a save after the failed one failed: " + e;
    return "";
  }));
}

TEST(CheckpointTest, AReadOnlyFolderLeavesThePreviousCheckpoint) {
  TempDir dir;
  ASSERT_TRUE(fs::create_directory(dir / "mnt"));
  std::string mnt = dir / "mnt";
  EXPECT_CHILD_OK(runInChild([&]() -> std::string {
    std::string skip = mountPrivateTmpfs(mnt, "1m");
    if (!skip.empty())
      return skip;
    if (std::string e = save(mnt + "/ckpt", 1, 10); !e.empty())
      return "the first save failed: " + e;
    if (::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY,
                nullptr) != 0)
      return std::string("SKIP: cannot remount read-only: ") +
             std::strerror(errno);
    std::string e = save(mnt + "/ckpt", 2, 20);
    if (e.find("cannot create a temporary folder in " + mnt) ==
            std::string::npos ||
        e.find(std::strerror(EROFS)) == std::string::npos)
      return "unexpected result: " + e;
    Expected<LoadedCheckpoint> loaded =
        loadCheckpoint(mnt + "/ckpt", fingerprintOf(kParams));
    if (!loaded)
      return "the previous checkpoint does not load: " + loaded.message();
    return describeDifference(*loaded, 1, 10);
  }));
}

TEST(CheckpointTest, AFolderWithoutWritePermission) {
  if (::geteuid() == 0)
    GTEST_SKIP() << "root ignores folder permissions; the read-only mount "
                    "test covers this";
  TempDir dir;
  ASSERT_TRUE(fs::create_directory(dir / "ro"));
  ASSERT_EQ(save(dir / "ro/ckpt", 1, 10), "");
  ASSERT_EQ(::chmod((dir / "ro").c_str(), 0555), 0);
  std::string e = save(dir / "ro/ckpt", 2, 20);
  ::chmod((dir / "ro").c_str(), 0755);
  expectContains(e, {"cannot create a temporary folder", "Permission denied"});
  expectCheckpoint(dir / "ro/ckpt", 1, 10);
}

} // namespace
