//===- GraphImporter.cpp - the ONNX graph to func.func @forward -*- C++ -*-===//
//
// The driver of the ONNX importer: validates the graph's structure (every
// value defined once, before its uses; only supported ops), builds the
// signature (graph inputs, then the large initializers as parameters) and
// converts the nodes in order through the per-family converters.
//
//===----------------------------------------------------------------------===//

#include "ONNXImporterImpl.h"

#include "llm/Dialect/LLM/IR/LLMDialect.h"
#include "llm/Pipelines/Pipelines.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/CSE.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::onnx_import;

//===----------------------------------------------------------------------===//
// GraphImporter and NodeContext
//===----------------------------------------------------------------------===//

ImportedValue *GraphImporter::lookup(StringRef name) {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

void GraphImporter::define(StringRef name, ImportedValue value) {
  values[name] = std::move(value);
}

Value GraphImporter::materialize(ImportedValue &value, OpBuilder &b,
                                 Location loc) {
  if (!value.tensor && value.elements)
    value.tensor = materializeElements(b, loc, value.type, *value.elements);
  return value.tensor;
}

/// How a node is named in messages.
static void printNodeName(llvm::raw_ostream &os, const onnx::NodeProto &node,
                          int64_t index) {
  if (node.name().empty())
    os << "node #" << index << " (" << node.op_type() << ")";
  else
    os << "node '" << node.name() << "' (" << node.op_type() << ", #" << index
       << ")";
}

static InFlightDiagnostic emitNodeError(Location fileLoc,
                                        const onnx::NodeProto &node,
                                        int64_t index) {
  InFlightDiagnostic diag = mlir::emitError(fileLoc);
  std::string name;
  llvm::raw_string_ostream os(name);
  printNodeName(os, node, index);
  diag << name << ": ";
  return diag;
}

InFlightDiagnostic NodeContext::emitError() const {
  return emitNodeError(importer.fileLoc, node, index);
}

LogicalResult NodeContext::checkArity(unsigned minIn, unsigned maxIn,
                                      unsigned minOut, unsigned maxOut) const {
  unsigned numIn = getNumInputs();
  if (numIn < minIn || numIn > maxIn)
    return emitError() << "takes " << minIn
                       << (minIn == maxIn ? "" : " to " + std::to_string(maxIn))
                       << " inputs, got " << numIn;
  for (unsigned i = 0; i < minIn; ++i)
    if (!hasInput(i))
      return emitError() << "input #" << i << " is required";
  unsigned numOut = getNumOutputs();
  if (numOut < minOut || numOut > maxOut)
    return emitError() << "has " << minOut
                       << (minOut == maxOut ? ""
                                            : " to " + std::to_string(maxOut))
                       << " outputs, got " << numOut;
  return success();
}

FailureOr<ImportedValue *> NodeContext::getInput(unsigned i) const {
  if (!hasInput(i))
    return emitError() << "input #" << i << " is required";
  ImportedValue *value = importer.lookup(node.input(i));
  if (!value)
    return emitError() << "input '" << node.input(i) << "' is not defined";
  return value;
}

FailureOr<Value> NodeContext::getTensor(unsigned i) const {
  FailureOr<ImportedValue *> value = getInput(i);
  if (failed(value))
    return failure();
  return importer.materialize(**value, builder, loc);
}

FailureOr<SmallVector<OpFoldResult>>
NodeContext::getElements(unsigned i, StringRef what) const {
  FailureOr<ImportedValue *> value = getInput(i);
  if (failed(value))
    return failure();
  if ((*value)->elements)
    return *(*value)->elements;
  RankedTensorType type = (*value)->type;
  if (!isa<IntegerType>(type.getElementType()) || type.getRank() > 1 ||
      !type.hasStaticShape() ||
      type.getNumElements() > kMaxSymbolicElements)
    return emitError() << what
                       << " must be an integer tensor of rank 0 or 1 with at "
                          "most "
                       << kMaxSymbolicElements << " elements, got " << type;
  // A real tensor: read its elements.
  Value tensor = importer.materialize(**value, builder, loc);
  SmallVector<OpFoldResult> elements;
  for (int64_t k = 0; k < type.getNumElements(); ++k) {
    SmallVector<Value> indices;
    if (type.getRank() == 1)
      indices.push_back(arith::ConstantIndexOp::create(builder, loc, k));
    Value element = tensor::ExtractOp::create(builder, loc, tensor, indices);
    if (element.getType().isInteger(1))
      element = arith::ExtUIOp::create(builder, loc, builder.getI64Type(),
                                       element);
    elements.push_back(Value(arith::IndexCastOp::create(
        builder, loc, builder.getIndexType(), element)));
  }
  return elements;
}

FailureOr<SmallVector<int64_t>>
NodeContext::getConstantElements(unsigned i, StringRef what) const {
  FailureOr<SmallVector<OpFoldResult>> elements = getElements(i, what);
  if (failed(elements))
    return failure();
  SmallVector<int64_t> result;
  for (OpFoldResult element : *elements) {
    std::optional<int64_t> constant = getConstantInt(element);
    if (!constant)
      return emitError() << what << " must be a constant";
    result.push_back(*constant);
  }
  return result;
}

const onnx::AttributeProto *NodeContext::findAttribute(StringRef name) const {
  for (const onnx::AttributeProto &attribute : node.attribute())
    if (attribute.name() == name)
      return &attribute;
  return nullptr;
}

/// Finds attribute `name` of `type`: null when absent, failure when of
/// another type.
static FailureOr<const onnx::AttributeProto *>
findTypedAttribute(const NodeContext &ctx, StringRef name,
                   onnx::AttributeProto::AttributeType type, bool present) {
  const onnx::AttributeProto *attribute = ctx.findAttribute(name);
  if (!attribute)
    return static_cast<const onnx::AttributeProto *>(nullptr);
  // Old exporters leave `type` unset; the field tells then.
  onnx::AttributeProto::AttributeType actual = attribute->type();
  if (actual == onnx::AttributeProto::UNDEFINED && present)
    actual = type;
  if (actual != type)
    return ctx.emitError() << "attribute '" << name << "' must be "
                           << onnx::AttributeProto::AttributeType_Name(type)
                           << ", got "
                           << onnx::AttributeProto::AttributeType_Name(actual);
  return attribute;
}

FailureOr<int64_t>
NodeContext::getIntAttr(StringRef name,
                        std::optional<int64_t> fallback) const {
  const onnx::AttributeProto *raw = findAttribute(name);
  FailureOr<const onnx::AttributeProto *> attribute = findTypedAttribute(
      *this, name, onnx::AttributeProto::INT, raw && raw->has_i());
  if (failed(attribute))
    return failure();
  if (*attribute)
    return (*attribute)->i();
  if (!fallback)
    return emitError() << "missing required attribute '" << name << "'";
  return *fallback;
}

FailureOr<float> NodeContext::getFloatAttr(StringRef name,
                                           std::optional<float> fallback) const {
  const onnx::AttributeProto *raw = findAttribute(name);
  FailureOr<const onnx::AttributeProto *> attribute = findTypedAttribute(
      *this, name, onnx::AttributeProto::FLOAT, raw && raw->has_f());
  if (failed(attribute))
    return failure();
  if (*attribute)
    return (*attribute)->f();
  if (!fallback)
    return emitError() << "missing required attribute '" << name << "'";
  return *fallback;
}

FailureOr<std::string>
NodeContext::getStringAttr(StringRef name,
                           std::optional<StringRef> fallback) const {
  const onnx::AttributeProto *raw = findAttribute(name);
  FailureOr<const onnx::AttributeProto *> attribute = findTypedAttribute(
      *this, name, onnx::AttributeProto::STRING, raw && raw->has_s());
  if (failed(attribute))
    return failure();
  if (*attribute)
    return (*attribute)->s();
  if (!fallback)
    return emitError() << "missing required attribute '" << name << "'";
  return fallback->str();
}

FailureOr<std::optional<SmallVector<int64_t>>>
NodeContext::getIntsAttr(StringRef name) const {
  const onnx::AttributeProto *raw = findAttribute(name);
  FailureOr<const onnx::AttributeProto *> attribute = findTypedAttribute(
      *this, name, onnx::AttributeProto::INTS, raw && raw->ints_size() > 0);
  if (failed(attribute))
    return failure();
  if (!*attribute)
    return std::optional<SmallVector<int64_t>>();
  if ((*attribute)->ints_size() > kMaxRank * 4)
    return emitError() << "attribute '" << name << "' holds "
                       << (*attribute)->ints_size() << " values, too many";
  return std::optional<SmallVector<int64_t>>(SmallVector<int64_t>(
      (*attribute)->ints().begin(), (*attribute)->ints().end()));
}

FailureOr<std::optional<TensorData>>
NodeContext::getTensorAttr(StringRef name) const {
  const onnx::AttributeProto *raw = findAttribute(name);
  FailureOr<const onnx::AttributeProto *> attribute = findTypedAttribute(
      *this, name, onnx::AttributeProto::TENSOR, raw && raw->has_t());
  if (failed(attribute))
    return failure();
  if (!*attribute)
    return std::optional<TensorData>();
  std::string what;
  llvm::raw_string_ostream os(what);
  printNodeName(os, node, index);
  os << ": attribute '" << name << "'";
  FailureOr<TensorData> data = decodeTensor(
      (*attribute)->t(), importer.modelDir, importer.fileLoc, what);
  if (failed(data))
    return failure();
  return std::optional<TensorData>(std::move(*data));
}

FailureOr<int64_t> NodeContext::normalizeAxis(int64_t axis, int64_t rank,
                                              StringRef what) const {
  if (axis < -rank || axis >= rank)
    return emitError() << what << " " << axis << " is out of range for rank "
                       << rank;
  return axis < 0 ? axis + rank : axis;
}

LogicalResult NodeContext::setOutput(unsigned i, ImportedValue value) const {
  if (!hasOutput(i))
    return success();
  importer.define(node.output(i), std::move(value));
  return success();
}

LogicalResult NodeContext::setOutput(unsigned i, Value tensor) const {
  ImportedValue value;
  value.type = cast<RankedTensorType>(tensor.getType());
  value.tensor = tensor;
  return setOutput(i, std::move(value));
}

LogicalResult NodeContext::setElements(unsigned i, RankedTensorType type,
                                       SmallVector<OpFoldResult> elements) const {
  ImportedValue value;
  value.type = type;
  value.elements = std::move(elements);
  return setOutput(i, std::move(value));
}

/// Builds the value of a decoded constant: small integer tensors stay
/// symbolic, others become arith.constant.
static FailureOr<ImportedValue>
importConstantTensor(OpBuilder &b, Location loc, const TensorData &data,
                     const Twine &what) {
  FailureOr<std::vector<char>> bytes = readTensorBytes(data, loc, what);
  if (failed(bytes))
    return failure();
  ImportedValue value;
  value.type = RankedTensorType::get(data.shape, data.elementType);
  auto intType = dyn_cast<IntegerType>(data.elementType);
  if (intType && data.shape.size() <= 1 &&
      data.numElements <= kMaxSymbolicElements) {
    SmallVector<OpFoldResult> elements;
    int64_t elementBytes = getElementByteSize(intType);
    for (int64_t k = 0; k < data.numElements; ++k) {
      const char *at = bytes->data() + k * elementBytes;
      int64_t element = 0;
      if (elementBytes == 8) {
        std::memcpy(&element, at, 8);
      } else if (elementBytes == 4) {
        int32_t narrow;
        std::memcpy(&narrow, at, 4);
        element = narrow;
      } else {
        element = *at != 0;
      }
      elements.push_back(b.getIndexAttr(element));
    }
    value.elements = std::move(elements);
    return value;
  }
  value.tensor = createConstantTensor(b, loc, data, *bytes);
  if (isa<FloatType>(data.elementType) && data.numElements > 0) {
    const float *floats = reinterpret_cast<const float *>(bytes->data());
    bool uniform = true;
    for (int64_t k = 1; k < data.numElements && uniform; ++k)
      uniform = std::memcmp(&floats[k], &floats[0], sizeof(float)) == 0;
    if (uniform) {
      float first;
      std::memcpy(&first, bytes->data(), sizeof(float));
      value.splat = first;
    }
  }
  return value;
}

FailureOr<ImportedValue>
NodeContext::importConstant(const TensorData &data) const {
  std::string what;
  llvm::raw_string_ostream os(what);
  printNodeName(os, node, index);
  return importConstantTensor(builder, loc, data, what);
}

//===----------------------------------------------------------------------===//
// The graph
//===----------------------------------------------------------------------===//

namespace {
/// A graph input or initializer that becomes an argument of @forward.
struct Argument {
  std::string name;
  RankedTensorType type;
  bool isParam = false;
  /// For params: the initializer's data.
  TensorData data;
};
} // namespace

/// The converters, sorted by op type and version.
static const std::vector<ConverterEntry> &getConverters() {
  static const std::vector<ConverterEntry> converters = [] {
    std::vector<ConverterEntry> entries;
    addElementwiseConverters(entries);
    addContractionConverters(entries);
    addShapeConverters(entries);
    addReductionConverters(entries);
    addLogicConverters(entries);
    return entries;
  }();
  return converters;
}

/// The converter of `opType` at `opset`; null with `minVersion` set to the
/// first version the importer knows when the op exists only at later
/// opsets.
static const ConverterEntry *findConverter(StringRef opType, int64_t opset,
                                           int64_t &minVersion) {
  const ConverterEntry *best = nullptr;
  minVersion = 0;
  for (const ConverterEntry &entry : getConverters()) {
    if (opType != entry.opType)
      continue;
    if (!minVersion || entry.sinceVersion < minVersion)
      minVersion = entry.sinceVersion;
    if (entry.sinceVersion <= opset &&
        (!best || entry.sinceVersion > best->sinceVersion))
      best = &entry;
  }
  return best;
}

/// The type of a graph input or output; `what` names it.
static FailureOr<RankedTensorType>
convertValueType(const onnx::ValueInfoProto &info, Location fileLoc,
                 const Twine &what) {
  auto fail = [&]() { return mlir::emitError(fileLoc) << what << " "; };
  if (!info.has_type() || !info.type().has_tensor_type()) {
    fail() << "is not a tensor (sequences, maps and optionals are not "
              "supported)";
    return failure();
  }
  const onnx::TypeProto::Tensor &tensor = info.type().tensor_type();
  Type elementType =
      convertValueElementType(fileLoc.getContext(), tensor.elem_type());
  if (!elementType) {
    fail() << "has unsupported data type "
           << getDataTypeName(tensor.elem_type())
           << "; supported: FLOAT, FLOAT16, DOUBLE, INT64, INT32, BOOL";
    return failure();
  }
  if (!tensor.has_shape()) {
    fail() << "has no shape; inputs and outputs must have a known rank";
    return failure();
  }
  if (tensor.shape().dim_size() > kMaxRank) {
    fail() << "has rank " << tensor.shape().dim_size()
           << ", over the limit of " << kMaxRank;
    return failure();
  }
  SmallVector<int64_t> shape, staticShape;
  for (const onnx::TensorShapeProto::Dimension &dim : tensor.shape().dim()) {
    if (!dim.has_dim_value()) {
      shape.push_back(ShapedType::kDynamic);
      continue;
    }
    int64_t size = dim.dim_value();
    if (size < 0) {
      fail() << "has a negative dim " << size;
      return failure();
    }
    if (size > (int64_t(1) << 48)) {
      fail() << "has dim " << size << ", over the limit of 2^48";
      return failure();
    }
    shape.push_back(size);
    staticShape.push_back(size);
  }
  if (failed(checkedElementCount(staticShape,
                                 getElementByteSize(elementType)))) {
    fail() << "has a shape whose element count overflows int64";
    return failure();
  }
  return RankedTensorType::get(shape, elementType);
}

/// Whether an initializer becomes a parameter (bound at run time) rather
/// than a constant: anything but small integer shape constants and float
/// scalars.
static bool isParameter(const TensorData &data) {
  if (isa<FloatType>(data.elementType))
    return data.numElements > 1;
  return data.numElements > kMaxSymbolicElements || data.shape.size() > 1;
}

namespace {
class ModelImporter {
public:
  ModelImporter(MLIRContext *context, StringRef path, StringRef modelDir,
                Location fileLoc, const onnx::ModelProto &model,
                const ONNXImportOptions &options)
      : state(context, path, modelDir, fileLoc), graph(model.graph()),
        opset(getDefaultOpset(model)) {
    for (const auto &frozenInput : options.frozenInputs)
      frozen.insert(frozenInput.first);
  }

  FailureOr<OwningOpRef<ModuleOp>> run(std::vector<ONNXParamData> *params);

private:
  LogicalResult validateGraph();
  LogicalResult collectArguments();

  GraphImporter state;
  const onnx::GraphProto &graph;
  int64_t opset;
  std::vector<Argument> arguments;
  /// Small initializers, which become constants.
  std::vector<TensorData> constants;
  /// Graph inputs frozen into initializers: constants whatever their size.
  llvm::StringSet<> frozen;
};
} // namespace

LogicalResult ModelImporter::validateGraph() {
  Location fileLoc = state.fileLoc;
  // The first node defining each name, to tell "defined later" (a cycle or
  // an unsorted graph) from "never defined".
  llvm::StringMap<int64_t> producers;
  for (auto [index, node] : llvm::enumerate(graph.node()))
    for (const std::string &output : node.output())
      if (!output.empty())
        producers.try_emplace(output, index);

  llvm::StringMap<std::string> defined; // name -> what defines it
  for (const onnx::TensorProto &initializer : graph.initializer()) {
    if (initializer.name().empty())
      return mlir::emitError(fileLoc) << "an initializer has no name";
    if (!defined.try_emplace(initializer.name(), "an initializer").second)
      return mlir::emitError(fileLoc)
             << "initializer '" << initializer.name() << "' is defined twice";
  }
  llvm::StringSet<> inputs;
  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (input.name().empty())
      return mlir::emitError(fileLoc) << "a graph input has no name";
    if (!inputs.insert(input.name()).second)
      return mlir::emitError(fileLoc)
             << "graph input '" << input.name() << "' is listed twice";
    // An input with an initializer of the same name (IR < 4) is that
    // initializer.
    defined.try_emplace(input.name(), "a graph input");
  }

  for (auto [index, node] : llvm::enumerate(graph.node())) {
    auto fail = [&, index = index, &node = node]() {
      return emitNodeError(fileLoc, node, index);
    };
    if (!node.domain().empty() && node.domain() != "ai.onnx")
      return fail() << "unsupported domain '" << node.domain()
                    << "'; only the default domain (ai.onnx) is supported";
    for (const onnx::AttributeProto &attribute : node.attribute())
      if (attribute.type() == onnx::AttributeProto::GRAPH ||
          attribute.type() == onnx::AttributeProto::GRAPHS ||
          attribute.has_g() || attribute.graphs_size() > 0)
        return fail() << "attribute '" << attribute.name()
                      << "' holds a subgraph; subgraphs (If, Loop, Scan) are "
                         "not supported";
    int64_t minVersion;
    if (!findConverter(node.op_type(), opset, minVersion)) {
      if (minVersion)
        return fail() << "'" << node.op_type() << "' needs opset "
                      << minVersion << " or later; the model imports opset "
                      << opset;
      return fail() << "unsupported op '" << node.op_type() << "'";
    }
    for (const std::string &input : node.input()) {
      if (input.empty() || defined.count(input))
        continue;
      auto producer = producers.find(input);
      if (producer != producers.end()) {
        InFlightDiagnostic diag = fail();
        diag << "input '" << input << "' is used before it is defined by ";
        std::string name;
        llvm::raw_string_ostream os(name);
        printNodeName(os, graph.node(producer->second), producer->second);
        diag << name
             << "; ONNX graphs are topologically sorted (is there a cycle?)";
        return diag;
      }
      return fail() << "input '" << input
                    << "' is never defined (not a graph input, initializer "
                       "or node output)";
    }
    for (const std::string &output : node.output()) {
      if (output.empty())
        continue;
      auto [it, inserted] = defined.try_emplace(
          output, "an earlier node");
      if (!inserted)
        return fail() << "output '" << output << "' is already defined by "
                      << it->second << " (duplicate output name)";
    }
  }
  llvm::StringSet<> outputs;
  for (const onnx::ValueInfoProto &output : graph.output()) {
    if (!defined.count(output.name()))
      return mlir::emitError(fileLoc)
             << "graph output '" << output.name() << "' is never defined";
    if (!outputs.insert(output.name()).second)
      return mlir::emitError(fileLoc)
             << "graph output '" << output.name() << "' is listed twice";
  }
  if (graph.output_size() == 0)
    return mlir::emitError(fileLoc) << "the graph has no outputs";
  return success();
}

