//===- WordPieceTokenizer.cpp - BERT's WordPiece --------------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// BERT's tokenizer, step for step Hugging Face's BertTokenizer (the Python
// one; the Rust "fast" one agrees on ordinary text):
//
//   0. Special tokens written in the text ("[MASK]") are split out first
//      and stand for their ids, and the rest is lowercased one character at
//      a time (full case mapping), as PreTrainedTokenizer.tokenize does.
//   1. BasicTokenizer: drop NUL, U+FFFD and control/format/unassigned
//      characters (category C*, but TAB, LF and CR), turn whitespace into
//      spaces, put spaces around CJK ideographs, normalize to NFC, split at
//      whitespace; per word, strip accents (NFD, drop Mn), then split off
//      every punctuation character (category P* and the ASCII symbols).
//   2. WordpieceTokenizer: greedy longest-match-first pieces, continuations
//      spelled "##piece"; a word with no split, or longer than 100
//      characters, becomes [UNK].
//
// Unicode properties, case mapping and normalization come from ICU.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Tokenizer.h"

#include "RuntimeSupport.h"
#include "UTF8.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <limits>
#include <new>
#include <unordered_map>

using namespace llm::rt;
using namespace llm::rt::detail;

/// The largest vocab.txt read (BERT's is 230 KB, multilingual ones ~1 MB).
static constexpr uint64_t MaxVocabFileSize = uint64_t(256) << 20;
/// The largest tokenizer_config.json read.
static constexpr uint64_t MaxConfigFileSize = uint64_t(16) << 20;

//===----------------------------------------------------------------------===//
// Character classes, as BERT's Python code defines them
//===----------------------------------------------------------------------===//

/// _is_control: category C* but TAB, LF and CR (which are whitespace).
static bool isControl(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r')
    return false;
  switch (u_charType(static_cast<UChar32>(cp))) {
  case U_CONTROL_CHAR:
  case U_FORMAT_CHAR:
  case U_PRIVATE_USE_CHAR:
  case U_SURROGATE:
  case U_UNASSIGNED:
    return true;
  default:
    return false;
  }
}

/// _is_whitespace: space, TAB, LF, CR and category Zs.
static bool isWhitespace(char32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
         u_charType(static_cast<UChar32>(cp)) == U_SPACE_SEPARATOR;
}

/// Python's str.isspace, which str.split() and str.strip() use: category Zs
/// or bidirectional class WS, B or S.
static bool isPythonSpace(char32_t cp) {
  if (u_charType(static_cast<UChar32>(cp)) == U_SPACE_SEPARATOR)
    return true;
  switch (u_charDirection(static_cast<UChar32>(cp))) {
  case U_WHITE_SPACE_NEUTRAL:
  case U_BLOCK_SEPARATOR:
  case U_SEGMENT_SEPARATOR:
    return true;
  default:
    return false;
  }
}

/// _is_punctuation: the ASCII non-alphanumeric printable characters (BERT
/// treats "$" or "^" as punctuation though they are symbols) and P*.
static bool isPunctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) ||
      (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  switch (u_charType(static_cast<UChar32>(cp))) {
  case U_DASH_PUNCTUATION:
  case U_START_PUNCTUATION:
  case U_END_PUNCTUATION:
  case U_CONNECTOR_PUNCTUATION:
  case U_OTHER_PUNCTUATION:
  case U_INITIAL_PUNCTUATION:
  case U_FINAL_PUNCTUATION:
    return true;
  default:
    return false;
  }
}

/// _is_chinese_char: the CJK Unified Ideographs blocks BERT lists (not
/// Hiragana, Katakana or Hangul, which are written with spaces).
static bool isChineseChar(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static bool isAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<uint8_t>(c) < 0x80; });
}

/// Calls \p fn(cp, offset, length) for each character of valid UTF-8.
template <class Fn> static void forEachChar(std::string_view text, Fn fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    Utf8Char c = decodeUtf8Char(text, pos);
    fn(c.cp, pos, static_cast<size_t>(c.length));
    pos += c.length;
  }
}

