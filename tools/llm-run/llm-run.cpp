//===- llm-run.cpp - Run compiled llm-opt models ----------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The command-line front end of the runtime. Each job is a subcommand:
//
//   llm-run forward --artifact DIR --weights PATH --tokens 1,2,3[;4,5,6]
//                   [--threads N] [--top K] [--npy out.npy] [--strict]
//
// loads the artifact llm-compile wrote, binds the checkpoint, computes the
// logits of the batch, prints the top K logits of each row's last position
// and optionally saves all logits [batch, seq, vocab] as a .npy file
// (atomically). Every failure prints "llm-run: error: ..." and exits with 1;
// command-line errors are reworded into the same form.
//
// The other subcommands live in their own files (Generate.cpp,
// Tokenize.cpp, Train.cpp; declared in Commands.h), each a cl::SubCommand
// with its own options.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "llm/runtime/Model.h"
#include "llm/runtime/NumPy.h"
#include "llm/runtime/Tokens.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include <unistd.h>

using namespace llvm;
namespace rt = llm::rt;

static constexpr StringLiteral ToolName = "llm-run";

//===----------------------------------------------------------------------===//
// Command line
//===----------------------------------------------------------------------===//

static cl::OptionCategory forwardCategory("forward options");

static cl::SubCommand
    forwardCommand("forward",
                   "Compute the logits of a batch of token ids and print the "
                   "top ones of each row's last position");

static cl::opt<std::string>
    artifactDir("artifact", cl::desc("Artifact folder written by llm-compile"),
                cl::value_desc("dir"), cl::sub(forwardCommand),
                cl::cat(forwardCategory));

static cl::opt<std::string> weightsPath(
    "weights",
    cl::desc("Checkpoint: a .safetensors file, a folder holding "
             "model.safetensors, or a model.safetensors.index.json"),
    cl::value_desc("path"), cl::sub(forwardCommand), cl::cat(forwardCategory));

static cl::opt<std::string> tokensText(
    "tokens",
    cl::desc("Token ids, comma-separated; rows of a batch separated by ';' "
             "(e.g. 1,2,3;4,5,6)"),
    cl::value_desc("ids"), cl::sub(forwardCommand), cl::cat(forwardCategory));

static cl::opt<int>
    numThreads("threads",
               cl::desc("Threads for the model's parallel loops (default: "
                        "the library's choice)"),
               cl::value_desc("n"), cl::init(0), cl::sub(forwardCommand),
               cl::cat(forwardCategory));

static cl::opt<int> topK("top",
                         cl::desc("How many of the largest logits to print "
                                  "per row (default 5)"),
                         cl::value_desc("k"), cl::init(5),
                         cl::sub(forwardCommand), cl::cat(forwardCategory));

static cl::opt<std::string>
    npyPath("npy",
            cl::desc("Also write all logits [batch, seq, vocab] as float32 "
                     "to this .npy file"),
            cl::value_desc("file"), cl::sub(forwardCommand),
            cl::cat(forwardCategory));

static cl::opt<bool>
    strictWeights("strict",
                  cl::desc("Refuse checkpoint tensors the model does not use "
                           "(default: warn)"),
                  cl::sub(forwardCommand), cl::cat(forwardCategory));

//===----------------------------------------------------------------------===//
// Diagnostics
//===----------------------------------------------------------------------===//

static raw_ostream &error() { return WithColor::error(errs(), ToolName); }
static raw_ostream &warning() { return WithColor::warning(errs(), ToolName); }

int llm::run::fail(const Twine &message) {
  error() << message << "\n";
  return 1;
}
using llm::run::fail;

llm::rt::Expected<std::unique_ptr<llm::rt::Tokenizer>>
llm::run::openTokenizer(const std::string &path, const std::string &weights) {
  if (path == "bytes")
    return llm::rt::Tokenizer::createByteLevel();
  return llm::rt::Tokenizer::open(path.empty() ? weights : path);
}

/// Returns true if \p name (without dashes) is an option of a subcommand
/// or a help option, i.e. worth suggesting to the user.
static bool isOwnOption(StringRef name) {
  if (name.starts_with("help"))
    return true;
  return forwardCommand.OptionsMap.count(name) != 0 ||
         llm::run::GenerateCommand.OptionsMap.count(name) != 0 ||
         llm::run::TokenizeCommand.OptionsMap.count(name) != 0 ||
         llm::run::TrainCommand.OptionsMap.count(name) != 0 ||
         llm::run::EvalCommand.OptionsMap.count(name) != 0;
}

