//===- BPETokenizer.cpp - GPT-2's byte-level BPE --------------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// GPT-2's tokenizer, equal to OpenAI's encoder.py and to the npm package
// gpt-3-encoder (test/e2e/tokenizer-gpt2.test compares the two on real
// files):
//
//   1. The text is split by the pattern
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|
//        \s+(?!\S)|\s+
//      with JavaScript's meaning of \s (WhiteSpace and LineTerminator of
//      ECMAScript: the Zs characters, TAB, LF, VT, FF, CR, U+2028, U+2029
//      and U+FEFF) and ICU's general categories for \p{L} and \p{N}. The
//      scanner below is that pattern, matched by hand.
//   2. Each piece's UTF-8 bytes are the initial symbols, and BPE merges the
//      adjacent pair of lowest rank (its line in merges.txt), all of its
//      non-overlapping occurrences left to right, until no pair has a rank.
//
// Every symbol is a vocabulary id: loading checks that the 256 byte tokens
// and every merge's two halves and result are in the vocabulary, so merges
// are looked up by id pair. The rounds of step 2 use a heap of candidate
// pairs, so a long piece costs O(n log n) instead of the reference's
// O(n^2) per round; the order of merges, and so the result, is the same.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Tokenizer.h"

#include "RuntimeSupport.h"
#include "UTF8.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <mutex>
#include <new>
#include <unordered_map>

using namespace llm::rt;
using namespace llm::rt::detail;

/// The largest vocabulary or merges file read (GPT-2's are 1 MB and 456 KB).
static constexpr uint64_t MaxFileSize = uint64_t(256) << 20;

/// Pieces cached by their text; cleared when it holds this many.
static constexpr size_t MaxCacheEntries = 1 << 16;

/// Longer pieces are not cached: they are rare and would fill memory.
static constexpr size_t MaxCachedPieceBytes = 256;

//===----------------------------------------------------------------------===//
// Byte-level characters
//===----------------------------------------------------------------------===//

namespace {

/// GPT-2's bytes_to_unicode(): the printable Latin-1 bytes ('!'..'~',
/// U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves, the other 68 bytes
/// for U+0100.. in increasing order, so that every token is printable text.
struct ByteLevelAlphabet {
  std::array<char32_t, 256> byteToChar{};
  /// Indexed by code point; -1 for code points that stand for no byte.
  std::array<int16_t, 0x144> charToByte{};

  ByteLevelAlphabet() {
    charToByte.fill(-1);
    unsigned next = 0x100;
    for (unsigned b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                       (b >= 0xAE && b <= 0xFF);
      byteToChar[b] = printable ? b : next++;
      charToByte[byteToChar[b]] = static_cast<int16_t>(b);
    }
  }
};

} // namespace

static const ByteLevelAlphabet &getAlphabet() {
  static const ByteLevelAlphabet alphabet;
  return alphabet;
}

//===----------------------------------------------------------------------===//
// The pre-tokenizer
//===----------------------------------------------------------------------===//

namespace {
enum class CharClass : uint8_t { Space, Letter, Number, Other };
} // namespace

/// The class of \p cp in the pattern: \s, \p{L}, \p{N} or none of them.
static CharClass classify(char32_t cp) {
  if (cp < 0x80) {
    if (cp == ' ' || (cp >= '\t' && cp <= '\r'))
      return CharClass::Space;
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
      return CharClass::Letter;
    if (cp >= '0' && cp <= '9')
      return CharClass::Number;
    return CharClass::Other;
  }
  // ECMAScript's \s beyond Zs: U+FEFF (Cf), U+2028 (Zl), U+2029 (Zp).
  if (cp == 0xFEFF || cp == 0x2028 || cp == 0x2029)
    return CharClass::Space;
  switch (u_charType(static_cast<UChar32>(cp))) {
  case U_SPACE_SEPARATOR:
    return CharClass::Space;
  case U_UPPERCASE_LETTER:
  case U_LOWERCASE_LETTER:
  case U_TITLECASE_LETTER:
  case U_MODIFIER_LETTER:
  case U_OTHER_LETTER:
    return CharClass::Letter;
  case U_DECIMAL_DIGIT_NUMBER:
  case U_LETTER_NUMBER:
  case U_OTHER_NUMBER:
    return CharClass::Number;
  default:
    return CharClass::Other;
  }
}