/// Splits \p text at runs of Python whitespace, as str.split() does.
static std::vector<std::string> splitAtPythonSpace(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  forEachChar(text, [&](char32_t cp, size_t pos, size_t length) {
    if (isPythonSpace(cp)) {
      if (!word.empty())
        words.push_back(std::move(word));
      word.clear();
    } else {
      word.append(text.data() + pos, length);
    }
  });
  if (!word.empty())
    words.push_back(std::move(word));
  return words;
}

//===----------------------------------------------------------------------===//
// ICU text transformations
//===----------------------------------------------------------------------===//

namespace {
enum class Normalization { NFC, NFD };
} // namespace

static Expected<std::string> normalize(std::string_view text,
                                       Normalization form) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2 *normalizer =
      form == Normalization::NFC ? icu::Normalizer2::getNFCInstance(err)
                                 : icu::Normalizer2::getNFDInstance(err);
  if (U_FAILURE(err))
    return Status::error(std::string("ICU cannot load its ") +
                         (form == Normalization::NFC ? "NFC" : "NFD") +
                         " normalizer: " + u_errorName(err));
  icu::UnicodeString source = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  icu::UnicodeString result = normalizer->normalize(source, err);
  if (U_FAILURE(err))
    return Status::error(std::string("ICU normalization failed: ") +
                         u_errorName(err));
  std::string out;
  result.toUTF8String(out);
  return out;
}

/// Lowercases \p text one character at a time with Python's str.lower()
/// (full case mapping without a language: ICU's root locale). BertTokenizer
/// lowercases the text outside special tokens with re.sub(r"(.+?)", ...),
/// one character per match, before BasicTokenizer lowercases the words; the
/// context-dependent final-sigma rule therefore never applies ("ΟΔΟΣ" gives
/// "οδοσ"), and neither does it here.
static std::string toLower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  forEachChar(text, [&](char32_t cp, size_t pos, size_t length) {
    if (cp < 0x80) {
      out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp - 'A' + 'a' : cp);
      return;
    }
    icu::UnicodeString c(static_cast<UChar32>(cp));
    c.toLower(icu::Locale::getRoot());
    c.toUTF8String(out);
  });
  return out;
}

/// _run_strip_accents: NFD, then drop the nonspacing marks (Mn).
static Expected<std::string> stripAccents(std::string_view text) {
  if (isAscii(text))
    return std::string(text);
  Expected<std::string> decomposed = normalize(text, Normalization::NFD);
  if (!decomposed)
    return decomposed;
  std::string out;
  forEachChar(*decomposed, [&](char32_t cp, size_t pos, size_t length) {
    if (u_charType(static_cast<UChar32>(cp)) != U_NON_SPACING_MARK)
      out.append(decomposed->data() + pos, length);
  });
  return out;
}

//===----------------------------------------------------------------------===//
// The tokenizer
//===----------------------------------------------------------------------===//

namespace {

class WordPieceTokenizer final : public Tokenizer {
public:
  static Expected<std::unique_ptr<Tokenizer>>
  load(const std::string &vocabPath, const WordPieceOptions &options);

  std::string_view getKind() const override { return "wordpiece"; }
  Expected<std::vector<int64_t>> encode(std::string_view text) const override;
  Expected<std::vector<int64_t>>
  encodeWithSpecialTokens(std::string_view text) const override;
  Expected<std::string> getTokenBytes(int64_t id) const override;
  Expected<std::string> decode(const std::vector<int64_t> &ids) const override;
  int64_t getVocabSize() const override {
    return static_cast<int64_t>(idToToken.size());
  }
  std::optional<int64_t> getEOS() const override { return sepId; }
  std::optional<int64_t> lookupToken(std::string_view piece) const override;

private:
  Status loadVocab(const std::string &path);
  Status bindSpecialTokens(const std::string &vocabPath);

