//===- Train.cpp - llm-run train ----------------------------------*- C++
//-*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
//   llm-run train ARTIFACT --weights PATH --data corpus.txt --out CKPT
//       [--task lm|mlm|pretrain|classify] [--tokenizer DIR|bytes]
//       [--steps N --batch B --seq T --lr L
//        --min-lr L --warmup W --schedule cosine|linear|constant
//        --weight-decay D --beta1 B1 --beta2 B2 --clip C --eval-every K
//        --eval-batches N --save-every K --seed S --threads N --resume
//        --stop-after N] [--distill-from TEACHER --teacher-weights PATH
//        --temperature T --alpha A]
//
// Trains a model compiled with `llm-compile --train` on a text corpus:
// the corpus is tokenized with the model's tokenizer and split into
// training and validation tokens (the last 5%); batches come in a seeded
// order; every step runs the compiled train_step (loss, gradients,
// clipping, AdamW in place) at the schedule's learning rate and prints a
// progress line (step, loss, learning rate, gradient norm, tokens/s, ETA).
// Every --eval-every steps it prints the validation loss and perplexity;
// every --save-every steps and at the end it writes a checkpoint to --out
// atomically (docs/Training.md). --resume continues from --out exactly:
// weights, moments, step and data order. A NaN or infinite loss stops the
// run with a message; the last checkpoint is left as it was.
//
// --task mlm masks windows of the corpus (BERT's 80/10/10); --task pretrain
// is BertForPreTraining's masked LM plus next-sentence prediction on
// sentence pairs cut from a corpus of one sentence per line; --task
// classify fine-tunes a classifier on `label<TAB>text` lines.
//
// With --distill-from, a compiled teacher (its forward entry point, its
// weights from --teacher-weights) computes logits for every training batch
// and the student, compiled with `llm-compile --train --distill`, takes
// its distill_step instead: alpha * T^2 * KL(teacher || student) at
// temperature T plus (1 - alpha) times the usual loss.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "llm/runtime/Checkpoint.h"
#include "llm/runtime/DataLoader.h"
#include "llm/runtime/LRSchedule.h"
#include "llm/runtime/Tokenizer.h"
#include "llm/runtime/Trainer.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <cstdio>

using namespace llvm;
namespace rt = llm::rt;

cl::SubCommand llm::run::TrainCommand(
    "train", "Train a model compiled with llm-compile --train on a corpus");
cl::OptionCategory llm::run::TrainCategory("train options");

