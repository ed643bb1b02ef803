//===- llm-translate.cpp - model formats to the llm dialect -----*- C++ -*-===//
//
// Like mlir-translate, for the formats llm-opt imports:
//
//   llm-translate --import-hf DIR [-o out.mlir] [--strict]
//                 [--max-seq-len N] [--batch-size N] [--seq-len N]
//                 [--print-model-info]
//
// reads a Hugging Face model folder (config.json + safetensors) and prints
// the llm-dialect module of its forward pass, or with --print-model-info the
// model description llm-compile puts into its manifest. Diagnostics name the
// place (config.json:line:col, or the checkpoint file and tensor); the
// output is written atomically.
//
//   llm-translate --import-onnx FILE [-o out.mlir]
//
// imports an ONNX model as linalg on tensors (lib/Target/ONNX); its
// diagnostics name the file and the node.
//
//===----------------------------------------------------------------------===//

#include "llm/Support/ToolUtils.h"
#include "llm/Target/HF/ModelBuilder.h"
#include "llm/Target/ONNX/ONNXImporter.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
namespace cl = llvm::cl;

static constexpr llvm::StringLiteral kToolName = "llm-translate";

static cl::OptionCategory category("llm-translate options");

static cl::opt<std::string> inputPath(cl::Positional, cl::desc("<input>"),
                                      cl::cat(category));
static cl::opt<std::string> outputPath("o", cl::desc("Output file"),
                                       cl::value_desc("filename"),
                                       cl::init("-"), cl::cat(category));
static cl::opt<bool> importHF(
    "import-hf",
    cl::desc("Import a Hugging Face model folder (config.json + "
             "model.safetensors or model.safetensors.index.json) as the llm "
             "dialect"),
    cl::cat(category));
static cl::opt<bool> importONNX(
    "import-onnx",
    cl::desc("Import an ONNX model file (.onnx) as linalg on tensors, with "
             "its large initializers as llm.param arguments"),
    cl::cat(category));
static cl::opt<bool> raise(
    "raise",
    cl::desc("With --import-onnx: raise recognized Transformer structures "
             "to llm ops (the llm-raise pipeline); --raise=false prints the "
             "op-by-op import"),
    cl::init(true), cl::cat(category));
static cl::list<std::string> freezeInputs(
    "freeze-input",
    cl::desc("With --import-onnx: graph input NAME becomes a constant read "
             "from FILE (a serialized onnx TensorProto); repeatable"),
    cl::value_desc("NAME=FILE"), cl::cat(category));
static cl::opt<bool>
    strict("strict",
           cl::desc("Checkpoint tensors the model does not use are an error"),
           cl::cat(category));
static cl::opt<int64_t> maxSeqLen(
    "max-seq-len",
    cl::desc("Longest sequence the model accepts (default: the config's "
             "maximum positions)"),
    cl::init(0), cl::cat(category));
static cl::opt<int64_t>
    batchSize("batch-size", cl::desc("Static batch size (default: dynamic)"),
              cl::init(0), cl::cat(category));
static cl::opt<int64_t>
    seqLen("seq-len", cl::desc("Static sequence length (default: dynamic)"),
           cl::init(0), cl::cat(category));
static cl::opt<bool> printModelInfo(
    "print-model-info",
    cl::desc("Print the model description for the artifact manifest (JSON) "
             "instead of the IR"),
    cl::cat(category));

static llvm::raw_ostream &toolError() {
  return llvm::WithColor::error(llvm::errs(), kToolName);
}

/// Renders a location as users expect it: "file:line:col" for a place in a
/// text file, the name for a named place (a checkpoint file), the tool's
/// name for a problem with no place (an option).
static void printLocation(llvm::raw_ostream &os, Location loc) {
  if (auto file = dyn_cast<FileLineColLoc>(loc)) {
    os << file.getFilename().getValue() << ":" << file.getLine() << ":"
       << file.getColumn() << ": ";
  } else if (auto name = dyn_cast<NameLoc>(loc)) {
    os << name.getName().getValue() << ": ";
  } else if (auto fused = dyn_cast<FusedLoc>(loc)) {
    if (!fused.getLocations().empty())
      printLocation(os, fused.getLocations().front());
  } else if (auto callSite = dyn_cast<CallSiteLoc>(loc)) {
    printLocation(os, callSite.getCallee());
  } else if (isa<UnknownLoc>(loc)) {
    os << kToolName << ": ";
  } else {
    os << loc << ": ";
  }
}