  /// BasicTokenizer.tokenize: the words of \p text (valid UTF-8).
  Expected<std::vector<std::string>> splitWords(std::string_view text) const;
  /// WordpieceTokenizer on one word.
  void encodeWord(std::string_view word, std::vector<int64_t> &out) const;
  /// Encodes text that holds no special token.
  Status encodeSegment(std::string_view text, std::vector<int64_t> &out) const;

  WordPieceOptions options;
  std::vector<std::string> idToToken;
  std::unordered_map<std::string, int64_t> tokenToId;
  int64_t unkId = 0;
  std::optional<int64_t> clsId, sepId;
  /// The special tokens to recognize in text, longest first.
  std::vector<std::pair<std::string, int64_t>> specialTokens;
};

} // namespace

Status WordPieceTokenizer::loadVocab(const std::string &path) {
  Expected<std::string> data = readUtf8File(path, MaxVocabFileSize);
  if (!data)
    return data.getStatus();
  std::string_view text = *data;
  // Python's readlines() in text mode: LF, CR LF and CR end lines.
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find_first_of("\r\n", pos);
    if (eol == std::string_view::npos)
      eol = text.size();
    std::string token(text.substr(pos, eol - pos));
    pos = eol;
    if (pos < text.size())
      pos += text.compare(pos, 2, "\r\n") == 0 ? 2 : 1;
    int64_t id = static_cast<int64_t>(idToToken.size());
    // A repeated token keeps its last id for encoding, as BertTokenizer's
    // dict does; decoding knows every id.
    tokenToId[token] = id;
    idToToken.push_back(std::move(token));
  }
  if (idToToken.empty())
    return Status::error(ErrorCode::Artifact,
                         path + ": the vocabulary is empty");
  if (idToToken.size() >
      static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return Status::error(ErrorCode::Artifact, path + ": too many tokens");
  return Status::success();
}

Status WordPieceTokenizer::bindSpecialTokens(const std::string &vocabPath) {
  if (options.unkToken.empty())
    return Status::error(ErrorCode::Artifact,
                         vocabPath + ": WordPiece needs an unknown token");
  auto unk = tokenToId.find(options.unkToken);
  if (unk == tokenToId.end())
    return Status::error(ErrorCode::Artifact, vocabPath +
                                                  ": the unknown token " +
                                                  quoteUtf8(options.unkToken) +
                                                  " is not in the vocabulary");
  unkId = unk->second;
  specialTokens.emplace_back(options.unkToken, unkId);

  struct Special {
    const char *field;
    const std::string &token;
    bool required;
    std::optional<int64_t> *id;
  };
  const Special others[] = {
      {"sep_token", options.sepToken, options.requireSepToken, &sepId},
      {"cls_token", options.clsToken, options.requireClsToken, &clsId},
      {"pad_token", options.padToken, options.requirePadToken, nullptr},
      {"mask_token", options.maskToken, options.requireMaskToken, nullptr},
  };
  for (const Special &special : others) {
    if (special.token.empty())
      continue;
    auto it = tokenToId.find(special.token);
    if (it == tokenToId.end()) {
      if (special.required)
        return Status::error(ErrorCode::Artifact,
                             vocabPath + ": the " + special.field + " " +
                                 quoteUtf8(special.token) +
                                 " is not in the vocabulary");
      continue;
    }
    if (special.id)
      *special.id = it->second;
    specialTokens.emplace_back(special.token, it->second);
  }
  std::sort(specialTokens.begin(), specialTokens.end(),
            [](const auto &a, const auto &b) {
              if (a.first.size() != b.first.size())
                return a.first.size() > b.first.size();
              return a.first < b.first;
            });
  return Status::success();
}