LogicalResult ModelImporter::collectArguments() {
  Location fileLoc = state.fileLoc;
  llvm::StringSet<> used;
  for (const onnx::NodeProto &node : graph.node())
    for (const std::string &input : node.input())
      used.insert(input);
  for (const onnx::ValueInfoProto &output : graph.output())
    used.insert(output.name());

  llvm::StringSet<> initializerNames;
  for (const onnx::TensorProto &initializer : graph.initializer())
    initializerNames.insert(initializer.name());

  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (initializerNames.count(input.name()))
      continue;
    FailureOr<RankedTensorType> type = convertValueType(
        input, fileLoc, "graph input '" + input.name() + "'");
    if (failed(type))
      return failure();
    Argument argument;
    argument.name = input.name();
    argument.type = *type;
    argument.isParam = false;
    arguments.push_back(std::move(argument));
  }
  for (const onnx::TensorProto &initializer : graph.initializer()) {
    if (!used.count(initializer.name()))
      continue;
    FailureOr<TensorData> data =
        decodeTensor(initializer, state.modelDir, fileLoc,
                     "initializer '" + initializer.name() + "'");
    if (failed(data))
      return failure();
    if (!isParameter(*data) || frozen.contains(initializer.name())) {
      constants.push_back(std::move(*data));
      continue;
    }
    Argument argument;
    argument.name = initializer.name();
    argument.type = RankedTensorType::get(data->shape, data->elementType);
    argument.isParam = true;
    argument.data = std::move(*data);
    arguments.push_back(std::move(argument));
  }
  return success();
}

