//===- Commands.h - The subcommands of llm-run ------------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The subcommands of llm-run that live in their own source files. Each is a
// cl::SubCommand with its options in a category of its own, and a run
// function that main() calls when the command line named the subcommand;
// it returns the process's exit code and prints every failure as
// "llm-run: error: ...".
//
//===----------------------------------------------------------------------===//

#ifndef LLM_TOOLS_LLM_RUN_COMMANDS_H
#define LLM_TOOLS_LLM_RUN_COMMANDS_H

#include "llm/runtime/DataLoader.h"
#include "llm/runtime/Tokenizer.h"
#include "llm/runtime/Trainer.h"

#include "llvm/Support/CommandLine.h"

namespace llm::run {

namespace rt = llm::rt;

/// llm-run tokenize: text to token ids and back with a model's tokenizer
/// (Tokenize.cpp).
extern llvm::cl::SubCommand TokenizeCommand;
extern llvm::cl::OptionCategory TokenizeCategory;

/// Runs `llm-run tokenize` on the parsed command line; returns the exit
/// code.
int runTokenize();

extern llvm::cl::SubCommand GenerateCommand;
extern llvm::cl::OptionCategory GenerateCategory;

int runGenerate();

extern llvm::cl::SubCommand TrainCommand;
extern llvm::cl::OptionCategory TrainCategory;

int runTrain();

/// llm-run eval: loss and perplexity of a text file (Eval.cpp).
extern llvm::cl::SubCommand EvalCommand;
extern llvm::cl::OptionCategory EvalCategory;

int runEval();

/// A classifier's mean loss and accuracy over labelled examples.
struct ClassifierScore {
  double loss = 0;
  int64_t correct = 0, examples = 0;
  double accuracy() const {
    return examples ? static_cast<double>(correct) / examples : 0.0;
  }
};

/// Scores \p trainer's classifier on every validation example of \p loader:
/// the class with the highest logit at each text's last token against its
/// label (Train.cpp).
rt::Expected<ClassifierScore>
scoreClassifier(rt::Trainer &trainer, const rt::ClassificationDataLoader &loader);

/// The tokenizer of --tokenizer \p path: "bytes", a folder, or (empty) the
/// weights folder \p weights (llm-run.cpp).
rt::Expected<std::unique_ptr<rt::Tokenizer>>
openTokenizer(const std::string &path, const std::string &weights);

/// Prints "llm-run: error: \p message" and returns the exit code 1.
int fail(const llvm::Twine &message);

} // namespace llm::run

#endif // LLM_TOOLS_LLM_RUN_COMMANDS_H
