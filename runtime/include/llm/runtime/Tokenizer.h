//===- Tokenizer.h - Text to token ids and back -----------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares the tokenizers of the runtime and the streaming
// detokenizer of generation:
//
//   - GPT-2's byte-level BPE, read from vocab.json + merges.txt (the
//     Hugging Face layout) or encoder.json + vocab.bpe (OpenAI's). Its
//     output equals OpenAI's encoder.py and the npm package gpt-3-encoder.
//   - BERT's WordPiece, read from vocab.txt (+ tokenizer_config.json), equal
//     to Hugging Face's BertTokenizer.
//   - A byte-level tokenizer whose ids are the bytes 0..255, for models
//     trained on bytes and for tests.
//
// Text is UTF-8. Invalid UTF-8 in the text to encode is replaced (each
// maximal ill-formed subpart by one U+FFFD, as node's Buffer.toString and
// Python's errors='replace' do) before the BPE and WordPiece tokenizers see
// it; decoding turns bytes that are not valid UTF-8 into U+FFFD the same
// way. docs/Tokenizers.md has the details.
//
// Errors: unreadable files have code IO; malformed tokenizer files code
// Artifact, the message naming the file, and the line where there is one;
// ids outside the vocabulary code InvalidArgument.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_TOKENIZER_H
#define LLM_RUNTIME_TOKENIZER_H

#include "llm/runtime/Status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llm {
namespace rt {

/// The settings of a WordPiece tokenizer, the fields of Hugging Face's
/// BertTokenizer (tokenizer_config.json) that change its output.
struct WordPieceOptions {
  /// Lowercase the text (full case mapping, character by character, as
  /// BertTokenizer does).
  bool lowerCase = true;
  /// Strip accents (NFD, then drop the nonspacing marks). Unset: strip when
  /// lowercasing, as BertTokenizer's strip_accents=None does.
  std::optional<bool> stripAccents;
  /// Put spaces around CJK ideographs so that each is a word of its own.
  bool splitChineseChars = true;
  /// Run the basic tokenizer (cleaning, CJK, case, punctuation); when false,
  /// words are split at whitespace only.
  bool basicTokenize = true;
  /// Undo the spaces decode() puts before punctuation and contractions
  /// (clean_up_tokenization_spaces).
  bool cleanUpTokenizationSpaces = true;
  /// Words longer than this many characters become the unknown token.
  size_t maxCharsPerWord = 100;
  /// The special tokens. The unknown token must be in the vocabulary; the
  /// others are optional (an empty string: none).
  std::string unkToken = "[UNK]";
  std::string sepToken = "[SEP]";
  std::string clsToken = "[CLS]";
  std::string padToken = "[PAD]";
  std::string maskToken = "[MASK]";
  /// Whether each special token other than unkToken must be in the
  /// vocabulary (true when a config names it explicitly).
  bool requireSepToken = false;
  bool requireClsToken = false;
  bool requirePadToken = false;
  bool requireMaskToken = false;
};

/// Turns text into token ids and back. Instances are immutable after
/// loading and safe to use from several threads at once.
class Tokenizer {
public:
  virtual ~Tokenizer();

  /// Loads the tokenizer of a model folder: vocab.json + merges.txt (Hugging
  /// Face's GPT-2 layout) or encoder.json + vocab.bpe (OpenAI's layout) give
  /// GPT-2's byte-level BPE; vocab.txt gives WordPiece, with the settings of
  /// tokenizer_config.json when the folder has one (readWordPieceConfig);
  /// a tokenizer_config.json alone whose "tokenizer_class" is
  /// "ByteLevelTokenizer" gives the byte tokenizer (ids 0..255).
  static Expected<std::unique_ptr<Tokenizer>> open(const std::string &folder);

  /// Loads a GPT-2 byte-level BPE tokenizer from its vocabulary (a JSON
  /// object from token to id, the ids numbering the tokens from 0) and its
  /// merges (one "LEFT RIGHT" pair per line, highest priority first, after
  /// an optional "#version" line).
  static Expected<std::unique_ptr<Tokenizer>>
  openBPE(const std::string &vocabPath, const std::string &mergesPath);

