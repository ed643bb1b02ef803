//===- Manifest.cpp - The artifact manifest (manifest.json) ---------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The strict parser of manifest.json. Each check names the field by its
// JSON path so that a broken artifact can be fixed without reading this
// code.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Manifest.h"

#include "RuntimeSupport.h"

#include <algorithm>
#include <limits>
#include <map>
#include <new>
#include <set>

using namespace llm::rt;
using namespace llm::rt::detail;

namespace {

struct ElementTypeInfo {
  ElementType type;
  const char *name;
  uint64_t size;
};

constexpr ElementTypeInfo elementTypes[] = {
    {ElementType::F32, "f32", 4},   {ElementType::F16, "f16", 2},
    {ElementType::BF16, "bf16", 2}, {ElementType::I64, "i64", 8},
    {ElementType::I32, "i32", 4},   {ElementType::U8, "u8", 1},
};

struct InputKindInfo {
  InputKind kind;
  const char *name;
};

constexpr InputKindInfo inputKinds[] = {
    {InputKind::Tokens, "tokens"},
    {InputKind::Mask, "mask"},
    {InputKind::Segments, "segments"},
    {InputKind::Param, "param"},
    {InputKind::Positions, "positions"},
    {InputKind::Lengths, "lengths"},
    {InputKind::KVCache, "kv_cache"},
    {InputKind::Labels, "labels"},
    {InputKind::Optimizer, "optimizer"},
    {InputKind::OptimizerState, "optimizer_state"},
    {InputKind::TeacherLogits, "teacher_logits"},
    {InputKind::Distill, "distill"},
    {InputKind::NextSentenceLabels, "next_sentence_labels"},
    {InputKind::Arena, "arena"},
};

/// Renders a JSON value for a message: scalars as JSON text (shortened),
/// containers by their kind.
std::string describe(const Json &value) {
  if (value.is_object())
    return "an object";
  if (value.is_array())
    return "an array";
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 80)
    text = text.substr(0, 80) + "...";
  return text;
}

/// Walks the manifest's JSON, producing errors that name the field.
class ManifestParser {
public:
  explicit ManifestParser(const std::string &sourceName)
      : sourceName(sourceName) {}

  Status parse(const Json &root, Manifest &manifest);

private:
  Status fail(const std::string &message) const {
    return Status::error(ErrorCode::Artifact, sourceName + ": " + message);
  }
  Status fieldError(const std::string &path, const std::string &what) const {
    return fail("field '" + path + "' " + what);
  }

  static std::string join(const std::string &path, const std::string &key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string index(const std::string &path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

  /// Refuses keys of \p object outside \p allowed.
  Status checkKeys(const Json &object, const std::string &path,
                   std::initializer_list<const char *> allowed) const;
  /// Sets \p out to the member \p key of \p object, or null when it is
  /// absent and \p required is false.
  Status getMember(const Json &object, const std::string &path, const char *key,
                   bool required, const Json *&out) const;
  Status getString(const Json &object, const std::string &path, const char *key,
                   bool required, std::string &out) const;
  Status getInteger(const Json &object, const std::string &path,
                    const char *key, bool required, int64_t minValue,
                    int64_t &out) const;
  Status getObject(const Json &object, const std::string &path, const char *key,
                   const Json *&out) const;
  Status getArray(const Json &object, const std::string &path, const char *key,
                  const Json *&out) const;
  Status getElementType(const Json &object, const std::string &path,
                        ElementType &out) const;
  Status getShape(const Json &object, const std::string &path,
                  ElementType dtype, std::vector<int64_t> &out) const;

  Status parseLibrary(const Json &root, Manifest &manifest) const;
  Status parseEntryPoint(const Json &value, const std::string &path,
                         EntryPoint &entry) const;
  Status parseInput(const Json &value, const std::string &path,
                    InputSpec &input) const;
  Status parseResult(const Json &value, const std::string &path,
                     ResultSpec &result) const;
  Status parsePacking(const Json &value, const std::string &path,
                      InputSpec &input) const;
  Status parseConcat(const Json &value, const std::string &path,
                     InputSpec &input) const;

  const std::string &sourceName;
};

} // namespace

Status
ManifestParser::checkKeys(const Json &object, const std::string &path,
                          std::initializer_list<const char *> allowed) const {
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool known = std::any_of(allowed.begin(), allowed.end(),
                             [&](const char *k) { return it.key() == k; });
    if (!known)
      return fail("unknown field " + quote(join(path, it.key())));
  }
  return Status::success();
}