namespace {
using llm::run::TrainCategory;
using llm::run::TrainCommand;

cl::opt<std::string> artifact(cl::Positional, cl::desc("<artifact folder>"),
                              cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<std::string> weights("weights",
                             cl::desc("Initial weights (a .safetensors file "
                                      "or a folder holding one)"),
                             cl::value_desc("path"), cl::sub(TrainCommand),
                             cl::cat(TrainCategory));
cl::opt<std::string> data("data", cl::desc("Training corpus (UTF-8 text)"),
                          cl::value_desc("file"), cl::sub(TrainCommand),
                          cl::cat(TrainCategory));
cl::opt<std::string> out("out", cl::desc("Checkpoint folder to write"),
                         cl::value_desc("dir"), cl::sub(TrainCommand),
                         cl::cat(TrainCategory));
cl::opt<std::string> tokenizerPath(
    "tokenizer", cl::desc("Tokenizer folder or 'bytes' (default: --weights)"),
    cl::value_desc("dir|bytes"), cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<int64_t> steps("steps", cl::desc("Steps in all"), cl::init(100),
                       cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<int64_t> batchSize("batch", cl::desc("Sequences per step"),
                           cl::init(8), cl::sub(TrainCommand),
                           cl::cat(TrainCategory));
cl::opt<int64_t> seqLength("seq", cl::desc("Tokens per sequence"),
                           cl::init(128), cl::sub(TrainCommand),
                           cl::cat(TrainCategory));
cl::opt<double> lr("lr", cl::desc("Peak learning rate"), cl::init(3e-4),
                   cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<double> minLR("min-lr", cl::desc("Learning rate at the end"),
                      cl::init(0.0), cl::sub(TrainCommand),
                      cl::cat(TrainCategory));
cl::opt<int64_t> warmup("warmup", cl::desc("Linear warmup steps"),
                        cl::init(0), cl::sub(TrainCommand),
                        cl::cat(TrainCategory));
cl::opt<std::string> schedule("schedule",
                              cl::desc("cosine, linear or constant"),
                              cl::init("cosine"), cl::sub(TrainCommand),
                              cl::cat(TrainCategory));
cl::opt<double> weightDecay("weight-decay",
                            cl::desc("AdamW weight decay (matrices only)"),
                            cl::init(0.1), cl::sub(TrainCommand),
                            cl::cat(TrainCategory));
cl::opt<double> beta1("beta1", cl::init(0.9), cl::sub(TrainCommand),
                      cl::cat(TrainCategory), cl::desc("AdamW beta1"));
cl::opt<double> beta2("beta2", cl::init(0.95), cl::sub(TrainCommand),
                      cl::cat(TrainCategory), cl::desc("AdamW beta2"));
cl::opt<double> clip("clip", cl::desc("Global gradient-norm clip (0: off)"),
                     cl::init(1.0), cl::sub(TrainCommand),
                     cl::cat(TrainCategory));
cl::opt<int64_t> evalEvery("eval-every",
                           cl::desc("Validation every K steps (0: at the end)"),
                           cl::init(0), cl::sub(TrainCommand),
                           cl::cat(TrainCategory));
cl::opt<int64_t> evalBatches("eval-batches",
                             cl::desc("Validation batches per evaluation"),
                             cl::init(8), cl::sub(TrainCommand),
                             cl::cat(TrainCategory));
cl::opt<int64_t> saveEvery("save-every",
                           cl::desc("Checkpoint every K steps (0: at the end)"),
                           cl::init(0), cl::sub(TrainCommand),
                           cl::cat(TrainCategory));
cl::opt<uint64_t> seed("seed", cl::desc("Data order seed"), cl::init(0),
                       cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<int> threads("threads", cl::desc("Threads"), cl::sub(TrainCommand),
                     cl::cat(TrainCategory));
cl::opt<int64_t> stopAfter(
    "stop-after",
    cl::desc("Stop (and save) after this many steps of this run; --resume "
             "continues"),
    cl::init(0), cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<bool> resume("resume", cl::desc("Continue from the checkpoint in --out"),
                     cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<std::string> task(
    "task",
    cl::desc("lm: causal language modelling on a text corpus; mlm: masked "
             "language modelling (BERT: 15% masked, 80/10/10); pretrain: "
             "BERT's pretraining, masked LM plus next-sentence prediction "
             "on sentence pairs (one sentence per line, blank lines between "
             "documents; a BertForPreTraining model); classify: "
             "sequence classification on `label<TAB>text` lines (a model "
             "with a classification head)"),
    cl::init("lm"), cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<bool> initMissing(
    "init-missing",
    cl::desc("Initialize parameters --weights lacks (a new classification "
             "head on a pretrained model: N(0, 0.02) matrices, zero vectors) "
             "instead of refusing it"),
    cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<std::string> configPath(
    "config",
    cl::desc("config.json saved with the checkpoints (default: --weights' "
             "own; give the fine-tuned model's when it differs)"),
    cl::value_desc("file"), cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<std::string> validationData(
    "validation",
    cl::desc("--task classify: labelled validation file (default: 10% of "
             "--data held out)"),
    cl::value_desc("file"), cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<std::string> distillFrom(
    "distill-from",
    cl::desc("Distil from this teacher artifact (its forward entry point): "
             "the student must be compiled with llm-compile --train "
             "--distill"),
    cl::value_desc("artifact"), cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<std::string> teacherWeights(
    "teacher-weights", cl::desc("The teacher's weights (with --distill-from)"),
    cl::value_desc("path"), cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<double> temperature(
    "temperature",
    cl::desc("Distillation temperature T: both distributions are "
             "softmax(logits / T)"),
    cl::init(2.0), cl::sub(TrainCommand), cl::cat(TrainCategory));
cl::opt<double> alpha(
    "alpha",
    cl::desc("Weight of the teacher's soft targets (times T^2); the "
             "hard-label loss gets 1 - alpha"),
    cl::init(0.5), cl::sub(TrainCommand), cl::cat(TrainCategory));
} // namespace

using llm::run::fail;

/// "1h02m03s", "4m05s", "6s".
static std::string durationText(double seconds) {
  long long s = std::llround(std::max(0.0, seconds));
  char text[64];
  if (s >= 3600)
    std::snprintf(text, sizeof(text), "%lldh%02lldm%02llds", s / 3600,
                  (s / 60) % 60, s % 60);
  else if (s >= 60)
    std::snprintf(text, sizeof(text), "%lldm%02llds", s / 60, s % 60);
  else
    std::snprintf(text, sizeof(text), "%llds", s);
  return text;
}

namespace {
/// One training batch, as train_step takes it.
struct StepBatch {
  StepBatch(std::vector<int64_t> inputs, std::vector<int64_t> labels,
            int64_t batch, int64_t seq, std::vector<int64_t> attentionMask = {})
      : inputs(std::move(inputs)), labels(std::move(labels)), batch(batch),
        seq(seq), attentionMask(std::move(attentionMask)) {}

  std::vector<int64_t> inputs, labels;
  int64_t batch = 0, seq = 0;
  /// [batch, seq], 1 at tokens and 0 at padding; empty: no padding.
  std::vector<int64_t> attentionMask;
  /// Sentence pairs (BERT pretraining): segment ids [batch, seq] and
  /// next-sentence labels [batch]; empty otherwise.
  std::vector<int64_t> segments, nextSentenceLabels;

  const std::vector<int64_t> *getMask() const {
    return attentionMask.empty() ? nullptr : &attentionMask;
  }
  /// The sentence pairs as the Trainer takes them; null without.
  const rt::SentencePairs *getPairs() {
    if (nextSentenceLabels.empty())
      return nullptr;
    pairView = {&segments, &nextSentenceLabels};
    return &pairView;
  }
  /// What getPairs() points to.
  rt::SentencePairs pairView = {};
};

/// What the training loop trains on: windows of a corpus (causal LM) or
/// labelled texts (sequence classification).
class TrainingTask {
public:
  virtual ~TrainingTask() = default;
  /// The next training batch; advances the data order.
  virtual rt::Expected<StepBatch> next() = 0;
  /// The first line of the run: what it trains on.
  virtual std::string describe() const = 0;
  /// Prints the validation line for \p step.
  virtual rt::Status validate(rt::Trainer &trainer, int64_t step) = 0;
  virtual const rt::DataCursor &getCursor() const = 0;
  virtual rt::Status restoreCursor(const rt::DataCursor &cursor) = 0;
};

/// The mean loss over up to --eval-batches validation windows of
/// \p loader, each turned into inputs and labels by \p prepare(window,
/// index).
static rt::Expected<double> meanValidationLoss(
    rt::Trainer &trainer, const rt::CausalLMDataLoader &loader,
    function_ref<rt::Expected<StepBatch>(const rt::TrainingBatch &, int64_t)>
        prepare) {
  int64_t count =
      std::min<int64_t>(evalBatches, loader.getNumValidationBatches());
  if (count <= 0)
    return rt::Status::error(rt::ErrorCode::InvalidArgument,
                             "the validation split holds no full batch");
  double total = 0;
  for (int64_t i = 0; i < count; ++i) {
    rt::Expected<rt::TrainingBatch> window = loader.getValidationBatch(i);
    if (!window)
      return window.getStatus();
    rt::Expected<StepBatch> batch = prepare(*window, i);
    if (!batch)
      return batch.getStatus();
    rt::Expected<double> loss =
        trainer.evaluate(batch->inputs, batch->labels, batch->batch, batch->seq);
    if (!loss)
      return loss.getStatus();
    total += *loss;
  }
  return total / static_cast<double>(count);
}

/// Causal language modelling: every token predicts the next.
class LanguageModelTask final : public TrainingTask {
public:
  explicit LanguageModelTask(rt::CausalLMDataLoader loader)
      : loader(std::move(loader)) {}

  rt::Expected<StepBatch> next() override {
    rt::TrainingBatch batch = loader.nextBatch();
    return StepBatch{batch.getInputs(), batch.getTargets(), batch.batchSize,
                     batch.seqLength, {}};
  }
  std::string describe() const override {
    return formatv("training on {0} tokens ({1} for validation), {2} x {3} "
                   "tokens per step",
                   loader.getNumTrainTokens(), loader.getNumValidationTokens(),
                   loader.getOptions().batchSize,
                   loader.getOptions().seqLength);
  }
  /// Mean loss over up to --eval-batches validation batches.
  rt::Status validate(rt::Trainer &trainer, int64_t step) override {
    rt::Expected<double> loss = meanValidationLoss(
        trainer, loader,
        [](const rt::TrainingBatch &batch, int64_t) -> rt::Expected<StepBatch> {
          return StepBatch{batch.getInputs(), batch.getTargets(),
                           batch.batchSize, batch.seqLength, {}};
        });
    if (!loss)
      return loss.getStatus();
    outs() << formatv("step {0}: validation loss {1:f4}, perplexity {2:f2}\n",
                      step, *loss, std::exp(*loss));
    return rt::Status::success();
  }
  const rt::DataCursor &getCursor() const override {
    return loader.getCursor();
  }
  rt::Status restoreCursor(const rt::DataCursor &cursor) override {
    return loader.restoreCursor(cursor);
  }

private:
  rt::CausalLMDataLoader loader;
};

/// The seed of the masking of the batch at \p at: a function of the run's
/// seed and the batch's place in the data order only, so that --resume
/// masks every batch as the uninterrupted run does.
static uint64_t getMaskingSeed(uint64_t seed, const rt::DataCursor &at) {
  return seed * 0x9E3779B97F4A7C15ULL ^ static_cast<uint64_t>(at.epoch) << 32 ^
         static_cast<uint64_t>(at.nextBatch);
}

/// Masked language modelling (BERT's pretraining loss): windows of the
/// corpus with 15% of their tokens chosen by the 80/10/10 rule
/// (buildMaskedLMBatch); the masking of each batch depends only on the seed
/// and the batch's place in the data order, so --resume repeats it.
class MaskedLanguageModelTask final : public TrainingTask {
public:
  MaskedLanguageModelTask(rt::CausalLMDataLoader loader,
                          rt::MaskedLMOptions options, uint64_t seed)
      : loader(std::move(loader)), options(std::move(options)), seed(seed) {}

  rt::Expected<StepBatch> next() override {
    uint64_t batchSeed = getMaskingSeed(seed, loader.getCursor());
    rt::TrainingBatch batch = loader.nextBatch();
    return mask(batch, batchSeed);
  }
  std::string describe() const override {
    return formatv("masked-LM training on {0} tokens ({1} for validation), "
                   "{2} x {3} tokens per step, {4:f0}% of them masked",
                   loader.getNumTrainTokens(), loader.getNumValidationTokens(),
                   loader.getOptions().batchSize,
                   loader.getOptions().seqLength,
                   100.0 * options.maskFraction);
  }
  /// Mean masked-token loss over up to --eval-batches validation batches,
  /// each masked the same way at every evaluation.
  rt::Status validate(rt::Trainer &trainer, int64_t step) override {
    rt::Expected<double> loss = meanValidationLoss(
        trainer, loader, [&](const rt::TrainingBatch &batch, int64_t index) {
          return mask(batch, ~static_cast<uint64_t>(index));
        });
    if (!loss)
      return loss.getStatus();
    outs() << formatv("step {0}: validation masked-LM loss {1:f4}, "
                      "perplexity {2:f2}\n",
                      step, *loss, std::exp(*loss));
    return rt::Status::success();
  }
  const rt::DataCursor &getCursor() const override {
    return loader.getCursor();
  }
  rt::Status restoreCursor(const rt::DataCursor &cursor) override {
    return loader.restoreCursor(cursor);
  }

private:
  /// The window's first seqLength tokens, masked.
  rt::Expected<StepBatch> mask(const rt::TrainingBatch &batch,
                               uint64_t batchSeed) const {
    rt::Expected<rt::MaskedLMBatch> masked =
        rt::buildMaskedLMBatch(batch.getInputs(), batch.batchSize,
                               batch.seqLength, options, batchSeed);
    if (!masked)
      return masked.getStatus();
    return StepBatch{std::move(masked->inputIds), std::move(masked->labels),
                     batch.batchSize, batch.seqLength, {}};
  }

  rt::CausalLMDataLoader loader;
  rt::MaskedLMOptions options;
  uint64_t seed;
};

/// BERT's pretraining (BertForPreTraining): sentence pairs [CLS] A [SEP] B
/// [SEP] where B follows A or is drawn at random (half each), masked by
/// the 80/10/10 rule; the loss is the masked-LM plus the next-sentence
/// cross-entropy. As for masked LM, the masking of each batch depends only
/// on the seed and the batch's place in the data order.
class PretrainingTask final : public TrainingTask {
public:
  PretrainingTask(rt::SentencePairDataLoader loader,
                  rt::MaskedLMOptions options, uint64_t seed)
      : loader(std::move(loader)), options(std::move(options)), seed(seed) {}

  rt::Expected<StepBatch> next() override {
    uint64_t batchSeed = getMaskingSeed(seed, loader.getCursor());
    return mask(loader.nextBatch(), batchSeed);
  }
  std::string describe() const override {
    return formatv("pretraining (masked LM + next sentence) on {0} sentence "
                   "pairs from {1} sentences ({2} held out for validation), "
                   "{3} pairs of up to {4} tokens per step, {5:f0}% of the "
                   "tokens masked",
                   loader.getNumTrainExamples(), loader.getNumSentences(),
                   loader.getNumValidationSentences(),
                   loader.getOptions().batchSize, loader.getOptions().seqLength,
                   100.0 * options.maskFraction);
  }
  /// Over up to --eval-batches validation batches, masked the same way at
  /// every evaluation: the summed loss, the masked-LM part (and its
  /// perplexity), the next-sentence part and its accuracy.
  rt::Status validate(rt::Trainer &trainer, int64_t step) override {
    int64_t count =
        std::min<int64_t>(evalBatches, loader.getNumValidationBatches());
    if (count <= 0)
      return rt::Status::error(rt::ErrorCode::InvalidArgument,
                               "the validation split holds no full batch");
    double total = 0, sentenceTotal = 0;
    int64_t correct = 0, examples = 0;
    rt::NextSentenceScores scores;
    for (int64_t i = 0; i < count; ++i) {
      rt::Expected<rt::SentencePairBatch> pairs = loader.getValidationBatch(i);
      if (!pairs)
        return pairs.getStatus();
      rt::Expected<StepBatch> batch = mask(*pairs, ~static_cast<uint64_t>(i));
      if (!batch)
        return batch.getStatus();
      rt::Expected<double> loss = trainer.evaluate(
          batch->inputs, batch->labels, batch->batch, batch->seq,
          /*logits=*/nullptr, batch->getMask(), batch->getPairs(), &scores);
      if (!loss)
        return loss.getStatus();
      total += *loss;
      sentenceTotal += scores.loss;
      for (int64_t row = 0; row < batch->batch; ++row) {
        int64_t predicted = scores.logits[2 * row + 1] > scores.logits[2 * row];
        correct += predicted == batch->nextSentenceLabels[row];
      }
      examples += batch->batch;
    }
    double loss = total / count, sentenceLoss = sentenceTotal / count;
    outs() << formatv("step {0}: validation loss {1:f4} (masked-LM {2:f4}, "
                      "perplexity {3:f2}; next sentence {4:f4}, accuracy "
                      "{5:f2}% ({6}/{7}))\n",
                      step, loss, loss - sentenceLoss,
                      std::exp(loss - sentenceLoss), sentenceLoss,
                      100.0 * correct / examples, correct, examples);
    return rt::Status::success();
  }
  const rt::DataCursor &getCursor() const override {
    return loader.getCursor();
  }
  rt::Status restoreCursor(const rt::DataCursor &cursor) override {
    return loader.restoreCursor(cursor);
  }

private:
  /// The pairs, masked.
  rt::Expected<StepBatch> mask(rt::SentencePairBatch pairs,
                               uint64_t batchSeed) const {
    rt::Expected<rt::MaskedLMBatch> masked = rt::buildMaskedLMBatch(
        pairs.inputs, pairs.batchSize, pairs.seqLength, options, batchSeed);
    if (!masked)
      return masked.getStatus();
    StepBatch batch{std::move(masked->inputIds), std::move(masked->labels),
                    pairs.batchSize, pairs.seqLength,
                    std::move(pairs.attentionMask)};
    batch.segments = std::move(pairs.segments);
    batch.nextSentenceLabels = std::move(pairs.nextSentenceLabels);
    return batch;
  }

  rt::SentencePairDataLoader loader;
  rt::MaskedLMOptions options;
  uint64_t seed;
};

/// Sequence classification: each text's class is predicted at its last
/// token (labels -100 elsewhere), so the loss is the batch's mean
/// cross-entropy over classes.
class ClassificationTask final : public TrainingTask {
public:
  explicit ClassificationTask(rt::ClassificationDataLoader loader)
      : loader(std::move(loader)) {}

  rt::Expected<StepBatch> next() override {
    rt::ClassificationBatch batch = loader.nextBatch();
    return StepBatch{std::move(batch.inputs), std::move(batch.labels),
                     batch.batchSize, batch.seqLength,
                     std::move(batch.attentionMask)};
  }
  std::string describe() const override {
    std::string labels;
    for (auto [id, name] : llvm::enumerate(loader.getLabelNames()))
      labels += (id ? ", " : "") + std::to_string(id) + "=" + name;
    return formatv("training on {0} labelled texts ({1} for validation; "
                   "classes {2}), {3} texts of up to {4} tokens per step",
                   loader.getNumTrainExamples(),
                   loader.getNumValidationExamples(), labels,
                   loader.getOptions().batchSize,
                   loader.getOptions().maxLength);
  }
  rt::Status validate(rt::Trainer &trainer, int64_t step) override {
    rt::Expected<llm::run::ClassifierScore> score =
        llm::run::scoreClassifier(trainer, loader);
    if (!score)
      return score.getStatus();
    outs() << formatv("step {0}: validation loss {1:f4}, accuracy {2:f2}% "
                      "({3}/{4})\n",
                      step, score->loss, 100.0 * score->accuracy(),
                      score->correct, score->examples);
    return rt::Status::success();
  }
  const rt::DataCursor &getCursor() const override {
    return loader.getCursor();
  }
  rt::Status restoreCursor(const rt::DataCursor &cursor) override {
    return loader.restoreCursor(cursor);
  }
  /// BERT reads its class at the first token ([CLS]).
  void setLabelFirstToken(bool first) { loader.setLabelFirstToken(first); }

private:
  rt::ClassificationDataLoader loader;
};
} // namespace

rt::Expected<llm::run::ClassifierScore>
llm::run::scoreClassifier(rt::Trainer &trainer,
                          const rt::ClassificationDataLoader &loader) {
  int64_t count = loader.getNumValidationBatches();
  if (count <= 0)
    return rt::Status::error(rt::ErrorCode::InvalidArgument,
                             "there are no validation examples");
  ClassifierScore score;
  double total = 0;
  std::vector<float> logits;
  int64_t classes = trainer.getNumOutputs();
  for (int64_t i = 0; i < count; ++i) {
    rt::Expected<rt::ClassificationBatch> batch = loader.getValidationBatch(i);
    if (!batch)
      return batch.getStatus();
    rt::Expected<double> loss =
        trainer.evaluate(batch->inputs, batch->labels, batch->batchSize,
                         batch->seqLength, &logits, &batch->attentionMask);
    if (!loss)
      return loss.getStatus();
    total += *loss * static_cast<double>(batch->batchSize);
    for (int64_t row = 0; row < batch->batchSize; ++row) {
      int64_t position =
          trainer.classifiesFirstToken() ? 0 : batch->lengths[row] - 1;
      const float *scores =
          logits.data() + (row * batch->seqLength + position) * classes;
      int64_t predicted = std::max_element(scores, scores + classes) - scores;
      score.correct += predicted == batch->classes[row];
    }
    score.examples += batch->batchSize;
  }
  score.loss = total / static_cast<double>(score.examples);
  return score;
}

/// The files of a model folder besides its weights: saved with each
/// checkpoint, so that a checkpoint is a model folder too.
static constexpr const char *ModelCompanionFiles[] = {
    "config.json",      "generation_config.json", "tokenizer_config.json",
    "special_tokens_map.json", "vocab.json",      "merges.txt",
    "encoder.json",     "vocab.bpe",              "vocab.txt"};

/// Reads the companion files present in \p folder (none when it is a
/// .safetensors file).
static Expected<std::vector<std::pair<std::string, std::string>>>
readCompanionFiles(StringRef folder) {
  std::vector<std::pair<std::string, std::string>> files;
  if (!sys::fs::is_directory(folder))
    return files;
  for (const char *name : ModelCompanionFiles) {
    SmallString<256> path(folder);
    sys::path::append(path, name);
    if (!sys::fs::exists(path))
      continue;
    ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
        MemoryBuffer::getFile(path, /*IsText=*/false,
                              /*RequiresNullTerminator=*/false);
    if (!buffer)
      return createStringError(buffer.getError(),
                               "cannot read " + path + ": " +
                                   buffer.getError().message());
    files.emplace_back(name, (*buffer)->getBuffer().str());
  }
  return files;
}

/// Checks before any training that a checkpoint can be created next to
/// \p out (a read-only or missing parent would otherwise only show at the
/// first save, after the work).
static Error checkCheckpointParent(StringRef out) {
  SmallString<256> parent(sys::path::parent_path(out));
  if (parent.empty())
    parent = ".";
  SmallString<256> probe;
  if (std::error_code ec = sys::fs::createUniqueDirectory(
          Twine(parent) + "/.llm-run-probe", probe))
    return createStringError(ec, "cannot write checkpoints to " + out +
                                     ": cannot create a folder in " + parent +
                                     ": " + ec.message());
  sys::fs::remove(probe);
  return Error::success();
}

int llm::run::runTrain() {
  int64_t numClasses = 0;
  if (artifact.empty() || weights.empty() || data.empty() || out.empty())
    return fail("train: ARTIFACT, --weights, --data and --out are required");
  if (steps < 1 || batchSize < 1 || seqLength < 1)
    return fail("--steps, --batch and --seq must be positive");
  if (distillFrom.empty() != teacherWeights.empty())
    return fail("--distill-from and --teacher-weights go together");
  if (!(temperature > 0) || !std::isfinite(temperature) ||
      !(alpha >= 0 && alpha <= 1))
    return fail("--temperature must be positive and --alpha in [0, 1]");
  if (evalEvery < 0 || saveEvery < 0 || evalBatches < 1)
    return fail("--eval-every and --save-every must not be negative, "
                "--eval-batches must be positive");
  std::optional<rt::LRScheduleKind> kind = rt::parseLRScheduleKind(schedule);
  if (!kind)
    return fail("--schedule must be cosine, linear or constant, got '" +
                schedule + "'");
  rt::LRScheduleConfig scheduleConfig;
  scheduleConfig.kind = *kind;
  scheduleConfig.peakLR = lr;
  scheduleConfig.minLR = minLR;
  scheduleConfig.warmupSteps = warmup;
  scheduleConfig.totalSteps = steps;
  rt::Expected<rt::LRSchedule> lrSchedule = rt::LRSchedule::create(scheduleConfig);
  if (!lrSchedule)
    return fail(lrSchedule.message());
  rt::StepSettings settings;
  settings.adamW.beta1 = beta1;
  settings.adamW.beta2 = beta2;
  settings.adamW.epsilon = 1e-8;
  settings.adamW.weightDecay = weightDecay;
  settings.maxGradNorm = clip;

  if (Error e = checkCheckpointParent(out))
    return fail(toString(std::move(e)));

  // The tokenizer and the data.
  rt::Expected<std::unique_ptr<rt::Tokenizer>> openedTokenizer =
      llm::run::openTokenizer(tokenizerPath, weights);
  if (!openedTokenizer)
    return fail(openedTokenizer.message());
  std::unique_ptr<rt::Tokenizer> tokenizer = openedTokenizer.take();
  std::unique_ptr<TrainingTask> training;
  ClassificationTask *classifier = nullptr;
  if (task == "lm" || task == "mlm") {
    if (!validationData.empty())
      return fail("--validation is for --task classify; a language model "
                  "validates on the corpus's last 5%");
    rt::DataLoaderOptions dataOptions;
    dataOptions.batchSize = batchSize;
    dataOptions.seqLength = seqLength;
    dataOptions.seed = seed;
    rt::Expected<rt::CausalLMDataLoader> loader =
        rt::CausalLMDataLoader::fromCorpus(data, *tokenizer, dataOptions);
    if (!loader)
      return fail(loader.message());
    if (task == "lm") {
      training = std::make_unique<LanguageModelTask>(loader.take());
    } else {
      rt::Expected<rt::MaskedLMOptions> masking =
          rt::MaskedLMOptions::fromTokenizer(*tokenizer);
      if (!masking)
        return fail("--task mlm: " + masking.message());
      training = std::make_unique<MaskedLanguageModelTask>(
          loader.take(), masking.take(), seed);
    }
  } else if (task == "pretrain") {
    if (!validationData.empty())
      return fail("--validation is for --task classify; pretraining "
                  "validates on the corpus's last 5% of sentences");
    rt::Expected<rt::SentencePairOptions> pairOptions =
        rt::SentencePairOptions::fromTokenizer(*tokenizer);
    rt::Expected<rt::MaskedLMOptions> masking =
        rt::MaskedLMOptions::fromTokenizer(*tokenizer);
    if (!pairOptions || !masking)
      return fail("--task pretrain: " +
                  (!pairOptions ? pairOptions.message() : masking.message()));
    pairOptions->batchSize = batchSize;
    pairOptions->seqLength = seqLength;
    pairOptions->seed = seed;
    rt::Expected<rt::SentencePairDataLoader> loader =
        rt::SentencePairDataLoader::fromCorpus(data, *tokenizer, *pairOptions);
    if (!loader)
      return fail(loader.message());
    training =
        std::make_unique<PretrainingTask>(loader.take(), masking.take(), seed);
  } else if (task == "classify") {
    rt::ClassificationOptions dataOptions;
    dataOptions.batchSize = batchSize;
    dataOptions.maxLength = seqLength;
    dataOptions.seed = seed;
    rt::Expected<rt::ClassificationDataLoader> loader =
        rt::ClassificationDataLoader::fromFiles(data, validationData,
                                                *tokenizer, dataOptions);
    if (!loader)
      return fail(loader.message());
    numClasses = static_cast<int64_t>(loader->getLabelNames().size());
    auto classification = std::make_unique<ClassificationTask>(loader.take());
    classifier = classification.get();
    training = std::move(classification);
  } else {
    return fail("--task must be lm, mlm, pretrain or classify, got '" + task +
                "'");
  }

  rt::ModelOptions modelOptions;
  modelOptions.numThreads = threads;
  rt::TrainerInitOptions init;
  init.initializeMissing = initMissing;
  init.seed = seed;
  rt::Expected<std::unique_ptr<rt::Trainer>> opened =
      rt::Trainer::open(artifact, weights, modelOptions, init);
  if (!opened)
    return fail(opened.message() +
                (!initMissing && StringRef(opened.message())
                                     .contains("the checkpoint has no tensor")
                     ? " (--init-missing initializes parameters a "
                       "pretrained checkpoint lacks)"
                     : ""));
  rt::Trainer &trainer = **opened;
  if (!trainer.getInitialized().empty()) {
    outs() << "llm-run: initialized " << trainer.getInitialized().size()
           << " parameters " << weights << " lacks:";
    for (const std::string &name : trainer.getInitialized())
      outs() << " " << name;
    outs() << "\n";
  }
  if (tokenizer->getVocabSize() > trainer.getVocabSize())
    return fail("the tokenizer has " + Twine(tokenizer->getVocabSize()) +
                " tokens but the model's vocabulary holds " +
                Twine(trainer.getVocabSize()));
  if (task == "classify" && trainer.getNumLabels() != numClasses)
    return fail(trainer.getNumLabels()
                    ? "the data has " + Twine(numClasses) +
                          " classes but the model's head has " +
                          Twine(trainer.getNumLabels())
                    : Twine("--task classify needs a model with a "
                            "classification head (e.g. architectures "
                            "[\"GPT2ForSequenceClassification\"] and "
                            "num_labels in config.json)"));
  if (task != "classify" && trainer.getNumLabels())
    return fail("the model is a sequence classifier; train it with --task "
                "classify");
  if (task == "pretrain" && !trainer.predictsNextSentence())
    return fail("--task pretrain needs a model with a next-sentence head "
                "(architectures [\"BertForPreTraining\"] in config.json)");
  if (task != "pretrain" && trainer.predictsNextSentence())
    return fail("the model predicts the next sentence (BertForPreTraining); "
                "train it with --task pretrain");
  if (classifier)
    classifier->setLabelFirstToken(trainer.classifiesFirstToken());

  // The teacher: its logits on each batch are the student's soft targets.
  std::unique_ptr<rt::Model> teacher;
  rt::DistillSettings distill{temperature, alpha};
  if (!distillFrom.empty()) {
    if (!trainer.canDistill())
      return fail(artifact + ": the student has no distill_step; compile it "
                             "with llm-compile --train --distill");
    rt::Expected<std::unique_ptr<rt::Model>> openedTeacher =
        rt::Model::open(distillFrom, teacherWeights, modelOptions);
    if (!openedTeacher)
      return fail("--distill-from: " + openedTeacher.message());
    teacher = openedTeacher.take();
    const rt::ModelInfo &info = teacher->getManifest().model;
    int64_t teacherOutputs = info.numLabels ? info.numLabels : info.vocabSize;
    if (teacherOutputs != trainer.getNumOutputs())
      return fail("--distill-from: the teacher predicts " +
                  Twine(teacherOutputs) + " " +
                  (info.numLabels ? "classes" : "tokens") +
                  " but the student " + Twine(trainer.getNumOutputs()) +
                  " (teacher and student must share the tokenizer or the "
                  "classes)");
    if (info.maxPositions > 0 && seqLength > info.maxPositions)
      return fail("--distill-from: --seq " + Twine(int64_t(seqLength)) +
                  " exceeds the teacher's " + Twine(info.maxPositions) +
                  " positions");
  }

  Expected<std::vector<std::pair<std::string, std::string>>> companions =
      readCompanionFiles(weights);
  if (!companions)
    return fail(toString(companions.takeError()));
  rt::CheckpointSaveOptions saveOptions;
  saveOptions.companionFiles = std::move(*companions);
  auto &files = saveOptions.companionFiles;
  auto config = llvm::find_if(files, [](const auto &file) {
    return file.first == "config.json";
  });
  if (!configPath.empty()) {
    ErrorOr<std::unique_ptr<MemoryBuffer>> text =
        MemoryBuffer::getFile(configPath, /*IsText=*/false,
                              /*RequiresNullTerminator=*/false);
    if (!text)
      return fail(configPath + ": " + text.getError().message());
    if (config == files.end())
      config = files.insert(files.end(), {"config.json", ""});
    config->second = (*text)->getBuffer().str();
  } else if (!trainer.getInitialized().empty() && config != files.end()) {
    // --weights' config describes a model without the new parameters.
    files.erase(config);
    outs() << "llm-run: the checkpoints get no config.json (" << weights
           << "'s lacks the new parameters; --config gives one)\n";
  }

  int64_t first = 0;
  if (resume) {
    rt::Expected<rt::LoadedCheckpoint> checkpoint = rt::loadCheckpoint(
        out, rt::getFingerprint(trainer.getWeights()));
    if (!checkpoint)
      return fail("--resume: " + checkpoint.message());
    rt::Status s = trainer.restore(*checkpoint);
    if (s.isOk())
      s = training->restoreCursor(checkpoint->state.data);
    if (s.isError())
      return fail("--resume: " + s.message());
    first = checkpoint->state.step;
    if (first >= steps)
      return fail("--resume: the checkpoint is at step " + Twine(first) +
                  ", not before --steps " + Twine(steps));
    outs() << "llm-run: resumed from " << out << " at step " << first << "\n";
  }

  auto save = [&](int64_t step) -> bool {
    rt::TrainerState state;
    state.step = step;
    state.data = training->getCursor();
    state.lrSchedule = scheduleConfig;
    state.optimizer = settings.adamW;
    rt::Status s = rt::saveCheckpoint(out, trainer.getWeights(),
                                      trainer.getMoments(), state, saveOptions);
    if (s.isError()) {
      fail("cannot save the checkpoint: " + s.message());
      return false;
    }
    outs() << "llm-run: saved " << out << " at step " << step << "\n";
    return true;
  };
  auto evaluate = [&](int64_t step) -> bool {
    rt::Status s = training->validate(trainer, step);
    if (s.isError()) {
      fail("validation: " + s.message());
      return false;
    }
    return true;
  };

  outs() << "llm-run: " << training->describe() << ", " << steps
         << " steps\n";
  if (teacher)
    outs() << formatv("llm-run: distilling from {0} at temperature {1}, "
                      "alpha {2} (loss = alpha * T^2 * KL + (1 - alpha) * "
                      "cross-entropy)\n",
                      distillFrom, double(temperature), double(alpha));
  std::vector<float> teacherLogits;
  using Clock = std::chrono::steady_clock;
  Clock::time_point start = Clock::now();
  double tokensSeen = 0;
  int64_t last = steps;
  if (stopAfter > 0)
    last = std::min<int64_t>(steps, first + stopAfter);
  for (int64_t step = first; step < last; ++step) {
    rt::Expected<StepBatch> next = training->next();
    if (!next)
      return fail(next.message());
    StepBatch &batch = *next;
    settings.learningRate = lrSchedule->lr(step);
    settings.step = step + 1;
    auto runStep = [&]() -> rt::Expected<rt::StepResult> {
      if (!teacher)
        return trainer.step(batch.inputs, batch.labels, batch.batch, batch.seq,
                            settings, batch.getMask(), batch.getPairs());
      teacherLogits.resize(static_cast<size_t>(batch.batch * batch.seq *
                                               trainer.getNumOutputs()));
      rt::Status s = teacher->forwardInto(
          rt::TokenView{batch.inputs.data(), batch.batch, batch.seq},
          teacherLogits.data(), teacherLogits.size());
      if (s.isError())
        return rt::Status::error(s.code(), "the teacher: " + s.message());
      return trainer.distillStep(batch.inputs, batch.labels, teacherLogits,
                                 batch.batch, batch.seq, settings, distill,
                                 batch.getMask());
    };
    rt::Expected<rt::StepResult> result = runStep();
    if (!result)
      return fail(result.message());
    if (!std::isfinite(result->loss))
      return fail(Twine("the loss is ") +
                  (std::isnan(result->loss) ? "NaN" : "infinite") +
                  " at step " +
                  Twine(step + 1) +
                  "; stopping (the last checkpoint is kept as it was)");
    double elapsed =
        std::chrono::duration<double>(Clock::now() - start).count();
    int64_t done = step + 1 - first;
    tokensSeen += static_cast<double>(batch.batch * batch.seq);
    double rate = elapsed > 0 ? tokensSeen / elapsed : 0;
    outs() << formatv("step {0}/{1}: loss {2:f4}, lr {3:e2}, grad norm "
                      "{4:f3}, {5:f0} tokens/s, ETA {6}\n",
                      step + 1, int64_t(steps), result->loss,
                      settings.learningRate, result->gradNorm, rate,
                      durationText(elapsed / done * (steps - step - 1)));
    outs().flush();
    if (evalEvery > 0 && (step + 1) % evalEvery == 0 && !evaluate(step + 1))
      return 1;
    if (saveEvery > 0 && (step + 1) % saveEvery == 0 && step + 1 != last &&
        !save(step + 1))
      return 1;
  }
  if (last == steps && (evalEvery == 0 || steps % evalEvery != 0))
    if (!evaluate(steps))
      return 1;
  return save(last) ? 0 : 1;
}
