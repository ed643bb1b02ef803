//===- SafeTensors.cpp - safetensors checkpoint reader/writer -------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file implements the safetensors reader (SafeTensorsFile,
// SafeTensorsModel) and the atomic writer (writeSafeTensors). The reader maps
// a file read-only and validates the whole header and the layout of the data
// section before exposing any view, so that no later access can read out of
// bounds. nlohmann-json parses the header; its exceptions are caught here and
// turned into Status errors.
//
// Limitation: like any mmap-based reader, a file truncated by another process
// while it is mapped makes later reads of the lost pages raise SIGBUS.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/SafeTensors.h"

#include "RuntimeSupport.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <set>
#include <system_error>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace llm::rt;
using namespace llm::rt::detail;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

struct DTypeInfo {
  DType dtype;
  const char *name;
  uint64_t size;
};

constexpr DTypeInfo dtypeTable[] = {
    {DType::Bool, "BOOL", 1},      {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},          {DType::F8E5M2, "F8_E5M2", 1},
    {DType::F8E4M3, "F8_E4M3", 1}, {DType::F8E8M0, "F8_E8M0", 1},
    {DType::I16, "I16", 2},        {DType::U16, "U16", 2},
    {DType::F16, "F16", 2},        {DType::BF16, "BF16", 2},
    {DType::I32, "I32", 4},        {DType::U32, "U32", 4},
    {DType::F32, "F32", 4},        {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},        {DType::F64, "F64", 8},
};

const DTypeInfo *findDType(DType dtype) {
  for (const DTypeInfo &info : dtypeTable)
    if (info.dtype == dtype)
      return &info;
  return nullptr;
}

/// Returns the offset of the first byte of \p data that is not part of a
/// well-formed UTF-8 sequence (no overlong forms, surrogates or code points
/// above U+10FFFF), or std::nullopt if all of \p data is valid.
std::optional<size_t> findInvalidUtf8(const uint8_t *data, size_t size) {
  size_t i = 0;
  while (i < size) {
    uint8_t c = data[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; // Allowed range of the second byte.
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0)
        lo = 0xa0;
      else if (c == 0xed)
        hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0)
        lo = 0x90;
      else if (c == 0xf4)
        hi = 0x8f;
    } else {
      return i;
    }
    if (size - i < len)
      return i;
    if (data[i + 1] < lo || data[i + 1] > hi)
      return i;
    for (size_t k = 2; k < len; ++k)
      if (data[i + k] < 0x80 || data[i + k] > 0xbf)
        return i;
    i += len;
  }
  return std::nullopt;
}

/// Returns the text "[b, e]" for a pair of offsets.
std::string rangeText(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

/// Reads an integer JSON value as uint64_t. Fails for non-integers and
/// negative values; \p isNegative is set for the latter.
bool getUnsigned(const Json &value, uint64_t &out, bool &isNegative) {
  isNegative = false;
  if (value.is_number_unsigned()) {
    out = value.get<uint64_t>();
    return true;
  }
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < 0) {
      isNegative = true;
      return false;
    }
    out = static_cast<uint64_t>(v);
    return true;
  }
  return false;
}

} // namespace

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

uint64_t llm::rt::getDTypeSize(DType dtype) {
  const DTypeInfo *info = findDType(dtype);
  return info ? info->size : 0;
}

const char *llm::rt::getDTypeName(DType dtype) {
  const DTypeInfo *info = findDType(dtype);
  return info ? info->name : "<invalid dtype>";
}

std::optional<DType> llm::rt::parseDType(std::string_view name) {
  for (const DTypeInfo &info : dtypeTable)
    if (name == info.name)
      return info.dtype;
  return std::nullopt;
}

uint64_t TensorView::getNumElements() const {
  uint64_t n = 1;
  for (int64_t dim : shape)
    n *= static_cast<uint64_t>(dim);
  return n;
}

//===----------------------------------------------------------------------===//
// SafeTensorsFile
//===----------------------------------------------------------------------===//

SafeTensorsFile::~SafeTensorsFile() {
  if (mapping)
    ::munmap(mapping, static_cast<size_t>(fileSize));
}

