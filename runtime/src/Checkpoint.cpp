//===- Checkpoint.cpp - Crash-safe training checkpoints -------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file implements saveCheckpoint and loadCheckpoint (Checkpoint.h).
//
// Crash safety rests on two facts: a folder only ever appears under the
// checkpoint's name by a rename(2) of a folder whose files and entries were
// all fsync'ed before, and the previous checkpoint is only deleted after the
// new one is in place and the parent folder fsync'ed. The one moment without
// a folder under the name, between renaming the old one to "<name>.prev" and
// the new one to "<name>", is covered by the loader falling back to
// "<name>.prev". The tensors go through writeSafeTensors, whose per-file
// atomic write adds its own temporary file inside the temporary folder.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Checkpoint.h"

#include "RuntimeSupport.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <new>
#include <set>
#include <system_error>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace llm::rt;
using namespace llm::rt::detail;

static const char ModelFileName[] = "model.safetensors";
static const char OptimizerFileName[] = "optimizer.safetensors";
static const char StateFileName[] = "trainer_state.json";
/// The "format" field of trainer_state.json.
static const char StateFormatName[] = "llm-opt-trainer-state";
/// trainer_state.json is small (the fingerprint is ~100 bytes a parameter);
/// anything beyond this is not one.
static constexpr uint64_t MaxStateFileBytes = uint64_t(256) << 20;

static const char ExpAvgSuffix[] = ".exp_avg";
static const char ExpAvgSqSuffix[] = ".exp_avg_sq";

//===----------------------------------------------------------------------===//
// Fingerprints
//===----------------------------------------------------------------------===//

uint64_t NamedTensor::getNumElements() const {
  uint64_t n = 1;
  for (int64_t dim : shape)
    n *= static_cast<uint64_t>(dim);
  return n;
}

ModelFingerprint llm::rt::makeFingerprint(std::vector<ParamSignature> params) {
  std::sort(params.begin(), params.end(),
            [](const ParamSignature &a, const ParamSignature &b) {
              return a.name < b.name;
            });
  return params;
}

ModelFingerprint
llm::rt::getFingerprint(const std::vector<NamedTensor> &weights) {
  std::vector<ParamSignature> params;
  params.reserve(weights.size());
  for (const NamedTensor &weight : weights)
    params.push_back({weight.name, DType::F32, weight.shape});
  return makeFingerprint(std::move(params));
}

/// Returns e.g. "F32 [768, 3072]".
static std::string signatureText(const ParamSignature &param) {
  return std::string(getDTypeName(param.dtype)) + " " + shapeText(param.shape);
}

