//===- ModelLoader.cpp - reading and validating .onnx files -----*- C++ -*-===//
//
// The part of the ONNX importer that touches the file: the protobuf parse
// (bounded in size and nesting), the model-level checks (ir_version,
// opset_import) and the decoding of tensors, including external data, which
// is only read from inside the model's folder.
//
//===----------------------------------------------------------------------===//

#include "ONNXImporterImpl.h"

#include "llm/runtime/SafeTensors.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <climits>
#include <cstring>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::onnx_import;

/// ir_version 3 is ONNX 1.0's; 10 is ONNX 1.16's. The fields the importer
/// reads are the same across them.
static constexpr int64_t kMinIRVersion = 3, kMaxIRVersion = 10;
/// Protobuf messages nest (graphs in attributes); a bound keeps the parser's
/// recursion, and ours, small.
static constexpr int kMaxProtobufNesting = 64;
/// Dims above this are refused: no real tensor has them, and products of a
/// few of them stay far from overflowing.
static constexpr int64_t kMaxDim = int64_t(1) << 48;

Type onnx_import::convertElementType(MLIRContext *context, int32_t onnxType) {
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return Float32Type::get(context);
  case onnx::TensorProto::INT64:
    return IntegerType::get(context, 64);
  case onnx::TensorProto::INT32:
    return IntegerType::get(context, 32);
  case onnx::TensorProto::BOOL:
    return IntegerType::get(context, 1);
  default:
    return nullptr;
  }
}

Type onnx_import::convertValueElementType(MLIRContext *context,
                                          int32_t onnxType) {
  switch (onnxType) {
  case onnx::TensorProto::FLOAT16:
    return Float16Type::get(context);
  case onnx::TensorProto::DOUBLE:
    return Float64Type::get(context);
  default:
    return convertElementType(context, onnxType);
  }
}

std::string onnx_import::getDataTypeName(int32_t onnxType) {
  if (onnx::TensorProto::DataType_IsValid(onnxType))
    return onnx::TensorProto::DataType_Name(
        static_cast<onnx::TensorProto::DataType>(onnxType));
  return "data type " + std::to_string(onnxType);
}

int64_t onnx_import::getElementByteSize(Type type) {
  if (type.isInteger(1))
    return 1;
  return type.getIntOrFloatBitWidth() / 8;
}

FailureOr<int64_t> onnx_import::checkedElementCount(ArrayRef<int64_t> shape,
                                                    int64_t elementBytes) {
  int64_t count = 1;
  for (int64_t dim : shape)
    if (llvm::MulOverflow(count, dim, count))
      return failure();
  int64_t bytes;
  if (llvm::MulOverflow(count, elementBytes, bytes))
    return failure();
  return count;
}

FailureOr<std::unique_ptr<onnx::ModelProto>>
onnx_import::loadModelFile(StringRef path, Location fileLoc) {
  auto fail = [&]() { return mlir::emitError(fileLoc); };
  llvm::sys::fs::file_status status;
  if (std::error_code error = llvm::sys::fs::status(path, status)) {
    fail() << "cannot read the model: " << error.message();
    return failure();
  }
  if (llvm::sys::fs::is_directory(status)) {
    fail() << "the model is a folder, expected an .onnx file";
    return failure();
  }
  if (status.getSize() == 0) {
    fail() << "the model file is empty";
    return failure();
  }
  // Protobuf messages are limited to 2 GiB; larger models keep their
  // weights in external data.
  if (status.getSize() > uint64_t(INT_MAX)) {
    fail() << "the model file is " << status.getSize()
           << " bytes, over protobuf's 2 GiB limit (weights over 2 GiB must "
              "be external data)";
    return failure();
  }
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!buffer) {
    fail() << "cannot read the model: " << buffer.getError().message();
    return failure();
  }
  StringRef bytes = (*buffer)->getBuffer();
  google::protobuf::io::ArrayInputStream stream(bytes.data(),
                                                static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&stream);
  coded.SetTotalBytesLimit(static_cast<int>(bytes.size()));
  coded.SetRecursionLimit(kMaxProtobufNesting);
  auto model = std::make_unique<onnx::ModelProto>();
  if (!model->ParseFromCodedStream(&coded) ||
      !coded.ConsumedEntireMessage()) {
    fail() << "not a valid ONNX model: the protobuf is truncated or "
              "malformed (or nests deeper than "
           << kMaxProtobufNesting << " levels)";
    return failure();
  }
  if (!model->has_ir_version()) {
    fail() << "not an ONNX model: no ir_version";
    return failure();
  }
  int64_t irVersion = model->ir_version();
  if (irVersion < kMinIRVersion || irVersion > kMaxIRVersion) {
    fail() << "unsupported ir_version " << irVersion << "; supported: "
           << kMinIRVersion << " to " << kMaxIRVersion;
    return failure();
  }
  if (model->opset_import_size() == 0) {
    fail() << "the model has no opset_import";
    return failure();
  }
  std::optional<int64_t> opset;
  for (const onnx::OperatorSetIdProto &entry : model->opset_import()) {
    if (entry.domain().empty() || entry.domain() == "ai.onnx") {
      if (opset) {
        fail() << "opset_import lists the default domain twice";
        return failure();
      }
      opset = entry.version();
    }
  }
  if (!opset) {
    fail() << "opset_import has no entry for the default domain (ai.onnx)";
    return failure();
  }
  if (*opset < kMinOpset || *opset > kMaxOpset) {
    fail() << "unsupported opset " << *opset
           << " of the default domain; supported: " << kMinOpset << " to "
           << kMaxOpset;
    return failure();
  }
  if (!model->has_graph()) {
    fail() << "the model has no graph";
    return failure();
  }
  return model;
}