Expected<std::unique_ptr<SafeTensorsFile>>
SafeTensorsFile::open(const std::string &path) {
  try {
    std::unique_ptr<SafeTensorsFile> file(new SafeTensorsFile());
    file->path = path;

    uint64_t size = 0;
    Status error;
    int fd = openRegularFile(path, size, error);
    if (fd < 0)
      return error;
    if (size < 8) {
      ::close(fd);
      return Status::error(path + ": file is " + std::to_string(size) +
                           " bytes, too short for the 8-byte header length");
    }
    if (size > std::numeric_limits<size_t>::max()) {
      ::close(fd);
      return Status::error(path + ": file is too large to map");
    }
    void *map = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ,
                       MAP_PRIVATE, fd, 0);
    int mapErr = errno;
    ::close(fd);
    if (map == MAP_FAILED)
      return Status::error(path + ": cannot mmap: " + errnoText(mapErr));
    file->mapping = map;
    file->fileSize = size;

    Status s = file->parse();
    if (s.isError())
      return s;
    return {std::move(file)};
  } catch (const std::bad_alloc &) {
    return Status::error(path + ": out of memory");
  } catch (const std::exception &e) {
    return Status::error(path + ": unexpected error: " + e.what());
  }
}

Status SafeTensorsFile::parse() {
  const uint8_t *base = static_cast<const uint8_t *>(mapping);

  // Header length prefix.
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | base[i];
  if (n > MaxHeaderSize)
    return Status::error(path + ": header length " + std::to_string(n) +
                         " exceeds the limit of " +
                         std::to_string(MaxHeaderSize) + " bytes");
  if (n > fileSize - 8)
    return Status::error(path + ": header length " + std::to_string(n) +
                         " exceeds the file size (" + std::to_string(fileSize) +
                         " bytes, " + std::to_string(fileSize - 8) +
                         " after the length prefix)");
  headerSize = n;
  const uint64_t dataStart = 8 + n;
  const uint64_t dataSize = fileSize - dataStart;

  // Header text.
  const uint8_t *header = base + 8;
  if (std::optional<size_t> bad = findInvalidUtf8(header, n))
    return Status::error(path +
                         ": header is not valid UTF-8 (bad byte at "
                         "header offset " +
                         std::to_string(*bad) + ", file offset " +
                         std::to_string(8 + *bad) + ")");
  Json root;
  Status s = parseJsonStrict(reinterpret_cast<const char *>(header),
                             reinterpret_cast<const char *>(header + n),
                             path + ": header", root);
  if (s.isError())
    return s;
  if (!root.is_object())
    return Status::error(path + ": header is not a JSON object (it is " +
                         std::string(root.type_name()) + ")");

  // Entries.
  struct Entry {
    uint64_t begin, end;
    TensorView view;
  };
  std::vector<Entry> entries;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string &name = it.key();
    const Json &value = it.value();
    if (name == "__metadata__") {
      if (!value.is_object())
        return Status::error(path +
                             ": \"__metadata__\" must be a JSON object "
                             "of strings, not " +
                             std::string(value.type_name()));
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m.value().is_string())
          return Status::error(path + ": \"__metadata__\" value of key " +
                               quote(m.key()) + " must be a string, not " +
                               std::string(m.value().type_name()));
        metadata.emplace(m.key(), m.value().get<std::string>());
      }
      continue;
    }

    std::string where = path + ": tensor " + quote(name) + ": ";
    if (!value.is_object())
      return Status::error(where + "entry must be a JSON object, not " +
                           std::string(value.type_name()));

    // dtype
    auto dtypeIt = value.find("dtype");
    if (dtypeIt == value.end())
      return Status::error(where + "missing \"dtype\"");
    if (!dtypeIt->is_string())
      return Status::error(where + "\"dtype\" must be a string, not " +
                           std::string(dtypeIt->type_name()));
    const std::string &dtypeName = dtypeIt->get_ref<const std::string &>();
    std::optional<DType> dtype = parseDType(dtypeName);
    if (!dtype)
      return Status::error(where + "unknown dtype " + quote(dtypeName));

    // shape
    auto shapeIt = value.find("shape");
    if (shapeIt == value.end())
      return Status::error(where + "missing \"shape\"");
    if (!shapeIt->is_array())
      return Status::error(where + "\"shape\" must be an array, not " +
                           std::string(shapeIt->type_name()));
    std::vector<int64_t> shape;
    shape.reserve(shapeIt->size());
    uint64_t numElements = 1;
    bool countOverflow = false;
    for (size_t i = 0; i < shapeIt->size(); ++i) {
      const Json &dim = (*shapeIt)[i];
      uint64_t d = 0;
      bool isNegative = false;
      if (!getUnsigned(dim, d, isNegative)) {
        if (isNegative)
          return Status::error(where + "negative dimension " +
                               std::to_string(dim.get<int64_t>()) +
                               " at shape index " + std::to_string(i));
        return Status::error(where + "shape element " + std::to_string(i) +
                             " must be an integer, not " +
                             std::string(dim.type_name()));
      }
      if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return Status::error(where + "dimension " + std::to_string(d) +
                             " at shape index " + std::to_string(i) +
                             " is too large");
      shape.push_back(static_cast<int64_t>(d));
      if (!countOverflow && !checkedMul(numElements, d, numElements))
        countOverflow = true;
    }
    // A zero dimension makes the count 0 even if other dims overflowed.
    if (std::find(shape.begin(), shape.end(), 0) != shape.end()) {
      numElements = 0;
      countOverflow = false;
    }
    if (countOverflow)
      return Status::error(where + "element count of shape " +
                           shapeText(shape) + " overflows 64 bits");
    uint64_t elemSize = getDTypeSize(*dtype);
    uint64_t byteSize = 0;
    if (!checkedMul(numElements, elemSize, byteSize))
      return Status::error(where + "byte size of shape " + shapeText(shape) +
                           " x " + dtypeName + " overflows 64 bits");

    // data_offsets
    auto offIt = value.find("data_offsets");
    if (offIt == value.end())
      return Status::error(where + "missing \"data_offsets\"");
    if (!offIt->is_array() || offIt->size() != 2)
      return Status::error(
          where + "\"data_offsets\" must be an array of two integers, not " +
          (offIt->is_array()
               ? "an array of " + std::to_string(offIt->size()) + " elements"
               : std::string(offIt->type_name())));
    uint64_t offsets[2];
    for (size_t i = 0; i < 2; ++i) {
      const Json &off = (*offIt)[i];
      bool isNegative = false;
      if (!getUnsigned(off, offsets[i], isNegative)) {
        if (isNegative)
          return Status::error(where + "negative data offset " +
                               std::to_string(off.get<int64_t>()));
        return Status::error(
            where +
            "\"data_offsets\" elements must be non-negative integers, not " +
            std::string(off.type_name()));
      }
    }
    uint64_t begin = offsets[0], end = offsets[1];
    if (end < begin)
      return Status::error(where + "data_offsets " + rangeText(begin, end) +
                           " end before they begin");
    if (end - begin != byteSize)
      return Status::error(where + "shape " + shapeText(shape) + " x " +
                           dtypeName + " (" + std::to_string(elemSize) +
                           " bytes each) needs " + std::to_string(byteSize) +
                           " bytes but data_offsets " + rangeText(begin, end) +
                           " span " + std::to_string(end - begin));
    if (end > dataSize)
      return Status::error(
          where + "data_offsets " + rangeText(begin, end) +
          " are out of range of the data section, which holds only " +
          std::to_string(dataSize) + " bytes (file offsets " +
          std::to_string(dataStart) + ".." + std::to_string(fileSize) +
          "); the file is truncated or the offsets are wrong");

    Entry e;
    e.begin = begin;
    e.end = end;
    e.view.name = name;
    e.view.dtype = *dtype;
    e.view.shape = std::move(shape);
    e.view.data = base + dataStart + begin;
    e.view.byteSize = byteSize;
    e.view.fileOffset = dataStart + begin;
    entries.push_back(std::move(e));
  }

  // Layout: the tensors must tile the data section exactly.
  std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
    if (a.begin != b.begin)
      return a.begin < b.begin;
    if (a.end != b.end)
      return a.end < b.end;
    return a.view.name < b.view.name;
  });
  uint64_t expected = 0;
  const Entry *prev = nullptr;
  for (const Entry &e : entries) {
    if (e.begin < expected)
      return Status::error(
          path + ": tensor " + quote(e.view.name) + " (data_offsets " +
          rangeText(e.begin, e.end) + ", file offset " +
          std::to_string(dataStart + e.begin) + ") overlaps tensor " +
          quote(prev->view.name) + " (data_offsets " +
          rangeText(prev->begin, prev->end) + ")");
    if (e.begin > expected)
      return Status::error(
          path + ": gap of " + std::to_string(e.begin - expected) +
          " bytes in the data section before tensor " + quote(e.view.name) +
          " (data offset " + std::to_string(expected) + ", file offset " +
          std::to_string(dataStart + expected) + ")" +
          (prev ? " after tensor " + quote(prev->view.name) : std::string()));
    expected = e.end;
    prev = &e;
  }
  if (expected != dataSize)
    return Status::error(path + ": " + std::to_string(dataSize - expected) +
                         " trailing bytes after the last tensor (data offset " +
                         std::to_string(expected) + ", file offset " +
                         std::to_string(dataStart + expected) + ")");

  tensors.reserve(entries.size());
  for (Entry &e : entries) {
    byName.emplace(e.view.name, tensors.size());
    tensors.push_back(std::move(e.view));
  }
  return Status::success();
}

