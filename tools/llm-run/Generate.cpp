//===- Generate.cpp - llm-run generate ---------------------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
//   llm-run generate ARTIFACT [--weights PATH] [--tokenizer DIR|bytes]
//       (--prompt TEXT... | --prompt-ids IDS) [--max-new-tokens N]
//       [--temperature T --top-k K --top-p P --min-p P
//        --repetition-penalty R | --greedy] [--seed S] [--threads N]
//       [--stream] [--stop STR...] [--ignore-eos] [--context stop|slide]
//       [--print-ids]
//
// Tokenizes the prompts, runs the artifact's prefill and decode entry points
// through llm::rt::Generator, prints each prompt followed by its generated
// text (as it is generated with --stream), and ends with a one-line summary
// on stderr: prompt tokens, generated tokens, prefill and decode tokens/s.
// The sampling steps run in the order their options are given on the
// command line; without any, decoding is greedy.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "llm/runtime/Generator.h"
#include "llm/runtime/Tokenizer.h"
#include "llm/runtime/Tokens.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace llvm;
namespace rt = llm::rt;

cl::SubCommand llm::run::GenerateCommand(
    "generate", "Generate text from prompts with a compiled decoder");
cl::OptionCategory llm::run::GenerateCategory("generate options");

namespace {
using llm::run::GenerateCategory;
using llm::run::GenerateCommand;

cl::opt<std::string> artifact(cl::Positional, cl::desc("<artifact folder>"),
                              cl::sub(GenerateCommand),
                              cl::cat(GenerateCategory));
cl::opt<std::string> weights(
    "weights",
    cl::desc("Checkpoint (a .safetensors file, a folder holding "
             "model.safetensors, or an index); default: the artifact folder"),
    cl::value_desc("path"), cl::sub(GenerateCommand), cl::cat(GenerateCategory));
cl::opt<std::string> tokenizerPath(
    "tokenizer",
    cl::desc("Tokenizer folder (vocab.json + merges.txt, encoder.json + "
             "vocab.bpe, or vocab.txt), or 'bytes'; default: the weights "
             "folder"),
    cl::value_desc("dir|bytes"), cl::sub(GenerateCommand),
    cl::cat(GenerateCategory));
cl::list<std::string> prompts("prompt",
                              cl::desc("A prompt; repeat for a batch"),
                              cl::value_desc("text"), cl::sub(GenerateCommand),
                              cl::cat(GenerateCategory));
cl::opt<std::string> promptIds(
    "prompt-ids",
    cl::desc("Prompts as token ids instead of text: comma-separated, "
             "prompts separated by ';' (lengths may differ)"),
    cl::value_desc("ids"), cl::sub(GenerateCommand), cl::cat(GenerateCategory));
cl::opt<int64_t> maxNewTokens("max-new-tokens",
                              cl::desc("New tokens per prompt at most"),
                              cl::init(64), cl::value_desc("n"),
                              cl::sub(GenerateCommand),
                              cl::cat(GenerateCategory));
cl::opt<float> temperature("temperature",
                           cl::desc("Divide the logits by T (> 0)"),
                           cl::value_desc("T"), cl::sub(GenerateCommand),
                           cl::cat(GenerateCategory));
cl::opt<int64_t> topK("top-k", cl::desc("Keep the K most likely tokens"),
                      cl::value_desc("K"), cl::sub(GenerateCommand),
                      cl::cat(GenerateCategory));
cl::opt<float> topP("top-p",
                    cl::desc("Keep the most likely tokens up to probability "
                             "mass P (0 < P <= 1)"),
                    cl::value_desc("P"), cl::sub(GenerateCommand),
                    cl::cat(GenerateCategory));
cl::opt<float> minP("min-p",
                    cl::desc("Drop tokens less likely than P times the most "
                             "likely one"),
                    cl::value_desc("P"), cl::sub(GenerateCommand),
                    cl::cat(GenerateCategory));
cl::opt<float> repetitionPenalty(
    "repetition-penalty",
    cl::desc("Penalize tokens already in the sequence (CTRL's rule; 1 is "
             "none)"),
    cl::value_desc("R"), cl::sub(GenerateCommand), cl::cat(GenerateCategory));
cl::opt<bool> greedy("greedy", cl::desc("Pick the most likely token"),
                     cl::sub(GenerateCommand), cl::cat(GenerateCategory));
cl::opt<uint64_t> seed("seed", cl::desc("Random seed of the sampler"),
                       cl::init(0), cl::value_desc("S"),
                       cl::sub(GenerateCommand), cl::cat(GenerateCategory));
cl::opt<int> threads("threads",
                     cl::desc("Threads for the model's parallel loops"),
                     cl::value_desc("N"), cl::sub(GenerateCommand),
                     cl::cat(GenerateCategory));
cl::opt<bool> stream("stream",
                     cl::desc("Print the text as it is generated (one "
                              "prompt)"),
                     cl::sub(GenerateCommand), cl::cat(GenerateCategory));
cl::list<std::string> stopStrings(
    "stop", cl::desc("Stop a sequence when its text contains STR (not "
                     "printed); repeatable"),
    cl::value_desc("STR"), cl::sub(GenerateCommand), cl::cat(GenerateCategory));
cl::opt<bool> ignoreEOS("ignore-eos",
                        cl::desc("Do not stop at the end-of-sequence token"),
                        cl::sub(GenerateCommand), cl::cat(GenerateCategory));
cl::opt<rt::ContextPolicy> contextPolicy(
    "context", cl::desc("When the context is full"),
    cl::init(rt::ContextPolicy::Stop),
    cl::values(clEnumValN(rt::ContextPolicy::Stop, "stop",
                          "stop the sequence with a message"),
               clEnumValN(rt::ContextPolicy::Slide, "slide",
                          "keep the newest half of the context and go on")),
    cl::sub(GenerateCommand), cl::cat(GenerateCategory));
cl::opt<bool> printIds("print-ids",
                       cl::desc("Also print each sequence's generated ids"),
                       cl::sub(GenerateCommand), cl::cat(GenerateCategory));
} // namespace