namespace {

/// Splits valid UTF-8 text into the pieces of GPT-2's pattern.
class PreTokenizer {
public:
  explicit PreTokenizer(std::string_view text) : text(text) {}

  /// Returns the next piece; empty at the end.
  std::string_view next() {
    if (pos >= text.size())
      return {};
    size_t start = pos;
    pos = findPieceEnd(start);
    return text.substr(start, pos - start);
  }

private:
  struct Char {
    CharClass cls;
    char32_t cp;
    size_t length;
  };

  Char charAt(size_t offset) const {
    Utf8Char c = decodeUtf8Char(text, offset);
    return {classify(c.cp), c.cp, c.length};
  }

  /// Returns the end of the run of class \p cls that starts at \p offset.
  size_t findRunEnd(size_t offset, CharClass cls) const {
    while (offset < text.size()) {
      Char c = charAt(offset);
      if (c.cls != cls)
        break;
      offset += c.length;
    }
    return offset;
  }

  /// Returns the length of the contraction at \p offset ('s 't 're 've 'm
  /// 'll 'd, case-sensitive), or 0.
  size_t getContractionLength(size_t offset) const {
    std::string_view rest = text.substr(offset);
    for (std::string_view contraction :
         {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"})
      if (rest.substr(0, contraction.size()) == contraction)
        return contraction.size();
    return 0;
  }

  size_t findPieceEnd(size_t start) const {
    Char c = charAt(start);
    if (c.cp == '\'')
      if (size_t length = getContractionLength(start))
        return start + length;
    if (c.cls != CharClass::Space)
      return findRunEnd(start + c.length, c.cls);

    // ' ?\p{L}+', ' ?\p{N}+' and ' ?[^\s\p{L}\p{N}]+' take one leading
    // space.
    if (c.cp == ' ' && start + 1 < text.size()) {
      Char after = charAt(start + 1);
      if (after.cls != CharClass::Space)
        return findRunEnd(start + 1 + after.length, after.cls);
    }
    // '\s+(?!\S)' takes the run of whitespace but its last character when
    // something follows the run, so that the character can lead the next
    // piece; a run of one followed by something falls to '\s+'.
    size_t last = start, end = start;
    while (end < text.size()) {
      Char s = charAt(end);
      if (s.cls != CharClass::Space)
        break;
      last = end;
      end += s.length;
    }
    if (end == text.size() || last == start)
      return end;
    return last;
  }

  std::string_view text;
  size_t pos = 0;
};

} // namespace

//===----------------------------------------------------------------------===//
// vocab.json
//===----------------------------------------------------------------------===//

namespace {

/// One "token": id member of vocab.json.
struct VocabEntry {
  std::string piece;
  /// The id; INT64_MAX when the integer does not fit int64_t.
  int64_t id = 0;
  /// The id as written, for messages.
  std::string idText;
  /// Where the key and the id start in the file, for messages.
  size_t keyOffset = 0;
  size_t idOffset = 0;
};

/// Reads vocab.json, a flat JSON object from token to integer id, without
/// building a JSON document (GPT-2's has 50257 members, and a model is
/// loaded at every start). Strict RFC 8259 syntax; errors name the line and
/// column.
class VocabJsonReader {
public:
  VocabJsonReader(const std::string &path, std::string_view text)
      : path(path), text(text) {}

  /// Appends the members, in file order, to \p entries.
  Status read(std::vector<VocabEntry> &entries);

