//===- ONNXImporterImpl.h - pieces shared by the ONNX importer --*- C++ -*-===//
//
// Internal to lib/Target/ONNX. The importer is split into the loader
// (ModelLoader.cpp: protobuf parsing, model and graph validation, tensor
// decoding with external data), the driver (GraphImporter.cpp: function
// signature, attribute access, dispatch on op type and opset), the helpers
// shared by converters (Builders.cpp: symbolic integers, broadcasting,
// linalg.generic construction) and one file per op family.
//
// Values flowing through the graph are `ImportedValue`s. Small integer
// tensors derived from shapes and constants (the shape arithmetic that
// torch.onnx.export emits) keep their elements symbolically, as index-typed
// OpFoldResults, and only become tensors when a real tensor op reads them.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_LIB_TARGET_ONNX_ONNXIMPORTERIMPL_H
#define LLM_LIB_TARGET_ONNX_ONNXIMPORTERIMPL_H

#include "llm/Target/ONNX/ONNXImporter.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"

#include <onnx/onnx_pb.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::llm::onnx_import {

/// The largest rank accepted anywhere in a model.
constexpr int64_t kMaxRank = 32;
/// Symbolic integer tensors hold at most this many elements; so do the
/// integer initializers that become constants instead of parameters.
constexpr int64_t kMaxSymbolicElements = 16;
/// Opsets of the default domain the converters implement.
constexpr int64_t kMinOpset = 13, kMaxOpset = 17;

//===----------------------------------------------------------------------===//
// Tensors of the file
//===----------------------------------------------------------------------===//

/// A validated TensorProto: its type, and where its bytes are.
struct TensorData {
  std::string name;
  /// f32, i64, i32 or i1.
  Type elementType;
  SmallVector<int64_t> shape;
  int64_t numElements = 0;
  /// Element bytes as stored in memory (i1 as one byte per element).
  uint64_t byteSize = 0;
  /// The bytes, unless external.
  std::vector<char> bytes;
  /// External data: the resolved file, and the byte offset in it.
  std::string externalPath;
  uint64_t externalOffset = 0;

  bool isExternal() const { return !externalPath.empty(); }
};

/// Reads and parses `path` and validates the model level (ir_version,
/// opset_import). Reports errors at `fileLoc`.
FailureOr<std::unique_ptr<onnx::ModelProto>> loadModelFile(StringRef path,
                                                           Location fileLoc);

/// Returns the default-domain opset of a validated model.
int64_t getDefaultOpset(const onnx::ModelProto &model);

/// Decodes `tensor` (raw_data, typed fields or external data in
/// `modelDir`). `what` names it in messages ("initializer 'w'").
FailureOr<TensorData> decodeTensor(const onnx::TensorProto &tensor,
                                   StringRef modelDir, Location loc,
                                   const Twine &what);

/// Returns the bytes of `data`, reading external data from its file.
FailureOr<std::vector<char>> readTensorBytes(const TensorData &data,
                                             Location loc, const Twine &what);

/// Maps an ONNX TensorProto::DataType to the element type the importer
/// uses; null for the ones it does not support.
Type convertElementType(MLIRContext *context, int32_t onnxType);

/// The same for graph inputs, outputs and Cast targets, which may also be
/// FLOAT16 and DOUBLE (initializers and constants may not, yet).
Type convertValueElementType(MLIRContext *context, int32_t onnxType);

/// The ONNX spelling of a data type, for messages ("FLOAT", "INT64").
std::string getDataTypeName(int32_t onnxType);

/// Size in bytes of one element of `type` as stored by the importer.
int64_t getElementByteSize(Type type);

/// Returns the product of `shape` or failure on overflow of int64 or of
/// the byte size with `elementBytes`.
FailureOr<int64_t> checkedElementCount(ArrayRef<int64_t> shape,
                                       int64_t elementBytes);

//===----------------------------------------------------------------------===//
// Values of the graph
//===----------------------------------------------------------------------===//