/// Reprints the command-line parser's messages (each "llm-run: text") as
/// "llm-run: error: text", so that every failure reads the same. Drops the
/// parser's spelling suggestions that point at LLVM's internal options.
static void reportParseErrors(StringRef text) {
  SmallVector<StringRef, 4> lines;
  text.split(lines, '\n', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (StringRef line : lines) {
    line = line.trim();
    // The parser prefixes the program name, maybe with the subcommand.
    for (StringRef prefix : {"llm-run forward: ", "llm-run generate: ",
                             "llm-run tokenize: ", "llm-run train: ",
                             "llm-run eval: ",
                             "llm-run: "})
      if (line.consume_front(prefix))
        break;
    StringRef suggestion = line;
    if (suggestion.consume_front("Did you mean '")) {
      suggestion = suggestion.ltrim('-').take_until(
          [](char c) { return c == '\'' || c == '='; });
      if (isOwnOption(suggestion))
        WithColor::note(errs(), ToolName) << line << "\n";
      continue;
    }
    error() << line << "\n";
  }
}

/// Parses the command line. The parser prints some of its errors straight
/// to stderr instead of the stream it is given (values an option cannot
/// parse, missing values), so stderr is captured in a temporary file while
/// it runs and everything it said is reworded by reportParseErrors.
static bool parseCommandLine(int argc, char **argv) {
  static constexpr const char *overview =
      "llm-run: run models compiled by llm-compile\n\n"
      "  llm-run forward --artifact DIR --weights PATH --tokens 1,2,3\n"
      "  llm-run generate ARTIFACT --weights PATH --prompt TEXT\n"
      "  llm-run tokenize --tokenizer DIR --text TEXT\n"
      "  llm-run train ARTIFACT --weights PATH --data FILE --out DIR\n"
      "  llm-run eval ARTIFACT --weights PATH --data FILE\n";
  std::FILE *capture = std::tmpfile();
  int savedStderr = capture ? ::dup(STDERR_FILENO) : -1;
  if (savedStderr >= 0 && ::dup2(::fileno(capture), STDERR_FILENO) < 0) {
    ::close(savedStderr);
    savedStderr = -1;
  }
  bool parsed = cl::ParseCommandLineOptions(argc, argv, overview, &errs());
  std::string messages;
  if (savedStderr >= 0) {
    errs().flush();
    ::dup2(savedStderr, STDERR_FILENO);
    ::close(savedStderr);
    std::rewind(capture);
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), capture)) > 0)
      messages.append(buffer, n);
  }
  if (capture)
    std::fclose(capture);
  if (!parsed)
    reportParseErrors(messages);
  else
    errs() << messages;
  return parsed;
}

//===----------------------------------------------------------------------===//
// forward
//===----------------------------------------------------------------------===//

/// Returns the files the run reads that a careless --npy could overwrite:
/// the manifest, and the checkpoint's files (for a folder or an index, the
/// files that may hold weights).
static std::vector<std::string> getInputFiles() {
  std::vector<std::string> inputs = {artifactDir + "/manifest.json",
                                     weightsPath};
  SmallString<256> weightsFolder;
  if (sys::fs::is_directory(weightsPath)) {
    weightsFolder = weightsPath;
  } else if (StringRef(weightsPath).ends_with(".json")) {
    weightsFolder = sys::path::parent_path(weightsPath);
    if (weightsFolder.empty())
      weightsFolder = ".";
  }
  if (!weightsFolder.empty()) {
    std::error_code ec;
    for (sys::fs::directory_iterator it(weightsFolder, ec), end;
         !ec && it != end; it.increment(ec)) {
      StringRef name = sys::path::filename(it->path());
      if (name.ends_with(".safetensors") || name.ends_with(".json"))
        inputs.push_back(it->path());
    }
  }
  return inputs;
}

/// Checks the --npy path before the model runs: its folder must exist, and
/// it must not be one of the inputs.
static bool checkOutputPath(StringRef path) {
  if (sys::fs::is_directory(path)) {
    fail("--npy '" + path + "' is a folder; expected a file name");
    return false;
  }
  StringRef parent = sys::path::parent_path(path);
  if (parent.empty())
    parent = ".";
  if (!sys::fs::is_directory(parent)) {
    fail("cannot write --npy '" + path + "': the folder '" + parent +
         "' does not exist");
    return false;
  }
  for (const std::string &input : getInputFiles()) {
    bool same = false;
    if (!sys::fs::equivalent(input, path, same) && same) {
      fail("--npy '" + path + "' is the input '" + input +
           "'; choose another path");
      return false;
    }
  }
  return true;
}

/// Orders logit indices by decreasing value, NaN last, ties by id.
static bool ranksBefore(const float *logits, int64_t a, int64_t b) {
  bool aNaN = std::isnan(logits[a]), bNaN = std::isnan(logits[b]);
  if (aNaN != bNaN)
    return bNaN;
  if (!aNaN && logits[a] != logits[b])
    return logits[a] > logits[b];
  return a < b;
}

/// Prints the top \p k logits of the last position of every row.
static void printTopLogits(const rt::Tensor &logits,
                           const rt::TokenBatch &batch, int64_t k) {
  int64_t rows = logits.getShape()[0], seq = logits.getShape()[1],
          vocab = logits.getShape()[2];
  outs() << "logits [" << rows << ", " << seq << ", " << vocab << "]\n";
  std::vector<int64_t> order(static_cast<size_t>(vocab));
  for (int64_t row = 0; row < rows; ++row) {
    const float *last = logits.getData() + (row * seq + seq - 1) * vocab;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(
        order.begin(), order.begin() + k, order.end(),
        [&](int64_t a, int64_t b) { return ranksBefore(last, a, b); });
    outs() << "row " << row << ": position " << seq - 1 << " (token "
           << batch.getIds()[static_cast<size_t>(row * seq + seq - 1)]
           << "), top " << k << " of " << vocab << "\n";
    for (int64_t i = 0; i < k; ++i)
      outs() << "  id " << order[static_cast<size_t>(i)] << ": "
             << format("%.9g", last[order[static_cast<size_t>(i)]]) << "\n";
  }
}

