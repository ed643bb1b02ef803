//===- EntryArguments.cpp - What an entry point's arguments are ---------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//

#include "llm/Transforms/EntryArguments.h"

#include "llm/Dialect/LLM/IR/LLMDialect.h"

#include "llvm/ADT/StringSwitch.h"

namespace mlir::llm {

DimRole getInputDimRole(StringRef input, unsigned dim) {
  bool batchThenSequence =
      llvm::StringSwitch<bool>(input)
          .Cases({"input_ids", "attention_mask", "token_type_ids", "labels",
                  "teacher_logits"},
                 true)
          .Default(false);
  bool batchOnly =
      llvm::StringSwitch<bool>(input)
          .Cases({"cache_position", "lengths", "next_sentence_labels"}, true)
          .Default(input.starts_with("cache."));
  if (dim == 0 && (batchThenSequence || batchOnly))
    return DimRole::Batch;
  if (dim == 1 && batchThenSequence)
    return DimRole::Sequence;
  return DimRole::Unknown;
}

std::optional<StringRef> getInputName(func::FuncOp func, unsigned index) {
  if (auto input =
          func.getArgAttrOfType<StringAttr>(index, LLMDialect::kInputAttrName))
    return input.getValue();
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
    auto type = dyn_cast<ShapedType>(func.getArgument(i).getType());
    if (func.getArgAttr(i, LLMDialect::kInputAttrName) ||
        func.getArgAttr(i, LLMDialect::kParamAttrName) || !type ||
        !isa<IntegerType>(type.getElementType()))
      continue;
    if (i == index)
      return StringRef("input_ids");
    break;
  }
  return std::nullopt;
}

DimRole getArgumentDimRole(func::FuncOp func, unsigned index, unsigned dim) {
  std::optional<StringRef> input = getInputName(func, index);
  return input ? getInputDimRole(*input, dim) : DimRole::Unknown;
}

} // namespace mlir::llm