using llm::run::fail;

/// The default checkpoint and tokenizer folder: --weights, else the
/// artifact.
static std::string weightsOrArtifact() {
  return weights.empty() ? artifact : weights;
}

/// True if \p folder holds files a tokenizer reads.
static bool hasTokenizerFiles(StringRef folder) {
  for (const char *name :
       {"vocab.json", "encoder.json", "vocab.txt", "tokenizer_config.json"}) {
    SmallString<256> path(folder);
    sys::path::append(path, name);
    if (sys::fs::exists(path))
      return true;
  }
  return false;
}

/// Text generated for one sequence, held back while it may be the start of
/// a stop string, so that a stop string is never printed.
class StopMatcher {
public:
  /// Adds \p piece; returns the text now safe to print and sets \p stop
  /// when a stop string appeared (the text before it is returned).
  std::string push(StringRef piece, bool &stop) {
    held += piece.str();
    stop = false;
    size_t cut = std::string::npos;
    for (const std::string &s : stopStrings)
      if (!s.empty())
        cut = std::min(cut, held.find(s));
    if (cut != std::string::npos) {
      stop = true;
      std::string out = held.substr(0, cut);
      held.clear();
      return out;
    }
    // Keep the longest suffix that is a proper prefix of a stop string.
    size_t keep = 0;
    for (const std::string &s : stopStrings)
      for (size_t n = s.empty() ? 0 : std::min(s.size() - 1, held.size());
           n > keep; --n)
        if (s.compare(0, n, held, held.size() - n, n) == 0) {
          keep = n;
          break;
        }
    std::string out = held.substr(0, held.size() - keep);
    held.erase(0, held.size() - keep);
    return out;
  }
  std::string flush() { return std::exchange(held, std::string()); }

private:
  std::string held;
};

