//===- Trainer.cpp - The compiled training step, with its state -----------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Implements Trainer: owned copies of the parameters and zero-initialized
// AdamW moments, the descriptors of train_step and eval_step, and the
// scalar results they return.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Trainer.h"

#include "RuntimeSupport.h"
#include "llm/runtime/MemRef.h"
#include "llm/runtime/SafeTensors.h"
#include "llm/runtime/Weights.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <random>
#include <set>

using namespace llm::rt;
using namespace llm::rt::detail;

/// One owned tensor: a parameter (checkpoint name) or a moment (the
/// entry point's input name, "adam.m.NAME" / "adam.v.NAME").
struct Trainer::Buffer {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

static Status invalid(std::string message) {
  return Status::error(ErrorCode::InvalidArgument, std::move(message));
}

/// What an entry point call reads besides the owned parameters and moments.
struct Trainer::CallInputs {
  const std::vector<int64_t> &inputs;
  const std::vector<int64_t> &labels;
  int64_t batch, seq;
  const float *optimizer = nullptr;
  const std::vector<float> *teacherLogits = nullptr;
  const float *distill = nullptr;
  const std::vector<int64_t> *attentionMask = nullptr;
  const SentencePairs *pairs = nullptr;
};

static constexpr const char *MomentPrefixes[2] = {"adam.m.", "adam.v."};
static constexpr const char *MomentSuffixes[2] = {".exp_avg", ".exp_avg_sq"};

Trainer::~Trainer() = default;

Expected<std::unique_ptr<Trainer>>
Trainer::open(const std::string &artifactDir, const std::string &weightsPath,
              const ModelOptions &options, const TrainerInitOptions &init) {
  try {
    std::unique_ptr<Trainer> trainer(new Trainer());
    Expected<std::unique_ptr<Artifact>> artifact = Artifact::open(artifactDir);
    if (!artifact)
      return artifact.getStatus();
    trainer->artifact = artifact.take();
    const Manifest &manifest = trainer->artifact->getManifest();
    std::string where = artifactDir + "/manifest.json";
    trainer->vocabSize = manifest.model.vocabSize;
    trainer->maxPositions = manifest.model.maxPositions;
    trainer->numLabels = manifest.model.numLabels;
    trainer->firstTokenClassifier = manifest.model.classifiesFirstToken;
    trainer->typeVocabSize = manifest.model.typeVocabSize;
    trainer->trainEntry = manifest.findEntryPoint("train_step");
    trainer->evalEntry = manifest.findEntryPoint("eval_step");
    if (!trainer->trainEntry || !trainer->evalEntry)
      return Status::error(ErrorCode::Artifact,
                           where + ": the artifact has no train_step and "
                                   "eval_step entry points; compile the model "
                                   "with llm-compile --train");
    trainer->trainFunction =
        trainer->artifact->getEntryFunction(trainer->trainEntry->name);
    trainer->evalFunction =
        trainer->artifact->getEntryFunction(trainer->evalEntry->name);
    if ((trainer->distillEntry = manifest.findEntryPoint("distill_step")))
      trainer->distillFunction =
          trainer->artifact->getEntryFunction(trainer->distillEntry->name);
    for (const InputSpec &input : trainer->trainEntry->inputs)
      trainer->nextSentenceHead |= input.kind == InputKind::NextSentenceLabels;
    for (const EntryPoint *entry :
         {trainer->trainEntry, trainer->evalEntry, trainer->distillEntry}) {
      if (!entry)
        continue;
      for (const InputSpec &input : entry->inputs) {
        if (input.kind == InputKind::Param && input.packing)
          return Status::error(ErrorCode::Artifact,
                               where + ": " + quote(entry->name) +
                                   " takes packed parameters; a training "
                                   "step updates them in place");
        // The trainer saves each param under its name, which for a
        // concatenation is no checkpoint tensor's.
        if (input.kind == InputKind::Param && input.concat)
          return Status::error(ErrorCode::Artifact,
                               where + ": " + quote(entry->name) +
                                   " takes concatenated parameters, which "
                                   "a training step cannot update and save "
                                   "by name");
      }
    }

    Expected<std::unique_ptr<SafeTensorsModel>> checkpoint =
        SafeTensorsModel::open(weightsPath);
    if (!checkpoint)
      return checkpoint.getStatus().withDefaultCode(ErrorCode::Weights);
    BindOptions bindOptions;
    bindOptions.strict = options.strict;
    bindOptions.allowMissing = init.initializeMissing;
    Expected<BoundWeights> bound =
        bindWeights(*trainer->trainEntry, **checkpoint, bindOptions);
    if (!bound)
      return Status::error(bound.getStatus().code(),
                           weightsPath + ": " + bound.message());
    const EntryPoint &entry = *trainer->trainEntry;
    for (size_t i = 0; i < entry.inputs.size(); ++i) {
      const InputSpec &input = entry.inputs[i];
      if (input.kind != InputKind::Param &&
          input.kind != InputKind::OptimizerState)
        continue;
      if (input.dtype != ElementType::F32)
        return Status::error(ErrorCode::Artifact,
                             where + ": training needs f32 parameters, got " +
                                 getElementTypeName(input.dtype) + " " +
                                 quote(input.name));
      uint64_t count = 1;
      for (int64_t dim : input.shape)
        count *= static_cast<uint64_t>(dim);
      Buffer buffer{input.name, input.shape,
                    std::vector<float>(static_cast<size_t>(count), 0.0f)};
      if (input.kind == InputKind::Param) {
        if (const void *data = bound->getData(i)) {
          std::memcpy(buffer.data.data(), data, count * 4);
        } else {
          // Not in the checkpoint: matrices normal, vectors zero, from a
          // stream of the seed and the name (independent of the order).
          if (input.shape.size() >= 2) {
            std::mt19937_64 rng(init.seed ^
                                std::hash<std::string>()(input.name));
            std::normal_distribution<double> normal(0.0, init.stddev);
            for (float &value : buffer.data)
              value = static_cast<float>(normal(rng));
          }
          trainer->initialized.push_back(input.name);
        }
        trainer->params.push_back(std::move(buffer));
      } else {
        trainer->moments.push_back(std::move(buffer));
      }
    }
    if (options.numThreads != 0) {
      Status s = trainer->setNumThreads(options.numThreads);
      if (s.isError())
        return s;
    }
    return {std::move(trainer)};
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         artifactDir + ": out of memory loading the model");
  }
}

