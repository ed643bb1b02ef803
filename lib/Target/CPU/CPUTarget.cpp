//===- CPUTarget.cpp - LLVM IR, objects and shared libraries for CPUs ----===//
//
// See CPUTarget.h.
//
//===----------------------------------------------------------------------===//

#include "llm/Target/CPU/CPUTarget.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"
#include "llvm/TargetParser/Triple.h"

using namespace mlir;
using namespace mlir::llm;

/// LLVM's installation, where clang, lld and libomp live.
static constexpr llvm::StringLiteral kLLVMBinDir = LLM_LLVM_PREFIX "/bin";
static constexpr llvm::StringLiteral kLLVMLibDir = LLM_LLVM_PREFIX "/lib";

static std::string hostFeatures() {
  llvm::SubtargetFeatures features;
  for (const auto &[name, enabled] : llvm::sys::getHostCPUFeatures())
    features.AddFeature(name, enabled);
  return features.getString();
}

FailureOr<std::unique_ptr<llvm::TargetMachine>>
mlir::llm::createTargetMachine(Location loc, const CPUTargetOptions &options,
                               ResolvedCPUTarget &resolved) {
  llvm::InitializeAllTargetInfos();
  llvm::InitializeAllTargets();
  llvm::InitializeAllTargetMCs();
  llvm::InitializeAllAsmPrinters();

  std::string hostTriple = llvm::sys::getDefaultTargetTriple();
  resolved.triple = options.triple.empty()
                        ? hostTriple
                        : llvm::Triple::normalize(options.triple);
  resolved.isHost = llvm::Triple(resolved.triple) == llvm::Triple(hostTriple);
  resolved.cpu = options.cpu;
  resolved.features = options.features;
  if (resolved.cpu.empty() && resolved.isHost) {
    resolved.cpu = llvm::sys::getHostCPUName().str();
    if (resolved.features.empty())
      resolved.features = hostFeatures();
  }
  if (resolved.cpu.empty())
    resolved.cpu = "generic";

  std::string error;
  llvm::Triple triple(resolved.triple);
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return emitError(loc) << "unknown target '" << resolved.triple
                          << "': " << error;
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      target->createMCSubtargetInfo(triple, resolved.cpu, ""));
  if (!subtarget || !subtarget->isCPUStringValid(resolved.cpu))
    return emitError(loc) << "unknown CPU '" << resolved.cpu
                          << "' for target '" << resolved.triple << "'";

  llvm::TargetOptions targetOptions;
  std::optional<llvm::CodeGenOptLevel> level =
      llvm::CodeGenOpt::getLevel(static_cast<int>(options.optLevel));
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, resolved.cpu, resolved.features, targetOptions,
      llvm::Reloc::PIC_, std::nullopt,
      level.value_or(llvm::CodeGenOptLevel::Default)));
  if (!machine)
    return emitError(loc) << "cannot create a target machine for '"
                          << resolved.triple << "'";
  return machine;
}

/// Drops the llm dialect's argument and result attributes (names, in-place
/// markers, packing) from the lowered functions: the manifest has already
/// recorded them, and LLVM IR has no meaning for them (translation would
/// warn about each one).
static void dropLLMArgumentAttributes(ModuleOp module) {
  auto isLLM = [](NamedAttribute attr) {
    return attr.getName().getValue().starts_with("llm.");
  };
  auto strip = [&](DictionaryAttr dict) -> DictionaryAttr {
    if (!dict || llvm::none_of(dict, isLLM))
      return dict;
    SmallVector<NamedAttribute> kept;
    llvm::copy_if(dict, std::back_inserter(kept),
                  [&](NamedAttribute attr) { return !isLLM(attr); });
    return DictionaryAttr::get(module.getContext(), kept);
  };
  module.walk([&](LLVM::LLVMFuncOp func) {
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
      if (DictionaryAttr attrs = func.getArgAttrDict(i))
        func.setArgAttrs(i, strip(attrs));
    for (unsigned i = 0, e = func.getNumResults(); i < e; ++i)
      if (DictionaryAttr attrs = func.getResultAttrDict(i))
        func.setResultAttrs(i, strip(attrs));
  });
}

FailureOr<std::unique_ptr<llvm::Module>>
mlir::llm::translateAndOptimize(ModuleOp module,
                                llvm::LLVMContext &llvmContext,
                                llvm::TargetMachine &machine,
                                unsigned optLevel) {
  dropLLMArgumentAttributes(module);
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return module.emitError("cannot translate the module to LLVM IR");
  llvmModule->setTargetTriple(machine.getTargetTriple());
  llvmModule->setDataLayout(machine.createDataLayout());
  auto optimize = makeOptimizingTransformer(optLevel, /*sizeLevel=*/0,
                                            &machine);
  if (llvm::Error error = optimize(llvmModule.get()))
    return module.emitError("LLVM optimization failed: ")
           << llvm::toString(std::move(error));
  return llvmModule;
}

LogicalResult mlir::llm::emitObject(Location loc, llvm::Module &llvmModule,
                                    llvm::TargetMachine &machine,
                                    SmallVectorImpl<char> &object) {
  llvm::raw_svector_ostream os(object);
  llvm::legacy::PassManager passes;
  if (machine.addPassesToEmitFile(passes, os, nullptr,
                                  llvm::CodeGenFileType::ObjectFile))
    return emitError(loc) << "the target cannot emit object files";
  passes.run(llvmModule);
  return success();
}

LogicalResult mlir::llm::linkSharedLibrary(Location loc, StringRef objectPath,
                                           StringRef libraryPath,
                                           bool useOpenMP) {
  llvm::ErrorOr<std::string> clang =
      llvm::sys::findProgramByName("clang", {kLLVMBinDir});
  if (!clang)
    return emitError(loc) << "cannot find clang in " << kLLVMBinDir
                          << " to link the shared library (install clang-22, "
                             "or use --emit=obj)";
  SmallVector<std::string> args = {*clang,
                                   "-shared",
                                   "-fuse-ld=lld",
                                   "-nostartfiles",
                                   "-o",
                                   libraryPath.str(),
                                   objectPath.str(),
                                   "-lm"};
  if (useOpenMP) {
    args.push_back(("-L" + kLLVMLibDir).str());
    args.push_back("-lomp");
    args.push_back(("-Wl,-rpath," + kLLVMLibDir).str());
  }
  SmallVector<StringRef> argRefs(args.begin(), args.end());
  std::string errorMessage;
  SmallString<128> logPath;
  if (llvm::sys::fs::createTemporaryFile("llm-link", "log", logPath))
    return emitError(loc) << "cannot create a temporary file for the linker";
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                          StringRef(logPath)};
  int status = llvm::sys::ExecuteAndWait(*clang, argRefs, std::nullopt,
                                         redirects, 0, 0, &errorMessage);
  auto log = llvm::MemoryBuffer::getFile(logPath);
  llvm::sys::fs::remove(logPath);
  if (status != 0)
    return emitError(loc) << "linking " << libraryPath << " failed"
                          << (errorMessage.empty() ? "" : ": ") << errorMessage
                          << (log ? "\n" + (*log)->getBuffer().str() : "");
  return success();
}