  /// Returns the error "<path>:LINE:COLUMN: \p message" at byte \p offset.
  Status fail(size_t offset, const std::string &message) const {
    return Status::error(ErrorCode::Artifact, path + ":" +
                                                  lineColumnText(text, offset) +
                                                  ": " + message);
  }

  /// Returns the line of byte \p offset.
  std::string getLine(size_t offset) const {
    std::string lineColumn = lineColumnText(text, offset);
    return lineColumn.substr(0, lineColumn.find(':'));
  }

private:
  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  bool atEnd() const { return pos >= text.size(); }
  Status failHere(const std::string &message) const {
    return fail(pos, "invalid JSON: " + message);
  }
  Status readString(std::string &out);
  Status readHex4(uint32_t &out);
  Status readId(VocabEntry &entry);

  const std::string &path;
  std::string_view text;
  size_t pos = 0;
};

} // namespace

Status VocabJsonReader::read(std::vector<VocabEntry> &entries) {
  skipSpace();
  if (atEnd() || text[pos] != '{')
    return fail(pos, "expected a JSON object from token to id ('{')");
  ++pos;
  skipSpace();
  if (!atEnd() && text[pos] == '}') {
    ++pos;
  } else {
    while (true) {
      skipSpace();
      VocabEntry entry;
      entry.keyOffset = pos;
      if (atEnd() || text[pos] != '"')
        return failHere("expected a token in double quotes");
      if (Status s = readString(entry.piece); s.isError())
        return s;
      skipSpace();
      if (atEnd() || text[pos] != ':')
        return failHere("expected ':' after the token");
      ++pos;
      skipSpace();
      if (Status s = readId(entry); s.isError())
        return s;
      entries.push_back(std::move(entry));
      skipSpace();
      if (!atEnd() && text[pos] == ',') {
        ++pos;
        continue;
      }
      if (!atEnd() && text[pos] == '}') {
        ++pos;
        break;
      }
      return failHere("expected ',' or '}' after the id");
    }
  }
  skipSpace();
  if (!atEnd())
    return failHere("text after the object");
  return Status::success();
}

Status VocabJsonReader::readHex4(uint32_t &out) {
  out = 0;
  for (int i = 0; i < 4; ++i, ++pos) {
    if (atEnd())
      return failHere("\\u needs four hex digits");
    char c = text[pos];
    unsigned digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else
      return failHere("\\u needs four hex digits");
    out = out * 16 + digit;
  }
  return Status::success();
}

Status VocabJsonReader::readString(std::string &out) {
  ++pos; // The opening quote.
  while (true) {
    if (atEnd())
      return failHere("unterminated string");
    char c = text[pos];
    if (c == '"') {
      ++pos;
      return Status::success();
    }
    if (static_cast<uint8_t>(c) < 0x20)
      return failHere("control character in a string (escape it)");
    if (c != '\\') {
      out += c;
      ++pos;
      continue;
    }
    ++pos;
    if (atEnd())
      return failHere("unterminated string");
    char escape = text[pos];
    static constexpr std::pair<char, char> simple[] = {
        {'"', '"'},  {'\\', '\\'}, {'/', '/'},  {'b', '\b'},
        {'f', '\f'}, {'n', '\n'},  {'r', '\r'}, {'t', '\t'}};
    auto it = std::find_if(std::begin(simple), std::end(simple),
                           [&](const auto &p) { return p.first == escape; });
    if (it != std::end(simple)) {
      out += it->second;
      ++pos;
      continue;
    }
    if (escape != 'u')
      return failHere(std::string("unknown escape '\\") + escape + "'");
    ++pos;
    size_t escapeStart = pos - 2;
    uint32_t cp;
    if (Status s = readHex4(cp); s.isError())
      return s;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return fail(escapeStart, "invalid JSON: lone low surrogate in a \\u "
                               "escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low;
      if (text.substr(pos, 2) != "\\u")
        return fail(escapeStart, "invalid JSON: high surrogate in a \\u "
                                 "escape without a low one after it");
      pos += 2;
      if (Status s = readHex4(low); s.isError())
        return s;
      if (low < 0xDC00 || low > 0xDFFF)
        return fail(escapeStart, "invalid JSON: high surrogate in a \\u "
                                 "escape without a low one after it");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    appendUtf8(out, cp);
  }
}

Status VocabJsonReader::readId(VocabEntry &entry) {
  entry.idOffset = pos;
  auto notInteger = [&](const std::string &found) {
    return fail(entry.idOffset, "the id of token " + quoteUtf8(entry.piece) +
                                    " must be an integer, found " + found);
  };
  if (atEnd())
    return failHere("expected an id");
  switch (text[pos]) {
  case '"':
    return notInteger("a string");
  case '{':
    return notInteger("an object");
  case '[':
    return notInteger("an array");
  case 't':
  case 'f':
    return notInteger("a boolean");
  case 'n':
    return notInteger("null");
  default:
    break;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  size_t start = pos;
  auto isDigit = [&](size_t i) {
    return i < text.size() && text[i] >= '0' && text[i] <= '9';
  };
  bool negative = text[pos] == '-';
  if (negative)
    ++pos;
  if (!isDigit(pos))
    return failHere("expected an id");
  if (text[pos] == '0' && isDigit(pos + 1))
    return failHere("leading zero in a number");
  uint64_t magnitude = 0;
  bool overflow = false;
  for (; isDigit(pos); ++pos) {
    unsigned digit = text[pos] - '0';
    if (magnitude > (std::numeric_limits<int64_t>::max() - digit) / 10)
      overflow = true;
    else
      magnitude = magnitude * 10 + digit;
  }
  bool fraction = false;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    if (!isDigit(pos))
      return failHere("expected digits after '.'");
    while (isDigit(pos))
      ++pos;
    fraction = true;
  }
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-'))
      ++pos;
    if (!isDigit(pos))
      return failHere("expected digits in the exponent");
    while (isDigit(pos))
      ++pos;
    fraction = true;
  }
  entry.idText = std::string(text.substr(start, pos - start));
  if (fraction)
    return notInteger(entry.idText);
  if (overflow)
    entry.id = negative ? std::numeric_limits<int64_t>::min()
                        : std::numeric_limits<int64_t>::max();
  else
    entry.id = negative ? -static_cast<int64_t>(magnitude)
                        : static_cast<int64_t>(magnitude);
  return Status::success();
}

//===----------------------------------------------------------------------===//
// The tokenizer
//===----------------------------------------------------------------------===//

namespace {

class BPETokenizer final : public Tokenizer {
public:
  static Expected<std::unique_ptr<Tokenizer>>
  load(const std::string &vocabPath, const std::string &mergesPath);