Expected<std::unique_ptr<Tokenizer>>
WordPieceTokenizer::load(const std::string &vocabPath,
                         const WordPieceOptions &options) {
  auto tokenizer = std::make_unique<WordPieceTokenizer>();
  tokenizer->options = options;
  if (Status s = tokenizer->loadVocab(vocabPath); s.isError())
    return s;
  if (Status s = tokenizer->bindSpecialTokens(vocabPath); s.isError())
    return s;
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

Expected<std::vector<std::string>>
WordPieceTokenizer::splitWords(std::string_view text) const {
  if (!options.basicTokenize)
    return splitAtPythonSpace(text);

  // PreTrainedTokenizer.tokenize lowercases the text before BasicTokenizer
  // sees it; BasicTokenizer's own str.lower() of each word then changes
  // nothing.
  std::string lowered;
  if (options.lowerCase) {
    lowered = toLower(text);
    text = lowered;
  }

  // _clean_text and _tokenize_chinese_chars.
  std::string cleaned;
  cleaned.reserve(text.size());
  forEachChar(text, [&](char32_t cp, size_t pos, size_t length) {
    if (cp == 0 || cp == ReplacementChar || isControl(cp))
      return;
    if (isWhitespace(cp)) {
      cleaned += ' ';
    } else if (options.splitChineseChars && isChineseChar(cp)) {
      cleaned += ' ';
      cleaned.append(text.data() + pos, length);
      cleaned += ' ';
    } else {
      cleaned.append(text.data() + pos, length);
    }
  });
  if (!isAscii(cleaned)) {
    Expected<std::string> composed = normalize(cleaned, Normalization::NFC);
    if (!composed)
      return composed.getStatus();
    cleaned = composed.take();
  }

  bool strip = options.lowerCase ? options.stripAccents.value_or(true)
                                 : options.stripAccents.value_or(false);
  std::vector<std::string> words;
  for (std::string &word : splitAtPythonSpace(cleaned)) {
    if (strip) {
      Expected<std::string> stripped = stripAccents(word);
      if (!stripped)
        return stripped.getStatus();
      word = stripped.take();
    }
    // _run_split_on_punc, then whitespace_tokenize of the joined pieces.
    std::string current;
    forEachChar(word, [&](char32_t cp, size_t pos, size_t length) {
      bool punctuation = isPunctuation(cp);
      if (punctuation || isPythonSpace(cp)) {
        if (!current.empty())
          words.push_back(std::move(current));
        current.clear();
        if (punctuation)
          words.emplace_back(word.data() + pos, length);
        return;
      }
      current.append(word.data() + pos, length);
    });
    if (!current.empty())
      words.push_back(std::move(current));
  }
  return words;
}

void WordPieceTokenizer::encodeWord(std::string_view word,
                                    std::vector<int64_t> &out) const {
  // The offsets of the word's characters, and its end.
  std::vector<size_t> bounds;
  forEachChar(word,
              [&](char32_t, size_t pos, size_t) { bounds.push_back(pos); });
  if (bounds.size() > options.maxCharsPerWord) {
    out.push_back(unkId);
    return;
  }
  bounds.push_back(word.size());

  size_t firstPiece = out.size();
  std::string candidate;
  size_t start = 0, numChars = bounds.size() - 1;
  while (start < numChars) {
    // Longest match first.
    std::optional<int64_t> match;
    size_t end = numChars;
    for (; end > start; --end) {
      candidate.assign(start > 0 ? "##" : "");
      candidate.append(word.data() + bounds[start],
                       bounds[end] - bounds[start]);
      auto it = tokenToId.find(candidate);
      if (it != tokenToId.end()) {
        match = it->second;
        break;
      }
    }
    if (!match) {
      out.resize(firstPiece);
      out.push_back(unkId);
      return;
    }
    out.push_back(*match);
    start = end;
  }
}

Status WordPieceTokenizer::encodeSegment(std::string_view text,
                                         std::vector<int64_t> &out) const {
  Expected<std::vector<std::string>> words = splitWords(text);
  if (!words)
    return words.getStatus();
  for (const std::string &word : *words)
    encodeWord(word, out);
  return Status::success();
}

Expected<std::vector<int64_t>>
WordPieceTokenizer::encode(std::string_view text) const {
  // Python strings cannot hold invalid UTF-8; bytes read with
  // errors='replace' become U+FFFD, which _clean_text then drops.
  std::string replaced;
  if (findInvalidUtf8(text)) {
    replaced = replaceInvalidUtf8(text);
    text = replaced;
  }
  try {
    std::vector<int64_t> ids;
    size_t segmentStart = 0, pos = 0;
    while (pos < text.size()) {
      const std::pair<std::string, int64_t> *special = nullptr;
      for (const auto &candidate : specialTokens)
        if (text.compare(pos, candidate.first.size(), candidate.first) == 0) {
          special = &candidate;
          break;
        }
      if (!special) {
        ++pos;
        continue;
      }
      Status s =
          encodeSegment(text.substr(segmentStart, pos - segmentStart), ids);
      if (s.isError())
        return s;
      ids.push_back(special->second);
      pos += special->first.size();
      segmentStart = pos;
    }
    Status s = encodeSegment(text.substr(segmentStart), ids);
    if (s.isError())
      return s;
    return ids;
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "out of memory while encoding " +
                             std::to_string(text.size()) + " bytes of text");
  }
}