Status Trainer::setNumThreads(int32_t n) {
  return artifact->setNumThreads(n);
}

Status Trainer::checkTokens(const std::vector<int64_t> &inputs,
                            const std::vector<int64_t> &labels, int64_t batch,
                            int64_t seq) const {
  if (batch < 1 || seq < 1 ||
      inputs.size() != static_cast<size_t>(batch * seq) ||
      labels.size() != inputs.size())
    return invalid("a batch of " + std::to_string(batch) + " x " +
                   std::to_string(seq) + " needs that many inputs and labels");
  if (maxPositions > 0 && seq > maxPositions)
    return invalid("sequences of " + std::to_string(seq) +
                   " tokens exceed the model's " +
                   std::to_string(maxPositions) + " positions");
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] < 0 || inputs[i] >= vocabSize)
      return invalid("input token " + std::to_string(i) + " is " +
                     std::to_string(inputs[i]) + ", outside [0, " +
                     std::to_string(vocabSize) + ")");
    if ((labels[i] < 0 && labels[i] != -100) || labels[i] >= getNumOutputs())
      return invalid("label " + std::to_string(i) + " is " +
                     std::to_string(labels[i]) + "; expected an id in [0, " +
                     std::to_string(getNumOutputs()) + ") or -100");
  }
  return Status::success();
}

