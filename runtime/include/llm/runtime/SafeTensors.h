//===- SafeTensors.h - safetensors checkpoint reader/writer -----*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares the runtime's reader and writer for the safetensors
// checkpoint format (https://github.com/huggingface/safetensors):
//
//   [8 bytes: little-endian u64 N][N bytes: UTF-8 JSON header][data section]
//
// The header maps tensor names to {"dtype", "shape", "data_offsets"} and may
// hold a "__metadata__" object of string to string. data_offsets are relative
// to the start of the data section.
//
// SafeTensorsFile maps one file read-only and validates it completely before
// handing out views; SafeTensorsModel gives one lookup over a single file or a
// sharded checkpoint described by model.safetensors.index.json. All entry
// points report failures through Status/Expected; none throws.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_SAFETENSORS_H
#define LLM_RUNTIME_SAFETENSORS_H

#include "llm/runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llm {
namespace rt {

/// Element types of the safetensors format. Each enumerator corresponds to one
/// dtype string of the format (see getDTypeName()).
enum class DType : uint8_t {
  Bool,   ///< "BOOL"
  U8,     ///< "U8"
  I8,     ///< "I8"
  F8E5M2, ///< "F8_E5M2"
  F8E4M3, ///< "F8_E4M3"
  F8E8M0, ///< "F8_E8M0"
  I16,    ///< "I16"
  U16,    ///< "U16"
  F16,    ///< "F16"
  BF16,   ///< "BF16"
  I32,    ///< "I32"
  U32,    ///< "U32"
  F32,    ///< "F32"
  I64,    ///< "I64"
  U64,    ///< "U64"
  F64,    ///< "F64"
};

/// Returns the size in bytes of one element of \p dtype.
uint64_t getDTypeSize(DType dtype);

/// Returns the safetensors dtype string of \p dtype, e.g. "BF16".
const char *getDTypeName(DType dtype);

/// Parses a safetensors dtype string (case-sensitive, e.g. "F32"). Returns
/// std::nullopt for an unknown string.
std::optional<DType> parseDType(std::string_view name);

/// A read-only view of one tensor inside a mapped safetensors file. The data
/// pointer stays valid as long as the owning SafeTensorsFile is alive.
struct TensorView {
  /// The tensor's name as written in the header.
  std::string name;
  /// The element type.
  DType dtype = DType::F32;
  /// The dimensions; empty for a scalar. Every dimension is non-negative.
  std::vector<int64_t> shape;
  /// The first byte of the tensor's data (row-major, little-endian). Never
  /// null, but points at no readable byte when byteSize is 0.
  const uint8_t *data = nullptr;
  /// The size of the data in bytes (element count times element size).
  uint64_t byteSize = 0;
  /// The absolute offset of the data from the start of the file.
  uint64_t fileOffset = 0;

  /// Returns the number of elements (1 for a scalar, the product of shape
  /// otherwise). Cannot overflow for a view obtained from SafeTensorsFile.
  uint64_t getNumElements() const;
};

/// A safetensors file mapped read-only into memory and fully validated.
class SafeTensorsFile {
public:
  /// The largest accepted header length in bytes (the limit used by the
  /// reference implementation).
  static constexpr uint64_t MaxHeaderSize = 100'000'000;

  /// Opens, maps and validates the file at \p path. Every structural problem
  /// (bad header, bad entry, offsets that overlap, leave gaps, exceed the file
  /// or disagree with the shape) is reported as an error naming the file.
  static Expected<std::unique_ptr<SafeTensorsFile>>
  open(const std::string &path);

  ~SafeTensorsFile();
  SafeTensorsFile(const SafeTensorsFile &) = delete;
  SafeTensorsFile &operator=(const SafeTensorsFile &) = delete;

  /// Returns the tensor called \p name, or null if the file has none.
  const TensorView *lookup(const std::string &name) const;

  /// Returns all tensors in file order (by increasing data offset; tensors of
  /// size zero sharing an offset are ordered by name).
  const std::vector<TensorView> &getTensors() const { return tensors; }

  /// Returns the string-to-string "__metadata__" map (empty if absent).
  const std::map<std::string, std::string> &getMetadata() const {
    return metadata;
  }

