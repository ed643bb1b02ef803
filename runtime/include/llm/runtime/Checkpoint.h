//===- Checkpoint.h - Crash-safe training checkpoints -----------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares the training checkpoint: a folder holding
//
//   model.safetensors      the weights by their checkpoint names, F32
//   optimizer.safetensors  AdamW's moments, "<param>.exp_avg" and
//                          "<param>.exp_avg_sq" for every weight, F32
//   trainer_state.json     the step, the data cursor, the learning-rate
//                          schedule, the AdamW settings, the model
//                          fingerprint and the format version
//
// saveCheckpoint replaces a checkpoint atomically: everything is written and
// fsync'ed in a fresh sibling folder ".<name>.tmp-XXXXXX", the old checkpoint
// is renamed to "<name>.prev", the new folder renamed to "<name>", the parent
// folder fsync'ed, and only then "<name>.prev" removed. Whenever the process
// dies, "<name>" (or, between the two renames, "<name>.prev") is a complete
// checkpoint, and loadCheckpoint finds it. docs/Training.md has the details.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_CHECKPOINT_H
#define LLM_RUNTIME_CHECKPOINT_H

#include "llm/runtime/DataLoader.h"
#include "llm/runtime/LRSchedule.h"
#include "llm/runtime/SafeTensors.h"
#include "llm/runtime/Status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llm {
namespace rt {

/// The version of trainer_state.json this runtime writes and reads.
constexpr int64_t CheckpointFormatVersion = 1;

/// An F32 tensor by name. The data is a view: for saving, the caller keeps
/// it alive; in a LoadedCheckpoint, it points into the mapped files.
struct NamedTensor {
  std::string name;
  /// The dimensions; empty for a scalar.
  std::vector<int64_t> shape;
  /// getNumElements() floats, row-major; may be null only when that is 0.
  const float *data = nullptr;

  /// Returns the product of the dimensions (1 for a scalar).
  uint64_t getNumElements() const;
};

/// The name, dtype and shape of one parameter.
struct ParamSignature {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;

  bool operator==(const ParamSignature &other) const {
    return name == other.name && dtype == other.dtype && shape == other.shape;
  }
  bool operator!=(const ParamSignature &other) const {
    return !(*this == other);
  }
};

/// What a checkpoint must match to be resumed: every parameter's signature,
/// sorted by name.
using ModelFingerprint = std::vector<ParamSignature>;

/// Returns \p params sorted by name, as a fingerprint.
ModelFingerprint makeFingerprint(std::vector<ParamSignature> params);

/// Returns the fingerprint of \p weights (all F32).
ModelFingerprint getFingerprint(const std::vector<NamedTensor> &weights);

/// Checks that a checkpoint's fingerprint \p checkpoint equals the model's
/// \p model. The error (code Weights) names \p checkpointPath and the first
/// parameter, in name order, that is missing on one side or differs.
Status checkFingerprint(const ModelFingerprint &model,
                        const ModelFingerprint &checkpoint,
                        const std::string &checkpointPath);

/// The AdamW hyperparameters the moments were accumulated with.
struct AdamWSettings {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weightDecay = 0.01;