static StringRef getSafeTensorsDType(Type type) {
  if (type.isF32())
    return "F32";
  if (type.isInteger(64))
    return "I64";
  if (type.isInteger(32))
    return "I32";
  return "BOOL";
}

FailureOr<OwningOpRef<ModuleOp>>
ModelImporter::run(std::vector<ONNXParamData> *params) {
  if (failed(validateGraph()) || failed(collectArguments()))
    return failure();

  MLIRContext *context = state.context;
  Location fileLoc = state.fileLoc;
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  OpBuilder builder(context);
  builder.setInsertionPointToEnd(module->getBody());
  SmallVector<Type> argumentTypes;
  for (const Argument &argument : arguments)
    argumentTypes.push_back(argument.type);
  auto func = func::FuncOp::create(builder, fileLoc, "forward",
                                   builder.getFunctionType(argumentTypes, {}));
  Block *body = func.addEntryBlock();
  for (auto [index, argument] : llvm::enumerate(arguments)) {
    func.setArgAttr(index,
                    argument.isParam ? LLMDialect::kParamAttrName
                                     : LLMDialect::kInputAttrName,
                    builder.getStringAttr(argument.name));
    ImportedValue value;
    value.type = argument.type;
    value.tensor = body->getArgument(index);
    state.define(argument.name, std::move(value));
  }
  builder.setInsertionPointToEnd(body);
  for (const TensorData &constant : constants) {
    FailureOr<ImportedValue> value = importConstantTensor(
        builder, NameLoc::get(builder.getStringAttr(constant.name), fileLoc),
        constant, "initializer '" + constant.name + "'");
    if (failed(value))
      return failure();
    state.define(constant.name, std::move(*value));
  }

  for (auto [index, node] : llvm::enumerate(graph.node())) {
    std::string name = node.name().empty()
                           ? node.op_type() + "#" + std::to_string(index)
                           : node.name();
    Location loc = NameLoc::get(builder.getStringAttr(name), fileLoc);
    int64_t minVersion;
    const ConverterEntry *converter =
        findConverter(node.op_type(), opset, minVersion);
    NodeContext ctx(state, node, index, opset, builder, loc);
    if (failed(converter->convert(ctx)))
      return failure();
    for (unsigned i = 0; i < unsigned(node.output_size()); ++i)
      if (ctx.hasOutput(i) && !state.lookup(node.output(i)))
        return ctx.emitError() << "output #" << i << " ('" << node.output(i)
                               << "') is not supported by the importer";
  }

  SmallVector<Value> results;
  for (const onnx::ValueInfoProto &output : graph.output()) {
    ImportedValue *value = state.lookup(output.name());
    Location loc = NameLoc::get(builder.getStringAttr(output.name()), fileLoc);
    Value tensor = state.materialize(*value, builder, loc);
    // A declared type must agree with the computed one.
    if (output.has_type() && output.type().has_tensor_type()) {
      const onnx::TypeProto::Tensor &declared = output.type().tensor_type();
      Type elementType = convertValueElementType(context, declared.elem_type());
      auto actual = cast<RankedTensorType>(tensor.getType());
      if (declared.elem_type() != 0 &&
          elementType != actual.getElementType())
        return mlir::emitError(fileLoc)
               << "graph output '" << output.name() << "' is declared "
               << getDataTypeName(declared.elem_type()) << " but computes "
               << actual.getElementType();
      if (declared.has_shape() &&
          declared.shape().dim_size() != actual.getRank())
        return mlir::emitError(fileLoc)
               << "graph output '" << output.name() << "' is declared with "
               << "rank " << declared.shape().dim_size() << " but computes "
               << actual;
    }
    // Results are fresh buffers the caller frees (docs/ABI.md): an output
    // that is an argument, or another output, gets its own copy.
    if (isa<BlockArgument>(tensor) || llvm::is_contained(results, tensor)) {
      OpBuilder::InsertionGuard guard(builder);
      auto type = cast<RankedTensorType>(tensor.getType());
      tensor = buildBroadcastGeneric(
          builder, loc, {tensor}, getDimSizes(builder, loc, tensor),
          type.getElementType(),
          [](OpBuilder &, Location, ValueRange args) { return args[0]; });
    }
    results.push_back(tensor);
  }
  func::ReturnOp::create(builder, fileLoc, results);
  func.setType(builder.getFunctionType(argumentTypes,
                                       ValueRange(results).getTypes()));

  // Converters ask for the same dims and constants many times; one CSE
  // keeps the output readable. Nothing else is rewritten.
  {
    IRRewriter rewriter(context);
    DominanceInfo dominance;
    eliminateCommonSubExpressions(rewriter, dominance, *module);
    // Dims and shape arithmetic built but not used.
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*body)))
      if (isOpTriviallyDead(&op))
        op.erase();
  }
  if (failed(mlir::verify(*module)))
    return mlir::emitError(fileLoc)
           << "the imported IR does not verify (an importer bug)";

  if (params) {
    for (const Argument &argument : arguments) {
      if (!argument.isParam)
        continue;
      FailureOr<std::vector<char>> bytes = readTensorBytes(
          argument.data, fileLoc, "initializer '" + argument.name + "'");
      if (failed(bytes))
        return failure();
      ONNXParamData param;
      param.name = argument.name;
      param.dtype = getSafeTensorsDType(argument.data.elementType).str();
      param.shape = argument.data.shape;
      param.bytes = std::move(*bytes);
      params->push_back(std::move(param));
    }
  }
  return module;
}