int64_t onnx_import::getDefaultOpset(const onnx::ModelProto &model) {
  for (const onnx::OperatorSetIdProto &entry : model.opset_import())
    if (entry.domain().empty() || entry.domain() == "ai.onnx")
      return entry.version();
  return 0;
}

/// Resolves an external data location inside `modelDir`, refusing anything
/// that could leave it.
static FailureOr<std::string> resolveExternalLocation(StringRef modelDir,
                                                      StringRef location,
                                                      Location loc,
                                                      const Twine &what) {
  auto fail = [&]() {
    return mlir::emitError(loc) << what << ": external data location '"
                                << location << "' ";
  };
  if (location.empty()) {
    fail() << "is empty";
    return failure();
  }
  if (location.contains('\0')) {
    fail() << "holds a NUL character";
    return failure();
  }
  if (llvm::sys::path::is_absolute(location) ||
      llvm::sys::path::is_absolute(location, llvm::sys::path::Style::windows)) {
    fail() << "is absolute; it must be relative to the model's folder";
    return failure();
  }
  for (StringRef component : llvm::make_range(
           llvm::sys::path::begin(location), llvm::sys::path::end(location)))
    if (component == "..") {
      fail() << "holds '..'; it must stay inside the model's folder";
      return failure();
    }
  SmallString<256> joined(modelDir);
  llvm::sys::path::append(joined, location);
  SmallString<256> realDir, realFile;
  if (std::error_code error = llvm::sys::fs::real_path(modelDir, realDir)) {
    fail() << "cannot be resolved: " << error.message();
    return failure();
  }
  if (std::error_code error = llvm::sys::fs::real_path(joined, realFile)) {
    fail() << "cannot be opened: " << error.message();
    return failure();
  }
  StringRef file = realFile;
  if (!file.starts_with(realDir) || file.size() <= realDir.size() ||
      !llvm::sys::path::is_separator(file[realDir.size()])) {
    fail() << "resolves to '" << realFile
           << "', outside the model's folder (a symlink?)";
    return failure();
  }
  if (!llvm::sys::fs::is_regular_file(realFile)) {
    fail() << "is not a regular file";
    return failure();
  }
  return realFile.str().str();
}