  bool operator==(const AdamWSettings &other) const {
    return beta1 == other.beta1 && beta2 == other.beta2 &&
           epsilon == other.epsilon && weightDecay == other.weightDecay;
  }
};

/// The training state besides the tensors.
struct TrainerState {
  /// The number of completed optimizer steps (AdamW's bias correction uses
  /// it); >= 0.
  int64_t step = 0;
  /// The position in the training data (epoch, next batch, seed) and what
  /// the data order depends on.
  DataCursor data;
  LRScheduleConfig lrSchedule;
  AdamWSettings optimizer;
};

/// The stages of saveCheckpoint, reported to CheckpointSaveOptions::onStage
/// right after each completes.
enum class CheckpointSaveStage : uint8_t {
  TempFolderCreated,  ///< The temporary sibling folder exists.
  ModelWritten,       ///< model.safetensors is written and fsync'ed.
  OptimizerWritten,   ///< optimizer.safetensors is written and fsync'ed.
  StateWritten,       ///< trainer_state.json is written and fsync'ed.
  TempFolderSynced,   ///< The temporary folder is fsync'ed.
  PreviousMovedAside, ///< The old checkpoint is "<name>.prev" (only when
                      ///< there was one).
  Renamed,            ///< The new checkpoint is "<name>".
  Committed,          ///< The parent is fsync'ed and "<name>.prev" removed.
};

/// Returns the name of \p stage, e.g. "model-written".
const char *getCheckpointSaveStageName(CheckpointSaveStage stage);

/// Options of saveCheckpoint.
struct CheckpointSaveOptions {
  /// Called after each stage; the crash-safety tests stop the process here.
  std::function<void(CheckpointSaveStage)> onStage;
  /// Save weights and moments holding NaN or infinity. Off by default so
  /// that a diverged run cannot replace the last good checkpoint.
  bool allowNonFinite = false;
  /// Further files written into the checkpoint with the others, as (file
  /// name, contents): a model's config.json and tokenizer files make the
  /// checkpoint a model folder that llm-compile and llm-run take. Names are
  /// plain file names other than the checkpoint's own.
  std::vector<std::pair<std::string, std::string>> companionFiles;
};

/// Saves a checkpoint as folder \p dir, replacing the checkpoint there
/// atomically (see the file comment).
///
/// \p moments must hold exactly "<name>.exp_avg" and "<name>.exp_avg_sq" for
/// every weight, each with the weight's shape; the names of \p weights must
/// be unique and non-empty. The fingerprint is computed from \p weights.
///
/// Refused, with nothing written: bad arguments, NaN or infinite values
/// (code InvalidArgument); a missing parent folder, a \p dir that is a file,
/// a symbolic link, or a non-empty folder without trainer_state.json, a
/// "<dir>.prev" that is not a folder (code IO). A failed write (read-only
/// folder, disk full, ...) removes the temporary folder and leaves the
/// previous checkpoint as it was; the message names the file and the system
/// error.
///
/// Not safe against two processes saving to the same \p dir at once: each
/// save removes the temporary folders that killed saves left behind.
Status saveCheckpoint(const std::string &dir,
                      const std::vector<NamedTensor> &weights,
                      const std::vector<NamedTensor> &moments,
                      const TrainerState &state,
                      const CheckpointSaveOptions &options = {});

/// A checkpoint read by loadCheckpoint. The tensors are views into the
/// mapped safetensors files, which this object owns.
struct LoadedCheckpoint {
  /// The folder the checkpoint was read from.
  std::string path;
  /// True when "<dir>" was missing and "<dir>.prev", left by a save that
  /// died between its two renames, was read instead.
  bool recoveredFromPrevious = false;
  TrainerState state;
  ModelFingerprint fingerprint;
  /// The weights, sorted by name.
  std::vector<NamedTensor> weights;
  /// "<name>.exp_avg" then "<name>.exp_avg_sq" for each weight, in the order
  /// of weights.
  std::vector<NamedTensor> moments;
  std::unique_ptr<SafeTensorsFile> modelFile;
  std::unique_ptr<SafeTensorsFile> optimizerFile;

  /// Returns the weight called \p name, or null.
  const NamedTensor *findWeight(const std::string &name) const;
  /// Returns the moment called \p name (e.g. "wte.exp_avg"), or null.
  const NamedTensor *findMoment(const std::string &name) const;
};

/// Loads the checkpoint saved as \p dir (or the "<dir>.prev" an interrupted
/// save left, see LoadedCheckpoint::recoveredFromPrevious) and checks that
/// it is of the model whose fingerprint is \p expected (code Weights
/// otherwise, naming the first differing parameter).
///
/// Every file is validated: a missing folder or file, a corrupt or
/// inconsistent file (tensors that disagree with the fingerprint in
/// trainer_state.json, missing moments, dtypes other than F32, an unknown
/// format version) is an error naming the file (code IO).
Expected<LoadedCheckpoint> loadCheckpoint(const std::string &dir,
                                          const ModelFingerprint &expected);

/// Like loadCheckpoint, without checking the fingerprint against a model
/// (for inspection tools).
Expected<LoadedCheckpoint> loadCheckpointUnchecked(const std::string &dir);

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_CHECKPOINT_H