/// Returns e.g. "1 parameter" or "12 parameters".
static std::string countText(size_t count, const char *noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

Status llm::rt::checkFingerprint(const ModelFingerprint &model,
                                 const ModelFingerprint &checkpoint,
                                 const std::string &checkpointPath) {
  auto fail = [&](const std::string &what) {
    return Status::error(
        ErrorCode::Weights,
        "checkpoint " + checkpointPath + " is of another model: " + what +
            " (the model has " + countText(model.size(), "parameter") +
            ", the checkpoint " + std::to_string(checkpoint.size()) + ")");
  };
  // Both lists are sorted by name: walk them together to find the first
  // name at which they part.
  size_t i = 0, j = 0;
  while (i < model.size() || j < checkpoint.size()) {
    if (j == checkpoint.size() ||
        (i < model.size() && model[i].name < checkpoint[j].name))
      return fail("parameter " + quote(model[i].name) +
                  " of the model is not in the checkpoint");
    if (i == model.size() || checkpoint[j].name < model[i].name)
      return fail("parameter " + quote(checkpoint[j].name) +
                  " of the checkpoint is not in the model");
    if (model[i] != checkpoint[j])
      return fail("parameter " + quote(model[i].name) + " is " +
                  signatureText(model[i]) + " in the model but " +
                  signatureText(checkpoint[j]) + " in the checkpoint");
    ++i;
    ++j;
  }
  return Status::success();
}

const char *llm::rt::getCheckpointSaveStageName(CheckpointSaveStage stage) {
  switch (stage) {
  case CheckpointSaveStage::TempFolderCreated:
    return "temp-folder-created";
  case CheckpointSaveStage::ModelWritten:
    return "model-written";
  case CheckpointSaveStage::OptimizerWritten:
    return "optimizer-written";
  case CheckpointSaveStage::StateWritten:
    return "state-written";
  case CheckpointSaveStage::TempFolderSynced:
    return "temp-folder-synced";
  case CheckpointSaveStage::PreviousMovedAside:
    return "previous-moved-aside";
  case CheckpointSaveStage::Renamed:
    return "renamed";
  case CheckpointSaveStage::Committed:
    return "committed";
  }
  return "<invalid stage>";
}

//===----------------------------------------------------------------------===//
// Paths and folders
//===----------------------------------------------------------------------===//

namespace {

/// The names a checkpoint folder involves.
struct CheckpointPaths {
  /// The checkpoint folder, without trailing slashes.
  std::string target;
  /// Its parent folder and its name in it.
  std::string parent, base;
  /// "<target>.prev".
  std::string previous;
  /// The prefix of the temporary folders: ".<base>.tmp-".
  std::string tempPrefix;
};

} // namespace

static Expected<CheckpointPaths> getCheckpointPaths(const std::string &dir) {
  CheckpointPaths paths;
  paths.target = dir;
  while (paths.target.size() > 1 && paths.target.back() == '/')
    paths.target.pop_back();
  splitPath(paths.target, paths.parent, paths.base);
  if (paths.base.empty() || paths.base == "." || paths.base == "..")
    return Status::error(ErrorCode::InvalidArgument,
                         quote(dir) + " does not name a checkpoint folder");
  paths.previous = paths.target + ".prev";
  paths.tempPrefix = "." + paths.base + ".tmp-";
  return paths;
}

/// Returns true if \p path exists as a folder (not through a symlink).
static bool isRealFolder(const std::string &path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

/// Returns 1 if the folder \p path is empty, 0 if not, -1 with errno set if
/// it cannot be read.
static int isEmptyFolder(const std::string &path) {
  DIR *d = ::opendir(path.c_str());
  if (!d)
    return -1;
  int empty = 1;
  while (struct dirent *entry = ::readdir(d)) {
    std::string_view name(entry->d_name);
    if (name != "." && name != "..") {
      empty = 0;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

/// fsyncs the folder \p path; returns 0 or the errno value.
static int syncFolder(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  int err = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

/// Removes \p path and everything below it; missing is fine.
static bool removeTree(const std::string &path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  return !ec;
}

/// Removes the temporary folders that killed saves of \p paths left behind.
static void removeStaleTempFolders(const CheckpointPaths &paths) {
  DIR *d = ::opendir(paths.parent.c_str());
  if (!d)
    return;
  std::vector<std::string> stale;
  while (struct dirent *entry = ::readdir(d)) {
    std::string name(entry->d_name);
    // mkdtemp's six random characters follow the prefix.
    if (name.size() == paths.tempPrefix.size() + 6 &&
        name.compare(0, paths.tempPrefix.size(), paths.tempPrefix) == 0)
      stale.push_back(joinPath(paths.parent, name));
  }
  ::closedir(d);
  for (const std::string &path : stale)
    if (isRealFolder(path))
      removeTree(path);
}

//===----------------------------------------------------------------------===//
// trainer_state.json
//===----------------------------------------------------------------------===//

/// Returns \p value as 16 lowercase hex digits.
static std::string hexText(uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(value));
  return buf;
}

static std::string encodeTrainerState(const TrainerState &state,
                                      const ModelFingerprint &fingerprint) {
  using OrderedJson = nlohmann::ordered_json;
  OrderedJson params = OrderedJson::array();
  for (const ParamSignature &param : fingerprint)
    params.push_back({{"name", param.name},
                      {"dtype", getDTypeName(param.dtype)},
                      {"shape", param.shape}});
  const DataCursor &data = state.data;
  const LRScheduleConfig &lr = state.lrSchedule;
  const AdamWSettings &adamw = state.optimizer;
  OrderedJson json = {
      {"format", StateFormatName},
      {"format_version", CheckpointFormatVersion},
      {"step", state.step},
      {"data",
       {{"seed", data.seed},
        {"epoch", data.epoch},
        {"next_batch", data.nextBatch},
        {"batch_size", data.batchSize},
        {"seq_length", data.seqLength},
        {"num_train_tokens", data.numTrainTokens},
        {"train_token_hash", hexText(data.trainTokenHash)}}},
      {"lr_schedule",
       {{"kind", getLRScheduleKindName(lr.kind)},
        {"peak_lr", lr.peakLR},
        {"min_lr", lr.minLR},
        {"warmup_steps", lr.warmupSteps},
        {"total_steps", lr.totalSteps}}},
      {"optimizer",
       {{"name", "adamw"},
        {"beta1", adamw.beta1},
        {"beta2", adamw.beta2},
        {"epsilon", adamw.epsilon},
        {"weight_decay", adamw.weightDecay}}},
      {"model", {{"parameters", params}}},
  };
  return json.dump(2) + "\n";
}

namespace {

/// Typed access to the fields of trainer_state.json; the first problem is
/// kept in `error`, naming the file and the field.
class StateReader {
public:
  explicit StateReader(std::string file) : file(std::move(file)) {}

  /// Returns the member \p key of the object \p object (at \p where), or
  /// null after recording an error.
  const Json *get(const Json &object, const std::string &where,
                  const char *key) {
    std::string field = where.empty() ? key : where + "." + key;
    if (!object.is_object()) {
      fail(where, "is not an object");
      return nullptr;
    }
    auto it = object.find(key);
    if (it == object.end()) {
      fail(field, "is missing");
      return nullptr;
    }
    return &*it;
  }

  void readInt(const Json &object, const std::string &where, const char *key,
               int64_t &out) {
    const Json *value = get(object, where, key);
    if (!value)
      return;
    if (value->is_number_integer() && !value->is_number_unsigned()) {
      out = value->get<int64_t>();
    } else if (value->is_number_unsigned() &&
               value->get<uint64_t>() <=
                   static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      out = static_cast<int64_t>(value->get<uint64_t>());
    } else {
      fail(join(where, key), "must be an integer, not " + value->dump());
      return;
    }
    if (out < 0)
      fail(join(where, key), "must be >= 0, not " + std::to_string(out));
  }

  void readUnsigned(const Json &object, const std::string &where,
                    const char *key, uint64_t &out) {
    const Json *value = get(object, where, key);
    if (!value)
      return;
    if (value->is_number_unsigned())
      out = value->get<uint64_t>();
    else
      fail(join(where, key), "must be an integer >= 0, not " + value->dump());
  }

  void readDouble(const Json &object, const std::string &where, const char *key,
                  double &out) {
    const Json *value = get(object, where, key);
    if (!value)
      return;
    if (value->is_number())
      out = value->get<double>();
    else
      fail(join(where, key), "must be a number, not " + value->dump());
  }

  void readString(const Json &object, const std::string &where, const char *key,
                  std::string &out) {
    const Json *value = get(object, where, key);
    if (!value)
      return;
    if (value->is_string())
      out = value->get<std::string>();
    else
      fail(join(where, key), "must be a string, not " + value->dump());
  }

  void fail(const std::string &field, const std::string &problem) {
    if (error.isOk())
      error = Status::error(ErrorCode::IO,
                            file + ": " +
                                (field.empty() ? std::string("the top level")
                                               : "field " + quote(field)) +
                                " " + problem);
  }

  /// Records a problem that is not about one field.
  void failWith(const std::string &message) {
    if (error.isOk())
      error = Status::error(ErrorCode::IO, file + ": " + message);
  }

  bool ok() const { return error.isOk(); }

  std::string file;
  Status error;

private:
  static std::string join(const std::string &where, const char *key) {
    return where.empty() ? key : where + "." + key;
  }
};

} // namespace

/// Checks the AdamW settings; returns the problem, or "" if there is none.
static std::string checkAdamW(const AdamWSettings &adamw) {
  auto inUnit = [](double beta) { return beta >= 0 && beta < 1; };
  if (!inUnit(adamw.beta1) || !inUnit(adamw.beta2))
    return "AdamW's betas must be in [0, 1)";
  if (!std::isfinite(adamw.epsilon) || adamw.epsilon <= 0)
    return "AdamW's epsilon must be a finite number > 0";
  if (!std::isfinite(adamw.weightDecay) || adamw.weightDecay < 0)
    return "AdamW's weight decay must be a finite number >= 0";
  return "";
}

/// Parses trainer_state.json at \p path.
static Status decodeTrainerState(const std::string &path, const Json &json,
                                 TrainerState &state,
                                 ModelFingerprint &fingerprint) {
  StateReader reader(path);
  std::string format;
  reader.readString(json, "", "format", format);
  if (reader.ok() && format != StateFormatName)
    reader.fail("format", "is " + quote(format) + ", not " +
                              quote(StateFormatName) +
                              ": this is not an llm-opt trainer state");
  int64_t version = 0;
  reader.readInt(json, "", "format_version", version);
  if (reader.ok() && version != CheckpointFormatVersion)
    return Status::error(
        ErrorCode::IO,
        path + ": format version " + std::to_string(version) +
            " is not supported (this build reads version " +
            std::to_string(CheckpointFormatVersion) +
            (version > CheckpointFormatVersion
                 ? "; the checkpoint was written by a newer llm-opt)"
                 : ")"));
  reader.readInt(json, "", "step", state.step);

  if (const Json *data = reader.get(json, "", "data")) {
    DataCursor &cursor = state.data;
    reader.readUnsigned(*data, "data", "seed", cursor.seed);
    reader.readInt(*data, "data", "epoch", cursor.epoch);
    reader.readInt(*data, "data", "next_batch", cursor.nextBatch);
    reader.readInt(*data, "data", "batch_size", cursor.batchSize);
    reader.readInt(*data, "data", "seq_length", cursor.seqLength);
    reader.readInt(*data, "data", "num_train_tokens", cursor.numTrainTokens);
    std::string hash;
    reader.readString(*data, "data", "train_token_hash", hash);
    if (reader.ok()) {
      char *end = nullptr;
      errno = 0;
      unsigned long long value = std::strtoull(hash.c_str(), &end, 16);
      if (hash.size() != 16 || *end != '\0' || errno != 0 ||
          hash.find_first_not_of("0123456789abcdef") != std::string::npos)
        reader.fail("data.train_token_hash",
                    "must be 16 lowercase hex digits, not " + quote(hash));
      cursor.trainTokenHash = value;
    }
  }

  if (const Json *lr = reader.get(json, "", "lr_schedule")) {
    LRScheduleConfig &config = state.lrSchedule;
    std::string kind;
    reader.readString(*lr, "lr_schedule", "kind", kind);
    if (reader.ok()) {
      if (std::optional<LRScheduleKind> parsed = parseLRScheduleKind(kind))
        config.kind = *parsed;
      else
        reader.fail("lr_schedule.kind",
                    "is the unknown schedule " + quote(kind));
    }
    reader.readDouble(*lr, "lr_schedule", "peak_lr", config.peakLR);
    reader.readDouble(*lr, "lr_schedule", "min_lr", config.minLR);
    reader.readInt(*lr, "lr_schedule", "warmup_steps", config.warmupSteps);
    reader.readInt(*lr, "lr_schedule", "total_steps", config.totalSteps);
    if (reader.ok()) {
      Status s = verifyLRScheduleConfig(config);
      if (s.isError())
        reader.failWith(s.message());
    }
  }

  if (const Json *adamw = reader.get(json, "", "optimizer")) {
    std::string name;
    reader.readString(*adamw, "optimizer", "name", name);
    if (reader.ok() && name != "adamw")
      reader.fail("optimizer.name",
                  "is " + quote(name) + "; only \"adamw\" is supported");
    AdamWSettings &settings = state.optimizer;
    reader.readDouble(*adamw, "optimizer", "beta1", settings.beta1);
    reader.readDouble(*adamw, "optimizer", "beta2", settings.beta2);
    reader.readDouble(*adamw, "optimizer", "epsilon", settings.epsilon);
    reader.readDouble(*adamw, "optimizer", "weight_decay",
                      settings.weightDecay);
    if (reader.ok()) {
      std::string problem = checkAdamW(settings);
      if (!problem.empty())
        reader.failWith(problem);
    }
  }

  const Json *model = reader.get(json, "", "model");
  const Json *params =
      model ? reader.get(*model, "model", "parameters") : nullptr;
  if (params && !params->is_array())
    reader.fail("model.parameters", "must be an array");
  if (!reader.ok())
    return reader.error;

  std::vector<ParamSignature> signatures;
  std::set<std::string> names;
  for (size_t i = 0; i < params->size(); ++i) {
    const Json &entry = (*params)[i];
    std::string where = "model.parameters[" + std::to_string(i) + "]";
    ParamSignature param;
    std::string dtype;
    reader.readString(entry, where, "name", param.name);
    reader.readString(entry, where, "dtype", dtype);
    const Json *shape = reader.get(entry, where, "shape");
    if (!reader.ok())
      return reader.error;
    std::optional<DType> parsed = parseDType(dtype);
    if (!parsed)
      reader.fail(where + ".dtype", "is the unknown dtype " + quote(dtype));
    else
      param.dtype = *parsed;
    if (!shape->is_array())
      reader.fail(where + ".shape", "must be an array");
    else
      for (const Json &dim : *shape) {
        if (!dim.is_number_integer() ||
            (!dim.is_number_unsigned() && dim.get<int64_t>() < 0) ||
            (dim.is_number_unsigned() &&
             dim.get<uint64_t>() >
                 static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
          reader.fail(where + ".shape",
                      "must hold integers >= 0, not " + dim.dump());
          break;
        }
        param.shape.push_back(dim.get<int64_t>());
      }
    if (reader.ok() && !names.insert(param.name).second)
      reader.fail(where + ".name", "repeats parameter " + quote(param.name));
    if (!reader.ok())
      return reader.error;
    signatures.push_back(std::move(param));
  }
  if (signatures.empty())
    return Status::error(ErrorCode::IO, path + ": the model has no parameters");
  fingerprint = makeFingerprint(std::move(signatures));
  return Status::success();
}

//===----------------------------------------------------------------------===//
// saveCheckpoint
//===----------------------------------------------------------------------===//

/// Returns the index of the first element of \p tensor that is NaN or
/// infinite, or -1.
static int64_t findNonFinite(const NamedTensor &tensor) {
  uint64_t n = tensor.getNumElements();
  for (uint64_t i = 0; i < n; ++i)
    if (!std::isfinite(tensor.data[i]))
      return static_cast<int64_t>(i);
  return -1;
}

/// Checks one tensor to save; \p kind is "weight" or "moment".
static Status checkTensorToSave(const NamedTensor &tensor, const char *kind,
                                bool allowNonFinite) {
  auto fail = [&](const std::string &problem) {
    return Status::error(ErrorCode::InvalidArgument, std::string(kind) + " " +
                                                         quote(tensor.name) +
                                                         ": " + problem);
  };
  if (tensor.name.empty())
    return Status::error(ErrorCode::InvalidArgument,
                         std::string("a ") + kind + " has an empty name");
  uint64_t count = 1;
  for (int64_t dim : tensor.shape) {
    if (dim < 0)
      return fail("negative dimension in shape " + shapeText(tensor.shape));
    if (!checkedMul(count, static_cast<uint64_t>(dim), count) ||
        count > std::numeric_limits<uint64_t>::max() / sizeof(float))
      return fail("shape " + shapeText(tensor.shape) + " is too large");
  }
  if (count > 0 && !tensor.data)
    return fail("null data");
  if (!allowNonFinite) {
    int64_t bad = findNonFinite(tensor);
    if (bad >= 0)
      return fail(
          std::string(std::isnan(tensor.data[bad]) ? "NaN" : "infinity") +
          " at element " + std::to_string(bad) +
          "; refusing to save it over the last good checkpoint");
  }
  return Status::success();
}

/// Checks the arguments of saveCheckpoint.
static Status checkSaveArguments(const std::vector<NamedTensor> &weights,
                                 const std::vector<NamedTensor> &moments,
                                 const TrainerState &state,
                                 bool allowNonFinite) {
  auto invalid = [](const std::string &message) {
    return Status::error(ErrorCode::InvalidArgument, message);
  };
  if (weights.empty())
    return invalid("there are no weights to save");
  std::set<std::string> weightNames;
  for (const NamedTensor &weight : weights) {
    Status s = checkTensorToSave(weight, "weight", allowNonFinite);
    if (s.isError())
      return s;
    if (!weightNames.insert(weight.name).second)
      return invalid("two weights are called " + quote(weight.name));
  }
  std::map<std::string, const NamedTensor *> momentsByName;
  for (const NamedTensor &moment : moments) {
    Status s = checkTensorToSave(moment, "moment", allowNonFinite);
    if (s.isError())
      return s;
    if (!momentsByName.emplace(moment.name, &moment).second)
      return invalid("two moments are called " + quote(moment.name));
  }
  for (const NamedTensor &weight : weights)
    for (const char *suffix : {ExpAvgSuffix, ExpAvgSqSuffix}) {
      std::string name = weight.name + suffix;
      auto it = momentsByName.find(name);
      if (it == momentsByName.end())
        return invalid("weight " + quote(weight.name) + " has no moment " +
                       quote(name));
      if (it->second->shape != weight.shape)
        return invalid("moment " + quote(name) + " has shape " +
                       shapeText(it->second->shape) + ", but its weight " +
                       shapeText(weight.shape));
      momentsByName.erase(it);
    }
  if (!momentsByName.empty())
    return invalid("moment " + quote(momentsByName.begin()->first) +
                   " belongs to no weight (moments are named "
                   "'<weight>.exp_avg' and '<weight>.exp_avg_sq')");

  if (state.step < 0)
    return invalid("the step must be >= 0, not " + std::to_string(state.step));
  const DataCursor &data = state.data;
  if (data.epoch < 0 || data.nextBatch < 0 || data.batchSize < 0 ||
      data.seqLength < 0 || data.numTrainTokens < 0)
    return invalid("the data cursor has a negative field");
  Status s = verifyLRScheduleConfig(state.lrSchedule);
  if (s.isError())
    return s;
  std::string problem = checkAdamW(state.optimizer);
  if (!problem.empty())
    return invalid(problem);
  return Status::success();
}

/// Checks where a checkpoint of \p paths may be saved.
static Status checkSaveTarget(const CheckpointPaths &paths) {
  auto fail = [](const std::string &message) {
    return Status::error(ErrorCode::IO, message);
  };
  struct stat st;
  if (::stat(paths.parent.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT)
      return fail("folder " + paths.parent + " does not exist");
    return fail("cannot access folder " + paths.parent + ": " + errnoText(err));
  }
  if (!S_ISDIR(st.st_mode))
    return fail(paths.parent + " is not a folder");

  if (::lstat(paths.target.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode))
      return fail(paths.target +
                  " is a symbolic link; give the folder it points to");
    if (!S_ISDIR(st.st_mode))
      return fail(paths.target + " exists and is not a folder");
    struct stat stateSt;
    std::string statePath = joinPath(paths.target, StateFileName);
    if (::lstat(statePath.c_str(), &stateSt) != 0) {
      int empty = isEmptyFolder(paths.target);
      if (empty < 0) {
        int err = errno;
        return fail("cannot read folder " + paths.target + ": " +
                    errnoText(err));
      }
      if (!empty)
        return fail(paths.target +
                    " is a folder but not a checkpoint (it "
                    "has no " +
                    StateFileName + "); refusing to replace it");
    }
  } else if (int err = errno; err != ENOENT) {
    return fail("cannot access " + paths.target + ": " + errnoText(err));
  }

  if (::lstat(paths.previous.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
    return fail(paths.previous + " exists and is not a folder; saving needs "
                                 "that name for the previous checkpoint");
  return Status::success();
}

/// Returns the tensors of \p tensors for writeSafeTensors.
static std::vector<TensorToWrite>
getTensorsToWrite(const std::vector<NamedTensor> &tensors) {
  std::vector<TensorToWrite> out;
  out.reserve(tensors.size());
  for (const NamedTensor &t : tensors)
    out.push_back({t.name, DType::F32, t.shape, t.data,
                   t.getNumElements() * sizeof(float)});
  return out;
}

/// Returns \p weights' moments in the order of the weights (exp_avg, then
/// exp_avg_sq), so that optimizer.safetensors has a predictable layout.
static std::vector<NamedTensor>
orderMoments(const std::vector<NamedTensor> &weights,
             const std::vector<NamedTensor> &moments) {
  std::map<std::string, const NamedTensor *> byName;
  for (const NamedTensor &moment : moments)
    byName.emplace(moment.name, &moment);
  std::vector<NamedTensor> ordered;
  ordered.reserve(moments.size());
  for (const NamedTensor &weight : weights)
    for (const char *suffix : {ExpAvgSuffix, ExpAvgSqSuffix})
      ordered.push_back(*byName.at(weight.name + suffix));
  return ordered;
}

namespace {

/// Removes the temporary folder of a save unless the save got far enough to
/// rename it.
class TempFolderGuard {
public:
  explicit TempFolderGuard(std::string path) : path(std::move(path)) {}
  ~TempFolderGuard() {
    if (!path.empty())
      removeTree(path);
  }
  TempFolderGuard(const TempFolderGuard &) = delete;
  TempFolderGuard &operator=(const TempFolderGuard &) = delete;

  void release() { path.clear(); }

private:
  std::string path;
};

} // namespace

/// Does the work of saveCheckpoint once the arguments are checked; errors
/// lack the "cannot save checkpoint" prefix.
static Status saveCheckpointFolder(const CheckpointPaths &paths,
                                   const std::vector<NamedTensor> &weights,
                                   const std::vector<NamedTensor> &moments,
                                   const TrainerState &state,
                                   const CheckpointSaveOptions &options) {
  auto reached = [&](CheckpointSaveStage stage) {
    if (options.onStage)
      options.onStage(stage);
  };
  bool hadPrevious = isRealFolder(paths.target);
  const std::string unchanged =
      hadPrevious ? "; the previous checkpoint is unchanged" : "";
  auto ioError = [&](const std::string &message) {
    return Status::error(ErrorCode::IO, message + unchanged);
  };

  removeStaleTempFolders(paths);
  std::string tmpl = joinPath(paths.parent, paths.tempPrefix + "XXXXXX");
  std::vector<char> tmpName(tmpl.begin(), tmpl.end());
  tmpName.push_back('\0');
  if (!::mkdtemp(tmpName.data())) {
    int err = errno;
    return ioError("cannot create a temporary folder in " + paths.parent +
                   ": " + errnoText(err));
  }
  std::string temp(tmpName.data());
  TempFolderGuard guard(temp);
  // mkdtemp makes the folder private (0700); a checkpoint is an ordinary
  // folder.
  if (::chmod(temp.c_str(), 0755) != 0) {
    int err = errno;
    return ioError("cannot set the mode of " + temp + ": " + errnoText(err));
  }
  reached(CheckpointSaveStage::TempFolderCreated);

  Status s = writeSafeTensors(joinPath(temp, ModelFileName),
                              getTensorsToWrite(weights), {{"format", "pt"}});
  if (s.isError())
    return ioError(s.message());
  reached(CheckpointSaveStage::ModelWritten);

  s = writeSafeTensors(joinPath(temp, OptimizerFileName),
                       getTensorsToWrite(orderMoments(weights, moments)),
                       {{"format", "pt"}});
  if (s.isError())
    return ioError(s.message());
  reached(CheckpointSaveStage::OptimizerWritten);

  std::string stateText = encodeTrainerState(state, getFingerprint(weights));
  s = writeFileAtomically(joinPath(temp, StateFileName),
                          {{stateText.data(), stateText.size()}});
  if (s.isError())
    return ioError(s.message());
  for (const auto &[name, contents] : options.companionFiles) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." ||
        name == ".." || name == ModelFileName || name == OptimizerFileName ||
        name == StateFileName)
      return ioError("cannot save '" + name +
                     "' with the checkpoint: not a plain file name of its own");
    s = writeFileAtomically(joinPath(temp, name),
                            {{contents.data(), contents.size()}});
    if (s.isError())
      return ioError(s.message());
  }
  reached(CheckpointSaveStage::StateWritten);

  // Each write above already fsync'ed the folder after its rename; this
  // one makes the folder's durability independent of how they do it.
  if (int err = syncFolder(temp))
    return ioError("cannot fsync folder " + temp + ": " + errnoText(err));
  reached(CheckpointSaveStage::TempFolderSynced);

  if (hadPrevious) {
    // A "<name>.prev" next to a complete "<name>" is a leftover of an
    // earlier save that died before removing it.
    if (!removeTree(paths.previous))
      return ioError("cannot remove the stale " + paths.previous);
    if (::rename(paths.target.c_str(), paths.previous.c_str()) != 0) {
      int err = errno;
      return ioError("cannot rename " + paths.target + " to " + paths.previous +
                     ": " + errnoText(err));
    }
    reached(CheckpointSaveStage::PreviousMovedAside);
  }

  if (::rename(temp.c_str(), paths.target.c_str()) != 0) {
    int err = errno;
    if (hadPrevious && ::rename(paths.previous.c_str(), paths.target.c_str()))
      return Status::error(ErrorCode::IO,
                           "cannot rename " + temp + " to " + paths.target +
                               ": " + errnoText(err) +
                               "; the previous checkpoint is now " +
                               paths.previous);
    return ioError("cannot rename " + temp + " to " + paths.target + ": " +
                   errnoText(err));
  }
  guard.release();
  reached(CheckpointSaveStage::Renamed);

  if (int err = syncFolder(paths.parent))
    return Status::error(ErrorCode::IO,
                         "the checkpoint was written, but fsync of folder " +
                             paths.parent + " failed: " + errnoText(err) +
                             "; it may not survive a power loss");
  // A failure here only leaves a stale "<name>.prev", which the next save
  // removes; the new checkpoint is in place either way.
  removeTree(paths.previous);
  reached(CheckpointSaveStage::Committed);
  return Status::success();
}

Status llm::rt::saveCheckpoint(const std::string &dir,
                               const std::vector<NamedTensor> &weights,
                               const std::vector<NamedTensor> &moments,
                               const TrainerState &state,
                               const CheckpointSaveOptions &options) {
  const std::string prefix = "cannot save checkpoint " + dir + ": ";
  try {
    auto withPrefix = [&](const Status &s) {
      return Status::error(s.code(), prefix + s.message());
    };
    Status s =
        checkSaveArguments(weights, moments, state, options.allowNonFinite);
    if (s.isError())
      return withPrefix(s);
    Expected<CheckpointPaths> paths = getCheckpointPaths(dir);
    if (!paths)
      return withPrefix(paths.getStatus());
    s = checkSaveTarget(*paths);
    if (s.isError())
      return withPrefix(s);
    s = saveCheckpointFolder(*paths, weights, moments, state, options);
    if (s.isError())
      return withPrefix(s);
    return Status::success();
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory, prefix + "out of memory");
  } catch (const std::exception &e) {
    return Status::error(prefix + "unexpected error: " + e.what());
  }
}

//===----------------------------------------------------------------------===//
// loadCheckpoint
//===----------------------------------------------------------------------===//

const NamedTensor *LoadedCheckpoint::findWeight(const std::string &name) const {
  // The weights are sorted by name.
  auto it =
      std::lower_bound(weights.begin(), weights.end(), name,
                       [](const NamedTensor &weight, const std::string &key) {
                         return weight.name < key;
                       });
  return it != weights.end() && it->name == name ? &*it : nullptr;
}

const NamedTensor *LoadedCheckpoint::findMoment(const std::string &name) const {
  for (const NamedTensor &moment : moments)
    if (moment.name == name)
      return &moment;
  return nullptr;
}

/// Opens \p folder/\p name, which must exist.
static Expected<std::unique_ptr<SafeTensorsFile>>
openCheckpointFile(const std::string &folder, const char *name) {
  std::string path = joinPath(folder, name);
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT)
    return Status::error(ErrorCode::IO, "checkpoint " + folder +
                                            " is incomplete: " + name +
                                            " is missing");
  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  if (!file)
    return file.getStatus().withDefaultCode(ErrorCode::IO);
  return file;
}

/// Returns \p view as a NamedTensor, checking that it is F32 of shape
/// \p shape and aligned for float access.
static Expected<NamedTensor> getTensor(const SafeTensorsFile &file,
                                       const TensorView &view,
                                       const std::vector<int64_t> &shape) {
  std::string where = file.getPath() + ": tensor " + quote(view.name) + " ";
  if (view.dtype != DType::F32)
    return Status::error(ErrorCode::IO, where + "is " +
                                            getDTypeName(view.dtype) +
                                            "; checkpoints hold F32");
  if (view.shape != shape)
    return Status::error(
        ErrorCode::IO, where + "has shape " + shapeText(view.shape) +
                           ", but trainer_state.json says " + shapeText(shape));
  if (reinterpret_cast<uintptr_t>(view.data) % alignof(float) != 0)
    return Status::error(ErrorCode::IO,
                         where + "is not aligned for F32 access");
  NamedTensor tensor;
  tensor.name = view.name;
  tensor.shape = view.shape;
  tensor.data = reinterpret_cast<const float *>(view.data);
  return tensor;
}

static Expected<LoadedCheckpoint>
loadCheckpointImpl(const std::string &dir, const ModelFingerprint *expected) {
  Expected<CheckpointPaths> paths = getCheckpointPaths(dir);
  if (!paths)
    return paths.getStatus();
  LoadedCheckpoint loaded;
  loaded.path = paths->target;
  struct stat st;
  if (::stat(paths->target.c_str(), &st) != 0) {
    int err = errno;
    if (err != ENOENT)
      return Status::error(ErrorCode::IO, "cannot access checkpoint " +
                                              paths->target + ": " +
                                              errnoText(err));
    // A save that died between its two renames left only "<name>.prev".
    if (!isRealFolder(paths->previous))
      return Status::error(ErrorCode::IO,
                           "checkpoint " + paths->target + " does not exist");
    loaded.path = paths->previous;
    loaded.recoveredFromPrevious = true;
  } else if (!S_ISDIR(st.st_mode)) {
    return Status::error(ErrorCode::IO,
                         "checkpoint " + paths->target + " is not a folder");
  }
  const std::string &folder = loaded.path;

  std::string statePath = joinPath(folder, StateFileName);
  if (::lstat(statePath.c_str(), &st) != 0 && errno == ENOENT)
    return Status::error(ErrorCode::IO, "checkpoint " + folder +
                                            " is incomplete: " + StateFileName +
                                            " is missing");
  Expected<std::string> stateText = readSmallFile(statePath, MaxStateFileBytes);
  if (!stateText)
    return stateText.getStatus().withDefaultCode(ErrorCode::IO);
  Json stateJson;
  Status s =
      parseJsonStrict(stateText->data(), stateText->data() + stateText->size(),
                      statePath, stateJson);
  if (s.isError())
    return s.withDefaultCode(ErrorCode::IO);
  s = decodeTrainerState(statePath, stateJson, loaded.state,
                         loaded.fingerprint);
  if (s.isError())
    return s;
  // The likeliest mistake, resuming another model, before any large file.
  if (expected) {
    s = checkFingerprint(*expected, loaded.fingerprint, folder);
    if (s.isError())
      return s;
  }

  Expected<std::unique_ptr<SafeTensorsFile>> modelFile =
      openCheckpointFile(folder, ModelFileName);
  if (!modelFile)
    return modelFile.getStatus();
  Expected<std::unique_ptr<SafeTensorsFile>> optimizerFile =
      openCheckpointFile(folder, OptimizerFileName);
  if (!optimizerFile)
    return optimizerFile.getStatus();
  loaded.modelFile = modelFile.take();
  loaded.optimizerFile = optimizerFile.take();

  auto extraTensor = [](const SafeTensorsFile &file,
                        const std::set<std::string> &known) -> std::string {
    for (const TensorView &view : file.getTensors())
      if (!known.count(view.name))
        return view.name;
    return "";
  };
  std::set<std::string> weightNames, momentNames;
  for (const ParamSignature &param : loaded.fingerprint) {
    if (param.dtype != DType::F32)
      return Status::error(ErrorCode::IO, statePath + ": parameter " +
                                              quote(param.name) + " is " +
                                              getDTypeName(param.dtype) +
                                              "; checkpoints hold F32");
    const TensorView *view = loaded.modelFile->lookup(param.name);
    if (!view)
      return Status::error(ErrorCode::IO, loaded.modelFile->getPath() +
                                              ": parameter " +
                                              quote(param.name) + " of " +
                                              StateFileName + " is missing");
    Expected<NamedTensor> weight =
        getTensor(*loaded.modelFile, *view, param.shape);
    if (!weight)
      return weight.getStatus();
    loaded.weights.push_back(weight.take());
    weightNames.insert(param.name);

    for (const char *suffix : {ExpAvgSuffix, ExpAvgSqSuffix}) {
      std::string name = param.name + suffix;
      const TensorView *momentView = loaded.optimizerFile->lookup(name);
      if (!momentView)
        return Status::error(ErrorCode::IO, loaded.optimizerFile->getPath() +
                                                ": moment " + quote(name) +
                                                " is missing");
      Expected<NamedTensor> moment =
          getTensor(*loaded.optimizerFile, *momentView, param.shape);
      if (!moment)
        return moment.getStatus();
      loaded.moments.push_back(moment.take());
      momentNames.insert(name);
    }
  }
  std::string extra = extraTensor(*loaded.modelFile, weightNames);
  if (!extra.empty())
    return Status::error(ErrorCode::IO, loaded.modelFile->getPath() +
                                            ": tensor " + quote(extra) +
                                            " is not a parameter of " +
                                            StateFileName);
  extra = extraTensor(*loaded.optimizerFile, momentNames);
  if (!extra.empty())
    return Status::error(ErrorCode::IO, loaded.optimizerFile->getPath() +
                                            ": tensor " + quote(extra) +
                                            " is not a moment of a parameter");
  return loaded;
}

Expected<LoadedCheckpoint>
llm::rt::loadCheckpoint(const std::string &dir,
                        const ModelFingerprint &expected) {
  try {
    return loadCheckpointImpl(dir, &expected);
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "checkpoint " + dir + ": out of memory");
  } catch (const std::exception &e) {
    return Status::error("checkpoint " + dir +
                         ": unexpected error: " + e.what());
  }
}

Expected<LoadedCheckpoint>
llm::rt::loadCheckpointUnchecked(const std::string &dir) {
  try {
    return loadCheckpointImpl(dir, nullptr);
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "checkpoint " + dir + ": out of memory");
  } catch (const std::exception &e) {
    return Status::error("checkpoint " + dir +
                         ": unexpected error: " + e.what());
  }
}