Expected<std::vector<int64_t>>
WordPieceTokenizer::encodeWithSpecialTokens(std::string_view text) const {
  if (!clsId || !sepId)
    return Status::error(ErrorCode::InvalidArgument,
                         std::string("the vocabulary has no ") +
                             (clsId ? "separator" : "classification") +
                             " token to frame the text with");
  Expected<std::vector<int64_t>> ids = encode(text);
  if (!ids)
    return ids;
  std::vector<int64_t> framed;
  framed.reserve(ids->size() + 2);
  framed.push_back(*clsId);
  framed.insert(framed.end(), ids->begin(), ids->end());
  framed.push_back(*sepId);
  return framed;
}

Expected<std::string> WordPieceTokenizer::getTokenBytes(int64_t id) const {
  if (id < 0 || id >= getVocabSize())
    return makeBadIdError(id, -1);
  const std::string &token = idToToken[static_cast<size_t>(id)];
  if (token.compare(0, 2, "##") == 0)
    return token.substr(2);
  return " " + token;
}

/// Replaces every non-overlapping \p from in \p text by \p to, left to
/// right, as Python's str.replace.
static std::string replaceAll(std::string_view text, std::string_view from,
                              std::string_view to) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos)
      break;
    out.append(text.data() + pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text.data() + pos, text.size() - pos);
  return out;
}

/// Python's str.strip(): drops leading and trailing whitespace.
static std::string stripPythonSpace(std::string_view text) {
  size_t begin = text.size(), end = 0;
  forEachChar(text, [&](char32_t cp, size_t pos, size_t length) {
    if (isPythonSpace(cp))
      return;
    begin = std::min(begin, pos);
    end = pos + length;
  });
  return begin < end ? std::string(text.substr(begin, end - begin))
                     : std::string();
}

Expected<std::string>
WordPieceTokenizer::decode(const std::vector<int64_t> &ids) const {
  // convert_tokens_to_string: " ".join(tokens).replace(" ##", "").strip().
  std::string joined;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= getVocabSize())
      return makeBadIdError(ids[i], static_cast<int64_t>(i));
    if (i)
      joined += ' ';
    joined += idToToken[static_cast<size_t>(ids[i])];
  }
  std::string text = stripPythonSpace(replaceAll(joined, " ##", ""));
  if (!options.cleanUpTokenizationSpaces)
    return text;
  // PreTrainedTokenizerBase.clean_up_tokenization, in its order.
  static constexpr std::pair<std::string_view, std::string_view> cleanups[] = {
      {" .", "."},     {" ?", "?"},     {" !", "!"},   {" ,", ","},
      {" ' ", "'"},    {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"},
      {" 've", "'ve"}, {" 're", "'re"},
  };
  for (const auto &[from, to] : cleanups)
    text = replaceAll(text, from, to);
  return text;
}

