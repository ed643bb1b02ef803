//===- HFConfig.cpp - config.json with located diagnostics ------*- C++ -*-===//
//
// Reads a Hugging Face config.json. llvm::json keeps no source positions, so
// a light scan of the text records where each top-level key is written; every
// complaint about a key is then reported at its line and column. The scan
// also bounds the nesting depth before the recursive JSON parser sees the
// text.
//
//===----------------------------------------------------------------------===//

#include "HFImporter.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::hf;

/// config.json files are a few kilobytes; refuse anything absurd before
/// reading it.
static constexpr uint64_t kMaxConfigBytes = 16 << 20;
/// Real configs nest two or three levels; the bound keeps the recursive
/// parser far from the stack limit.
static constexpr unsigned kMaxConfigDepth = 64;

/// The 1-based line and column of byte `offset` of `text`.
static std::pair<unsigned, unsigned> getLineAndColumn(StringRef text,
                                                      size_t offset) {
  StringRef before = text.take_front(offset);
  unsigned line = 1 + before.count('\n');
  size_t lineStart = before.rfind('\n');
  size_t column =
      lineStart == StringRef::npos ? offset : offset - lineStart - 1;
  return {line, static_cast<unsigned>(column + 1)};
}

namespace {
/// What the scan of the raw text found.
struct ScanResult {
  /// The offset of the opening quote of each top-level key (first
  /// occurrence).
  llvm::StringMap<size_t> keyOffsets;
  /// The offset of the first bracket nested deeper than kMaxConfigDepth.
  std::optional<size_t> tooDeepAt;
  /// The first top-level key written twice, and the offset of its repeat.
  std::optional<std::pair<std::string, size_t>> duplicate;
};
} // namespace