bool mlir::llm::ONNXImportOptions::addFrozenInputs(
    ArrayRef<std::string> specs, std::string &error) {
  for (StringRef spec : specs) {
    auto [name, file] = spec.split('=');
    if (name.empty() || file.empty() || !spec.contains('=')) {
      error = ("'" + spec + "' is not NAME=FILE").str();
      return false;
    }
    frozenInputs.emplace_back(name.str(), file.str());
  }
  return true;
}

/// Turns the graph inputs of `frozen` into initializers read from
/// TensorProto files.
static LogicalResult
freezeInputs(onnx::ModelProto &model,
             ArrayRef<std::pair<std::string, std::string>> frozen,
             Location fileLoc) {
  onnx::GraphProto *graph = model.mutable_graph();
  for (const auto &[name, file] : frozen) {
    auto fail = [&, &name = name]() {
      return mlir::emitError(fileLoc) << "frozen input '" << name << "': ";
    };
    int index = -1;
    for (int i = 0; i < graph->input_size(); ++i)
      if (graph->input(i).name() == name)
        index = i;
    if (index < 0)
      return fail() << "the graph has no input of that name";
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
        llvm::MemoryBuffer::getFile(file);
    if (!buffer)
      return fail() << "cannot read '" << file
                    << "': " << buffer.getError().message();
    onnx::TensorProto tensor;
    if ((*buffer)->getBufferSize() > (size_t(1) << 30) ||
        !tensor.ParseFromArray((*buffer)->getBufferStart(),
                               static_cast<int>((*buffer)->getBufferSize())))
      return fail() << "'" << file << "' is not a serialized onnx TensorProto";
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL)
      return fail() << "'" << file << "' refers to external data";
    const onnx::ValueInfoProto &input = graph->input(index);
    if (input.type().has_tensor_type() &&
        input.type().tensor_type().elem_type() != tensor.data_type())
      return fail() << "'" << file << "' holds data type " << tensor.data_type()
                    << ", the input is declared with "
                    << input.type().tensor_type().elem_type();
    tensor.set_name(name);
    *graph->add_initializer() = std::move(tensor);
    graph->mutable_input()->DeleteSubrange(index, 1);
  }
  return success();
}

