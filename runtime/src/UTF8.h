//===- UTF8.h - UTF-8 decoding with replacement -----------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Private helpers of the tokenizers (not installed): a UTF-8 decoder that
// replaces each maximal ill-formed subpart with U+FFFD, the policy of the
// Unicode standard (chapter 3, "U+FFFD Substitution of Maximal Subparts"),
// WHATWG's TextDecoder, node's Buffer.toString and Python's
// bytes.decode('utf-8', errors='replace'); and the reader of the tokenizers'
// text files, which refuses invalid UTF-8 naming the line and column.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_SRC_UTF8_H
#define LLM_RUNTIME_SRC_UTF8_H

#include "llm/runtime/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llm {
namespace rt {
namespace detail {

/// U+FFFD REPLACEMENT CHARACTER.
constexpr char32_t ReplacementChar = 0xFFFD;

/// The outcome of decoding one character at a position of a byte string.
struct Utf8Char {
  enum Kind : uint8_t {
    Valid,     ///< A well-formed sequence of `length` bytes encoding `cp`.
    Invalid,   ///< A maximal ill-formed subpart of `length` bytes.
    Truncated, ///< The bytes end inside a sequence that was still valid.
  };
  Kind kind = Valid;
  /// The bytes consumed: the whole sequence (Valid), the maximal subpart
  /// (Invalid, at least 1), or what is left of the input (Truncated).
  uint8_t length = 0;
  /// The code point; U+FFFD unless Valid.
  char32_t cp = ReplacementChar;
};

/// Decodes the character of \p text at byte offset \p pos < text.size().
Utf8Char decodeUtf8Char(std::string_view text, size_t pos);

/// Appends the UTF-8 encoding of \p cp (a Unicode scalar value) to \p out.
void appendUtf8(std::string &out, char32_t cp);

/// Returns the offset of the first byte of \p text that is not part of a
/// well-formed UTF-8 sequence, or std::nullopt if \p text is valid UTF-8.
std::optional<size_t> findInvalidUtf8(std::string_view text);

/// Returns \p text with each maximal ill-formed subpart replaced by U+FFFD
/// (a truncated sequence at the end counts as one).
std::string replaceInvalidUtf8(std::string_view text);

/// Returns "LINE:COLUMN" (both from 1, the column counted in bytes) of byte
/// \p offset of \p text.
std::string lineColumnText(std::string_view text, size_t offset);

/// Renders the valid UTF-8 \p text for a message: quoted, with ASCII
/// control characters, quotes and backslashes escaped, and shortened to
/// about 80 bytes on a character boundary.
std::string quoteUtf8(std::string_view text);

/// Reads the whole regular file \p path of at most \p maxSize bytes and
/// checks that it is valid UTF-8. Errors start with "<path>: " and have
/// code IO, except invalid UTF-8: "<path>:LINE:COLUMN: ..." with code
/// Artifact.
Expected<std::string> readUtf8File(const std::string &path, uint64_t maxSize);

} // namespace detail
} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_SRC_UTF8_H