std::optional<int64_t>
WordPieceTokenizer::lookupToken(std::string_view piece) const {
  auto it = tokenToId.find(std::string(piece));
  if (it == tokenToId.end())
    return std::nullopt;
  return it->second;
}

Expected<std::unique_ptr<Tokenizer>>
Tokenizer::openWordPiece(const std::string &vocabPath,
                         const WordPieceOptions &options) {
  return WordPieceTokenizer::load(vocabPath, options);
}

//===----------------------------------------------------------------------===//
// tokenizer_config.json
//===----------------------------------------------------------------------===//

Expected<WordPieceOptions>
Tokenizer::readWordPieceConfig(const std::string &configPath) {
  Expected<std::string> data = readUtf8File(configPath, MaxConfigFileSize);
  if (!data)
    return data.getStatus();
  Json root;
  Status parsed = parseJsonStrict(data->data(), data->data() + data->size(),
                                  configPath, root);
  if (parsed.isError())
    return Status::error(ErrorCode::Artifact, parsed.message());
  auto fail = [&](const std::string &message) {
    return Status::error(ErrorCode::Artifact, configPath + ": " + message);
  };
  if (!root.is_object())
    return fail("expected a JSON object, found " +
                std::string(root.type_name()));
  auto shown = [](const Json &value) {
    std::string text =
        value.dump(-1, ' ', false, Json::error_handler_t::replace);
    return text.size() > 80 ? text.substr(0, 80) + "..." : text;
  };

  WordPieceOptions options;
  struct BoolField {
    const char *name;
    bool *value;
  };
  const BoolField boolFields[] = {
      {"do_lower_case", &options.lowerCase},
      {"tokenize_chinese_chars", &options.splitChineseChars},
      {"do_basic_tokenize", &options.basicTokenize},
      {"clean_up_tokenization_spaces", &options.cleanUpTokenizationSpaces},
  };
  for (const BoolField &field : boolFields) {
    auto it = root.find(field.name);
    if (it == root.end())
      continue;
    if (!it->is_boolean())
      return fail(std::string("field '") + field.name +
                  "' must be true or false, not " + shown(*it));
    *field.value = it->get<bool>();
  }
  if (auto it = root.find("strip_accents"); it != root.end()) {
    if (it->is_boolean())
      options.stripAccents = it->get<bool>();
    else if (!it->is_null())
      return fail("field 'strip_accents' must be true, false or null, not " +
                  shown(*it));
  }

  struct TokenField {
    const char *name;
    std::string *token;
    bool *required;
  };
  const TokenField tokenFields[] = {
      {"unk_token", &options.unkToken, nullptr},
      {"sep_token", &options.sepToken, &options.requireSepToken},
      {"cls_token", &options.clsToken, &options.requireClsToken},
      {"pad_token", &options.padToken, &options.requirePadToken},
      {"mask_token", &options.maskToken, &options.requireMaskToken},
  };
  for (const TokenField &field : tokenFields) {
    auto it = root.find(field.name);
    if (it == root.end())
      continue;
    // A string, or an AddedToken serialized as {"content": ..., ...}.
    const Json *content = &*it;
    if (it->is_object()) {
      auto c = it->find("content");
      content = c == it->end() ? nullptr : &*c;
    }
    if (it->is_null() && field.required) {
      field.token->clear();
      continue;
    }
    if (!content || !content->is_string() ||
        content->get_ref<const std::string &>().empty())
      return fail(std::string("field '") + field.name +
                  "' must be a non-empty string or an object with one as "
                  "\"content\", not " +
                  shown(*it));
    *field.token = content->get<std::string>();
    if (field.required)
      *field.required = true;
  }
  return options;
}