  std::string_view getKind() const override { return "gpt2-bpe"; }
  Expected<std::vector<int64_t>> encode(std::string_view text) const override;
  Expected<std::string> getTokenBytes(int64_t id) const override;
  int64_t getVocabSize() const override {
    return static_cast<int64_t>(idToBytes.size());
  }
  std::optional<int64_t> getEOS() const override { return eos; }
  std::optional<int64_t> lookupToken(std::string_view piece) const override;

private:
  struct Merge {
    int32_t left;
    int32_t right;
    int32_t result;
    uint32_t line; ///< The line of merges.txt, for messages.
  };

  static uint64_t getPairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  Status loadVocab(const std::string &path);
  Status loadMerges(const std::string &path, const std::string &vocabPath);

  /// Appends the ids of one piece of the pre-tokenizer to \p out.
  void encodePiece(std::string_view piece, std::vector<int64_t> &out) const;
  /// Runs BPE on \p bytes, appending the resulting ids to \p out.
  void mergeBytes(std::string_view bytes, std::vector<int32_t> &out) const;

  /// The bytes each id stands for.
  std::vector<std::string> idToBytes;
  /// The vocabulary file's spelling of each token (byte-level characters).
  std::unordered_map<std::string, int32_t> pieceToId;
  std::array<int32_t, 256> byteToId{};
  /// Merges by rank, and the rank of each mergeable id pair.
  std::vector<Merge> merges;
  std::unordered_map<uint64_t, uint32_t> pairToRank;
  std::optional<int64_t> eos;

