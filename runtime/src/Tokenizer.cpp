//===- Tokenizer.cpp - Tokenizer loading, bytes, stream decoding ----------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// What all tokenizers share: finding the tokenizer files of a model folder,
// the decode() of the byte-level tokenizers, the byte tokenizer itself and
// the streaming detokenizer. The GPT-2 BPE and WordPiece tokenizers live in
// BPETokenizer.cpp and WordPieceTokenizer.cpp.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Tokenizer.h"

#include "RuntimeSupport.h"
#include "UTF8.h"

#include <sys/stat.h>

using namespace llm::rt;
using namespace llm::rt::detail;

//===----------------------------------------------------------------------===//
// Tokenizer
//===----------------------------------------------------------------------===//

Tokenizer::~Tokenizer() = default;

Status Tokenizer::makeBadIdError(int64_t id, int64_t position) const {
  std::string where =
      position < 0 ? "" : " at position " + std::to_string(position);
  return Status::error(ErrorCode::InvalidArgument,
                       "token id " + std::to_string(id) + where +
                           " is outside the vocabulary [0, " +
                           std::to_string(getVocabSize()) + ")");
}

Expected<std::vector<int64_t>>
Tokenizer::encodeWithSpecialTokens(std::string_view text) const {
  return encode(text);
}

Expected<std::string> Tokenizer::decode(const std::vector<int64_t> &ids) const {
  std::string bytes;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= getVocabSize())
      return makeBadIdError(ids[i], static_cast<int64_t>(i));
    Expected<std::string> piece = getTokenBytes(ids[i]);
    if (!piece)
      return piece.getStatus();
    bytes += *piece;
  }
  if (!findInvalidUtf8(bytes))
    return bytes;
  return replaceInvalidUtf8(bytes);
}

std::optional<int64_t> Tokenizer::getEOS() const { return std::nullopt; }

namespace {
enum class PathKind { Missing, File, Folder, Other };
} // namespace

static PathKind statPath(const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return PathKind::Missing;
  if (S_ISREG(st.st_mode))
    return PathKind::File;
  if (S_ISDIR(st.st_mode))
    return PathKind::Folder;
  return PathKind::Other;
}

/// The tokenizer_config.json class name of the byte tokenizer.
static constexpr const char *ByteLevelClassName = "ByteLevelTokenizer";

/// Whether the tokenizer_config.json at \p configPath names the byte
/// tokenizer as its "tokenizer_class".
static Expected<bool> declaresByteLevel(const std::string &configPath) {
  Expected<std::string> data =
      readUtf8File(configPath, /*maxSize=*/uint64_t(16) << 20);
  if (!data)
    return data.getStatus();
  Json root;
  Status parsed = parseJsonStrict(data->data(), data->data() + data->size(),
                                  configPath, root);
  if (parsed.isError())
    return Status::error(ErrorCode::Artifact, parsed.message());
  if (!root.is_object())
    return Status::error(ErrorCode::Artifact,
                         configPath + ": expected a JSON object");
  auto it = root.find("tokenizer_class");
  return it != root.end() && it->is_string() &&
         it->get<std::string>() == ByteLevelClassName;
}

