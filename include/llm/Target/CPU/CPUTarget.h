//===- CPUTarget.h - LLVM IR, objects and shared libraries for CPUs -*- C++ -*-===//
//
// The back end of llm-compile: translate a module in the LLVM dialect to LLVM
// IR, optimize it for a target machine (the host CPU by default), emit an
// object file in-process through LLVM's TargetMachine, and link it into a
// shared library with the system's clang driver and lld.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_TARGET_CPU_CPUTARGET_H
#define LLM_TARGET_CPU_CPUTARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>

namespace mlir::llm {

/// Which machine code is generated for.
struct CPUTargetOptions {
  /// Target triple; empty means the host's.
  std::string triple;
  /// CPU name (e.g. "x86-64-v3", "sapphirerapids"); empty means the host CPU
  /// when the triple is the host's, else the target's generic CPU.
  std::string cpu;
  /// Comma-separated LLVM features (e.g. "+avx512f"); empty means the host's
  /// features for the host CPU, none otherwise.
  std::string features;
  /// LLVM optimization level, 0 to 3.
  unsigned optLevel = 2;
};

/// The resolved target: the triple, CPU and features actually used.
struct ResolvedCPUTarget {
  std::string triple, cpu, features;
  bool isHost = false;
};

/// Creates the TargetMachine for `options`; emits an error at `loc` when the
/// triple or CPU is unknown.
FailureOr<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(Location loc, const CPUTargetOptions &options,
                    ResolvedCPUTarget &resolved);

/// Translates `module` (LLVM dialect) to LLVM IR for `machine` and runs the
/// LLVM optimization pipeline at `optLevel`.
FailureOr<std::unique_ptr<llvm::Module>>
translateAndOptimize(ModuleOp module, llvm::LLVMContext &llvmContext,
                     llvm::TargetMachine &machine, unsigned optLevel);

/// Emits `llvmModule` as an object file into `object`.
LogicalResult emitObject(Location loc, llvm::Module &llvmModule,
                         llvm::TargetMachine &machine,
                         SmallVectorImpl<char> &object);

/// Links `objectPath` into the shared library `libraryPath` (host targets
/// only), against libm and, when `useOpenMP`, LLVM's libomp.
LogicalResult linkSharedLibrary(Location loc, StringRef objectPath,
                                StringRef libraryPath, bool useOpenMP);

} // namespace mlir::llm

#endif // LLM_TARGET_CPU_CPUTARGET_H