Status ManifestParser::getMember(const Json &object, const std::string &path,
                                 const char *key, bool required,
                                 const Json *&out) const {
  auto it = object.find(key);
  if (it == object.end()) {
    out = nullptr;
    return required ? fail("missing field '" + join(path, key) + "'")
                    : Status::success();
  }
  out = &*it;
  return Status::success();
}

Status ManifestParser::getString(const Json &object, const std::string &path,
                                 const char *key, bool required,
                                 std::string &out) const {
  const Json *value = nullptr;
  Status s = getMember(object, path, key, required, value);
  if (s.isError() || !value)
    return s;
  if (!value->is_string())
    return fieldError(join(path, key),
                      "must be a string, got " + describe(*value));
  out = value->get<std::string>();
  if (out.find('\0') != std::string::npos)
    return fieldError(join(path, key), "contains a NUL character");
  return Status::success();
}

Status ManifestParser::getInteger(const Json &object, const std::string &path,
                                  const char *key, bool required,
                                  int64_t minValue, int64_t &out) const {
  const Json *value = nullptr;
  Status s = getMember(object, path, key, required, value);
  if (s.isError() || !value)
    return s;
  if (value->is_number_unsigned()) {
    if (value->get<uint64_t>() >
        static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return fieldError(join(path, key),
                        "is " + describe(*value) + ", too large for int64");
    out = static_cast<int64_t>(value->get<uint64_t>());
  } else if (value->is_number_integer()) {
    out = value->get<int64_t>();
  } else {
    return fieldError(join(path, key),
                      "must be an integer, got " + describe(*value));
  }
  if (out < minValue)
    return fieldError(join(path, key), "must be at least " +
                                           std::to_string(minValue) + ", got " +
                                           std::to_string(out));
  return Status::success();
}

Status ManifestParser::getObject(const Json &object, const std::string &path,
                                 const char *key, const Json *&out) const {
  Status s = getMember(object, path, key, /*required=*/true, out);
  if (s.isError())
    return s;
  if (!out->is_object())
    return fieldError(join(path, key),
                      "must be an object, got " + describe(*out));
  return Status::success();
}

Status ManifestParser::getArray(const Json &object, const std::string &path,
                                const char *key, const Json *&out) const {
  Status s = getMember(object, path, key, /*required=*/true, out);
  if (s.isError())
    return s;
  if (!out->is_array())
    return fieldError(join(path, key),
                      "must be an array, got " + describe(*out));
  return Status::success();
}

Status ManifestParser::getElementType(const Json &object,
                                      const std::string &path,
                                      ElementType &out) const {
  std::string name;
  Status s = getString(object, path, "dtype", /*required=*/true, name);
  if (s.isError())
    return s;
  for (const ElementTypeInfo &info : elementTypes) {
    if (name == info.name) {
      out = info.type;
      return Status::success();
    }
  }
  return fieldError(join(path, "dtype"),
                    "must be one of f32, f16, bf16, i64, i32, got " +
                        quote(name));
}

Status ManifestParser::getShape(const Json &object, const std::string &path,
                                ElementType dtype,
                                std::vector<int64_t> &out) const {
  const Json *shape = nullptr;
  Status s = getArray(object, path, "shape", shape);
  if (s.isError())
    return s;
  std::string shapePath = join(path, "shape");
  if (shape->size() > MaxManifestRank)
    return fieldError(shapePath, "has rank " + std::to_string(shape->size()) +
                                     ", over the limit of " +
                                     std::to_string(MaxManifestRank));
  out.clear();
  uint64_t bytes = getElementTypeSize(dtype);
  bool overflow = false;
  for (size_t i = 0; i < shape->size(); ++i) {
    const Json &dim = (*shape)[i];
    std::string dimPath = index(shapePath, i);
    int64_t value = 0;
    if (dim.is_number_integer() && !dim.is_number_unsigned()) {
      value = dim.get<int64_t>();
    } else if (dim.is_number_unsigned() &&
               dim.get<uint64_t>() <=
                   static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      value = static_cast<int64_t>(dim.get<uint64_t>());
    } else {
      return fieldError(dimPath, "must be an integer >= -1 (-1 is dynamic), "
                                 "got " +
                                     describe(dim));
    }
    if (value < DynamicDim)
      return fieldError(dimPath, "must be >= -1 (-1 is dynamic), got " +
                                     std::to_string(value));
    if (value != DynamicDim &&
        !checkedMul(bytes, static_cast<uint64_t>(value), bytes))
      overflow = true;
    out.push_back(value);
  }
  if (overflow ||
      bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return fieldError(shapePath, "describes more bytes than int64 can count");
  return Status::success();
}

/// Returns true if \p s is a C identifier.
static bool isIdentifier(const std::string &s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9'))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
  });
}

