//===- LLMPrecompiled.h - upstream headers precompiled once ------*- C++ -*-===//
//
// The MLIR and LLVM headers that most of llm-opt's compiler libraries and
// tools include. CMake precompiles this file once (target LLMPrecompiled) and
// every llm_add_library / llm_add_tool target that links MLIR reuses it:
// parsing these headers was about half of each translation unit's compile
// time. Only stable upstream headers belong here, never llm's own (they are
// generated and change with the tree).
//
//===----------------------------------------------------------------------===//

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"
