//===- Eval.cpp - llm-run eval --------------------------------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
//   llm-run eval ARTIFACT --weights PATH --data FILE [--tokenizer DIR|bytes]
//       [--task lm|classify] [--seq T --batch B --threads N]
//
// The loss and perplexity of a model on a text file: the file is tokenized
// with the model's tokenizer and cut into windows of --seq + 1 tokens that
// start every --seq tokens, so that every token but the first is predicted
// exactly once (the last window may be shorter). The compiled eval_step of
// an artifact built with `llm-compile --train` computes each batch's mean
// cross-entropy; the report is the mean over all predicted tokens, in nats,
// and its exponential. A checkpoint of `llm-run train` is a weights folder
// like any other. With --task classify, FILE holds `label<TAB>text` lines
// and a classifier's loss and accuracy over them are printed (each text
// truncated to --seq tokens, classified at its last token).
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "llm/runtime/Tokenizer.h"
#include "llm/runtime/Trainer.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>

using namespace llvm;
namespace rt = llm::rt;
using llm::run::fail;

cl::SubCommand llm::run::EvalCommand(
    "eval", "Loss and perplexity of a text file (an llm-compile --train artifact)");
cl::OptionCategory llm::run::EvalCategory("eval options");

namespace {
using llm::run::EvalCategory;
using llm::run::EvalCommand;

cl::opt<std::string> artifact(cl::Positional, cl::desc("<artifact folder>"),
                              cl::sub(EvalCommand), cl::cat(EvalCategory));
cl::opt<std::string> weights("weights",
                             cl::desc("Weights (a .safetensors file or a "
                                      "folder holding one, e.g. a checkpoint)"),
                             cl::value_desc("path"), cl::sub(EvalCommand),
                             cl::cat(EvalCategory));
cl::opt<std::string> data("data", cl::desc("Text to evaluate on (UTF-8)"),
                          cl::value_desc("file"), cl::sub(EvalCommand),
                          cl::cat(EvalCategory));
cl::opt<std::string> tokenizerPath(
    "tokenizer", cl::desc("Tokenizer folder or 'bytes' (default: --weights)"),
    cl::value_desc("dir|bytes"), cl::sub(EvalCommand), cl::cat(EvalCategory));
cl::opt<int64_t> seqLength("seq", cl::desc("Tokens per window"),
                           cl::init(128), cl::sub(EvalCommand),
                           cl::cat(EvalCategory));
cl::opt<int64_t> batchSize("batch", cl::desc("Windows per call"), cl::init(8),
                           cl::sub(EvalCommand), cl::cat(EvalCategory));
cl::opt<int> threads("threads", cl::desc("Threads"), cl::init(1),
                     cl::sub(EvalCommand), cl::cat(EvalCategory));
cl::opt<std::string> task(
    "task",
    cl::desc("lm: loss and perplexity of a text; classify: loss and accuracy "
             "on `label<TAB>text` lines (a classifier)"),
    cl::init("lm"), cl::sub(EvalCommand), cl::cat(EvalCategory));
} // namespace

/// Largest text file eval reads.
static constexpr uint64_t MaxTextBytes = uint64_t(1) << 30;

/// --task classify: every example of the labelled file, in order.
static int evaluateClassifier(const rt::Tokenizer &tokenizer) {
  rt::Expected<rt::LabelledDataset> labelled = rt::readLabelledFile(data);
  if (!labelled)
    return fail(labelled.message());
  rt::ClassificationOptions options;
  options.batchSize = std::min<int64_t>(
      batchSize, static_cast<int64_t>(labelled->examples.size()));
  options.maxLength = seqLength;
  // The file is both the "training" set the loader requires and the
  // validation set that is scored.
  rt::Expected<rt::ClassificationDataLoader> loader =
      rt::ClassificationDataLoader::fromFiles(data, data, tokenizer, options);
  if (!loader)
    return fail(loader.message());
  rt::ModelOptions modelOptions;
  modelOptions.numThreads = threads;
  rt::Expected<std::unique_ptr<rt::Trainer>> opened =
      rt::Trainer::open(artifact, weights, modelOptions);
  if (!opened)
    return fail(opened.message());
  rt::Trainer &trainer = **opened;
  if (trainer.getNumLabels() !=
      static_cast<int64_t>(loader->getLabelNames().size()))
    return fail(data + ": " + Twine(loader->getLabelNames().size()) +
                " classes, but the model's head has " +
                Twine(trainer.getNumLabels()));
  loader->setLabelFirstToken(trainer.classifiesFirstToken());
  rt::Expected<llm::run::ClassifierScore> score =
      llm::run::scoreClassifier(trainer, *loader);
  if (!score)
    return fail(score.message());
  outs() << formatv("llm-run: {0}: {1} texts, loss {2:f4}, accuracy {3:f2}% "
                    "({4}/{1})\n",
                    data, score->examples, score->loss,
                    100.0 * score->accuracy(), score->correct);
  return 0;
}