static void printDiagnostic(llvm::raw_ostream &os, Diagnostic &diag) {
  printLocation(os, diag.getLocation());
  switch (diag.getSeverity()) {
  case DiagnosticSeverity::Error:
    os << "error: ";
    break;
  case DiagnosticSeverity::Warning:
    os << "warning: ";
    break;
  case DiagnosticSeverity::Note:
    os << "note: ";
    break;
  case DiagnosticSeverity::Remark:
    os << "remark: ";
    break;
  }
  os << diag << "\n";
  for (Diagnostic &note : diag.getNotes())
    printDiagnostic(os, note);
}

/// Writes `text` to -o atomically; the tool's exit status.
static int writeResult(const std::string &text) {
  return failed(llm::writeOutputAtomically(
             kToolName, outputPath,
             [&](llvm::raw_ostream &os) { os << text; }))
             ? 1
             : 0;
}

/// --import-onnx: the ONNX importer's module, written atomically.
static int importONNXFile() {
  if (llvm::sys::fs::is_directory(inputPath)) {
    toolError() << "input '" << inputPath
                << "' is a folder; --import-onnx expects an .onnx file\n";
    return 1;
  }
  if (printModelInfo || strict || maxSeqLen || batchSize || seqLen) {
    toolError() << "--print-model-info, --strict, --max-seq-len, "
                   "--batch-size and --seq-len apply to --import-hf only\n";
    return 1;
  }
  MLIRContext context;
  ScopedDiagnosticHandler handler(&context, [](Diagnostic &diag) {
    printDiagnostic(llvm::errs(), diag);
    return success();
  });
  llm::ONNXImportOptions options;
  options.raise = raise;
  std::string error;
  if (!options.addFrozenInputs(freezeInputs, error)) {
    toolError() << "--freeze-input: " << error << "\n";
    return 1;
  }
  FailureOr<OwningOpRef<ModuleOp>> module =
      llm::importONNXModel(&context, inputPath, /*params=*/nullptr, options);
  if (failed(module))
    return 1;
  std::string result;
  llvm::raw_string_ostream resultStream(result);
  resultStream << **module << "\n";
  return writeResult(result);
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  cl::ParseCommandLineOptions(
      argc, argv,
      "llm-translate: imports models into the llm dialect\n\n"
      "  llm-translate --import-hf DIR [-o out.mlir]\n"
      "  llm-translate --import-onnx FILE [-o out.mlir]\n");

  if (!importHF && !importONNX) {
    toolError() << "no translation chosen; use --import-hf or --import-onnx\n";
    return 1;
  }
  if (importHF && importONNX) {
    toolError() << "--import-hf and --import-onnx conflict; choose one\n";
    return 1;
  }
  if (inputPath.empty()) {
    toolError() << "no input; give the model folder\n";
    return 1;
  }
  if (!llvm::sys::fs::exists(inputPath)) {
    toolError() << "cannot read input '" << inputPath
                << "': No such file or directory\n";
    return 1;
  }
  if (importONNX)
    return importONNXFile();
  if (!llvm::sys::fs::is_directory(inputPath)) {
    toolError() << "input '" << inputPath
                << "' is not a folder; --import-hf expects a model folder\n";
    return 1;
  }
  for (auto [value, flag] :
       {std::pair<int64_t, StringRef>{maxSeqLen, "--max-seq-len"},
        {batchSize, "--batch-size"},
        {seqLen, "--seq-len"}}) {
    if (value < 0) {
      toolError() << flag << " must not be negative, got " << value << "\n";
      return 1;
    }
  }

  // The importer loads the dialects it builds with.
  MLIRContext context;
  // Diagnostics go to stderr as they come, warnings included.
  ScopedDiagnosticHandler handler(&context, [](Diagnostic &diag) {
    printDiagnostic(llvm::errs(), diag);
    return success();
  });

  llm::HFBuildOptions options;
  options.maxSequenceLength = maxSeqLen;
  options.batchSize = batchSize;
  options.sequenceLength = seqLen;
  options.strict = strict;
  llm::HFModelInfo info;
  FailureOr<OwningOpRef<ModuleOp>> module =
      llm::buildModelFromHFFolder(&context, inputPath, options, &info);
  if (failed(module))
    return 1;

  // Produce the whole output first, so that a failure leaves no file behind.
  std::string result;
  llvm::raw_string_ostream resultStream(result);
  if (printModelInfo)
    resultStream << llvm::formatv("{0:2}", llm::toJSON(info)) << "\n";
  else
    resultStream << **module << "\n";
  return writeResult(result);
}