Expected<std::vector<double>>
Trainer::call(const EntryPoint &entry, EntryFunction function,
              const CallInputs &in, std::vector<float> *logits,
              std::vector<float> *sentenceLogits) {
  const std::vector<int64_t> &inputs = in.inputs;
  int64_t batch = in.batch, seq = in.seq;
  auto findBuffer = [](std::vector<Buffer> &buffers,
                       const std::string &name) -> Buffer * {
    for (Buffer &buffer : buffers)
      if (buffer.name == name)
        return &buffer;
    return nullptr;
  };
  // An input this call has nothing for: the entry point is not the kind
  // of step the caller meant.
  auto notGiven = [&](const std::string &what) {
    return Status::error(ErrorCode::Artifact, "entry point " +
                                                  quote(entry.name) +
                                                  " takes " + what);
  };
  std::vector<int64_t> ones(inputs.size(), 1), zeros(inputs.size(), 0);
  std::vector<MemRefDescriptor> descriptors;
  descriptors.reserve(entry.inputs.size());
  for (const InputSpec &input : entry.inputs) {
    void *data = nullptr;
    std::vector<int64_t> shape = {batch, seq};
    switch (input.kind) {
    case InputKind::Param:
    case InputKind::OptimizerState: {
      Buffer *buffer = findBuffer(
          input.kind == InputKind::Param ? params : moments, input.name);
      if (!buffer)
        return Status::error(ErrorCode::Artifact,
                             "entry point " + quote(entry.name) +
                                 " takes " + quote(input.name) +
                                 ", which train_step does not");
      data = buffer->data.data();
      shape = buffer->shape;
      break;
    }
    case InputKind::Tokens:
      data = const_cast<int64_t *>(inputs.data());
      break;
    case InputKind::Labels:
      data = const_cast<int64_t *>(in.labels.data());
      break;
    case InputKind::TeacherLogits:
      if (!in.teacherLogits)
        return notGiven("a teacher's logits");
      data = const_cast<float *>(in.teacherLogits->data());
      shape = {batch, seq, getNumOutputs()};
      break;
    case InputKind::Distill:
      if (!in.distill)
        return notGiven("distillation settings");
      data = const_cast<float *>(in.distill);
      shape = {2};
      break;
    case InputKind::Mask:
      if (input.dtype != ElementType::I64)
        return Status::error(ErrorCode::Artifact,
                             "training takes i64 attention masks");
      if (in.attentionMask) {
        if (in.attentionMask->size() != inputs.size())
          return invalid("the attention mask must be [" +
                         std::to_string(batch) + ", " + std::to_string(seq) +
                         "]");
        data = const_cast<int64_t *>(in.attentionMask->data());
      } else {
        data = ones.data();
      }
      break;
    case InputKind::Segments:
      data = zeros.data();
      if (in.pairs && in.pairs->segments) {
        const std::vector<int64_t> &segments = *in.pairs->segments;
        if (segments.size() != inputs.size())
          return invalid("the segment ids must be [" + std::to_string(batch) +
                         ", " + std::to_string(seq) + "]");
        int64_t types = typeVocabSize > 0 ? typeVocabSize : 2;
        for (size_t i = 0; i < segments.size(); ++i)
          if (segments[i] < 0 || segments[i] >= types)
            return invalid("segment id " + std::to_string(i) + " is " +
                           std::to_string(segments[i]) + ", outside [0, " +
                           std::to_string(types) + ")");
        data = const_cast<int64_t *>(segments.data());
      }
      break;
    case InputKind::NextSentenceLabels: {
      if (!in.pairs || !in.pairs->nextSentenceLabels)
        return notGiven("next-sentence labels (sentence pairs)");
      const std::vector<int64_t> &labels = *in.pairs->nextSentenceLabels;
      if (labels.size() != static_cast<size_t>(batch))
        return invalid("the next-sentence labels must be [" +
                       std::to_string(batch) + "]");
      for (size_t i = 0; i < labels.size(); ++i)
        if (labels[i] != 0 && labels[i] != 1)
          return invalid("next-sentence label " + std::to_string(i) + " is " +
                         std::to_string(labels[i]) +
                         "; expected 0 (B follows A) or 1 (B is random)");
      data = const_cast<int64_t *>(labels.data());
      shape = {batch};
      break;
    }
    case InputKind::Optimizer:
      if (!in.optimizer)
        return notGiven("optimizer settings");
      data = const_cast<float *>(in.optimizer);
      shape = {8};
      break;
    case InputKind::Arena: {
      uint64_t bytes = entry.getArenaBytes(batch);
      Expected<void *> memory = arena.reserve(bytes);
      if (!memory)
        return memory.getStatus();
      data = *memory;
      shape = {static_cast<int64_t>(bytes)};
      break;
    }
    case InputKind::Positions:
    case InputKind::Lengths:
    case InputKind::KVCache:
      return Status::error(ErrorCode::Artifact,
                           "entry point " + quote(entry.name) +
                               " takes a KV cache; it is not a training step");
    }
    descriptors.push_back(MemRefDescriptor::getContiguous(data, shape));
  }
  std::vector<MemRefDescriptor> results;
  for (const ResultSpec &result : entry.results)
    results.emplace_back(static_cast<unsigned>(result.shape.size()));
  std::vector<void *> args;
  for (MemRefDescriptor &desc : descriptors)
    args.push_back(desc.getRaw());
  for (MemRefDescriptor &desc : results)
    args.push_back(desc.getRaw());
  int32_t rc = function(args.data());
  if (rc != 0)
    return Status::error(ErrorCode::Execution,
                         "entry point " + quote(entry.name) +
                             " failed with code " + std::to_string(rc));
  std::vector<double> values;
  std::set<void *> freed;
  Status bad;
  for (size_t r = 0; r < results.size(); ++r) {
    MemRefDescriptor &desc = results[r];
    const std::string &name = entry.results[r].name;
    Status s = desc.checkAddressable();
    int64_t outputs = getNumOutputs();
    // A [batch, rows, columns] result, copied out through the descriptor's
    // strides into \p into (when given).
    auto copyOut = [&](std::vector<float> *into, int64_t rows,
                       int64_t columns) {
      if (!s.isOk() || desc.getRank() != 3 || !desc.getAligned() ||
          desc.getSize(0) != batch || desc.getSize(1) != rows ||
          desc.getSize(2) != columns)
        return false;
      if (!into)
        return true;
      into->resize(static_cast<size_t>(batch * rows * columns));
      const float *base =
          static_cast<const float *>(desc.getAligned()) + desc.getOffset();
      size_t k = 0;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = 0; t < rows; ++t)
          for (int64_t v = 0; v < columns; ++v)
            (*into)[k++] = base[b * desc.getStride(0) + t * desc.getStride(1) +
                                v * desc.getStride(2)];
      return true;
    };
    if (s.isOk() && desc.getRank() == 0 && desc.getAligned()) {
      values.push_back(static_cast<const float *>(
          desc.getAligned())[desc.getOffset()]);
    } else if (name == "logits" && copyOut(logits, seq, outputs)) {
    } else if (name == "next_sentence_logits" &&
               copyOut(sentenceLogits, 1, 2)) {
    } else if (bad.isOk())
      bad = Status::error(ErrorCode::Execution,
                          "entry point " + quote(entry.name) +
                              " returned a malformed result " + quote(name));
    void *allocated = desc.getAllocated();
    if (allocated && !arena.holds(allocated) && freed.insert(allocated).second)
      std::free(allocated);
  }
  if (bad.isError())
    return bad;
  return values;
}