  mutable std::mutex cacheMutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;
};

} // namespace

Status BPETokenizer::loadVocab(const std::string &path) {
  Expected<std::string> data = readUtf8File(path, MaxFileSize);
  if (!data)
    return data.getStatus();
  std::vector<VocabEntry> entries;
  VocabJsonReader reader(path, *data);
  if (Status s = reader.read(entries); s.isError())
    return s;
  auto fail = [&](size_t offset, const std::string &message) {
    return reader.fail(offset, message);
  };
  size_t size = entries.size();
  if (size == 0)
    return Status::error(ErrorCode::Artifact,
                         path + ": the vocabulary is empty");
  if (size > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return Status::error(ErrorCode::Artifact, path + ": too many tokens (" +
                                                  std::to_string(size) + ")");

  const ByteLevelAlphabet &alphabet = getAlphabet();
  idToBytes.assign(size, std::string());
  // The entry that took each id, for messages about a second one.
  std::vector<const VocabEntry *> idOwner(size, nullptr);
  pieceToId.reserve(size);
  for (const VocabEntry &entry : entries) {
    const std::string &piece = entry.piece;
    if (entry.id < 0 || static_cast<uint64_t>(entry.id) >= size)
      return fail(entry.idOffset, "token " + quoteUtf8(piece) + " has the id " +
                                      entry.idText + ", outside [0, " +
                                      std::to_string(size) +
                                      "): the ids must number the " +
                                      std::to_string(size) + " tokens from 0");
    size_t id = static_cast<size_t>(entry.id);
    if (const VocabEntry *owner = idOwner[id])
      return fail(entry.idOffset, "the id " + std::to_string(id) +
                                      " is given to both " +
                                      quoteUtf8(owner->piece) + " (line " +
                                      reader.getLine(owner->keyOffset) +
                                      ") and " + quoteUtf8(piece));
    idOwner[id] = &entry;
    if (piece.empty())
      return fail(entry.keyOffset, "the empty string is not a token");

    auto [it, inserted] = pieceToId.emplace(piece, static_cast<int32_t>(id));
    if (!inserted)
      return fail(entry.keyOffset,
                  "token " + quoteUtf8(piece) + " appears twice (first on " +
                      "line " + reader.getLine(idOwner[it->second]->keyOffset) +
                      ")");

    std::string bytes;
    size_t pos = 0;
    while (pos < piece.size()) {
      Utf8Char c = decodeUtf8Char(piece, pos);
      int byte = c.kind == Utf8Char::Valid && c.cp < alphabet.charToByte.size()
                     ? alphabet.charToByte[c.cp]
                     : -1;
      if (byte < 0) {
        char code[16];
        std::snprintf(code, sizeof(code), "U+%04X",
                      static_cast<unsigned>(c.cp));
        return fail(entry.keyOffset,
                    "token " + quoteUtf8(piece) + " holds " + code +
                        ", which is not one of the 256 byte-level characters "
                        "of GPT-2's vocabulary");
      }
      bytes += static_cast<char>(byte);
      pos += c.length;
    }
    idToBytes[id] = std::move(bytes);
  }

  for (unsigned b = 0; b < 256; ++b) {
    std::string piece;
    appendUtf8(piece, alphabet.byteToChar[b]);
    auto it = pieceToId.find(piece);
    if (it == pieceToId.end()) {
      char byteText[8];
      std::snprintf(byteText, sizeof(byteText), "0x%02x", b);
      return Status::error(ErrorCode::Artifact,
                           path + ": the token " + quoteUtf8(piece) +
                               " of byte " + byteText +
                               " is missing; a byte-level vocabulary needs "
                               "all 256");
    }
    byteToId[b] = it->second;
  }
  auto endOfText = pieceToId.find("<|endoftext|>");
  if (endOfText != pieceToId.end())
    eos = endOfText->second;
  return Status::success();
}

Status BPETokenizer::loadMerges(const std::string &path,
                                const std::string &vocabPath) {
  Expected<std::string> data = readUtf8File(path, MaxFileSize);
  if (!data)
    return data.getStatus();
  std::string vocabDir, vocabName;
  splitPath(vocabPath, vocabDir, vocabName);
  std::string_view text = *data;
  auto fail = [&](size_t line, const std::string &message) {
    return Status::error(ErrorCode::Artifact,
                         path + ":" + std::to_string(line) + ": " + message);
  };
  auto lookup = [&](std::string_view piece) -> int32_t {
    auto it = pieceToId.find(std::string(piece));
    return it == pieceToId.end() ? -1 : it->second;
  };

  size_t lineNo = 0, blankLine = 0, pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos)
      eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++lineNo;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    // The first line of GPT-2's file is "#version: 0.2".
    if (lineNo == 1 && line.substr(0, 8) == "#version")
      continue;
    if (line.empty()) {
      if (!blankLine)
        blankLine = lineNo;
      continue;
    }
    // Blank lines may end the file, not interrupt the merges.
    if (blankLine)
      return fail(blankLine, "empty line before the merge on line " +
                                 std::to_string(lineNo));

    size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 ||
        space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      return fail(lineNo, "expected two tokens separated by one space, found " +
                              quoteUtf8(line));
    std::string_view leftPiece = line.substr(0, space);
    std::string_view rightPiece = line.substr(space + 1);
    int32_t left = lookup(leftPiece), right = lookup(rightPiece);
    for (auto [id, piece] :
         {std::pair(left, leftPiece), std::pair(right, rightPiece)})
      if (id < 0)
        return fail(lineNo, "the token " + quoteUtf8(piece) + " is not in " +
                                vocabName);
    std::string mergedPiece = std::string(leftPiece) + std::string(rightPiece);
    int32_t result = lookup(mergedPiece);
    if (result < 0)
      return fail(lineNo, "the merge of " + quoteUtf8(leftPiece) + " and " +
                              quoteUtf8(rightPiece) + ", " +
                              quoteUtf8(mergedPiece) + ", is not in " +
                              vocabName);
    if (merges.size() >= std::numeric_limits<uint32_t>::max())
      return fail(lineNo, "too many merges");
    auto [it, inserted] = pairToRank.emplace(
        getPairKey(left, right), static_cast<uint32_t>(merges.size()));
    if (!inserted)
      return fail(lineNo, "the merge " + quoteUtf8(line) + " repeats line " +
                              std::to_string(merges[it->second].line));
    merges.push_back({left, right, result, static_cast<uint32_t>(lineNo)});
  }
  return Status::success();
}

Expected<std::unique_ptr<Tokenizer>>
BPETokenizer::load(const std::string &vocabPath,
                   const std::string &mergesPath) {
  auto tokenizer = std::make_unique<BPETokenizer>();
  if (Status s = tokenizer->loadVocab(vocabPath); s.isError())
    return s;
  if (Status s = tokenizer->loadMerges(mergesPath, vocabPath); s.isError())
    return s;
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

void BPETokenizer::mergeBytes(std::string_view bytes,
                              std::vector<int32_t> &out) const {
  size_t n = bytes.size();
  // Symbols form a linked list over the byte positions; a merge keeps the
  // left position and marks the right one dead (id -1).
  std::vector<int32_t> ids(n), prev(n), next(n);
  for (size_t i = 0; i < n; ++i) {
    ids[i] = byteToId[static_cast<uint8_t>(bytes[i])];
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }

  // Candidate pairs by (rank, position), smallest first. Entries go stale
  // when a neighbour merges; they are checked when taken. A symbol's id only
  // ever grows into longer tokens, so a stale entry never becomes valid.
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    bool operator>(const Candidate &other) const {
      return rank != other.rank ? rank > other.rank : pos > other.pos;
    }
  };
  std::vector<Candidate> heap;
  auto pushCandidate = [&](int32_t pos) {
    int32_t right = next[pos];
    if (right < 0)
      return;
    auto it = pairToRank.find(getPairKey(ids[pos], ids[right]));
    if (it == pairToRank.end())
      return;
    heap.push_back({it->second, pos});
    std::push_heap(heap.begin(), heap.end(), std::greater<Candidate>());
  };
  for (size_t i = 0; i + 1 < n; ++i)
    pushCandidate(static_cast<int32_t>(i));

  // One round merges every occurrence of the pair of lowest rank, left to
  // right, as the reference does before it looks at the pairs again. A merge
  // cannot create another occurrence of the same pair (the merged token is
  // longer than either half), so the round's candidates are all in the heap
  // when it starts; they come out in position order.
  std::vector<int32_t> round;
  while (!heap.empty()) {
    uint32_t rank = heap.front().rank;
    round.clear();
    while (!heap.empty() && heap.front().rank == rank) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<Candidate>());
      round.push_back(heap.back().pos);
      heap.pop_back();
    }
    const Merge &merge = merges[rank];
    for (int32_t pos : round) {
      int32_t right = next[pos];
      if (ids[pos] != merge.left || right < 0 || ids[right] != merge.right)
        continue;
      ids[pos] = merge.result;
      ids[right] = -1;
      next[pos] = next[right];
      if (next[pos] >= 0)
        prev[next[pos]] = pos;
      if (prev[pos] >= 0)
        pushCandidate(prev[pos]);
      pushCandidate(pos);
    }
  }
  for (int32_t pos = 0; pos >= 0; pos = next[pos])
    out.push_back(ids[pos]);
}

