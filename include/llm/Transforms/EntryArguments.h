//===- EntryArguments.h - What an entry point's arguments are ---*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The runtime binds an entry point's inputs by name (`llm.input`), and
// their dynamic dimensions are the batch B and the sequence length S by
// convention (input_ids [B, S], labels [B, S], cache_position [B], ...).
// Passes and tools that size buffers before a call read them here.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_TRANSFORMS_ENTRYARGUMENTS_H
#define LLM_TRANSFORMS_ENTRYARGUMENTS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <optional>

namespace mlir::llm {

/// What a dynamic dimension of an entry point's argument is.
enum class DimRole { Batch, Sequence, Unknown };

/// The role of dimension \p dim of the input named \p input.
DimRole getInputDimRole(StringRef input, unsigned dim);

/// The runtime input argument \p index of \p func is: its `llm.input`, or
/// "input_ids" for the first integer argument without one (as llm-compile's
/// manifest names an unannotated token argument); nullopt for parameters
/// and anything else.
std::optional<StringRef> getInputName(func::FuncOp func, unsigned index);

/// The role of dimension \p dim of argument \p index of \p func.
DimRole getArgumentDimRole(func::FuncOp func, unsigned index, unsigned dim);

} // namespace mlir::llm

#endif // LLM_TRANSFORMS_ENTRYARGUMENTS_H