Expected<StepResult> Trainer::update(const EntryPoint &entry,
                                     EntryFunction function, CallInputs &in,
                                     const StepSettings &settings) {
  Status s = checkTokens(in.inputs, in.labels, in.batch, in.seq);
  if (s.isError())
    return s;
  const AdamWSettings &a = settings.adamW;
  if (!(settings.learningRate >= 0) || settings.step < 1 ||
      !(a.beta1 >= 0 && a.beta1 < 1) || !(a.beta2 >= 0 && a.beta2 < 1) ||
      !(a.epsilon > 0) || !(a.weightDecay >= 0) ||
      !(settings.maxGradNorm >= 0))
    return invalid("invalid optimizer settings (learning rate >= 0, betas "
                   "in [0, 1), epsilon > 0, weight decay >= 0, clip >= 0, "
                   "step >= 1)");
  double t = static_cast<double>(settings.step);
  float optimizer[8] = {static_cast<float>(settings.learningRate),
                        static_cast<float>(a.beta1),
                        static_cast<float>(a.beta2),
                        static_cast<float>(a.epsilon),
                        static_cast<float>(a.weightDecay),
                        static_cast<float>(1.0 - std::pow(a.beta1, t)),
                        static_cast<float>(1.0 - std::pow(a.beta2, t)),
                        static_cast<float>(settings.maxGradNorm)};
  in.optimizer = optimizer;
  Expected<std::vector<double>> values =
      call(entry, function, in, /*logits=*/nullptr);
  if (!values)
    return values.getStatus();
  if (values->size() != 2)
    return Status::error(ErrorCode::Artifact,
                         quote(entry.name) + " must return the loss and the "
                                             "gradient norm");
  return StepResult{(*values)[0], (*values)[1]};
}

Expected<StepResult> Trainer::step(const std::vector<int64_t> &inputs,
                                   const std::vector<int64_t> &labels,
                                   int64_t batch, int64_t seq,
                                   const StepSettings &settings,
                                   const std::vector<int64_t> *attentionMask,
                                   const SentencePairs *pairs) {
  try {
    CallInputs in{inputs, labels, batch, seq};
    in.attentionMask = attentionMask;
    in.pairs = pairs;
    return update(*trainEntry, trainFunction, in, settings);
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory, "out of memory in a step");
  }
}

