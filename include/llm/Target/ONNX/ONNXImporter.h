//===- ONNXImporter.h - ONNX models to linalg on tensors --------*- C++ -*-===//
//
// Imports an `.onnx` file (ONNX IR 3 to 10, default-domain opsets 13 to 17)
// as a module holding one public `func.func @forward`:
//
//   - the graph inputs first, in graph order, each carrying
//     `llm.input = "<onnx input name>"`;
//   - then one argument per large initializer the graph reads (anything but
//     a small integer shape constant or a float scalar), in initializer
//     order, carrying `llm.param = "<initializer name>"`: weights are bound
//     at run time, never baked into the code;
//   - the graph outputs as results.
//
// The body is upstream linalg (named ops where they exist), tensor, arith and
// math on ranked tensors, except for nodes that are one llm op (Softmax,
// LayerNormalization over the last dim, Gather on a 2-D parameter); the
// raising pipeline (`llm-raise`, on by default) then rewrites recognized
// Transformer structures (attention, projections, norms, GELU) into llm ops. Unknown dims and `dim_param` become dynamic dims;
// the shape computations torch.onnx.export emits (Shape, Gather, Concat,
// Reshape, Range, Expand, ...) are evaluated symbolically while importing.
//
// Every problem with the file is an error diagnostic located at the file
// (a NameLoc holding its path) whose message names the node: "node 'name'
// (OpType, #index): ...".
//
//===----------------------------------------------------------------------===//

#ifndef LLM_TARGET_ONNX_ONNXIMPORTER_H
#define LLM_TARGET_ONNX_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace mlir::llm {

/// The data of one `llm.param` argument of the imported function.
struct ONNXParamData {
  /// The initializer's name (the argument's `llm.param`).
  std::string name;
  /// "F32", "I64", "I32" or "BOOL": the safetensors dtype of `bytes`.
  std::string dtype;
  /// The initializer's dims.
  SmallVector<int64_t> shape;
  /// Row-major little-endian element bytes (shape x dtype size).
  std::vector<char> bytes;
};

/// How to import.
struct ONNXImportOptions {
  /// Run the raising pipeline (`llm-raise`) on the imported function, so
  /// that recognized Transformer structures become llm ops.
  bool raise = true;
  /// Graph inputs that become constants: (input name, path of a serialized
  /// onnx TensorProto, as in ONNX test data). For inputs that decide shapes
  /// (Squeeze/Unsqueeze axes, Slice starts/ends/axes/steps, Split sizes, a
  /// Reshape target), which a compiled model needs to know ahead of time.
  std::vector<std::pair<std::string, std::string>> frozenInputs;

  /// Adds `NAME=FILE` command-line specs to frozenInputs; on a malformed
  /// spec, returns false with the reason in `error`.
  bool addFrozenInputs(ArrayRef<std::string> specs, std::string &error);
};

/// Imports the ONNX model at `path`. Errors are reported through the
/// context's diagnostic handlers. When `params` is not null it receives the
/// data of every `llm.param` argument, in argument order (external data is
/// read then; otherwise only its bounds are checked).
FailureOr<OwningOpRef<ModuleOp>>
importONNXModel(MLIRContext *context, StringRef path,
                std::vector<ONNXParamData> *params = nullptr,
                const ONNXImportOptions &options = {});

/// Writes `params` as a safetensors file at `path` (atomically: a temporary
/// file renamed into place), for the runtime to bind by name. Errors are
/// reported at `loc`.
LogicalResult writeONNXParams(Location loc, StringRef path,
                              ArrayRef<ONNXParamData> params);

} // namespace mlir::llm

#endif // LLM_TARGET_ONNX_ONNXIMPORTER_H
