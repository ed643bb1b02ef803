//===- llm-opt.cpp - the llm pass driver ------------------------*- C++ -*-===//
//
// Like mlir-opt, with the llm dialect and llm passes registered alongside the
// upstream dialects and passes that llm-opt uses. Lit tests drive it. Unlike
// mlir-opt it refuses folders, an output path equal to the input and text
// nested deeply enough to exhaust the parser's stack, and it writes its
// output atomically.
//
//===----------------------------------------------------------------------===//

#include "llm/InitAll.h"
#include "llm/Support/ToolUtils.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;

static constexpr llvm::StringLiteral kToolName = "llm-opt";

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  DialectRegistry registry;
  llm::registerLLMDialects(registry);
  llm::registerLLMPasses();
  auto [inputFilename, outputFilename] = registerAndParseCLIOptions(
      argc, argv, "llm-opt: the llm-opt pass driver\n", registry);
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();

  std::unique_ptr<llvm::MemoryBuffer> input =
      llm::openToolInput(kToolName, inputFilename);
  if (!input ||
      failed(llm::checkOutputIsNotInput(kToolName, inputFilename,
                                        outputFilename)))
    return 1;

  // Bound the nesting depth before the recursive parser sees the text.
  {
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBuffer(input->getMemBufferRef()),
        llvm::SMLoc());
    if (failed(llm::checkNestingDepth(sourceMgr)))
      return 1;
  }

  // Produce the whole output first, so that a failure leaves no file behind.
  std::string result;
  llvm::raw_string_ostream resultStream(result);
  if (failed(MlirOptMain(resultStream, std::move(input), registry, config)))
    return 1;
  return failed(llm::writeOutputAtomically(
             kToolName, outputFilename,
             [&](llvm::raw_ostream &os) { os << result; }))
             ? 1
             : 0;
}