  /// Returns the path the file was opened with.
  const std::string &getPath() const { return path; }

  /// Returns the size of the file in bytes.
  uint64_t getFileSize() const { return fileSize; }

  /// Returns the header length N (excluding the 8-byte length prefix).
  uint64_t getHeaderSize() const { return headerSize; }

  /// Returns the absolute file offset of the data section (8 + N).
  uint64_t getDataSectionOffset() const { return 8 + headerSize; }

private:
  SafeTensorsFile() = default;
  Status parse();

  std::string path;
  void *mapping = nullptr;
  uint64_t fileSize = 0;
  uint64_t headerSize = 0;
  std::vector<TensorView> tensors;
  std::unordered_map<std::string, size_t> byName;
  std::map<std::string, std::string> metadata;
};

/// A checkpoint made of one or more safetensors files, with a single lookup
/// over all of them.
class SafeTensorsModel {
public:
  /// Opens a checkpoint. \p path may be:
  ///   - a folder holding model.safetensors (preferred when both exist) or
  ///     model.safetensors.index.json;
  ///   - a sharded index file (a name ending in ".json");
  ///   - a single safetensors file.
  ///
  /// For an index, "weight_map" maps tensor names to shard file names relative
  /// to the index's folder. Shard names must stay inside that folder: absolute
  /// names, ".." components and symlinks resolving outside are refused. Each
  /// listed tensor must be present in the shard the index names, and no
  /// tensor name may appear in two shards.
  static Expected<std::unique_ptr<SafeTensorsModel>>
  open(const std::string &path);

  /// Returns the tensor called \p name in any shard, or null.
  const TensorView *lookup(const std::string &name) const;

  /// Returns the file holding the tensor called \p name, or null.
  const SafeTensorsFile *getFileOf(const std::string &name) const;

  /// Returns all tensors: shard by shard, each shard in file order.
  const std::vector<const TensorView *> &getTensors() const { return tensors; }

  /// Returns the opened files; shards are ordered by file name.
  const std::vector<std::unique_ptr<SafeTensorsFile>> &getShards() const {
    return shards;
  }

  /// Returns true if the model was opened through an index file.
  bool isSharded() const { return sharded; }

  /// Returns the index's "metadata" object with each value as a string
  /// (JSON strings verbatim, other values serialized as JSON). Empty for a
  /// single-file model; use getShards() for each file's "__metadata__".
  const std::map<std::string, std::string> &getIndexMetadata() const {
    return indexMetadata;
  }

private:
  SafeTensorsModel() = default;
  Status addFile(std::unique_ptr<SafeTensorsFile> file);

  bool sharded = false;
  std::vector<std::unique_ptr<SafeTensorsFile>> shards;
  std::vector<const TensorView *> tensors;
  std::unordered_map<std::string, std::pair<const TensorView *, size_t>> byName;
  std::map<std::string, std::string> indexMetadata;
};

/// One tensor to be written by writeSafeTensors().
struct TensorToWrite {
  /// The tensor's name; must be unique, valid UTF-8 and not "__metadata__".
  std::string name;
  /// The element type.
  DType dtype = DType::F32;
  /// The dimensions; empty for a scalar. Every dimension must be >= 0.
  std::vector<int64_t> shape;
  /// The tensor's bytes (row-major, little-endian); may be null only when
  /// byteSize is 0.
  const void *data = nullptr;
  /// Must equal the element count times the element size.
  uint64_t byteSize = 0;
};

/// Writes a safetensors file at \p path holding \p tensors (data laid out in
/// the given order) and \p metadata (as "__metadata__", omitted if empty). The
/// header is padded with spaces so that the data section starts at a multiple
/// of 8 bytes.
///
/// The write is atomic: the bytes go to a temporary file in the same folder,
/// which is fsync'ed and renamed over \p path, and then the folder is
/// fsync'ed. On failure the temporary file is removed and an existing file at
/// \p path is left untouched (unless only the final folder fsync fails, which
/// is reported after the rename has happened).
Status
writeSafeTensors(const std::string &path,
                 const std::vector<TensorToWrite> &tensors,
                 const std::map<std::string, std::string> &metadata = {});

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_SAFETENSORS_H
