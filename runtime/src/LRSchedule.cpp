//===- LRSchedule.cpp - Learning-rate schedules for training --------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file implements the warmup + constant/linear/cosine learning-rate
// schedules declared in LRSchedule.h.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/LRSchedule.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

using namespace llm::rt;

static constexpr double Pi = 3.14159265358979323846;

const char *llm::rt::getLRScheduleKindName(LRScheduleKind kind) {
  switch (kind) {
  case LRScheduleKind::Constant:
    return "constant";
  case LRScheduleKind::Linear:
    return "linear";
  case LRScheduleKind::Cosine:
    return "cosine";
  }
  return "<invalid schedule>";
}

std::optional<LRScheduleKind>
llm::rt::parseLRScheduleKind(std::string_view name) {
  for (LRScheduleKind kind : {LRScheduleKind::Constant, LRScheduleKind::Linear,
                              LRScheduleKind::Cosine})
    if (name == getLRScheduleKindName(kind))
      return kind;
  return std::nullopt;
}

/// Renders a rate for a message with all the digits that matter.
static std::string rateText(double value) {
  std::ostringstream os;
  os.precision(17);
  os << value;
  return os.str();
}

Status llm::rt::verifyLRScheduleConfig(const LRScheduleConfig &config) {
  auto fail = [](const std::string &message) {
    return Status::error(ErrorCode::InvalidArgument,
                         "learning-rate schedule: " + message);
  };
  if (!parseLRScheduleKind(getLRScheduleKindName(config.kind)))
    return fail("unknown schedule kind");
  if (!std::isfinite(config.peakLR) || config.peakLR < 0)
    return fail("the peak learning rate must be a finite number >= 0, not " +
                rateText(config.peakLR));
  if (!std::isfinite(config.minLR) || config.minLR < 0)
    return fail("the minimum learning rate must be a finite number >= 0, "
                "not " +
                rateText(config.minLR));
  if (config.kind != LRScheduleKind::Constant && config.minLR > config.peakLR)
    return fail("the minimum learning rate " + rateText(config.minLR) +
                " is above the peak learning rate " + rateText(config.peakLR));
  if (config.warmupSteps < 0)
    return fail("the number of warmup steps must be >= 0, not " +
                std::to_string(config.warmupSteps));
  if (config.totalSteps < 0)
    return fail("the total number of steps must be >= 0, not " +
                std::to_string(config.totalSteps));
  bool bounded = config.kind != LRScheduleKind::Constant;
  if (bounded && config.totalSteps == 0)
    return fail(std::string("the ") + getLRScheduleKindName(config.kind) +
                " schedule needs the total number of steps (> 0)");
  if ((bounded || config.totalSteps > 0) &&
      config.warmupSteps > config.totalSteps)
    return fail("the warmup of " + std::to_string(config.warmupSteps) +
                " steps is longer than the " +
                std::to_string(config.totalSteps) + " steps of the run");
  return Status::success();
}

Expected<LRSchedule> LRSchedule::create(const LRScheduleConfig &config) {
  Status s = verifyLRScheduleConfig(config);
  if (s.isError())
    return s;
  return LRSchedule(config);
}

double LRSchedule::lr(int64_t step) const {
  step = std::max<int64_t>(step, 0);
  const double peak = config.peakLR;
  if (step < config.warmupSteps)
    return peak * static_cast<double>(step) /
           static_cast<double>(config.warmupSteps);
  if (config.kind == LRScheduleKind::Constant)
    return peak;
  // Also when the warmup takes the whole run, where progress would be 0.
  if (step >= config.totalSteps)
    return config.minLR;

  double decaySteps = static_cast<double>(
      std::max<int64_t>(1, config.totalSteps - config.warmupSteps));
  double progress = std::min(
      1.0, static_cast<double>(step - config.warmupSteps) / decaySteps);
  double factor = config.kind == LRScheduleKind::Linear
                      ? 1.0 - progress
                      : 0.5 * (1.0 + std::cos(Pi * progress));
  return config.minLR + (peak - config.minLR) * factor;
}