const TensorView *SafeTensorsFile::lookup(const std::string &name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &tensors[it->second];
}

//===----------------------------------------------------------------------===//
// SafeTensorsModel
//===----------------------------------------------------------------------===//

Status SafeTensorsModel::addFile(std::unique_ptr<SafeTensorsFile> file) {
  size_t shardIndex = shards.size();
  for (const TensorView &view : file->getTensors()) {
    auto inserted =
        byName.emplace(view.name, std::make_pair(&view, shardIndex));
    if (!inserted.second)
      return Status::error("tensor " + quote(view.name) + " appears in both " +
                           shards[inserted.first->second.second]->getPath() +
                           " and " + file->getPath());
    tensors.push_back(&view);
  }
  shards.push_back(std::move(file));
  return Status::success();
}

/// Checks that the shard name \p shard cannot name a file outside its folder
/// by its spelling alone.
static Status checkShardName(const std::string &shard,
                             const std::string &where) {
  if (shard.empty())
    return Status::error(where + ": empty file name");
  if (shard.find('\0') != std::string::npos)
    return Status::error(where + ": file name contains a NUL byte");
  if (shard.front() == '/')
    return Status::error(where + ": absolute paths are not allowed");
  size_t pos = 0;
  while (pos <= shard.size()) {
    size_t next = shard.find('/', pos);
    if (next == std::string::npos)
      next = shard.size();
    if (shard.compare(pos, next - pos, "..") == 0)
      return Status::error(where + ": \"..\" components are not allowed");
    pos = next + 1;
  }
  return Status::success();
}