static int runForward() {
  for (auto *option : {&artifactDir, &weightsPath, &tokensText})
    if (option->getNumOccurrences() == 0)
      return fail("forward: --" + option->ArgStr + " is required");
  if (numThreads.getNumOccurrences() &&
      (numThreads < 1 || numThreads > rt::Model::MaxThreads))
    return fail("--threads must be between 1 and " +
                Twine(rt::Model::MaxThreads) + ", got " + Twine(numThreads));
  if (topK < 1)
    return fail("--top must be at least 1, got " + Twine(topK));

  // The tokens first: a typo there should not cost a model load.
  rt::Expected<std::vector<std::vector<int64_t>>> rows =
      rt::parseTokenRows(tokensText);
  if (!rows)
    return fail("--tokens: " + rows.message());
  rt::Expected<rt::TokenBatch> batch = rt::TokenBatch::fromRows(*rows);
  if (!batch)
    return fail("--tokens: " + batch.message());
  if (!npyPath.empty() && !checkOutputPath(npyPath))
    return 1;

  rt::ModelOptions options;
  options.strict = strictWeights;
  options.numThreads = numThreads;
  rt::Expected<std::unique_ptr<rt::Model>> model =
      rt::Model::open(artifactDir, weightsPath, options);
  if (!model)
    return fail(model.message());
  for (const std::string &message : (*model)->getWarnings())
    warning() << message << "\n";
  if (topK > (*model)->getVocabSize())
    return fail("--top must be at most the vocabulary size " +
                Twine((*model)->getVocabSize()) + ", got " + Twine(topK));

  rt::Status valid = rt::validateTokens(
      batch->getView(), (*model)->getVocabSize(), (*model)->getMaxPositions());
  if (valid.isError())
    return fail("--tokens: " + valid.message());
  rt::Expected<rt::Tensor> logits = (*model)->forward(*batch);
  if (!logits)
    return fail(logits.message());

  uint64_t nonFinite = 0;
  for (uint64_t i = 0, e = logits->getNumElements(); i < e; ++i)
    if (!std::isfinite(logits->getData()[i]))
      ++nonFinite;
  if (nonFinite)
    warning() << "the logits hold " << nonFinite << " NaN or infinite values\n";

  printTopLogits(*logits, *batch, topK);
  if (!npyPath.empty()) {
    rt::Status written =
        rt::writeNpy(npyPath, logits->getData(), logits->getShape());
    if (written.isError())
      return fail("cannot write --npy: " + written.message());
  }
  return 0;
}

//===----------------------------------------------------------------------===//
// main
//===----------------------------------------------------------------------===//

int main(int argc, char **argv) {
  InitLLVM initLLVM(argc, argv);
  // LLVM's own options live in the top-level command; keep them out of
  // --help.
  cl::HideUnrelatedOptions({&forwardCategory, &llm::run::GenerateCategory,
                           &llm::run::TokenizeCategory,
                           &llm::run::TrainCategory,
                           &llm::run::EvalCategory});

  // The first argument must be a subcommand (or a request for help): name
  // anything else instead of letting it reach the parser as a stray
  // positional argument or one of LLVM's internal options.
  if (argc > 1) {
    StringRef first = argv[1];
    bool isHelp =
        first.ltrim('-').starts_with("help") || first.ltrim('-') == "version";
    if (first.starts_with("-") && !isHelp)
      return fail("expected a subcommand before '" + first +
                  "'; usage: llm-run forward --artifact DIR --weights PATH "
                  "--tokens IDS (see 'llm-run --help')");
    if (!first.starts_with("-") && first != forwardCommand.getName() &&
        first != llm::run::GenerateCommand.getName() &&
        first != llm::run::TokenizeCommand.getName() &&
        first != llm::run::TrainCommand.getName() &&
        first != llm::run::EvalCommand.getName())
      return fail("unknown subcommand '" + first +
                  "'; expected one of: forward, generate, tokenize, train, "
                  "eval (see 'llm-run --help')");
  }

  if (!parseCommandLine(argc, argv))
    return 1;
  if (forwardCommand)
    return runForward();
  if (llm::run::GenerateCommand)
    return llm::run::runGenerate();
  if (llm::run::TokenizeCommand)
    return llm::run::runTokenize();
  if (llm::run::TrainCommand)
    return llm::run::runTrain();
  if (llm::run::EvalCommand)
    return llm::run::runEval();
  return fail("no subcommand given; expected one of: forward, generate, "
              "tokenize, train, eval (see 'llm-run --help')");
}