Status ManifestParser::parseLibrary(const Json &root,
                                    Manifest &manifest) const {
  Status s =
      getString(root, "", "library", /*required=*/true, manifest.library);
  if (s.isError())
    return s;
  const std::string &library = manifest.library;
  if (library.empty())
    return fieldError("library", "must not be empty");
  if (library.front() == '/')
    return fieldError("library", "is the absolute path " + quote(library) +
                                     "; it must name a file inside the "
                                     "artifact folder");
  for (size_t pos = 0; pos <= library.size();) {
    size_t next = std::min(library.find('/', pos), library.size());
    if (library.compare(pos, next - pos, "..") == 0)
      return fieldError("library", quote(library) +
                                       " has a '..' component; it must name a "
                                       "file inside the artifact folder");
    pos = next + 1;
  }
  return Status::success();
}

Status ManifestParser::parseInput(const Json &value, const std::string &path,
                                  InputSpec &input) const {
  if (!value.is_object())
    return fieldError(path, "must be an object, got " + describe(value));
  Status s = checkKeys(value, path,
                       {"name", "kind", "dtype", "shape", "packing", "concat"});
  if (s.isOk())
    s = getString(value, path, "name", /*required=*/true, input.name);
  if (s.isError())
    return s;
  if (input.name.empty())
    return fieldError(join(path, "name"), "must not be empty");
  std::string kind;
  s = getString(value, path, "kind", /*required=*/true, kind);
  if (s.isError())
    return s;
  const InputKindInfo *kindInfo = nullptr;
  for (const InputKindInfo &info : inputKinds)
    if (kind == info.name)
      kindInfo = &info;
  if (!kindInfo)
    return fieldError(
        join(path, "kind"),
        "must be one of tokens, mask, segments, param, positions, "
        "lengths, kv_cache, labels, optimizer, "
        "optimizer_state, teacher_logits, distill, "
        "next_sentence_labels, arena, got " +
            quote(kind));
  input.kind = kindInfo->kind;
  s = getElementType(value, path, input.dtype);
  if (s.isOk())
    s = getShape(value, path, input.dtype, input.shape);
  if (s.isError())
    return s;

  for (const char *key : {"packing", "concat"})
    if (input.kind != InputKind::Param && value.contains(key))
      return fieldError(join(path, key), "is only allowed on params");
  switch (input.kind) {
  case InputKind::Param:
    if (input.dtype != ElementType::F32 && input.dtype != ElementType::F16 &&
        input.dtype != ElementType::BF16)
      return fieldError(join(path, "dtype"),
                        "of param " + quote(input.name) +
                            " must be f32, f16 or bf16, got " +
                            getElementTypeName(input.dtype));
    if (std::count(input.shape.begin(), input.shape.end(), DynamicDim))
      return fieldError(join(path, "shape"), "of param " + quote(input.name) +
                                                 " must be static, got " +
                                                 shapeText(input.shape));
    // The concatenation comes first: packing applies to its result.
    if (value.contains("concat")) {
      s = parseConcat(value, path, input);
      if (s.isError())
        return s;
    }
    if (value.contains("packing")) {
      s = parsePacking(value, path, input);
      if (s.isError())
        return s;
    }
    break;
  case InputKind::Tokens:
  case InputKind::Mask:
  case InputKind::Segments:
    if (input.kind != InputKind::Mask && input.dtype != ElementType::I64 &&
        input.dtype != ElementType::I32)
      return fieldError(join(path, "dtype"),
                        "of " + std::string(getInputKindName(input.kind)) +
                            " " + quote(input.name) +
                            " must be i64 or i32, got " +
                            getElementTypeName(input.dtype));
    if (input.shape.size() != 2)
      return fieldError(join(path, "shape"),
                        "of " + std::string(getInputKindName(input.kind)) +
                            " " + quote(input.name) +
                            " must have rank 2 ([batch, seq]), got " +
                            shapeText(input.shape));
    break;
  case InputKind::Positions:
  case InputKind::Lengths:
  case InputKind::NextSentenceLabels:
    if (input.dtype != ElementType::I64 || input.shape.size() != 1)
      return fieldError(path, std::string(getInputKindName(input.kind)) +
                                  " " + quote(input.name) +
                                  " must be i64 of shape [batch], got " +
                                  getElementTypeName(input.dtype) + " " +
                                  shapeText(input.shape));
    break;
  case InputKind::Labels:
    if (input.dtype != ElementType::I64 || input.shape.size() != 2)
      return fieldError(path, "labels " + quote(input.name) +
                                  " must be i64 of shape [batch, seq], got " +
                                  getElementTypeName(input.dtype) + " " +
                                  shapeText(input.shape));
    break;
  case InputKind::Optimizer:
    if (input.dtype != ElementType::F32 || input.shape != std::vector<int64_t>{8})
      return fieldError(path, "optimizer " + quote(input.name) +
                                  " must be f32 of shape [8], got " +
                                  getElementTypeName(input.dtype) + " " +
                                  shapeText(input.shape));
    break;
  case InputKind::TeacherLogits:
    if (input.dtype != ElementType::F32 || input.shape.size() != 3)
      return fieldError(path, "teacher_logits " + quote(input.name) +
                                  " must be f32 of shape [batch, seq, "
                                  "vocab], got " +
                                  getElementTypeName(input.dtype) + " " +
                                  shapeText(input.shape));
    break;
  case InputKind::Distill:
    if (input.dtype != ElementType::F32 ||
        input.shape != std::vector<int64_t>{2})
      return fieldError(path, "distill " + quote(input.name) +
                                  " must be f32 of shape [2], got " +
                                  getElementTypeName(input.dtype) + " " +
                                  shapeText(input.shape));
    break;
  case InputKind::OptimizerState:
    if (input.dtype != ElementType::F32 ||
        std::count(input.shape.begin(), input.shape.end(), DynamicDim))
      return fieldError(path, "optimizer_state " + quote(input.name) +
                                  " must be f32 with a static shape, got " +
                                  getElementTypeName(input.dtype) + " " +
                                  shapeText(input.shape));
    break;
  case InputKind::Arena:
    if (input.dtype != ElementType::U8 ||
        input.shape != std::vector<int64_t>{DynamicDim})
      return fieldError(path, "arena " + quote(input.name) +
                                  " must be u8 of shape [-1], got " +
                                  getElementTypeName(input.dtype) + " " +
                                  shapeText(input.shape));
    break;
  case InputKind::KVCache:
    if (input.dtype != ElementType::F32 && input.dtype != ElementType::F16 &&
        input.dtype != ElementType::BF16)
      return fieldError(join(path, "dtype"),
                        "of kv_cache " + quote(input.name) +
                            " must be f32, f16 or bf16, got " +
                            getElementTypeName(input.dtype));
    if (input.shape.size() != 4 ||
        std::count(input.shape.begin() + 1, input.shape.end(), DynamicDim))
      return fieldError(join(path, "shape"),
                        "of kv_cache " + quote(input.name) +
                            " must be [batch, kv_heads, capacity, head_dim] "
                            "with static sizes after batch, got " +
                            shapeText(input.shape));
    break;
  }
  return Status::success();
}