void BPETokenizer::encodePiece(std::string_view piece,
                               std::vector<int64_t> &out) const {
  if (piece.size() == 1) {
    out.push_back(byteToId[static_cast<uint8_t>(piece[0])]);
    return;
  }
  bool cacheable = piece.size() <= MaxCachedPieceBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cacheMutex);
    auto it = cache.find(std::string(piece));
    if (it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  mergeBytes(piece, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cacheMutex);
    if (cache.size() >= MaxCacheEntries)
      cache.clear();
    cache.emplace(std::string(piece), std::move(ids));
  }
}

Expected<std::vector<int64_t>>
BPETokenizer::encode(std::string_view text) const {
  // JavaScript strings cannot hold invalid UTF-8: the reference sees text
  // that went through Buffer.toString, which replaces it the same way.
  std::string replaced;
  if (findInvalidUtf8(text)) {
    replaced = replaceInvalidUtf8(text);
    text = replaced;
  }
  try {
    std::vector<int64_t> ids;
    ids.reserve(text.size() / 3);
    PreTokenizer pieces(text);
    for (std::string_view piece = pieces.next(); !piece.empty();
         piece = pieces.next())
      encodePiece(piece, ids);
    return ids;
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "out of memory while encoding " +
                             std::to_string(text.size()) + " bytes of text");
  }
}

Expected<std::string> BPETokenizer::getTokenBytes(int64_t id) const {
  if (id < 0 || id >= getVocabSize())
    return makeBadIdError(id, -1);
  return idToBytes[static_cast<size_t>(id)];
}

std::optional<int64_t> BPETokenizer::lookupToken(std::string_view piece) const {
  auto it = pieceToId.find(std::string(piece));
  if (it == pieceToId.end())
    return std::nullopt;
  return it->second;
}

Expected<std::unique_ptr<Tokenizer>>
Tokenizer::openBPE(const std::string &vocabPath,
                   const std::string &mergesPath) {
  return BPETokenizer::load(vocabPath, mergesPath);
}
