//===- LRSchedule.h - Learning-rate schedules for training ------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares the learning-rate schedules of training: a linear warmup
// from 0 to the peak rate, then
//
//   constant  the peak rate for ever;
//   linear    a straight line down to the minimum rate at the last step;
//   cosine    half a cosine wave down to the minimum rate at the last step.
//
// The formulas are those of Hugging Face transformers'
// get_{constant,linear,cosine}_schedule_with_warmup (with a minimum rate, as
// get_cosine_with_min_lr_schedule_with_warmup), so that lr(step) is the rate
// of the optimizer update that follows `step` completed updates:
//
//   step < warmup:  peak * step / warmup
//   otherwise:      min + (peak - min) * f(progress),
//                   progress = (step - warmup) / max(1, total - warmup)
//                   f = 1 (constant), 1 - progress (linear),
//                       (1 + cos(pi * progress)) / 2 (cosine)
//
// Unlike Hugging Face, the decaying schedules give the minimum rate from step
// `total` on: their rate does not rise again past the end, and a warmup as
// long as the run ends at the minimum rather than at the peak.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_LRSCHEDULE_H
#define LLM_RUNTIME_LRSCHEDULE_H

#include "llm/runtime/Status.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace llm {
namespace rt {

/// The shape of the schedule after the warmup.
enum class LRScheduleKind : uint8_t {
  Constant, ///< "constant": the peak rate.
  Linear,   ///< "linear": linear decay to the minimum rate.
  Cosine,   ///< "cosine": cosine decay to the minimum rate.
};

/// Returns the name of \p kind: "constant", "linear" or "cosine".
const char *getLRScheduleKindName(LRScheduleKind kind);

/// Parses a schedule name as getLRScheduleKindName() writes it; std::nullopt
/// for any other string.
std::optional<LRScheduleKind> parseLRScheduleKind(std::string_view name);

/// The settings of a schedule, as a checkpoint stores them.
struct LRScheduleConfig {
  LRScheduleKind kind = LRScheduleKind::Cosine;
  /// The rate at the end of the warmup; finite and >= 0.
  double peakLR = 3e-4;
  /// The rate the decay ends at; finite, >= 0 and <= peakLR. Unused by the
  /// constant schedule.
  double minLR = 0.0;
  /// The number of warmup steps; >= 0 and <= totalSteps.
  int64_t warmupSteps = 0;
  /// The number of optimizer steps of the whole run; > 0 for linear and
  /// cosine. 0 means "unbounded" for the constant schedule.
  int64_t totalSteps = 0;

  bool operator==(const LRScheduleConfig &other) const {
    return kind == other.kind && peakLR == other.peakLR &&
           minLR == other.minLR && warmupSteps == other.warmupSteps &&
           totalSteps == other.totalSteps;
  }
  bool operator!=(const LRScheduleConfig &other) const {
    return !(*this == other);
  }
};

/// Checks \p config; the error (code InvalidArgument) names the bad setting.
Status verifyLRScheduleConfig(const LRScheduleConfig &config);

/// A checked learning-rate schedule (see the file comment for the formulas).
class LRSchedule {
public:
  /// Returns the schedule of \p config, or the error of
  /// verifyLRScheduleConfig().
  static Expected<LRSchedule> create(const LRScheduleConfig &config);

  /// Returns the learning rate of the update that follows \p step completed
  /// updates. Negative steps are treated as 0.
  double lr(int64_t step) const;

  const LRScheduleConfig &getConfig() const { return config; }

private:
  explicit LRSchedule(const LRScheduleConfig &config) : config(config) {}

  LRScheduleConfig config;
};

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_LRSCHEDULE_H
