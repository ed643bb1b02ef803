//===- UTF8.cpp - UTF-8 decoding with replacement for the tokenizers ------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Implements the helpers declared in UTF8.h. The decoder follows the WHATWG
// "UTF-8 decoder" algorithm step by step: the second byte's allowed range
// depends on the lead byte (which rules out overlong forms, surrogates and
// code points above U+10FFFF), and a byte that does not continue a sequence
// ends the ill-formed subpart without being consumed.
//
//===----------------------------------------------------------------------===//

#include "UTF8.h"

#include "RuntimeSupport.h"

using namespace llm::rt;
using namespace llm::rt::detail;

Utf8Char llm::rt::detail::decodeUtf8Char(std::string_view text, size_t pos) {
  auto byteAt = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  uint8_t lead = byteAt(pos);
  Utf8Char result;
  if (lead < 0x80) {
    result.kind = Utf8Char::Valid;
    result.length = 1;
    result.cp = lead;
    return result;
  }

  unsigned needed;
  uint8_t lower = 0x80, upper = 0xBF; // Allowed range of the second byte.
  char32_t cp;
  if (lead >= 0xC2 && lead <= 0xDF) {
    needed = 1;
    cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    needed = 2;
    cp = lead & 0x0F;
    if (lead == 0xE0)
      lower = 0xA0;
    else if (lead == 0xED)
      upper = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    needed = 3;
    cp = lead & 0x07;
    if (lead == 0xF0)
      lower = 0x90;
    else if (lead == 0xF4)
      upper = 0x8F;
  } else {
    // A continuation byte, C0/C1 (always overlong) or F5..FF.
    result.kind = Utf8Char::Invalid;
    result.length = 1;
    return result;
  }

  size_t i = pos + 1;
  for (unsigned k = 0; k < needed; ++k, ++i) {
    if (i == text.size()) {
      result.kind = Utf8Char::Truncated;
      result.length = static_cast<uint8_t>(i - pos);
      return result;
    }
    uint8_t byte = byteAt(i);
    if (byte < lower || byte > upper) {
      result.kind = Utf8Char::Invalid;
      result.length = static_cast<uint8_t>(i - pos);
      return result;
    }
    lower = 0x80;
    upper = 0xBF;
    cp = (cp << 6) | (byte & 0x3F);
  }
  result.kind = Utf8Char::Valid;
  result.length = static_cast<uint8_t>(needed + 1);
  result.cp = cp;
  return result;
}

void llm::rt::detail::appendUtf8(std::string &out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::optional<size_t> llm::rt::detail::findInvalidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    // ASCII runs are the common case of every tokenizer file.
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    Utf8Char c = decodeUtf8Char(text, pos);
    if (c.kind != Utf8Char::Valid)
      return pos;
    pos += c.length;
  }
  return std::nullopt;
}

std::string llm::rt::detail::replaceInvalidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    Utf8Char c = decodeUtf8Char(text, pos);
    if (c.kind == Utf8Char::Valid)
      out.append(text.data() + pos, c.length);
    else
      appendUtf8(out, ReplacementChar);
    pos += c.length;
  }
  return out;
}

std::string llm::rt::detail::lineColumnText(std::string_view text,
                                            size_t offset) {
  size_t line = 1, lineStart = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      lineStart = i + 1;
    }
  }
  return std::to_string(line) + ":" + std::to_string(offset - lineStart + 1);
}

std::string llm::rt::detail::quoteUtf8(std::string_view text) {
  constexpr size_t maxLength = 80;
  static const char hex[] = "0123456789abcdef";
  std::string out = "'";
  size_t pos = 0;
  while (pos < text.size()) {
    if (pos >= maxLength) {
      out += "...";
      break;
    }
    uint8_t byte = static_cast<uint8_t>(text[pos]);
    if (byte >= 0x80) {
      Utf8Char c = decodeUtf8Char(text, pos);
      if (c.kind == Utf8Char::Valid)
        out.append(text.data() + pos, c.length);
      else
        appendUtf8(out, ReplacementChar);
      pos += c.length;
      continue;
    }
    if (byte < 0x20 || byte == 0x7F || byte == '\\' || byte == '\'') {
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 0xF];
    } else {
      out += static_cast<char>(byte);
    }
    ++pos;
  }
  return out + "'";
}

Expected<std::string> llm::rt::detail::readUtf8File(const std::string &path,
                                                    uint64_t maxSize) {
  Expected<std::string> data = readSmallFile(path, maxSize);
  if (!data)
    return data.getStatus().withDefaultCode(ErrorCode::IO);
  if (std::optional<size_t> bad = findInvalidUtf8(*data)) {
    static const char hex[] = "0123456789abcdef";
    uint8_t byte = static_cast<uint8_t>((*data)[*bad]);
    std::string byteText = "0x";
    byteText += hex[byte >> 4];
    byteText += hex[byte & 0xF];
    return Status::error(ErrorCode::Artifact,
                         path + ":" + lineColumnText(*data, *bad) +
                             ": invalid UTF-8 (byte " + byteText +
                             " at offset " + std::to_string(*bad) + ")");
  }
  return data;
}