/// Records the top-level keys of JSON `text` and checks its nesting. Safe on
/// any input; malformed text is left to the parser to report.
static ScanResult scanConfigText(StringRef text) {
  ScanResult result;
  unsigned depth = 0;
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    char c = text[i];
    if (c == '"') {
      size_t start = i;
      for (++i; i < e && text[i] != '"'; ++i)
        if (text[i] == '\\')
          ++i;
      if (i >= e)
        break;
      if (depth != 1)
        continue;
      // A string directly followed by ':' at depth 1 is a top-level key.
      size_t next = text.find_first_not_of(" \t\r\n", i + 1);
      if (next == StringRef::npos || text[next] != ':')
        continue;
      StringRef key = text.slice(start + 1, i);
      if (!result.keyOffsets.try_emplace(key, start).second &&
          !result.duplicate)
        result.duplicate = {key.str(), start};
      continue;
    }
    if (c == '{' || c == '[') {
      if (++depth > kMaxConfigDepth) {
        result.tooDeepAt = i;
        break;
      }
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return result;
}

/// Splits llvm::json's "[line:col, byte=N]: message" into N and the message.
static std::pair<std::optional<size_t>, StringRef>
splitJSONParseError(StringRef message) {
  size_t bytePos = message.find("byte=");
  size_t end = message.find("]: ");
  if (!message.starts_with("[") || bytePos == StringRef::npos ||
      end == StringRef::npos || bytePos > end)
    return {std::nullopt, message};
  unsigned long long offset;
  StringRef number = message.slice(bytePos + 5, end);
  if (number.getAsInteger(10, offset))
    return {std::nullopt, message};
  return {static_cast<size_t>(offset), message.drop_front(end + 3)};
}

FailureOr<HFConfig> HFConfig::load(MLIRContext *context, StringRef path) {
  Location fileLoc = FileLineColLoc::get(context, path, 1, 1);
  Location pathLoc = NameLoc::get(StringAttr::get(context, path));

  llvm::sys::fs::file_status status;
  if (std::error_code error = llvm::sys::fs::status(path, status)) {
    mlir::emitError(pathLoc) << "cannot read config.json: " << error.message();
    return failure();
  }
  if (status.type() == llvm::sys::fs::file_type::directory_file) {
    mlir::emitError(pathLoc) << "config.json is a folder, expected a file";
    return failure();
  }
  if (status.getSize() > kMaxConfigBytes) {
    mlir::emitError(pathLoc)
        << "config.json is " << status.getSize() << " bytes, more than the "
        << kMaxConfigBytes << " accepted";
    return failure();
  }
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (std::error_code error = buffer.getError()) {
    mlir::emitError(pathLoc) << "cannot read config.json: " << error.message();
    return failure();
  }
  std::string text = (*buffer)->getBuffer().str();
  auto locAt = [&](size_t offset) -> Location {
    auto [line, column] = getLineAndColumn(text, offset);
    return FileLineColLoc::get(context, path, line, column);
  };

  ScanResult scan = scanConfigText(text);
  if (scan.tooDeepAt) {
    mlir::emitError(locAt(*scan.tooDeepAt))
        << "config.json nests deeper than " << kMaxConfigDepth << " levels";
    return failure();
  }
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(text);
  if (!parsed) {
    std::string message = llvm::toString(parsed.takeError());
    auto [offset, what] = splitJSONParseError(message);
    mlir::emitError(offset ? locAt(*offset) : fileLoc)
        << "config.json is not valid JSON: " << what;
    return failure();
  }
  llvm::json::Object *root = parsed->getAsObject();
  if (!root) {
    mlir::emitError(fileLoc) << "config.json must hold a JSON object";
    return failure();
  }
  if (scan.duplicate) {
    mlir::emitError(locAt(scan.duplicate->second))
        << "config.json has the key '" << scan.duplicate->first << "' twice";
    return failure();
  }
  return HFConfig(context, path.str(), std::move(text), std::move(*root),
                  std::move(scan.keyOffsets));
}

Location HFConfig::getFileLoc() const {
  return FileLineColLoc::get(context, path, 1, 1);
}

Location HFConfig::getLoc(StringRef key) const {
  auto it = keyOffsets.find(key);
  if (it == keyOffsets.end())
    return getFileLoc();
  auto [line, column] = getLineAndColumn(text, it->second);
  return FileLineColLoc::get(context, path, line, column);
}

InFlightDiagnostic HFConfig::emitError(StringRef key) const {
  return mlir::emitError(getLoc(key));
}

const llvm::json::Value *HFConfig::lookup(StringRef key) const {
  const llvm::json::Value *value = root.get(key);
  if (!value || value->kind() == llvm::json::Value::Null)
    return nullptr;
  return value;
}

/// "a string", "an array", ... for messages.
static StringRef describeKind(const llvm::json::Value &value) {
  switch (value.kind()) {
  case llvm::json::Value::Null:
    return "null";
  case llvm::json::Value::Boolean:
    return "a boolean";
  case llvm::json::Value::Number:
    return "a number";
  case llvm::json::Value::String:
    return "a string";
  case llvm::json::Value::Array:
    return "an array";
  case llvm::json::Value::Object:
    return "an object";
  }
  return "a value";
}

LogicalResult HFConfig::missing(StringRef key) const {
  InFlightDiagnostic diag = emitError(key);
  if (root.get(key))
    diag << "'" << key << "' must not be null";
  else
    diag << "config.json has no '" << key << "'";
  if (!modelType.empty())
    diag << " (required for model_type '" << modelType << "')";
  return failure();
}

LogicalResult HFConfig::illTyped(StringRef key, const llvm::json::Value &value,
                                 StringRef expected) const {
  InFlightDiagnostic diag = emitError(key);
  diag << "'" << key << "' must be " << expected << ", got ";
  switch (value.kind()) {
  case llvm::json::Value::Array:
  case llvm::json::Value::Object:
    diag << describeKind(value);
    break;
  default: {
    std::string rendered;
    llvm::raw_string_ostream os(rendered);
    os << value;
    diag << rendered << " (" << describeKind(value) << ")";
  }
  }
  return failure();
}

FailureOr<int64_t> HFConfig::checkSize(StringRef key,
                                       const llvm::json::Value &value) const {
  std::optional<int64_t> size = value.getAsInteger();
  if (!size) {
    (void)illTyped(key, value, "a positive integer");
    return failure();
  }
  if (*size < 1 || *size > kMaxSize) {
    emitError(key) << "'" << key << "' must be between 1 and " << kMaxSize
                   << ", got " << *size;
    return failure();
  }
  return *size;
}

FailureOr<int64_t> HFConfig::getSize(StringRef key) const {
  const llvm::json::Value *value = lookup(key);
  if (!value) {
    (void)missing(key);
    return failure();
  }
  return checkSize(key, *value);
}

FailureOr<int64_t> HFConfig::getSize(StringRef key, int64_t fallback) const {
  const llvm::json::Value *value = lookup(key);
  if (!value)
    return fallback;
  return checkSize(key, *value);
}

FailureOr<double> HFConfig::getNonNegative(StringRef key,
                                           double fallback) const {
  const llvm::json::Value *value = lookup(key);
  if (!value)
    return fallback;
  std::optional<double> number = value->getAsNumber();
  if (!number || !std::isfinite(*number) || *number < 0) {
    (void)illTyped(key, *value, "a finite number >= 0");
    return failure();
  }
  return *number;
}

FailureOr<double> HFConfig::getPositive(StringRef key, double fallback) const {
  const llvm::json::Value *value = lookup(key);
  if (!value)
    return fallback;
  std::optional<double> number = value->getAsNumber();
  if (!number || !std::isfinite(*number) || *number <= 0) {
    (void)illTyped(key, *value, "a finite number > 0");
    return failure();
  }
  return *number;
}

FailureOr<bool> HFConfig::getBool(StringRef key, bool fallback) const {
  const llvm::json::Value *value = lookup(key);
  if (!value)
    return fallback;
  std::optional<bool> flag = value->getAsBoolean();
  if (!flag) {
    (void)illTyped(key, *value, "true or false");
    return failure();
  }
  return *flag;
}

FailureOr<std::string> HFConfig::getString(StringRef key) const {
  const llvm::json::Value *value = lookup(key);
  if (!value) {
    (void)missing(key);
    return failure();
  }
  std::optional<StringRef> string = value->getAsString();
  if (!string) {
    (void)illTyped(key, *value, "a string");
    return failure();
  }
  return string->str();
}

FailureOr<std::string> HFConfig::getString(StringRef key,
                                           StringRef fallback) const {
  const llvm::json::Value *value = lookup(key);
  if (!value)
    return fallback.str();
  std::optional<StringRef> string = value->getAsString();
  if (!string) {
    (void)illTyped(key, *value, "a string");
    return failure();
  }
  return string->str();
}

bool HFConfig::hasArchitecture(StringRef name) const {
  const llvm::json::Value *value = lookup("architectures");
  if (!value)
    return false;
  const llvm::json::Array *list = value->getAsArray();
  if (!list)
    return false;
  return llvm::any_of(*list, [&](const llvm::json::Value &entry) {
    return entry.getAsString() == name;
  });
}

FailureOr<int64_t> HFConfig::getNumLabels() const {
  if (lookup("num_labels"))
    return getSize("num_labels");
  if (const llvm::json::Value *value = lookup("id2label")) {
    const llvm::json::Object *labels = value->getAsObject();
    if (!labels || labels->empty()) {
      (void)illTyped("id2label", *value, "a non-empty object");
      return failure();
    }
    return static_cast<int64_t>(labels->size());
  }
  return 2;
}