/// One ONNX value while importing.
struct ImportedValue {
  /// The value's type; dynamic dims are `?`.
  RankedTensorType type;
  /// The tensor; null while only `elements` exist (materialized on demand).
  Value tensor;
  /// For small integer/bool tensors of rank <= 1 derived from shapes and
  /// constants: the elements, as index constants or index SSA values (bools
  /// as 0/1).
  std::optional<SmallVector<OpFoldResult>> elements;
  /// For float constants: every element equals this.
  std::optional<double> splat;
};

/// The state of one graph import that converters reach through NodeContext.
class GraphImporter {
public:
  GraphImporter(MLIRContext *context, StringRef path, StringRef modelDir,
                Location fileLoc)
      : context(context), path(path.str()), modelDir(modelDir.str()),
        fileLoc(fileLoc) {}

  /// The value called `name`, or null.
  ImportedValue *lookup(StringRef name);
  /// Gives `name` its value.
  void define(StringRef name, ImportedValue value);
  /// The tensor of `value`, materializing symbolic elements.
  Value materialize(ImportedValue &value, OpBuilder &b, Location loc);

  MLIRContext *context;
  std::string path;
  std::string modelDir;
  Location fileLoc;

private:
  llvm::StringMap<ImportedValue> values;
};

/// What a converter sees of the node it converts.
class NodeContext {
public:
  NodeContext(GraphImporter &importer, const onnx::NodeProto &node,
              int64_t index, int64_t opset, OpBuilder &builder, Location loc)
      : importer(importer), node(node), index(index), opset(opset),
        builder(builder), loc(loc) {}

  /// Starts an error that names the file and the node.
  InFlightDiagnostic emitError() const;

  int64_t getOpset() const { return opset; }
  StringRef getOpType() const { return node.op_type(); }
  OpBuilder &getBuilder() const { return builder; }
  Location getLoc() const { return loc; }
  MLIRContext *getContext() const { return builder.getContext(); }

  /// The number of inputs, counting trailing omitted ones.
  unsigned getNumInputs() const { return node.input_size(); }
  /// Whether input `i` is given (present and not the empty name).
  bool hasInput(unsigned i) const {
    return i < unsigned(node.input_size()) && !node.input(i).empty();
  }
  unsigned getNumOutputs() const { return node.output_size(); }
  bool hasOutput(unsigned i) const {
    return i < unsigned(node.output_size()) && !node.output(i).empty();
  }

  /// Checks the input count is within [min, max] and the output count
  /// within [minOut, maxOut].
  LogicalResult checkArity(unsigned minIn, unsigned maxIn, unsigned minOut = 1,
                           unsigned maxOut = 1) const;

  /// Input `i`, which must be given.
  FailureOr<ImportedValue *> getInput(unsigned i) const;
  /// The tensor of input `i`, materialized if needed.
  FailureOr<Value> getTensor(unsigned i) const;
  /// The elements of integer input `i` (rank <= 1, static size), extracted
  /// from the tensor when not known symbolically. `what` names it.
  FailureOr<SmallVector<OpFoldResult>> getElements(unsigned i,
                                                   StringRef what) const;
  /// Like getElements, but every element must be a constant.
  FailureOr<SmallVector<int64_t>> getConstantElements(unsigned i,
                                                      StringRef what) const;

  /// Attributes. A missing attribute without a default, or one of the wrong
  /// type, is an error naming it.
  const onnx::AttributeProto *findAttribute(StringRef name) const;
  FailureOr<int64_t> getIntAttr(StringRef name,
                                std::optional<int64_t> fallback) const;
  FailureOr<float> getFloatAttr(StringRef name,
                                std::optional<float> fallback) const;
  FailureOr<std::string> getStringAttr(StringRef name,
                                       std::optional<StringRef> fallback) const;
  /// A missing INTS attribute gives `std::nullopt`.
  FailureOr<std::optional<SmallVector<int64_t>>>
  getIntsAttr(StringRef name) const;
  /// A missing TENSOR attribute gives `std::nullopt`.
  FailureOr<std::optional<TensorData>> getTensorAttr(StringRef name) const;

