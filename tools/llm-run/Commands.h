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

#include "llvm/Support/CommandLine.h"

namespace llm::run {

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

} // namespace llm::run

#endif // LLM_TOOLS_LLM_RUN_COMMANDS_H