Status ManifestParser::parsePacking(const Json &value, const std::string &path,
                                    InputSpec &input) const {
  const Json *packing = nullptr;
  Status s = getObject(value, path, "packing", packing);
  std::string packingPath = join(path, "packing");
  if (s.isOk())
    s = checkKeys(*packing, packingPath, {"panel", "layout"});
  PackingSpec spec;
  if (s.isOk())
    s = getInteger(*packing, packingPath, "panel", /*required=*/true,
                   /*minValue=*/1, spec.panel);
  std::string layout;
  if (s.isOk())
    s = getString(*packing, packingPath, "layout", /*required=*/true, layout);
  if (s.isError())
    return s;
  if (layout != "in_out" && layout != "out_in")
    return fieldError(join(packingPath, "layout"),
                      "must be in_out or out_in, got " + quote(layout));
  spec.outIn = layout == "out_in";
  if (input.dtype != ElementType::F32 || input.shape.size() != 2)
    return fieldError(packingPath, "needs an f32 param of rank 2, got " +
                                       std::string(getElementTypeName(
                                           input.dtype)) +
                                       " " + shapeText(input.shape));
  // The packed buffer's size must fit like any other.
  uint64_t bytes = 0;
  int64_t n = input.shape[spec.outIn ? 0 : 1];
  uint64_t panels = static_cast<uint64_t>((n + spec.panel - 1) / spec.panel);
  if (spec.panel > (int64_t(1) << 20) ||
      !checkedMul(panels, static_cast<uint64_t>(spec.panel), bytes) ||
      !checkedMul(bytes, static_cast<uint64_t>(input.shape[spec.outIn ? 1 : 0]),
                  bytes) ||
      !checkedMul(bytes, 4, bytes) ||
      bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return fieldError(packingPath, "makes a buffer too large for int64");
  input.packing = spec;
  return Status::success();
}

Status ManifestParser::parseConcat(const Json &value, const std::string &path,
                                   InputSpec &input) const {
  const Json *concat = nullptr;
  Status s = getObject(value, path, "concat", concat);
  std::string concatPath = join(path, "concat");
  if (s.isOk())
    s = checkKeys(*concat, concatPath, {"axis", "parts"});
  if (s.isError())
    return s;
  // The runtime joins parts of any float dtype into f32 (they may differ);
  // a half-precision result would need a second conversion for nothing.
  if (input.dtype != ElementType::F32 ||
      (input.shape.size() != 1 && input.shape.size() != 2))
    return fieldError(concatPath,
                      "needs an f32 param of rank 1 or 2, got " +
                          std::string(getElementTypeName(input.dtype)) + " " +
                          shapeText(input.shape));
  ConcatSpec spec;
  s = getInteger(*concat, concatPath, "axis", /*required=*/true,
                 /*minValue=*/0, spec.axis);
  if (s.isError())
    return s;
  int64_t rank = static_cast<int64_t>(input.shape.size());
  if (spec.axis >= rank)
    return fieldError(join(concatPath, "axis"),
                      "is " + std::to_string(spec.axis) +
                          ", but the param has rank " + std::to_string(rank));

  const Json *parts = nullptr;
  s = getArray(*concat, concatPath, "parts", parts);
  if (s.isError())
    return s;
  std::string partsPath = join(concatPath, "parts");
  if (parts->size() < 2)
    return fieldError(partsPath, "must list at least two tensors, got " +
                                     std::to_string(parts->size()));
  std::map<std::string, size_t> partByName;
  int64_t total = input.shape[spec.axis], sum = 0;
  for (size_t i = 0; i < parts->size(); ++i) {
    const Json &partValue = (*parts)[i];
    std::string partPath = index(partsPath, i);
    if (!partValue.is_object())
      return fieldError(partPath,
                        "must be an object, got " + describe(partValue));
    ConcatPart &part = spec.parts.emplace_back();
    s = checkKeys(partValue, partPath, {"name", "size"});
    if (s.isOk())
      s = getString(partValue, partPath, "name", /*required=*/true, part.name);
    if (s.isOk() && part.name.empty())
      s = fieldError(join(partPath, "name"), "must not be empty");
    if (s.isOk())
      s = getInteger(partValue, partPath, "size", /*required=*/true,
                     /*minValue=*/1, part.size);
    if (s.isError())
      return s;
    // The parts are distinct tensors; a repeated one is a compiler bug, not
    // a tied weight.
    auto inserted = partByName.emplace(part.name, i);
    if (!inserted.second)
      return fieldError(join(partPath, "name"),
                        quote(part.name) + " repeats the name of part " +
                            std::to_string(inserted.first->second));
    // Each size is at most total, so the sum cannot overflow.
    if (part.size > total - sum)
      return fieldError(partsPath,
                        "sizes sum to more than " + std::to_string(total) +
                            " (dimension " + std::to_string(spec.axis) +
                            " of the shape " + shapeText(input.shape) + ")");
    sum += part.size;
  }
  if (sum != total)
    return fieldError(partsPath,
                      "sizes sum to " + std::to_string(sum) + ", not " +
                          std::to_string(total) + " (dimension " +
                          std::to_string(spec.axis) + " of the shape " +
                          shapeText(input.shape) + ")");
  input.concat = std::move(spec);
  return Status::success();
}

std::vector<int64_t> InputSpec::getBufferShape() const {
  if (!packing)
    return shape;
  int64_t n = shape[packing->outIn ? 0 : 1];
  int64_t k = shape[packing->outIn ? 1 : 0];
  return {(n + packing->panel - 1) / packing->panel, k, packing->panel};
}

Status ManifestParser::parseResult(const Json &value, const std::string &path,
                                   ResultSpec &result) const {
  if (!value.is_object())
    return fieldError(path, "must be an object, got " + describe(value));
  Status s = checkKeys(value, path, {"name", "dtype", "shape"});
  if (s.isOk())
    s = getString(value, path, "name", /*required=*/true, result.name);
  if (s.isError())
    return s;
  if (result.name.empty())
    return fieldError(join(path, "name"), "must not be empty");
  s = getElementType(value, path, result.dtype);
  if (s.isOk())
    s = getShape(value, path, result.dtype, result.shape);
  return s;
}

Status ManifestParser::parseEntryPoint(const Json &value,
                                       const std::string &path,
                                       EntryPoint &entry) const {
  if (!value.is_object())
    return fieldError(path, "must be an object, got " + describe(value));
  Status s =
      checkKeys(value, path, {"name", "symbol", "inputs", "results", "arena"});
  if (s.isOk())
    s = getString(value, path, "name", /*required=*/true, entry.name);
  if (s.isError())
    return s;
  if (entry.name.empty())
    return fieldError(join(path, "name"), "must not be empty");
  s = getString(value, path, "symbol", /*required=*/true, entry.symbol);
  if (s.isError())
    return s;
  if (!isIdentifier(entry.symbol))
    return fieldError(join(path, "symbol"),
                      "must be a C identifier, got " + quote(entry.symbol));

  const Json *inputs = nullptr;
  s = getArray(value, path, "inputs", inputs);
  if (s.isError())
    return s;
  std::map<std::string, size_t> inputByName;
  for (size_t i = 0; i < inputs->size(); ++i) {
    std::string inputPath = index(join(path, "inputs"), i);
    InputSpec &input = entry.inputs.emplace_back();
    s = parseInput((*inputs)[i], inputPath, input);
    if (s.isError())
      return s;
    auto inserted = inputByName.emplace(input.name, i);
    if (inserted.second)
      continue;
    // Two params may name the same checkpoint tensor (tied weights); any
    // other repetition is a mistake.
    const InputSpec &first = entry.inputs[inserted.first->second];
    if (input.kind != InputKind::Param || first.kind != InputKind::Param)
      return fieldError(join(inputPath, "name"),
                        quote(input.name) + " repeats the name of input " +
                            std::to_string(inserted.first->second));
    if (input.dtype != first.dtype || input.shape != first.shape)
      return fieldError(inputPath, "binds param " + quote(input.name) +
                                       " again with another dtype or shape "
                                       "than input " +
                                       std::to_string(inserted.first->second));
    // The name keys the bound buffer (bindWeights), so it must also stand
    // for one concatenation.
    if (input.concat != first.concat)
      return fieldError(inputPath, "binds param " + quote(input.name) +
                                       " again with another concatenation "
                                       "than input " +
                                       std::to_string(inserted.first->second));
  }

  const Json *results = nullptr;
  s = getArray(value, path, "results", results);
  if (s.isError())
    return s;
  if (results->empty())
    return fieldError(join(path, "results"), "must not be empty");
  std::set<std::string> resultNames;
  for (size_t i = 0; i < results->size(); ++i) {
    std::string resultPath = index(join(path, "results"), i);
    ResultSpec &result = entry.results.emplace_back();
    s = parseResult((*results)[i], resultPath, result);
    if (s.isError())
      return s;
    if (!resultNames.insert(result.name).second)
      return fieldError(join(resultPath, "name"),
                        quote(result.name) + " repeats another result's name");
  }

  // The arena's size goes with an arena input, and only with one.
  size_t arenas = std::count_if(
      entry.inputs.begin(), entry.inputs.end(),
      [](const InputSpec &input) { return input.kind == InputKind::Arena; });
  if (arenas > 1)
    return fieldError(join(path, "inputs"), "has more than one arena");
  if (arenas != static_cast<size_t>(value.contains("arena")))
    return fieldError(path, arenas ? "has an arena input but no 'arena' sizes"
                                   : "has 'arena' sizes but no arena input");
  if (arenas) {
    const Json *arena = nullptr;
    s = getObject(value, path, "arena", arena);
    std::string arenaPath = join(path, "arena");
    int64_t fixed = 0, perSequence = 0;
    if (s.isOk())
      s = checkKeys(*arena, arenaPath,
                    {"fixed_bytes", "bytes_per_sequence", "max_seq",
                     "total_bytes", "live_bytes", "result_bytes"});
    if (s.isOk())
      s = getInteger(*arena, arenaPath, "fixed_bytes", /*required=*/true, 0,
                     fixed);
    if (s.isOk())
      s = getInteger(*arena, arenaPath, "bytes_per_sequence",
                     /*required=*/true, 0, perSequence);
    if (s.isError())
      return s;
    entry.arenaFixedBytes = static_cast<uint64_t>(fixed);
    entry.arenaBytesPerSequence = static_cast<uint64_t>(perSequence);
  }
  return Status::success();
}

uint64_t EntryPoint::getArenaBytes(int64_t batch) const {
  uint64_t bytes = 0;
  if (batch < 0 ||
      __builtin_mul_overflow(static_cast<uint64_t>(batch),
                             arenaBytesPerSequence, &bytes) ||
      __builtin_add_overflow(bytes, arenaFixedBytes, &bytes))
    return 0;
  return bytes;
}

Status ManifestParser::parse(const Json &root, Manifest &manifest) {
  if (!root.is_object())
    return fail("the manifest must be a JSON object, got " + describe(root));
  Status s = checkKeys(root, "",
                       {"format", "abi_version", "library", "target", "model",
                        "arena_bytes", "entry_points"});
  if (s.isError())
    return s;

  // The format and the version come first: a manifest from another tool or
  // another ABI should be reported as such, not by its first odd field.
  s = getString(root, "", "format", /*required=*/true, manifest.format);
  if (s.isError())
    return s;
  if (manifest.format != ArtifactFormat)
    return fieldError("format", "is " + quote(manifest.format) +
                                    ", expected '" + ArtifactFormat +
                                    "' (not an llm-opt artifact manifest)");
  s = getInteger(root, "", "abi_version", /*required=*/true,
                 std::numeric_limits<int64_t>::min(), manifest.abiVersion);
  if (s.isError())
    return s;
  if (manifest.abiVersion != ArtifactAbiVersion)
    return fieldError("abi_version",
                      "is " + std::to_string(manifest.abiVersion) +
                          ", but this runtime implements ABI version " +
                          std::to_string(ArtifactAbiVersion));

  s = parseLibrary(root, manifest);
  if (s.isError())
    return s;

  const Json *target = nullptr;
  s = getObject(root, "", "target", target);
  if (s.isOk())
    s = getString(*target, "target", "triple", /*required=*/true,
                  manifest.target.triple);
  if (s.isOk())
    s = getString(*target, "target", "cpu", /*required=*/false,
                  manifest.target.cpu);
  if (s.isOk())
    s = getString(*target, "target", "features", /*required=*/false,
                  manifest.target.features);
  if (s.isError())
    return s;

  const Json *model = nullptr;
  s = getObject(root, "", "model", model);
  if (s.isOk())
    s = getString(*model, "model", "family", /*required=*/true,
                  manifest.model.family);
  if (s.isOk())
    s = getInteger(*model, "model", "vocab_size", /*required=*/true, 1,
                   manifest.model.vocabSize);
  if (s.isOk())
    s = getInteger(*model, "model", "max_positions", /*required=*/false, 1,
                   manifest.model.maxPositions);
  if (s.isOk())
    s = getInteger(*model, "model", "num_labels", /*required=*/false, 1,
                   manifest.model.numLabels);
  if (s.isOk())
    s = getInteger(*model, "model", "type_vocab_size", /*required=*/false, 1,
                   manifest.model.typeVocabSize);
  std::string classifyToken = "last";
  if (s.isOk())
    s = getString(*model, "model", "classify_token", /*required=*/false,
                  classifyToken);
  if (s.isOk() && classifyToken != "first" && classifyToken != "last")
    s = fail("model.classify_token must be \"first\" or \"last\", got " +
             quote(classifyToken));
  if (s.isError())
    return s;
  manifest.model.classifiesFirstToken = classifyToken == "first";

  int64_t arenaBytes = 0;
  s = getInteger(root, "", "arena_bytes", /*required=*/false, 0, arenaBytes);
  if (s.isError())
    return s;
  manifest.arenaBytes = static_cast<uint64_t>(arenaBytes);

  const Json *entries = nullptr;
  s = getArray(root, "", "entry_points", entries);
  if (s.isError())
    return s;
  if (entries->empty())
    return fieldError("entry_points", "must not be empty");
  std::map<std::string, size_t> byName, bySymbol;
  for (size_t i = 0; i < entries->size(); ++i) {
    std::string path = index("entry_points", i);
    EntryPoint &entry = manifest.entryPoints.emplace_back();
    s = parseEntryPoint((*entries)[i], path, entry);
    if (s.isError())
      return s;
    auto name = byName.emplace(entry.name, i);
    if (!name.second)
      return fieldError(join(path, "name"),
                        quote(entry.name) +
                            " repeats the name of entry point " +
                            std::to_string(name.first->second));
    auto symbol = bySymbol.emplace(entry.symbol, i);
    if (!symbol.second)
      return fieldError(join(path, "symbol"),
                        quote(entry.symbol) +
                            " repeats the symbol of entry point " +
                            std::to_string(symbol.first->second));
  }
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Public API
//===----------------------------------------------------------------------===//

const char *llm::rt::getElementTypeName(ElementType type) {
  for (const ElementTypeInfo &info : elementTypes)
    if (info.type == type)
      return info.name;
  return "?";
}

uint64_t llm::rt::getElementTypeSize(ElementType type) {
  for (const ElementTypeInfo &info : elementTypes)
    if (info.type == type)
      return info.size;
  return 0;
}

const char *llm::rt::getInputKindName(InputKind kind) {
  for (const InputKindInfo &info : inputKinds)
    if (info.kind == kind)
      return info.name;
  return "?";
}

const EntryPoint *Manifest::findEntryPoint(std::string_view name) const {
  for (const EntryPoint &entry : entryPoints)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

Expected<Manifest> llm::rt::parseManifest(std::string_view text,
                                          const std::string &sourceName) {
  try {
    Json root;
    Status s = parseJsonStrict(text.data(), text.data() + text.size(),
                               sourceName, root);
    if (s.isError())
      return s.withDefaultCode(ErrorCode::Artifact);
    Manifest manifest;
    ManifestParser parser(sourceName);
    s = parser.parse(root, manifest);
    if (s.isError())
      return s;
    return manifest;
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         sourceName + ": out of memory");
  } catch (const std::exception &e) {
    return Status::error(ErrorCode::Artifact,
                         sourceName + ": unexpected error: " + e.what());
  }
}

Expected<Manifest> llm::rt::readManifest(const std::string &path) {
  Expected<std::string> text = readSmallFile(path, MaxManifestSize);
  if (!text)
    return text.getStatus().withDefaultCode(ErrorCode::Artifact);
  return parseManifest(*text, path);
}
