//===- InitAll.h - register what llm-opt's tools need -----------*- C++ -*-===//
//
// Registers exactly the dialects and passes that llm-opt uses: the llm
// dialect, the upstream dialects its models are written with, and the
// upstream passes its pipelines run. Tools call these instead of
// registerAllDialects/registerAllPasses to keep start-up and links small.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_INITALL_H
#define LLM_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace mlir::llm {

/// Adds the llm dialect and the upstream dialects llm programs use.
void registerLLMDialects(DialectRegistry &registry);

/// Registers the llm passes and the upstream passes llm pipelines use.
void registerLLMPasses();

} // namespace mlir::llm

#endif // LLM_INITALL_H