/// Builds the sampler chain from the options in command-line order.
static rt::Status buildSampler(rt::SamplerChain &chain) {
  struct Step {
    unsigned position;
    std::function<rt::Status()> add;
  };
  std::vector<Step> steps;
  if (repetitionPenalty.getNumOccurrences())
    steps.push_back({repetitionPenalty.getPosition(), [&] {
                       return chain.addRepetitionPenalty(repetitionPenalty);
                     }});
  if (temperature.getNumOccurrences())
    steps.push_back({temperature.getPosition(),
                     [&] { return chain.addTemperature(temperature); }});
  if (topK.getNumOccurrences())
    steps.push_back(
        {topK.getPosition(), [&] { return chain.addTopK(topK); }});
  if (topP.getNumOccurrences())
    steps.push_back(
        {topP.getPosition(), [&] { return chain.addTopP(topP); }});
  if (minP.getNumOccurrences())
    steps.push_back(
        {minP.getPosition(), [&] { return chain.addMinP(minP); }});
  if (greedy)
    steps.push_back({greedy.getPosition(), [&] {
                       chain.addGreedy();
                       return rt::Status::success();
                     }});
  llvm::sort(steps, [](const Step &a, const Step &b) {
    return a.position < b.position;
  });
  for (Step &step : steps) {
    rt::Status s = step.add();
    if (s.isError())
      return s;
  }
  return rt::Status::success();
}