Expected<std::unique_ptr<SafeTensorsModel>>
SafeTensorsModel::open(const std::string &path) {
  try {
    std::unique_ptr<SafeTensorsModel> model(new SafeTensorsModel());
    std::string filePath = path;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      int err = errno;
      return Status::error(path + ": cannot access: " + errnoText(err));
    }

    bool isIndex = endsWith(path, ".json");
    if (S_ISDIR(st.st_mode)) {
      std::string single = joinPath(path, "model.safetensors");
      std::string index = joinPath(path, "model.safetensors.index.json");
      struct stat sub;
      if (::stat(single.c_str(), &sub) == 0) {
        filePath = single;
        isIndex = false;
      } else if (::stat(index.c_str(), &sub) == 0) {
        filePath = index;
        isIndex = true;
      } else {
        return Status::error(path + ": folder holds neither "
                                    "model.safetensors nor "
                                    "model.safetensors.index.json");
      }
    }

    if (!isIndex) {
      Expected<std::unique_ptr<SafeTensorsFile>> file =
          SafeTensorsFile::open(filePath);
      if (!file)
        return file.getStatus();
      Status s = model->addFile(file.take());
      if (s.isError())
        return s;
      return {std::move(model)};
    }

    // Sharded checkpoint: read and check the index.
    model->sharded = true;
    Expected<std::string> text =
        readSmallFile(filePath, SafeTensorsFile::MaxHeaderSize);
    if (!text)
      return text.getStatus();
    const std::string &bytes = *text;
    if (std::optional<size_t> bad = findInvalidUtf8(
            reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size()))
      return Status::error(filePath + ": not valid UTF-8 (bad byte at offset " +
                           std::to_string(*bad) + ")");
    Json root;
    Status s = parseJsonStrict(bytes.data(), bytes.data() + bytes.size(),
                               filePath, root);
    if (s.isError())
      return s;
    if (!root.is_object())
      return Status::error(filePath + ": index is not a JSON object (it is " +
                           std::string(root.type_name()) + ")");

    auto metaIt = root.find("metadata");
    if (metaIt != root.end() && !metaIt->is_null()) {
      if (!metaIt->is_object())
        return Status::error(filePath +
                             ": \"metadata\" must be an object, not " +
                             std::string(metaIt->type_name()));
      for (auto m = metaIt->begin(); m != metaIt->end(); ++m)
        model->indexMetadata.emplace(m.key(), m.value().is_string()
                                                  ? m.value().get<std::string>()
                                                  : m.value().dump());
    }

    auto mapIt = root.find("weight_map");
    if (mapIt == root.end())
      return Status::error(filePath + ": missing \"weight_map\"");
    if (!mapIt->is_object())
      return Status::error(filePath +
                           ": \"weight_map\" must be an object, not " +
                           std::string(mapIt->type_name()));

    std::string dir, base;
    splitPath(filePath, dir, base);
    Expected<std::string> dirReal = resolvePath(dir);
    if (!dirReal)
      return Status::error(dir +
                           ": cannot resolve folder: " + dirReal.message());
    std::string prefix = *dirReal == "/" ? "/" : *dirReal + "/";

    // Check every shard name and where it resolves to.
    std::map<std::string, std::string> firstTensorOfShard;
    for (auto it = mapIt->begin(); it != mapIt->end(); ++it) {
      if (!it.value().is_string())
        return Status::error(filePath + ": weight_map entry for tensor " +
                             quote(it.key()) + " must be a string, not " +
                             std::string(it.value().type_name()));
      firstTensorOfShard.emplace(it.value().get<std::string>(), it.key());
    }
    std::map<std::string, std::string> realOfShard;
    for (const auto &entry : firstTensorOfShard) {
      const std::string &shard = entry.first;
      std::string where = filePath + ": shard " + quote(shard) +
                          " (for tensor " + quote(entry.second) + ")";
      Status nameOk = checkShardName(shard, where);
      if (nameOk.isError())
        return nameOk;
      std::string full = joinPath(dir, shard);
      Expected<std::string> real = resolvePath(full);
      if (!real)
        return Status::error(where + ": cannot open " + full + ": " +
                             real.message());
      if (real->compare(0, prefix.size(), prefix) != 0)
        return Status::error(where + ": resolves to " + *real +
                             ", outside the folder " + *dirReal);
      realOfShard.emplace(shard, *real);
    }

    // Open each distinct file once, in order of shard name (names that
    // resolve to the same file are one shard).
    std::map<std::string, size_t> shardOfReal;
    for (const auto &entry : realOfShard) {
      const std::string &real = entry.second;
      if (shardOfReal.count(real))
        continue;
      Expected<std::unique_ptr<SafeTensorsFile>> file =
          SafeTensorsFile::open(real);
      if (!file)
        return file.getStatus();
      shardOfReal.emplace(real, model->shards.size());
      Status added = model->addFile(file.take());
      if (added.isError())
        return Status::error(filePath + ": " + added.message());
    }

    // Every listed tensor must live in the shard the index names.
    for (auto it = mapIt->begin(); it != mapIt->end(); ++it) {
      const std::string &shard = it.value().get_ref<const std::string &>();
      const SafeTensorsFile &file =
          *model->shards[shardOfReal.at(realOfShard.at(shard))];
      if (!file.lookup(it.key()))
        return Status::error(filePath + ": weight_map maps tensor " +
                             quote(it.key()) + " to shard " + quote(shard) +
                             " (" + file.getPath() +
                             "), which has no such tensor");
    }
    return {std::move(model)};
  } catch (const std::bad_alloc &) {
    return Status::error(path + ": out of memory");
  } catch (const std::exception &e) {
    return Status::error(path + ": unexpected error: " + e.what());
  }
}