  /// Normalizes an axis in [-rank, rank) to [0, rank).
  FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank,
                                   StringRef what) const;

  /// Defines output `i`.
  LogicalResult setOutput(unsigned i, ImportedValue value) const;
  LogicalResult setOutput(unsigned i, Value tensor) const;
  /// Defines output `i` as a symbolic integer tensor of `type`.
  LogicalResult setElements(unsigned i, RankedTensorType type,
                            SmallVector<OpFoldResult> elements) const;

  /// Builds a value from a decoded constant tensor (small integers become
  /// symbolic, floats get their splat recorded).
  FailureOr<ImportedValue> importConstant(const TensorData &data) const;

  GraphImporter &importer;
  const onnx::NodeProto &node;

private:
  int64_t index;
  int64_t opset;
  OpBuilder &builder;
  Location loc;
};

/// Converts one node; the node's outputs are defined through setOutput.
using ConvertFn = LogicalResult (*)(NodeContext &);

/// A converter of `opType` for default-domain opsets >= `sinceVersion` (up
/// to the next registration of the same op).
struct ConverterEntry {
  const char *opType;
  int64_t sinceVersion;
  ConvertFn convert;
};

void addElementwiseConverters(std::vector<ConverterEntry> &entries);
void addContractionConverters(std::vector<ConverterEntry> &entries);
void addShapeConverters(std::vector<ConverterEntry> &entries);
void addReductionConverters(std::vector<ConverterEntry> &entries);
void addLogicConverters(std::vector<ConverterEntry> &entries);

//===----------------------------------------------------------------------===//
// Helpers shared by the converters (Builders.cpp)
//===----------------------------------------------------------------------===//

/// The constant of an index OpFoldResult, if it is one.
std::optional<int64_t> getConstantInt(OpFoldResult value);
/// An index attribute.
OpFoldResult indexAttr(MLIRContext *context, int64_t value);
/// An index SSA value for `value`.
Value toIndexValue(OpBuilder &b, Location loc, OpFoldResult value);

enum class IntOp { Add, Sub, Mul, Div, Min, Max, Eq };
/// `lhs op rhs` on index values, folded when both are constants. Div
/// truncates toward zero, as ONNX integer Div does.
OpFoldResult foldIntOp(OpBuilder &b, Location loc, IntOp op, OpFoldResult lhs,
                       OpFoldResult rhs);

/// Dim `dim` of `tensor`: an index attribute if static, else tensor.dim.
OpFoldResult getDimSize(OpBuilder &b, Location loc, Value tensor, int64_t dim);
SmallVector<OpFoldResult> getDimSizes(OpBuilder &b, Location loc, Value tensor);

/// The ranked tensor type of `sizes` (constants become static dims).
RankedTensorType getTensorType(ArrayRef<OpFoldResult> sizes, Type elementType);

/// The multidirectional (numpy) broadcast of the shapes of `tensors`. Two
/// dynamic dims are assumed equal; a static dim other than 1 against a
/// different static dim is an error.
FailureOr<SmallVector<OpFoldResult>>
broadcastShapes(const NodeContext &node, ArrayRef<Value> tensors);

/// Builds a linalg.generic over `sizes` that reads each of `inputs` with
/// numpy broadcasting (right-aligned, size-1 dims read at 0) and computes
/// each element with `body` (given the scalars of the inputs).
Value buildBroadcastGeneric(
    OpBuilder &b, Location loc, ArrayRef<Value> inputs,
    ArrayRef<OpFoldResult> sizes, Type resultElementType,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// Element type predicates.
bool isFloatType(Type type);

/// A scalar constant of `type` (float or integer).
Value createScalarConstant(OpBuilder &b, Location loc, Type type, double value);

/// Converts a scalar between element types with ONNX Cast semantics.
Value castScalar(OpBuilder &b, Location loc, Value value, Type to);

/// Materializes symbolic elements as a tensor of `type`.
Value materializeElements(OpBuilder &b, Location loc, RankedTensorType type,
                          ArrayRef<OpFoldResult> elements);

/// Builds a constant tensor from decoded bytes.
Value createConstantTensor(OpBuilder &b, Location loc,
                           const TensorData &data,
                           ArrayRef<char> bytes);

} // namespace mlir::llm::onnx_import

#endif // LLM_LIB_TARGET_ONNX_ONNXIMPORTERIMPL_H
