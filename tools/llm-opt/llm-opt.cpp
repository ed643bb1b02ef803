//===- llm-opt.cpp - the llm pass driver ------------------------*- C++ -*-===//
//
// Like mlir-opt, with the llm dialect and llm passes registered alongside the
// upstream dialects and passes that llm-opt uses. Lit tests drive it.
//
//===----------------------------------------------------------------------===//

#include "llm/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::llm::registerLLMDialects(registry);
  mlir::llm::registerLLMPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "llm-opt: the llm-opt pass driver\n", registry));
}
