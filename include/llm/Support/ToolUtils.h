//===- ToolUtils.h - input and output handling shared by the tools -*- C++ -*-===//
//
// What llm-opt, llm-compile and llm-run do with the files a user names:
// refuse folders and unreadable paths with a clear message, refuse an output
// path that is the input, bound the nesting depth of MLIR text before the
// recursive-descent parser sees it, and write outputs atomically (a temporary
// file in the target folder, renamed over the target on success).
//
//===----------------------------------------------------------------------===//

#ifndef LLM_SUPPORT_TOOLUTILS_H
#define LLM_SUPPORT_TOOLUTILS_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir::llm {

/// The deepest bracket nesting accepted in MLIR text. The MLIR parser
/// recurses once per level; this bound keeps it far from the stack limit.
constexpr unsigned kMaxTextNestingDepth = 512;

/// Opens `path` ("-" is standard input) for reading. Prints
/// "<tool>: error: ..." and returns null when the path is missing, a folder
/// or unreadable.
std::unique_ptr<llvm::MemoryBuffer> openToolInput(StringRef toolName,
                                                  StringRef path);

/// Fails with "<tool>: error: ..." when `output` names the same file as
/// `input` (writing it would destroy the input before it is read whole).
LogicalResult checkOutputIsNotInput(StringRef toolName, StringRef input,
                                    StringRef output);

/// Scans the main buffer of `sourceMgr` for `{`, `(` and `[` nesting deeper
/// than `maxDepth`, skipping strings and comments, and reports the first
/// offending bracket at its file:line:col.
LogicalResult checkNestingDepth(llvm::SourceMgr &sourceMgr,
                                unsigned maxDepth = kMaxTextNestingDepth);

/// Writes `path` ("-" is standard output) atomically from `write`: nothing
/// appears at `path` unless the whole output was written.
LogicalResult writeOutputAtomically(
    StringRef toolName, StringRef path,
    llvm::function_ref<void(llvm::raw_ostream &)> write);

} // namespace mlir::llm

#endif // LLM_SUPPORT_TOOLUTILS_H
