//===- ToolUtils.cpp - input and output handling shared by the tools -----===//
//
// Implements the checks every llm tool applies to the files it reads and
// writes; see ToolUtils.h.
//
//===----------------------------------------------------------------------===//

#include "llm/Support/ToolUtils.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
using namespace mlir::llm;

static llvm::raw_ostream &toolError(StringRef toolName) {
  return llvm::WithColor::error(llvm::errs(), toolName);
}

std::unique_ptr<llvm::MemoryBuffer>
mlir::llm::openToolInput(StringRef toolName, StringRef path) {
  if (path != "-" && llvm::sys::fs::is_directory(path)) {
    toolError(toolName) << "input '" << path
                        << "' is a folder, expected a file\n";
    return nullptr;
  }
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (std::error_code error = buffer.getError()) {
    toolError(toolName) << "cannot read input '" << path
                        << "': " << error.message() << "\n";
    return nullptr;
  }
  return std::move(*buffer);
}

LogicalResult mlir::llm::checkOutputIsNotInput(StringRef toolName,
                                               StringRef input,
                                               StringRef output) {
  if (input == "-" || output == "-")
    return success();
  bool same = false;
  if (input == output ||
      (!llvm::sys::fs::equivalent(input, output, same) && same)) {
    toolError(toolName) << "output '" << output
                        << "' is the input file; choose another path\n";
    return failure();
  }
  return success();
}

LogicalResult mlir::llm::checkNestingDepth(llvm::SourceMgr &sourceMgr,
                                           unsigned maxDepth) {
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  StringRef text = buffer->getBuffer();
  unsigned depth = 0;
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    char c = text[i];
    if (c == '"') {
      // Skip a string literal, honouring backslash escapes.
      for (++i; i < e && text[i] != '"'; ++i)
        if (text[i] == '\\')
          ++i;
      continue;
    }
    if (c == '/' && i + 1 < e && text[i + 1] == '/') {
      i = text.find('\n', i);
      if (i == StringRef::npos)
        break;
      continue;
    }
    if (c == '{' || c == '(' || c == '[') {
      if (++depth > maxDepth) {
        sourceMgr.PrintMessage(
            llvm::SMLoc::getFromPointer(text.data() + i),
            llvm::SourceMgr::DK_Error,
            "nesting is deeper than " + llvm::Twine(maxDepth) +
                " levels; refusing to parse");
        return failure();
      }
    } else if ((c == '}' || c == ')' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return success();
}

LogicalResult mlir::llm::writeOutputAtomically(
    StringRef toolName, StringRef path,
    llvm::function_ref<void(llvm::raw_ostream &)> write) {
  llvm::Error error =
      llvm::writeToOutput(path, [&](llvm::raw_ostream &os) -> llvm::Error {
        write(os);
        return llvm::Error::success();
      });
  if (error) {
    toolError(toolName) << "cannot write output '" << path
                        << "': " << llvm::toString(std::move(error)) << "\n";
    return failure();
  }
  return success();
}