FailureOr<TensorData> onnx_import::decodeTensor(const onnx::TensorProto &tensor,
                                                StringRef modelDir,
                                                Location loc,
                                                const Twine &what) {
  auto fail = [&]() { return mlir::emitError(loc) << what << " "; };
  TensorData data;
  data.name = tensor.name();
  data.elementType = convertElementType(loc.getContext(), tensor.data_type());
  if (!data.elementType) {
    fail() << "has unsupported data type " << getDataTypeName(tensor.data_type())
           << "; supported: FLOAT, INT64, INT32, BOOL";
    return failure();
  }
  if (tensor.dims_size() > kMaxRank) {
    fail() << "has rank " << tensor.dims_size() << ", over the limit of "
           << kMaxRank;
    return failure();
  }
  for (int64_t dim : tensor.dims()) {
    if (dim < 0) {
      fail() << "has a negative dim " << dim;
      return failure();
    }
    if (dim > kMaxDim) {
      fail() << "has dim " << dim << ", over the limit of 2^48";
      return failure();
    }
    data.shape.push_back(dim);
  }
  int64_t elementBytes = getElementByteSize(data.elementType);
  FailureOr<int64_t> count = checkedElementCount(data.shape, elementBytes);
  if (failed(count)) {
    fail() << "has a shape whose element count overflows int64";
    return failure();
  }
  data.numElements = *count;
  data.byteSize = uint64_t(*count) * uint64_t(elementBytes);
  if (tensor.has_segment()) {
    fail() << "is segmented; segmented tensors are not supported";
    return failure();
  }

  auto shapeText = [&]() {
    std::string text = "[";
    llvm::raw_string_ostream os(text);
    llvm::interleaveComma(data.shape, os);
    os << "] x " << getDataTypeName(tensor.data_type());
    return text;
  };

  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    std::optional<std::string> location;
    std::optional<uint64_t> offset, length;
    for (const onnx::StringStringEntryProto &entry : tensor.external_data()) {
      if (entry.key() == "location") {
        location = entry.value();
      } else if (entry.key() == "offset" || entry.key() == "length") {
        uint64_t value;
        if (StringRef(entry.value()).getAsInteger(10, value)) {
          fail() << "has external data " << entry.key() << " '"
                 << entry.value() << "', not a non-negative integer";
          return failure();
        }
        (entry.key() == "offset" ? offset : length) = value;
      }
    }
    if (!location) {
      fail() << "has external data without a location";
      return failure();
    }
    FailureOr<std::string> file =
        resolveExternalLocation(modelDir, *location, loc, what);
    if (failed(file))
      return failure();
    uint64_t fileSize;
    if (std::error_code error = llvm::sys::fs::file_size(*file, fileSize)) {
      fail() << "cannot read external data '" << *location
             << "': " << error.message();
      return failure();
    }
    data.externalOffset = offset.value_or(0);
    if (length && *length != data.byteSize) {
      fail() << "has external data length " << *length << ", but "
             << shapeText() << " needs " << data.byteSize << " bytes";
      return failure();
    }
    if (data.externalOffset > fileSize ||
        data.byteSize > fileSize - data.externalOffset) {
      fail() << "has external data [" << data.externalOffset << ", "
             << data.externalOffset + data.byteSize << ") past the end of '"
             << *location << "' (" << fileSize << " bytes)";
      return failure();
    }
    data.externalPath = *file;
    return data;
  }

  if (tensor.has_raw_data()) {
    const std::string &raw = tensor.raw_data();
    if (raw.size() != data.byteSize) {
      fail() << "has raw_data of " << raw.size() << " bytes, but "
             << shapeText() << " needs " << data.byteSize << " bytes";
      return failure();
    }
    data.bytes.assign(raw.begin(), raw.end());
    if (data.elementType.isInteger(1))
      for (char &byte : data.bytes)
        byte = byte != 0;
    return data;
  }

  // Typed fields.
  auto copyTyped = [&](const auto &field, StringRef fieldName,
                       auto convert) -> LogicalResult {
    if (int64_t(field.size()) != data.numElements) {
      fail() << "holds " << field.size() << " values in " << fieldName
             << ", but " << shapeText() << " needs " << data.numElements;
      return failure();
    }
    data.bytes.resize(data.byteSize);
    char *out = data.bytes.data();
    for (auto value : field) {
      auto converted = convert(value);
      std::memcpy(out, &converted, sizeof(converted));
      out += sizeof(converted);
    }
    return success();
  };
  LogicalResult copied = success();
  switch (tensor.data_type()) {
  case onnx::TensorProto::FLOAT:
    copied = copyTyped(tensor.float_data(), "float_data",
                       [](float v) { return v; });
    break;
  case onnx::TensorProto::INT64:
    copied = copyTyped(tensor.int64_data(), "int64_data",
                       [](int64_t v) { return v; });
    break;
  case onnx::TensorProto::INT32:
    copied = copyTyped(tensor.int32_data(), "int32_data",
                       [](int32_t v) { return v; });
    break;
  case onnx::TensorProto::BOOL:
    copied = copyTyped(tensor.int32_data(), "int32_data",
                       [](int32_t v) { return uint8_t(v != 0); });
    break;
  default:
    break;
  }
  if (failed(copied))
    return failure();
  return data;
}

FailureOr<std::vector<char>> onnx_import::readTensorBytes(const TensorData &data,
                                                          Location loc,
                                                          const Twine &what) {
  if (!data.isExternal())
    return data.bytes;
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFileSlice(data.externalPath, data.byteSize,
                                       data.externalOffset,
                                       /*IsVolatile=*/false);
  if (!buffer || (*buffer)->getBufferSize() != data.byteSize) {
    mlir::emitError(loc) << what << ": cannot read external data from '"
                         << data.externalPath << "'"
                         << (buffer ? "" : ": " + buffer.getError().message());
    return failure();
  }
  StringRef bytes = (*buffer)->getBuffer();
  std::vector<char> result(bytes.begin(), bytes.end());
  if (data.elementType.isInteger(1))
    for (char &byte : result)
      byte = byte != 0;
  return result;
}

LogicalResult mlir::llm::writeONNXParams(Location loc, StringRef path,
                                         ArrayRef<ONNXParamData> params) {
  std::vector<::llm::rt::TensorToWrite> tensors;
  for (const ONNXParamData &param : params) {
    ::llm::rt::TensorToWrite tensor;
    tensor.name = param.name;
    tensor.dtype = param.dtype == "F32"   ? ::llm::rt::DType::F32
                   : param.dtype == "I64" ? ::llm::rt::DType::I64
                   : param.dtype == "I32" ? ::llm::rt::DType::I32
                                          : ::llm::rt::DType::Bool;
    tensor.shape.assign(param.shape.begin(), param.shape.end());
    tensor.data = param.bytes.data();
    tensor.byteSize = param.bytes.size();
    tensors.push_back(std::move(tensor));
  }
  ::llm::rt::Status status = ::llm::rt::writeSafeTensors(path.str(), tensors);
  if (status.isError())
    return mlir::emitError(loc)
           << "cannot write '" << path << "': " << status.message();
  return success();
}