Expected<std::unique_ptr<Tokenizer>>
Tokenizer::open(const std::string &folder) {
  switch (statPath(folder)) {
  case PathKind::Missing:
    return Status::error(ErrorCode::IO, folder + ": no such tokenizer folder");
  case PathKind::Folder:
    break;
  default:
    return Status::error(ErrorCode::IO,
                         folder + ": not a folder; expected the folder that "
                                  "holds the tokenizer files");
  }

  auto has = [&](const char *name) {
    return statPath(joinPath(folder, name)) != PathKind::Missing;
  };
  // A file of a pair without the other is a broken folder, not a reason to
  // fall back to another layout.
  static constexpr const char *pairs[][2] = {{"vocab.json", "merges.txt"},
                                             {"encoder.json", "vocab.bpe"}};
  for (const auto &pair : pairs) {
    bool first = has(pair[0]), second = has(pair[1]);
    if (first && second)
      return openBPE(joinPath(folder, pair[0]), joinPath(folder, pair[1]));
    if (first != second) {
      const char *present = first ? pair[0] : pair[1];
      const char *missing = first ? pair[1] : pair[0];
      return Status::error(ErrorCode::IO,
                           joinPath(folder, missing) + ": missing; a GPT-2 " +
                               "tokenizer needs it next to " + present);
    }
  }
  if (has("vocab.txt")) {
    WordPieceOptions options;
    std::string configPath = joinPath(folder, "tokenizer_config.json");
    if (has("tokenizer_config.json")) {
      Expected<WordPieceOptions> config = readWordPieceConfig(configPath);
      if (!config)
        return config.getStatus();
      options = config.take();
    }
    return openWordPiece(joinPath(folder, "vocab.txt"), options);
  }
  // A byte-level model says so in its tokenizer_config.json.
  if (has("tokenizer_config.json")) {
    std::string configPath = joinPath(folder, "tokenizer_config.json");
    Expected<bool> bytes = declaresByteLevel(configPath);
    if (!bytes)
      return bytes.getStatus();
    if (*bytes)
      return createByteLevel();
  }
  std::string message =
      folder + ": no tokenizer files; expected vocab.json + merges.txt, "
               "encoder.json + vocab.bpe, vocab.txt, or a "
               "tokenizer_config.json with \"tokenizer_class\": \"" +
      std::string(ByteLevelClassName) + "\"";
  if (has("tokenizer.json"))
    message += " (tokenizer.json alone is not supported)";
  return Status::error(ErrorCode::IO, message);
}

//===----------------------------------------------------------------------===//
// The byte tokenizer
//===----------------------------------------------------------------------===//

namespace {

/// Ids are bytes: encoding is lossless for any byte string, invalid UTF-8
/// included.
class ByteTokenizer final : public Tokenizer {
public:
  std::string_view getKind() const override { return "bytes"; }

  Expected<std::vector<int64_t>> encode(std::string_view text) const override {
    std::vector<int64_t> ids;
    ids.reserve(text.size());
    for (char c : text)
      ids.push_back(static_cast<uint8_t>(c));
    return ids;
  }

  Expected<std::string> getTokenBytes(int64_t id) const override {
    if (id < 0 || id >= 256)
      return makeBadIdError(id, -1);
    return std::string(1, static_cast<char>(id));
  }

  int64_t getVocabSize() const override { return 256; }

  std::optional<int64_t> lookupToken(std::string_view piece) const override {
    if (piece.size() != 1)
      return std::nullopt;
    return static_cast<uint8_t>(piece[0]);
  }
};

} // namespace

std::unique_ptr<Tokenizer> Tokenizer::createByteLevel() {
  return std::make_unique<ByteTokenizer>();
}

//===----------------------------------------------------------------------===//
// TokenStreamDecoder
//===----------------------------------------------------------------------===//

TokenStreamDecoder::TokenStreamDecoder(const Tokenizer &tokenizer)
    : tokenizer(tokenizer) {}

Expected<std::string> TokenStreamDecoder::push(int64_t id) {
  Expected<std::string> bytes = tokenizer.getTokenBytes(id);
  if (!bytes)
    return bytes.getStatus();
  pending += *bytes;
  std::string text;
  size_t pos = 0;
  while (pos < pending.size()) {
    Utf8Char c = decodeUtf8Char(pending, pos);
    if (c.kind == Utf8Char::Truncated)
      break;
    if (c.kind == Utf8Char::Valid)
      text.append(pending, pos, c.length);
    else
      appendUtf8(text, ReplacementChar);
    pos += c.length;
  }
  pending.erase(0, pos);
  return text;
}

std::string TokenStreamDecoder::flush() {
  // What is held is a valid prefix cut short: one maximal subpart.
  std::string text = replaceInvalidUtf8(pending);
  pending.clear();
  return text;
}