FailureOr<OwningOpRef<ModuleOp>>
mlir::llm::importONNXModel(MLIRContext *context, StringRef path,
                           std::vector<ONNXParamData> *params,
                           const ONNXImportOptions &options) {
  context->loadDialect<arith::ArithDialect, func::FuncDialect,
                       linalg::LinalgDialect, math::MathDialect,
                       tensor::TensorDialect, LLMDialect>();
  Location fileLoc = NameLoc::get(StringAttr::get(context, path));
  FailureOr<std::unique_ptr<onnx::ModelProto>> model =
      onnx_import::loadModelFile(path, fileLoc);
  if (failed(model) ||
      failed(freezeInputs(**model, options.frozenInputs, fileLoc)))
    return failure();
  SmallString<256> modelDir(path);
  llvm::sys::path::remove_filename(modelDir);
  if (modelDir.empty())
    modelDir = ".";
  ModelImporter importer(context, path, modelDir, fileLoc, **model, options);
  FailureOr<OwningOpRef<ModuleOp>> module = importer.run(params);
  if (failed(module) || !options.raise)
    return module;
  PassManager pm(context);
  buildRaiseToLLMPipeline(pm);
  if (failed(pm.run(**module)))
    return mlir::emitError(fileLoc)
           << "raising the imported graph to llm ops failed";
  return module;
}
