//===- RuntimeSupport.h - Helpers shared by the runtime sources -*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Private helpers of the runtime library (not installed, not part of its
// API): checked arithmetic, path handling, small-file reading, strict JSON
// parsing, quoting of untrusted names for messages, and the atomic file
// writer behind writeSafeTensors and writeNpy.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_SRC_RUNTIMESUPPORT_H
#define LLM_RUNTIME_SRC_RUNTIMESUPPORT_H

#include "llm/runtime/Status.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llm {
namespace rt {
namespace detail {

using Json = nlohmann::json;

/// Returns the text of errno value \p err.
std::string errnoText(int err);

/// Renders \p s for an error message: quoted, with non-printable bytes
/// escaped and very long names shortened.
std::string quote(std::string_view s);

/// Sets \p out to a * b; returns false if the product overflows uint64_t.
bool checkedMul(uint64_t a, uint64_t b, uint64_t &out);

/// Sets \p out to a + b; returns false if the sum overflows uint64_t.
bool checkedAdd(uint64_t a, uint64_t b, uint64_t &out);

/// Returns the text of a shape, e.g. "[2, 3]".
std::string shapeText(const std::vector<int64_t> &shape);

/// Splits \p path into its folder ("." if none) and final component.
void splitPath(const std::string &path, std::string &dir, std::string &base);

/// Joins a folder and a name with exactly one '/'.
std::string joinPath(const std::string &dir, const std::string &name);

/// Returns true if \p s ends with \p suffix.
bool endsWith(std::string_view s, std::string_view suffix);

/// Returns the canonical absolute form of \p path (symlinks resolved); the
/// error message is the errno text alone.
Expected<std::string> resolvePath(const std::string &path);

/// Opens \p path read-only and checks that it is a regular file. Returns the
/// descriptor (>= 0) and its size, or -1 with \p error set.
int openRegularFile(const std::string &path, uint64_t &size, Status &error);

/// Reads a whole regular file of at most \p maxSize bytes.
Expected<std::string> readSmallFile(const std::string &path, uint64_t maxSize);

/// Parses [begin, end) as JSON into \p out, rejecting NUL bytes and objects
/// with duplicate keys. \p what names the text in error messages.
Status parseJsonStrict(const char *begin, const char *end,
                       const std::string &what, Json &out);

/// Returns the machine's physical memory in bytes, or 0 if unknown.
uint64_t getPhysicalMemoryBytes();

/// Returns "N bytes (X.Y GiB)" for a message.
std::string byteCountText(uint64_t bytes);

/// One piece of the bytes that writeFileAtomically() writes.
struct ByteRange {
  const void *data = nullptr;
  uint64_t size = 0;
};

/// Writes the concatenation of \p pieces to \p path atomically: a temporary
/// file in the same folder is written, fsync'ed and renamed over \p path,
/// then the folder is fsync'ed. On failure the temporary file is removed and
/// an existing file at \p path is left untouched (unless only the final
/// folder fsync fails, which is reported after the rename has happened).
/// Every message starts with "<path>: ".
Status writeFileAtomically(const std::string &path,
                           const std::vector<ByteRange> &pieces);

} // namespace detail
} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_SRC_RUNTIMESUPPORT_H