Expected<StepResult>
Trainer::distillStep(const std::vector<int64_t> &inputs,
                     const std::vector<int64_t> &labels,
                     const std::vector<float> &teacherLogits, int64_t batch,
                     int64_t seq, const StepSettings &settings,
                     const DistillSettings &distill,
                     const std::vector<int64_t> *attentionMask) {
  try {
    if (!distillEntry)
      return Status::error(ErrorCode::Artifact,
                           "the artifact has no distill_step entry point; "
                           "compile the student with llm-compile --train "
                           "--distill");
    if (!(distill.temperature > 0) || !std::isfinite(distill.temperature) ||
        !(distill.alpha >= 0 && distill.alpha <= 1))
      return invalid("invalid distillation settings (temperature > 0, alpha "
                     "in [0, 1])");
    if (batch < 1 || seq < 1 ||
        teacherLogits.size() !=
            static_cast<size_t>(batch * seq * getNumOutputs()))
      return invalid("the teacher's logits must be [" + std::to_string(batch) +
                     ", " + std::to_string(seq) + ", " +
                     std::to_string(getNumOutputs()) + "]");
    float settingsData[2] = {static_cast<float>(distill.temperature),
                             static_cast<float>(distill.alpha)};
    CallInputs in{inputs, labels, batch, seq};
    in.teacherLogits = &teacherLogits;
    in.distill = settingsData;
    in.attentionMask = attentionMask;
    return update(*distillEntry, distillFunction, in, settings);
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory, "out of memory in a step");
  }
}

Expected<double> Trainer::evaluate(const std::vector<int64_t> &inputs,
                                   const std::vector<int64_t> &labels,
                                   int64_t batch, int64_t seq,
                                   std::vector<float> *logits,
                                   const std::vector<int64_t> *attentionMask,
                                   const SentencePairs *pairs,
                                   NextSentenceScores *nextSentence) {
  try {
    Status s = checkTokens(inputs, labels, batch, seq);
    if (s.isError())
      return s;
    bool hasLogits = false;
    for (const ResultSpec &result : evalEntry->results)
      hasLogits |= result.name == "logits";
    if (logits && !hasLogits)
      return Status::error(ErrorCode::Artifact,
                           "eval_step does not return the logits; recompile "
                           "the model with this llm-compile --train");
    if (nextSentence && !nextSentenceHead)
      return Status::error(ErrorCode::Artifact,
                           "the model has no next-sentence head");
    CallInputs in{inputs, labels, batch, seq};
    in.attentionMask = attentionMask;
    in.pairs = pairs;
    Expected<std::vector<double>> values =
        call(*evalEntry, evalFunction, in, logits,
             nextSentence ? &nextSentence->logits : nullptr);
    if (!values)
      return values.getStatus();
    // The loss, and the next-sentence head's own.
    if (values->size() != (nextSentenceHead ? 2u : 1u))
      return Status::error(ErrorCode::Artifact,
                           nextSentenceHead
                               ? "eval_step must return the loss and the "
                                 "next-sentence loss"
                               : "eval_step must return the loss");
    if (nextSentence)
      nextSentence->loss = (*values)[1];
    return (*values)[0];
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory, "out of memory evaluating");
  }
}

std::vector<NamedTensor> Trainer::getWeights() const {
  std::vector<NamedTensor> weights;
  for (const Buffer &buffer : params)
    weights.push_back({buffer.name, buffer.shape, buffer.data.data()});
  return weights;
}

std::vector<NamedTensor> Trainer::getMoments() const {
  std::vector<NamedTensor> result;
  for (const Buffer &param : params)
    for (int k = 0; k < 2; ++k)
      for (const Buffer &moment : moments)
        if (moment.name == MomentPrefixes[k] + param.name)
          result.push_back(
              {param.name + MomentSuffixes[k], moment.shape, moment.data.data()});
  return result;
}

Status Trainer::restore(const LoadedCheckpoint &checkpoint) {
  for (Buffer &param : params) {
    const NamedTensor *weight = checkpoint.findWeight(param.name);
    if (!weight || weight->shape != param.shape)
      return Status::error(ErrorCode::Weights,
                           checkpoint.path + ": no weight " +
                               quote(param.name) + " of shape " +
                               shapeText(param.shape));
    std::memcpy(param.data.data(), weight->data, param.data.size() * 4);
    for (int k = 0; k < 2; ++k) {
      const NamedTensor *saved =
          checkpoint.findMoment(param.name + MomentSuffixes[k]);
      for (Buffer &moment : moments)
        if (moment.name == MomentPrefixes[k] + param.name) {
          if (!saved || saved->shape != moment.shape)
            return Status::error(ErrorCode::Weights,
                                 checkpoint.path + ": no moment " +
                                     quote(param.name + MomentSuffixes[k]));
          std::memcpy(moment.data.data(), saved->data,
                      moment.data.size() * 4);
        }
    }
  }
  return Status::success();
}