int llm::run::runEval() {
  if (artifact.empty() || weights.empty() || data.empty())
    return fail("eval: ARTIFACT, --weights and --data are required");
  if (seqLength < 1 || batchSize < 1)
    return fail("--seq and --batch must be positive");

  rt::Expected<std::unique_ptr<rt::Tokenizer>> openedTokenizer =
      llm::run::openTokenizer(tokenizerPath, weights);
  if (!openedTokenizer)
    return fail(openedTokenizer.message());
  std::unique_ptr<rt::Tokenizer> tokenizer = openedTokenizer.take();

  if (task == "classify")
    return evaluateClassifier(*tokenizer);
  if (task != "lm")
    return fail("--task must be lm or classify, got '" + task + "'");

  if (sys::fs::is_directory(data))
    return fail(data + ": is a folder; expected a text file");
  ErrorOr<std::unique_ptr<MemoryBuffer>> text =
      MemoryBuffer::getFile(data, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!text)
    return fail(data + ": " + text.getError().message());
  if ((*text)->getBufferSize() > MaxTextBytes)
    return fail(data + ": larger than 1 GiB");
  rt::Expected<std::vector<int64_t>> ids =
      tokenizer->encode((*text)->getBuffer());
  if (!ids)
    return fail(data + ": " + ids.message());
  int64_t n = static_cast<int64_t>(ids->size());
  if (n < 2)
    return fail(data + ": " + Twine(n) +
                " tokens; at least 2 are needed to predict one");

  rt::ModelOptions modelOptions;
  modelOptions.numThreads = threads;
  rt::Expected<std::unique_ptr<rt::Trainer>> opened =
      rt::Trainer::open(artifact, weights, modelOptions);
  if (!opened)
    return fail(opened.message());
  rt::Trainer &trainer = **opened;
  if (tokenizer->getVocabSize() > trainer.getVocabSize())
    return fail("the tokenizer has " + Twine(tokenizer->getVocabSize()) +
                " tokens but the model's vocabulary holds " +
                Twine(trainer.getVocabSize()));
  if (trainer.getMaxPositions() > 0 && seqLength > trainer.getMaxPositions())
    return fail("--seq " + Twine(int64_t(seqLength)) +
                " is longer than the model's " +
                Twine(trainer.getMaxPositions()) + " positions");

  // Windows [start, start + len] for start = 0, seq, 2 seq, ...; full ones
  // go in batches, a shorter last one on its own.
  int64_t seq = seqLength;
  int64_t fullWindows = (n - 1) / seq;
  int64_t tail = (n - 1) % seq;
  double totalLoss = 0;
  int64_t predicted = 0;
  auto run = [&](int64_t first, int64_t rows, int64_t len) -> bool {
    std::vector<int64_t> inputs, labels;
    inputs.reserve(rows * len);
    labels.reserve(rows * len);
    for (int64_t r = 0; r < rows; ++r) {
      int64_t start = (first + r) * seq;
      inputs.insert(inputs.end(), ids->begin() + start,
                    ids->begin() + start + len);
      labels.insert(labels.end(), ids->begin() + start + 1,
                    ids->begin() + start + len + 1);
    }
    rt::Expected<double> loss = trainer.evaluate(inputs, labels, rows, len);
    if (!loss) {
      fail(loss.message());
      return false;
    }
    totalLoss += *loss * static_cast<double>(rows * len);
    predicted += rows * len;
    return true;
  };

  using Clock = std::chrono::steady_clock;
  Clock::time_point start = Clock::now();
  for (int64_t first = 0; first < fullWindows; first += batchSize)
    if (!run(first, std::min<int64_t>(batchSize, fullWindows - first), seq))
      return 1;
  if (tail > 0 && !run(fullWindows, 1, tail))
    return 1;
  double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  double loss = totalLoss / static_cast<double>(predicted);
  if (!std::isfinite(loss))
    return fail(Twine("the loss is ") + (std::isnan(loss) ? "NaN" : "infinite"));
  outs() << formatv("llm-run: {0}: {1} tokens predicted, loss {2:f4}, "
                    "perplexity {3:f2} ({4:f0} tokens/s)\n",
                    data, predicted, loss, std::exp(loss),
                    static_cast<double>(predicted) / seconds);
  return 0;
}