const TensorView *SafeTensorsModel::lookup(const std::string &name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : it->second.first;
}

const SafeTensorsFile *
SafeTensorsModel::getFileOf(const std::string &name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : shards[it->second.second].get();
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

/// Builds the (unpadded) JSON header for writeSafeTensors, checking every
/// tensor on the way.
static Status buildHeader(const std::string &path,
                          const std::vector<TensorToWrite> &tensors,
                          const std::map<std::string, std::string> &metadata,
                          std::string &header) {
  header = "{";
  bool first = true;
  try {
    if (!metadata.empty()) {
      header += "\"__metadata__\":{";
      bool firstMeta = true;
      for (const auto &kv : metadata) {
        if (!firstMeta)
          header += ",";
        firstMeta = false;
        header += Json(kv.first).dump() + ":" + Json(kv.second).dump();
      }
      header += "}";
      first = false;
    }
    std::set<std::string_view> names;
    uint64_t offset = 0;
    for (const TensorToWrite &t : tensors) {
      std::string where = path + ": tensor " + quote(t.name) + ": ";
      if (t.name == "__metadata__")
        return Status::error(where + "the name is reserved");
      if (!names.insert(t.name).second)
        return Status::error(where + "duplicate tensor name");
      uint64_t elemSize = getDTypeSize(t.dtype);
      if (elemSize == 0)
        return Status::error(where + "invalid dtype");
      uint64_t numElements = 1;
      bool overflow = false, hasZero = false;
      for (int64_t dim : t.shape) {
        if (dim < 0)
          return Status::error(where + "negative dimension " +
                               std::to_string(dim));
        hasZero |= dim == 0;
        if (!overflow &&
            !checkedMul(numElements, static_cast<uint64_t>(dim), numElements))
          overflow = true;
      }
      if (hasZero)
        numElements = 0;
      else if (overflow)
        return Status::error(where + "element count overflows 64 bits");
      uint64_t byteSize = 0;
      if (!checkedMul(numElements, elemSize, byteSize))
        return Status::error(where + "byte size overflows 64 bits");
      if (byteSize != t.byteSize)
        return Status::error(where + "shape " + shapeText(t.shape) + " x " +
                             getDTypeName(t.dtype) + " needs " +
                             std::to_string(byteSize) + " bytes, but " +
                             std::to_string(t.byteSize) + " were given");
      if (byteSize > 0 && !t.data)
        return Status::error(where + "null data");
      uint64_t end = 0;
      if (!checkedAdd(offset, byteSize, end))
        return Status::error(where + "data section size overflows 64 bits");

      if (!first)
        header += ",";
      first = false;
      header += Json(t.name).dump();
      header += ":{\"dtype\":\"";
      header += getDTypeName(t.dtype);
      header += "\",\"shape\":[";
      for (size_t i = 0; i < t.shape.size(); ++i) {
        if (i)
          header += ",";
        header += std::to_string(t.shape[i]);
      }
      header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
                std::to_string(end) + "]}";
      offset = end;
    }
  } catch (const Json::exception &e) {
    return Status::error(path + ": cannot encode header: " + e.what());
  }
  header += "}";
  return Status::success();
}

Status
llm::rt::writeSafeTensors(const std::string &path,
                          const std::vector<TensorToWrite> &tensors,
                          const std::map<std::string, std::string> &metadata) {
  try {
    std::string header;
    Status s = buildHeader(path, tensors, metadata, header);
    if (s.isError())
      return s;
    // Pad so that the data section (at 8 + N) is 8-byte aligned.
    while (header.size() % 8 != 0)
      header += ' ';
    if (header.size() > SafeTensorsFile::MaxHeaderSize)
      return Status::error(path + ": header would be " +
                           std::to_string(header.size()) +
                           " bytes, over the limit of " +
                           std::to_string(SafeTensorsFile::MaxHeaderSize));
    uint8_t prefix[8];
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i)
      prefix[i] = static_cast<uint8_t>(n >> (8 * i));

    std::vector<ByteRange> pieces;
    pieces.reserve(tensors.size() + 2);
    pieces.push_back({prefix, sizeof(prefix)});
    pieces.push_back({header.data(), header.size()});
    for (const TensorToWrite &t : tensors)
      pieces.push_back({t.data, t.byteSize});
    return writeFileAtomically(path, pieces);
  } catch (const std::bad_alloc &) {
    return Status::error(path + ": out of memory");
  } catch (const std::exception &e) {
    return Status::error(path + ": unexpected error: " + e.what());
  }
}