int llm::run::runGenerate() {
  if (artifact.empty())
    return fail("generate: the artifact folder is required (llm-run generate "
                "ARTIFACT --prompt TEXT)");
  if (prompts.empty() == promptIds.empty())
    return fail("generate: give either --prompt (text) or --prompt-ids");
  if (maxNewTokens < 0)
    return fail("--max-new-tokens must not be negative, got " +
                Twine(maxNewTokens));
  if (threads.getNumOccurrences() &&
      (threads < 1 || threads > rt::Model::MaxThreads))
    return fail("--threads must be between 1 and " +
                Twine(rt::Model::MaxThreads) + ", got " + Twine(threads));
  if (llvm::is_contained(stopStrings, std::string()))
    return fail("--stop: a stop string must not be empty");
  rt::SamplerChain chain(seed);
  rt::Status s = buildSampler(chain);
  if (s.isError())
    return fail(s.message());

  // The tokenizer: needed for text prompts, for printing and stop strings.
  std::unique_ptr<rt::Tokenizer> tokenizer;
  std::string tokenizerFolder =
      tokenizerPath.empty() ? weightsOrArtifact() : tokenizerPath;
  if (tokenizerPath == "bytes") {
    tokenizer = rt::Tokenizer::createByteLevel();
  } else if (!tokenizerPath.empty() || hasTokenizerFiles(tokenizerFolder)) {
    rt::Expected<std::unique_ptr<rt::Tokenizer>> opened =
        rt::Tokenizer::open(tokenizerFolder);
    if (!opened)
      return fail(opened.message());
    tokenizer = opened.take();
  } else if (!prompts.empty() || !stopStrings.empty()) {
    return fail("no tokenizer files (vocab.json + merges.txt, encoder.json "
                "+ vocab.bpe, vocab.txt) in '" +
                tokenizerFolder + "'; give --tokenizer DIR or --tokenizer "
                                  "bytes");
  }

  std::vector<std::vector<int64_t>> rows;
  if (!promptIds.empty()) {
    // Rows may differ in length here, unlike parseTokenRows' batches.
    SmallVector<StringRef> texts;
    StringRef(promptIds).split(texts, ';');
    for (StringRef text : texts) {
      rt::Expected<std::vector<std::vector<int64_t>>> parsed =
          rt::parseTokenRows(text);
      if (!parsed)
        return fail("--prompt-ids: " + parsed.message());
      rows.push_back(parsed->front());
    }
  } else {
    for (const std::string &text : prompts) {
      if (text.empty())
        return fail("--prompt: the prompt is empty");
      rt::Expected<std::vector<int64_t>> ids = tokenizer->encode(text);
      if (!ids)
        return fail("--prompt: " + ids.message());
      if (ids->empty())
        return fail("--prompt: the prompt has no tokens");
      rows.push_back(ids.take());
    }
  }

  if (stream && rows.size() > 1)
    return fail("--stream prints one sequence; give one prompt");

  rt::ModelOptions options;
  options.numThreads = threads;
  rt::Expected<std::unique_ptr<rt::Generator>> generator =
      rt::Generator::open(artifact, weightsOrArtifact(), options);
  if (!generator)
    return fail(generator.message());
  rt::Generator &gen = **generator;
  if (topK.getNumOccurrences() && topK > gen.getVocabSize())
    return fail("--top-k must be at most the vocabulary size " +
                Twine(gen.getVocabSize()) + ", got " + Twine(topK));
  if (tokenizer && tokenizer->getVocabSize() > gen.getVocabSize())
    return fail("the tokenizer has " + Twine(tokenizer->getVocabSize()) +
                " tokens but the model's vocabulary holds " +
                Twine(gen.getVocabSize()));

  rt::GenerationOptions generation;
  generation.maxNewTokens = maxNewTokens;
  generation.ignoreEOS = ignoreEOS;
  generation.contextPolicy = contextPolicy;
  generation.seed = seed;
  if (tokenizer)
    generation.eos = tokenizer->getEOS();

  // Text per sequence: what is printed (or printed at the end), through a
  // stream decoder and the stop-string matcher.
  size_t n = rows.size();
  std::vector<std::string> texts(n);
  std::vector<std::unique_ptr<rt::TokenStreamDecoder>> decoders;
  std::vector<StopMatcher> matchers(n);
  if (tokenizer)
    for (size_t b = 0; b < n; ++b)
      decoders.push_back(std::make_unique<rt::TokenStreamDecoder>(*tokenizer));
  auto emit = [&](size_t b, StringRef text) {
    if (stream) {
      outs() << text;
      outs().flush();
    } else {
      texts[b] += text.str();
    }
  };
  std::string callbackError;
  if (stream && tokenizer) {
    rt::Expected<std::string> prompt = tokenizer->decode(rows[0]);
    if (prompt) {
      outs() << *prompt;
      outs().flush();
    }
  }
  rt::TokenCallback callback = [&](size_t b, int64_t token) {
    if (!tokenizer)
      return true;
    rt::Expected<std::string> piece = decoders[b]->push(token);
    if (!piece) {
      callbackError = piece.message();
      return false;
    }
    bool stop = false;
    emit(b, matchers[b].push(*piece, stop));
    return !stop;
  };

  rt::Expected<rt::GenerationResult> result =
      gen.generate(rows, chain, generation, callback);
  if (!result)
    return fail(result.message());
  if (!callbackError.empty())
    return fail(callbackError);

  for (size_t b = 0; b < n; ++b) {
    if (tokenizer && result->stopReasons[b] != rt::StopReason::Callback) {
      bool stop = false;
      emit(b, matchers[b].push(decoders[b]->flush(), stop));
      if (!stop)
        emit(b, matchers[b].flush());
    }
    if (stream) {
      outs() << "\n";
    } else if (tokenizer) {
      rt::Expected<std::string> prompt = tokenizer->decode(rows[b]);
      if (!prompt)
        return fail(prompt.message());
      if (n > 1)
        outs() << "[" << b << "] ";
      outs() << *prompt << texts[b] << "\n";
    }
    if (printIds || !tokenizer) {
      outs() << "ids[" << b << "]:";
      for (int64_t id : result->tokens[b])
        outs() << " " << id;
      outs() << "\n";
    }
    outs().flush();
    if (result->stopReasons[b] == rt::StopReason::Context)
      WithColor::warning(errs(), "llm-run")
          << "sequence " << b << " stopped: the context of "
          << gen.getCapacity()
          << " tokens is full (use --context slide to go on)\n";
  }
  outs().flush();
  const rt::GenerationStats &stats = result->stats;
  int64_t decoded = stats.generatedTokens -
                    std::min<int64_t>(stats.generatedTokens,
                                      static_cast<int64_t>(n));
  auto rate = [](int64_t tokens, double seconds) {
    return seconds > 0 ? tokens / seconds : 0.0;
  };
  errs() << format("llm-run: %lld prompt tokens, %lld generated; prefill "
                   "%.1f tokens/s, decode %.1f tokens/s (%lld steps)",
                   static_cast<long long>(stats.promptTokens),
                   static_cast<long long>(stats.generatedTokens),
                   rate(stats.promptTokens, stats.prefillSeconds),
                   rate(decoded, stats.decodeSeconds),
                   static_cast<long long>(stats.decodeSteps));
  if (stats.slides)
    errs() << ", " << stats.slides << " window slides";
  errs() << "\n";
  return 0;
}