  /// Loads a WordPiece tokenizer from vocab.txt (one token per line, the id
  /// being the line number from 0).
  static Expected<std::unique_ptr<Tokenizer>>
  openWordPiece(const std::string &vocabPath,
                const WordPieceOptions &options = WordPieceOptions());

  /// Reads the WordPiece settings of a tokenizer_config.json: do_lower_case,
  /// strip_accents, tokenize_chinese_chars, do_basic_tokenize,
  /// clean_up_tokenization_spaces and the special tokens (strings or
  /// {"content": ...} objects). Other fields are ignored.
  static Expected<WordPieceOptions>
  readWordPieceConfig(const std::string &configPath);

  /// Returns the tokenizer whose ids are the bytes 0..255 of the text.
  static std::unique_ptr<Tokenizer> createByteLevel();

  /// Returns "bytes", "gpt2-bpe" or "wordpiece".
  virtual std::string_view getKind() const = 0;

  /// Returns the ids of \p text, without special tokens (GPT-2 reads
  /// "<|endoftext|>" in the text as plain text, as gpt-3-encoder does;
  /// WordPiece recognizes its special tokens written in the text, as
  /// BertTokenizer does).
  virtual Expected<std::vector<int64_t>>
  encode(std::string_view text) const = 0;

  /// Returns the ids of \p text in the form the model was trained on: for
  /// WordPiece, [CLS] ids [SEP]; for the others, encode(text).
  virtual Expected<std::vector<int64_t>>
  encodeWithSpecialTokens(std::string_view text) const;

  /// Returns the bytes of one token: for GPT-2 the byte-decoded piece, for
  /// WordPiece the piece without "##", with a leading space when it starts
  /// a word. Fails for ids outside [0, getVocabSize()).
  virtual Expected<std::string> getTokenBytes(int64_t id) const = 0;

  /// Decodes \p ids to text. Byte-level tokenizers concatenate the tokens'
  /// bytes and replace what is not UTF-8 by U+FFFD (Python's
  /// bytes.decode('utf-8', errors='replace')); WordPiece follows
  /// BertTokenizer.decode (convert_tokens_to_string, then the clean-up of
  /// tokenization spaces when enabled). Fails for ids outside the
  /// vocabulary, naming the first and its position.
  virtual Expected<std::string> decode(const std::vector<int64_t> &ids) const;

  /// Returns the number of ids.
  virtual int64_t getVocabSize() const = 0;

  /// Returns the end-of-text id: GPT-2's "<|endoftext|>" when the vocabulary
  /// has it, WordPiece's separator token; none for the byte tokenizer.
  virtual std::optional<int64_t> getEOS() const;

  /// Returns the id of the token spelled \p piece in the vocabulary file
  /// (GPT-2: in byte-level characters, e.g. "Ġthe"), if there is one.
  virtual std::optional<int64_t> lookupToken(std::string_view piece) const = 0;

protected:
  /// Returns the InvalidArgument error for \p id at \p position of a list
  /// (or -1 for a single id).
  Status makeBadIdError(int64_t id, int64_t position) const;
};

/// Streaming detokenization for generation: ids come in one at a time, and
/// each push returns only complete UTF-8 text. The bytes of an incomplete
/// multi-byte sequence are held until a later token completes it; bytes that
/// can never complete a sequence come out as U+FFFD at once. The text of all
/// pushes followed by flush() equals the replacement decoding of all the
/// tokens' bytes (decode() for the byte-level tokenizers; WordPiece's decode
/// also strips and cleans up spaces, which a stream cannot).
class TokenStreamDecoder {
public:
  /// Decodes the tokens of \p tokenizer, which must outlive this object.
  explicit TokenStreamDecoder(const Tokenizer &tokenizer);

  /// Adds token \p id; returns the text completed by it (maybe empty).
  /// Fails for ids outside the vocabulary, leaving the state unchanged.
  Expected<std::string> push(int64_t id);

  /// Returns what is still held (an incomplete sequence, as one U+FFFD;
  /// empty if nothing is held) and starts over.
  std::string flush();

  /// Drops what is held without returning it.
  void reset() { pending.clear(); }

  /// Returns true if bytes of an incomplete sequence are held.
  bool hasPending() const { return !pending.empty(); }

private:
  const Tokenizer &tokenizer;
  std::string pending;
};

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_TOKENIZER_H
