//===- TokenizerTest.cpp - Tests of the runtime's tokenizers --------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The byte tokenizer, GPT-2's byte-level BPE on small hand-made vocabularies
// (the pattern's pieces, the order of merges), WordPiece against the rules of
// BertTokenizer, the replacement of invalid UTF-8, the streaming decoder, and
// every malformed tokenizer file. The expected ids are worked out by hand
// from the reference algorithms; test/e2e/tokenizer-gpt2.test compares GPT-2
// with the reference implementation on the real files.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Tokenizer.h"

#include "RuntimeTestUtils.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>

using namespace llm::rt;
using namespace llm::rt::test;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Appends the UTF-8 encoding of \p cp.
void appendCodePoint(std::string &out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// GPT-2's bytes_to_unicode(), restated from encoder.py: the printable
/// Latin-1 bytes stand for themselves, the others for U+0100.. in order.
std::string byteLevelChar(uint8_t byte) {
  char32_t next = 0x100;
  for (unsigned b = 0; b < 256; ++b) {
    bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
                     (b >= 0xAE && b <= 0xFF);
    char32_t cp = printable ? b : next++;
    if (b == byte) {
      std::string out;
      appendCodePoint(out, cp);
      return out;
    }
  }
  return {};
}

/// The byte-level spelling of raw bytes, as vocab.json writes tokens.
std::string spell(std::string_view bytes) {
  std::string out;
  for (char c : bytes)
    out += byteLevelChar(static_cast<uint8_t>(c));
  return out;
}

/// A GPT-2 vocabulary built in a test: ids 0..255 are the bytes, in order,
/// then the tokens added.
class ToyBPE {
public:
  ToyBPE() {
    for (unsigned b = 0; b < 256; ++b)
      addToken(spell(std::string(1, static_cast<char>(b))));
  }

  /// Adds a token spelled in byte-level characters; returns its id.
  int64_t addToken(const std::string &piece) {
    auto it = ids.find(piece);
    if (it != ids.end())
      return it->second;
    int64_t id = static_cast<int64_t>(pieces.size());
    pieces.push_back(piece);
    ids.emplace(piece, id);
    return id;
  }

  /// Adds the merge of two tokens spelled in raw bytes and its result;
  /// returns the result's id.
  int64_t addMerge(std::string_view left, std::string_view right) {
    merges.emplace_back(spell(left), spell(right));
    return addToken(spell(std::string(left) + std::string(right)));
  }

  /// Adds a merge for every split of every substring of \p text of two or
  /// more bytes, shorter ones first. Any two adjacent tokens inside a piece
  /// then merge, so each piece of the pattern becomes one token.
  void addMergesForAllSubstrings(std::string_view text) {
    std::set<std::pair<std::string, std::string>> seen;
    for (size_t length = 2; length <= text.size(); ++length)
      for (size_t start = 0; start + length <= text.size(); ++start)
        for (size_t split = 1; split < length; ++split) {
          std::string left(text.substr(start, split));
          std::string right(text.substr(start + split, length - split));
          if (seen.emplace(left, right).second)
            addMerge(left, right);
        }
  }

  /// The id of a token spelled in raw bytes.
  int64_t id(std::string_view bytes) const {
    auto it = ids.find(spell(bytes));
    EXPECT_NE(it, ids.end()) << "no token for " << bytes;
    return it == ids.end() ? -1 : it->second;
  }

  Json getVocabJson() const {
    Json vocab = Json::object();
    for (size_t i = 0; i < pieces.size(); ++i)
      vocab[pieces[i]] = i;
    return vocab;
  }

  std::string getMergesText() const {
    std::string text = "#version: 0.2\n";
    for (const auto &[left, right] : merges)
      text += left + " " + right + "\n";
    return text;
  }

  /// Writes vocab.json and merges.txt into \p dir.
  void write(const std::string &dir) const {
    writeTextFile(dir + "/vocab.json", getVocabJson().dump());
    writeTextFile(dir + "/merges.txt", getMergesText());
  }

  /// Writes the files and loads them.
  std::unique_ptr<Tokenizer> load(const TempDir &dir) const {
    write(dir.str());
    Expected<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::open(dir.str());
    EXPECT_TRUE(tokenizer) << tokenizer.message();
    return tokenizer ? tokenizer.take() : nullptr;
  }

private:
  std::vector<std::string> pieces;
  std::map<std::string, int64_t> ids;
  std::vector<std::pair<std::string, std::string>> merges;
};

std::vector<int64_t> encodeOrFail(const Tokenizer &tokenizer,
                                  std::string_view text) {
  Expected<std::vector<int64_t>> ids = tokenizer.encode(text);
  EXPECT_TRUE(ids) << ids.message();
  return ids ? ids.take() : std::vector<int64_t>();
}

std::string decodeOrFail(const Tokenizer &tokenizer,
                         const std::vector<int64_t> &ids) {
  Expected<std::string> text = tokenizer.decode(ids);
  EXPECT_TRUE(text) << text.message();
  return text ? text.take() : std::string();
}

/// The bytes of each token of \p text.
std::vector<std::string> getPieces(const Tokenizer &tokenizer,
                                   std::string_view text) {
  std::vector<std::string> pieces;
  for (int64_t id : encodeOrFail(tokenizer, text)) {
    Expected<std::string> bytes = tokenizer.getTokenBytes(id);
    EXPECT_TRUE(bytes) << bytes.message();
    pieces.push_back(bytes ? *bytes : "");
  }
  return pieces;
}

/// Expects \p result to be an error whose message contains every one of
/// \p parts.
template <class T>
void expectError(const Expected<T> &result,
                 std::initializer_list<std::string> parts) {
  ASSERT_FALSE(result) << "expected an error";
  for (const std::string &part : parts)
    EXPECT_NE(result.message().find(part), std::string::npos)
        << "message: " << result.message() << "\nmissing: " << part;
}

const std::string Replacement = "\xEF\xBF\xBD"; // U+FFFD

//===----------------------------------------------------------------------===//
// Bytes and UTF-8 replacement
//===----------------------------------------------------------------------===//

TEST(ByteTokenizerTest, RoundTripsAnyBytes) {
  std::unique_ptr<Tokenizer> bytes = Tokenizer::createByteLevel();
  EXPECT_EQ(bytes->getKind(), "bytes");
  EXPECT_EQ(bytes->getVocabSize(), 256);
  EXPECT_FALSE(bytes->getEOS());

  std::string text = "h\xC3\xA9llo \xF0\x9F\x98\x80";
  std::vector<int64_t> ids = encodeOrFail(*bytes, text);
  EXPECT_EQ(ids, (std::vector<int64_t>{'h', 0xC3, 0xA9, 'l', 'l', 'o', ' ',
                                       0xF0, 0x9F, 0x98, 0x80}));
  EXPECT_EQ(decodeOrFail(*bytes, ids), text);

  // Encoding keeps invalid UTF-8 byte for byte; only decoding replaces it.
  std::string invalid("a\xFF\x00z", 4);
  EXPECT_EQ(encodeOrFail(*bytes, invalid),
            (std::vector<int64_t>{'a', 0xFF, 0, 'z'}));
  EXPECT_EQ(decodeOrFail(*bytes, {'a', 0xFF, 0, 'z'}),
            "a" + Replacement + std::string(1, '\0') + "z");
  EXPECT_TRUE(encodeOrFail(*bytes, "").empty());
  EXPECT_EQ(decodeOrFail(*bytes, {}), "");
}

TEST(ByteTokenizerTest, RejectsIdsOutsideTheBytes) {
  std::unique_ptr<Tokenizer> bytes = Tokenizer::createByteLevel();
  expectError(bytes->getTokenBytes(256), {"token id 256", "[0, 256)"});
  expectError(bytes->getTokenBytes(-1), {"token id -1"});
  expectError(bytes->decode({104, 105, 300}),
              {"token id 300 at position 2", "outside the vocabulary"});
  Expected<std::string> error = bytes->decode({-5});
  ASSERT_FALSE(error);
  EXPECT_EQ(error.getStatus().code(), ErrorCode::InvalidArgument);
}

/// A model folder declares the byte tokenizer in its tokenizer_config.json;
/// another class, or a broken file, is not taken for it.
TEST(ByteTokenizerTest, DeclaredByTokenizerConfig) {
  TempDir dir;
  writeTextFile(dir / "tokenizer_config.json",
                R"({"tokenizer_class": "ByteLevelTokenizer"})");
  Expected<std::unique_ptr<Tokenizer>> opened = Tokenizer::open(dir.str());
  ASSERT_TRUE(opened) << opened.message();
  EXPECT_EQ((*opened)->getKind(), "bytes");
  Expected<std::vector<int64_t>> ids = (*opened)->encode("Hi");
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, (std::vector<int64_t>{72, 105}));

  writeTextFile(dir / "tokenizer_config.json",
                R"({"tokenizer_class": "GPT2Tokenizer"})");
  expectError(Tokenizer::open(dir.str()),
              {"no tokenizer files", "ByteLevelTokenizer"});
  writeTextFile(dir / "tokenizer_config.json", "[1, 2");
  expectError(Tokenizer::open(dir.str()), {"tokenizer_config.json"});
  writeTextFile(dir / "tokenizer_config.json", "[1, 2]");
  expectError(Tokenizer::open(dir.str()), {"expected a JSON object"});
}

/// Each maximal ill-formed subpart is one U+FFFD, as in Python's
/// bytes.decode('utf-8', errors='replace') and node's Buffer.toString.
TEST(ByteTokenizerTest, DecodingReplacesMaximalSubparts) {
  std::unique_ptr<Tokenizer> bytes = Tokenizer::createByteLevel();
  auto decodeBytes = [&](std::string_view text) {
    return decodeOrFail(*bytes, encodeOrFail(*bytes, text));
  };
  const std::string r = Replacement;
  EXPECT_EQ(decodeBytes("a\xE2\x82\xAC"
                        "b"),
            "a\xE2\x82\xAC"
            "b");
  EXPECT_EQ(decodeBytes("\xE2\x82"), r);                     // truncated
  EXPECT_EQ(decodeBytes("\xE2\x82z"), r + "z");              // cut short
  EXPECT_EQ(decodeBytes("\xED\xA0\x80"), r + r + r);         // surrogate
  EXPECT_EQ(decodeBytes("\xC0\x80"), r + r);                 // overlong
  EXPECT_EQ(decodeBytes("\xE0\x80"), r + r);                 // overlong
  EXPECT_EQ(decodeBytes("\xF0\x80\x80"), r + r + r);         // overlong
  EXPECT_EQ(decodeBytes("\xF4\x90\x80\x80"), r + r + r + r); // > U+10FFFF
  EXPECT_EQ(decodeBytes("\xF0\x9F\x98"
                        "A"),
            r + "A");
  EXPECT_EQ(decodeBytes("\xFF\xFE"), r + r);
  EXPECT_EQ(decodeBytes("\x80\xBF"), r + r);
}

//===----------------------------------------------------------------------===//
// TokenStreamDecoder
//===----------------------------------------------------------------------===//

TEST(TokenStreamDecoderTest, HoldsIncompleteCharacters) {
  std::unique_ptr<Tokenizer> bytes = Tokenizer::createByteLevel();
  TokenStreamDecoder stream(*bytes);
  auto push = [&](int64_t id) {
    Expected<std::string> text = stream.push(id);
    EXPECT_TRUE(text) << text.message();
    return text ? *text : std::string("<error>");
  };
  EXPECT_EQ(push('a'), "a");
  EXPECT_EQ(push(0xC3), "");
  EXPECT_TRUE(stream.hasPending());
  EXPECT_EQ(push(0xA9), "\xC3\xA9");
  EXPECT_FALSE(stream.hasPending());

  // A four-byte character over four tokens.
  EXPECT_EQ(push(0xF0), "");
  EXPECT_EQ(push(0x9F), "");
  EXPECT_EQ(push(0x98), "");
  EXPECT_EQ(push(0x80), "\xF0\x9F\x98\x80");
  EXPECT_EQ(stream.flush(), "");
}

TEST(TokenStreamDecoderTest, ReplacesWhatCannotComplete) {
  std::unique_ptr<Tokenizer> bytes = Tokenizer::createByteLevel();
  TokenStreamDecoder stream(*bytes);
  auto push = [&](int64_t id) {
    Expected<std::string> text = stream.push(id);
    EXPECT_TRUE(text) << text.message();
    return text ? *text : std::string("<error>");
  };
  // A lone continuation byte can never complete: out at once.
  EXPECT_EQ(push(0x80), Replacement);
  // A lead byte followed by a non-continuation: U+FFFD, then the byte.
  EXPECT_EQ(push(0xC3), "");
  EXPECT_EQ(push('A'), Replacement + "A");
  // E0 needs A0..BF next: 80 ends the subpart and is itself invalid.
  EXPECT_EQ(push(0xE0), "");
  EXPECT_EQ(push(0x80), Replacement + Replacement);
  // What is held at the end comes out of flush() as one U+FFFD.
  EXPECT_EQ(push(0xF0), "");
  EXPECT_EQ(push(0x9F), "");
  EXPECT_EQ(stream.flush(), Replacement);
  EXPECT_EQ(stream.flush(), "");

  // reset() drops what is held.
  EXPECT_EQ(push(0xE2), "");
  stream.reset();
  EXPECT_FALSE(stream.hasPending());
  EXPECT_EQ(push('z'), "z");
}

TEST(TokenStreamDecoderTest, BadIdLeavesStateUnchanged) {
  std::unique_ptr<Tokenizer> bytes = Tokenizer::createByteLevel();
  TokenStreamDecoder stream(*bytes);
  ASSERT_TRUE(stream.push(0xE2));
  expectError(stream.push(256), {"token id 256"});
  expectError(stream.push(-1), {"token id -1"});
  EXPECT_TRUE(stream.hasPending());
  Expected<std::string> a = stream.push(0x82);
  Expected<std::string> b = stream.push(0xAC);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a + *b, "\xE2\x82\xAC");
}

/// On any byte sequence, the pushes and the flush together give decode().
TEST(TokenStreamDecoderTest, MatchesDecodeOnRandomBytes) {
  std::unique_ptr<Tokenizer> bytes = Tokenizer::createByteLevel();
  std::mt19937 rng(1234);
  // Mostly lead and continuation bytes, so that sequences form and break.
  const uint8_t pool[] = {'a',  ' ',  0x80, 0x9F, 0xA0, 0xBF, 0xC2, 0xC3, 0xDF,
                          0xE0, 0xE2, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
  std::uniform_int_distribution<size_t> pick(0, sizeof(pool) - 1);
  for (int round = 0; round < 200; ++round) {
    std::vector<int64_t> ids(1 + round % 37);
    for (int64_t &id : ids)
      id = pool[pick(rng)];
    TokenStreamDecoder stream(*bytes);
    std::string streamed;
    for (int64_t id : ids) {
      Expected<std::string> text = stream.push(id);
      ASSERT_TRUE(text) << text.message();
      streamed += *text;
    }
    streamed += stream.flush();
    EXPECT_EQ(streamed, decodeOrFail(*bytes, ids)) << "round " << round;
  }
}

TEST(TokenStreamDecoderTest, MultiByteTokens) {
  // A GPT-2 token can end in the middle of a character and the next one
  // finish it: "€" is E2 82 AC, here the byte E2 and then the token 82 AC.
  TempDir dir;
  ToyBPE toy;
  int64_t tail = toy.addMerge("\x82", "\xAC");
  std::unique_ptr<Tokenizer> tokenizer = toy.load(dir);
  ASSERT_TRUE(tokenizer);
  TokenStreamDecoder stream(*tokenizer);
  Expected<std::string> first = stream.push(0xE2);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, "");
  Expected<std::string> second = stream.push(tail);
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, "\xE2\x82\xAC");
}

//===----------------------------------------------------------------------===//
// GPT-2 BPE
//===----------------------------------------------------------------------===//

TEST(BPETokenizerTest, MergesByRank) {
  TempDir dir;
  ToyBPE toy;
  toy.addMerge("l", "l");
  toy.addMerge("h", "e");
  toy.addMerge("he", "ll");
  int64_t hello = toy.addMerge("hell", "o");
  toy.addMerge(" ", "w");
  toy.addMerge("o", "r");
  int64_t wor = toy.addMerge(" w", "or");
  int64_t eos = toy.addToken("<|endoftext|>");
  std::unique_ptr<Tokenizer> tokenizer = toy.load(dir);
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->getKind(), "gpt2-bpe");
  EXPECT_EQ(tokenizer->getVocabSize(), 264);
  EXPECT_EQ(tokenizer->getEOS(), eos);

  // "hello": l l, h e, he ll, hell o. " world": Ġ w, o r, Ġw or; "l" and
  // "d" stay bytes.
  std::vector<int64_t> ids = encodeOrFail(*tokenizer, "hello world");
  EXPECT_EQ(ids, (std::vector<int64_t>{hello, wor, 'l', 'd'}));
  EXPECT_EQ(decodeOrFail(*tokenizer, ids), "hello world");
  // A second call goes through the cache.
  EXPECT_EQ(encodeOrFail(*tokenizer, "hello world"), ids);
  // Unmerged bytes are their own tokens.
  EXPECT_EQ(encodeOrFail(*tokenizer, "zz"), (std::vector<int64_t>{'z', 'z'}));

  Expected<std::string> bytes = tokenizer->getTokenBytes(wor);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, " wor");
  EXPECT_EQ(tokenizer->lookupToken(spell(" wor")), wor);
  EXPECT_FALSE(tokenizer->lookupToken("nope"));
  // "<|endoftext|>" in the text is text, as in gpt-3-encoder.
  std::vector<int64_t> special = encodeOrFail(*tokenizer, "<|endoftext|>");
  EXPECT_GT(special.size(), 1u);
  EXPECT_EQ(std::count(special.begin(), special.end(), eos), 0);
}

TEST(BPETokenizerTest, MergesAllOccurrencesOfARankBeforeTheNext) {
  TempDir dir;
  ToyBPE toy;
  // Rank 0 "ab a" cannot apply until rank 1 "a b" has run. On "abab" the
  // round of "a b" makes "ab ab" before "ab a" is looked at again, so the
  // result is two "ab" (merging one pair at a time would give "aba b").
  int64_t ab = toy.addToken(spell("ab"));
  toy.addMerge("ab", "a");
  toy.addMerge("a", "b");
  std::unique_ptr<Tokenizer> tokenizer = toy.load(dir);
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(encodeOrFail(*tokenizer, "abab"), (std::vector<int64_t>{ab, ab}));
  EXPECT_EQ(encodeOrFail(*tokenizer, "aba"),
            (std::vector<int64_t>{toy.id("aba")}));
}

TEST(BPETokenizerTest, MergesOverlappingPairsLeftToRight) {
  TempDir dir;
  ToyBPE toy;
  int64_t aa = toy.addMerge("a", "a");
  int64_t aaaa = toy.addMerge("aa", "aa");
  std::unique_ptr<Tokenizer> tokenizer = toy.load(dir);
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(encodeOrFail(*tokenizer, "aaa"), (std::vector<int64_t>{aa, 'a'}));
  EXPECT_EQ(encodeOrFail(*tokenizer, "aaaa"), (std::vector<int64_t>{aaaa}));
  EXPECT_EQ(encodeOrFail(*tokenizer, "aaaaa"),
            (std::vector<int64_t>{aaaa, 'a'}));
  // A long piece (the heap keeps this O(n log n)).
  std::vector<int64_t> expected(2500, aaaa);
  expected.push_back(aa);
  EXPECT_EQ(encodeOrFail(*tokenizer, std::string(10002, 'a')), expected);
}

/// The pieces of GPT-2's pattern. Every substring of the text is a token and
/// every split of one a merge, so each piece comes out as a single token and
/// the tokens' bytes are the pieces.
struct PatternCase {
  const char *text;
  std::vector<std::string> pieces;
};

void PrintTo(const PatternCase &c, std::ostream *os) {
  *os << testing::PrintToString(std::string(c.text));
}

class BPEPatternTest : public testing::TestWithParam<PatternCase> {};

TEST_P(BPEPatternTest, SplitsLikeTheReference) {
  const PatternCase &c = GetParam();
  TempDir dir;
  ToyBPE toy;
  // The tokenizer sees invalid UTF-8 replaced; so must the vocabulary.
  std::string text = c.text;
  std::string vocabText;
  for (size_t i = 0; i < text.size(); ++i)
    vocabText += static_cast<uint8_t>(text[i]) == 0xFF
                     ? Replacement
                     : std::string(1, text[i]);
  toy.addMergesForAllSubstrings(vocabText);
  std::unique_ptr<Tokenizer> tokenizer = toy.load(dir);
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(getPieces(*tokenizer, text), c.pieces);
}

INSTANTIATE_TEST_SUITE_P(
    Pieces, BPEPatternTest,
    testing::Values(
        PatternCase{"Hello world", {"Hello", " world"}},
        // '\s+(?!\S)' leaves the last space to lead the word.
        PatternCase{"a   b", {"a", "  ", " b"}},
        PatternCase{"a\n\nb", {"a", "\n", "\n", "b"}},
        PatternCase{" \tb", {" ", "\t", "b"}},
        PatternCase{"end  ", {"end", "  "}}, PatternCase{"\t\t", {"\t\t"}},
        PatternCase{"   ", {"   "}}, PatternCase{"", {}},
        // Contractions are lowercase only and take no space.
        PatternCase{"it's I'LL 'll", {"it", "'s", " I", "'", "LL", " '", "ll"}},
        PatternCase{"don't we're", {"don", "'t", " we", "'re"}},
        PatternCase{"'sand", {"'s", "and"}}, PatternCase{"''s", {"''", "s"}},
        PatternCase{" 's", {" '", "s"}},
        PatternCase{"x  'll", {"x", " ", " '", "ll"}},
        // Letters, numbers and the rest.
        PatternCase{"abc123def 4", {"abc", "123", "def", " 4"}},
        PatternCase{"x\xD9\xA3\xD9\xA4y", {"x", "\xD9\xA3\xD9\xA4", "y"}},
        PatternCase{"\xE2\x85\xAB\xC2\xBD", {"\xE2\x85\xAB\xC2\xBD"}}, // Ⅻ½
        PatternCase{"e\xCC\x81!", {"e", "\xCC\x81!"}}, // combining acute
        PatternCase{"a \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB",
                    {"a", " \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB"}},
        PatternCase{"\xE4\xBD\xA0\xE5\xA5\xBD \xE4\xB8\x96",
                    {"\xE4\xBD\xA0\xE5\xA5\xBD", " \xE4\xB8\x96"}},
        PatternCase{"\xD7\xA9\xD7\x9C \xD7\xA2", // Hebrew
                    {"\xD7\xA9\xD7\x9C", " \xD7\xA2"}},
        // JavaScript's \s: NBSP, U+2028 and U+FEFF are spaces, U+0085 is
        // not.
        PatternCase{"a\xC2\xA0"
                    "b",
                    {"a", "\xC2\xA0", "b"}},
        PatternCase{"a \xC2\xA0"
                    "b",
                    {"a", " ", "\xC2\xA0", "b"}},
        PatternCase{"x\xE2\x80\xA8y", {"x", "\xE2\x80\xA8", "y"}},
        PatternCase{"a \xEF\xBB\xBF"
                    "b",
                    {"a", " ", "\xEF\xBB\xBF", "b"}},
        PatternCase{"a \xC2\x85"
                    "b",
                    {"a", " \xC2\x85", "b"}},
        // Invalid UTF-8 is U+FFFD, a symbol.
        PatternCase{"a\xFF"
                    "b",
                    {"a", "\xEF\xBF\xBD", "b"}}));

//===----------------------------------------------------------------------===//
// GPT-2 files
//===----------------------------------------------------------------------===//

/// A small valid GPT-2 vocabulary with the merges "a b" and "ab c".
ToyBPE makeSmallToy() {
  ToyBPE toy;
  toy.addMerge("a", "b");
  toy.addMerge("ab", "c");
  return toy;
}

Expected<std::unique_ptr<Tokenizer>> openWithVocab(const TempDir &dir,
                                                   const std::string &vocab) {
  writeTextFile(dir / "vocab.json", vocab);
  writeTextFile(dir / "merges.txt", makeSmallToy().getMergesText());
  return Tokenizer::open(dir.str());
}

Expected<std::unique_ptr<Tokenizer>> openWithMerges(const TempDir &dir,
                                                    const std::string &merges) {
  writeTextFile(dir / "vocab.json", makeSmallToy().getVocabJson().dump());
  writeTextFile(dir / "merges.txt", merges);
  return Tokenizer::open(dir.str());
}

TEST(BPEFilesTest, ReadsBothLayouts) {
  ToyBPE toy = makeSmallToy();
  TempDir hf;
  ASSERT_TRUE(toy.load(hf));

  TempDir openai;
  writeTextFile(openai / "encoder.json", toy.getVocabJson().dump());
  writeTextFile(openai / "vocab.bpe", toy.getMergesText());
  Expected<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::open(openai.str());
  ASSERT_TRUE(tokenizer) << tokenizer.message();
  EXPECT_EQ(encodeOrFail(**tokenizer, "abc"),
            (std::vector<int64_t>{toy.id("abc")}));
}

TEST(BPEFilesTest, AcceptsCRLFNoHeaderAndTrailingBlankLines) {
  TempDir dir;
  ToyBPE toy = makeSmallToy();
  Expected<std::unique_ptr<Tokenizer>> tokenizer =
      openWithMerges(dir, spell("a") + " " + spell("b") + "\r\n" + spell("ab") +
                              " " + spell("c") + "\r\n\n\n");
  ASSERT_TRUE(tokenizer) << tokenizer.message();
  EXPECT_EQ(encodeOrFail(**tokenizer, "abc"),
            (std::vector<int64_t>{toy.id("abc")}));
}

TEST(BPEFilesTest, MissingFiles) {
  TempDir dir;
  expectError(Tokenizer::open(dir / "nope"),
              {dir / "nope", "no such tokenizer folder"});
  writeTextFile(dir / "file", "x");
  expectError(Tokenizer::open(dir / "file"), {"not a folder"});
  expectError(Tokenizer::open(dir.str()),
              {"no tokenizer files", "vocab.json + merges.txt",
               "encoder.json + vocab.bpe", "vocab.txt"});
  writeTextFile(dir / "tokenizer.json", "{}");
  expectError(Tokenizer::open(dir.str()),
              {"tokenizer.json alone is not supported"});

  writeTextFile(dir / "vocab.json", makeSmallToy().getVocabJson().dump());
  Expected<std::unique_ptr<Tokenizer>> noMerges = Tokenizer::open(dir.str());
  expectError(noMerges, {dir / "merges.txt", "missing", "vocab.json"});
  EXPECT_EQ(noMerges.getStatus().code(), ErrorCode::IO);

  TempDir openai;
  writeTextFile(openai / "vocab.bpe", makeSmallToy().getMergesText());
  expectError(Tokenizer::open(openai.str()),
              {openai / "encoder.json", "missing"});

  expectError(Tokenizer::openBPE(dir / "vocab.json", dir / "merges.txt"),
              {dir / "merges.txt", "cannot open"});
  fs::create_directory(dir / "merges.txt");
  expectError(Tokenizer::open(dir.str()),
              {dir / "merges.txt", "not a regular file"});
}

TEST(BPEFilesTest, VocabNotJsonObject) {
  TempDir dir;
  std::string path = dir / "vocab.json";
  expectError(openWithVocab(dir, "[1, 2]"),
              {path + ":1:1: expected a JSON object from token to id"});
  expectError(openWithVocab(dir, "{}"), {path + ": the vocabulary is empty"});
  expectError(openWithVocab(dir, "{\"a\": 0,"),
              {path + ":1:9: invalid JSON: expected a token in double quotes"});
  expectError(openWithVocab(dir, "{\"a\": 0,}"),
              {path + ":1:9: invalid JSON: expected a token"});
  expectError(openWithVocab(dir, "{\"a\" 0}"),
              {path + ":1:6: invalid JSON: expected ':'"});
  expectError(openWithVocab(dir, "{\"a\": 0 \"b\": 1}"),
              {path + ":1:9: invalid JSON: expected ',' or '}'"});
  expectError(openWithVocab(dir, "{\"a\": 0} x"),
              {path + ":1:10: invalid JSON: text after the object"});
  expectError(openWithVocab(dir, "{\"a\": 01}"),
              {path + ":1:7: invalid JSON: leading zero"});
  expectError(openWithVocab(dir, "{\"a\": -}"),
              {path + ":1:8: invalid JSON: expected an id"});
  expectError(openWithVocab(dir, "{\"a\nb\": 0}"),
              {path + ":1:4: invalid JSON: control character in a string"});
  expectError(openWithVocab(dir, "{\"a\\q\": 0}"),
              {path + ":1:5: invalid JSON: unknown escape '\\q'"});
  expectError(openWithVocab(dir, "{\"\\uD800\": 0}"),
              {path + ":1:3: invalid JSON: high surrogate"});
  expectError(openWithVocab(dir, "{\"\\uDC00\": 0}"),
              {path + ":1:3: invalid JSON: lone low surrogate"});
  expectError(openWithVocab(dir, "{\"\\u12G4\": 0}"), {"four hex digits"});
  expectError(openWithVocab(dir, "{\"abc"), {"unterminated string"});
  expectError(openWithVocab(dir, "{\n\"a\": 0,\n\"a\": 1}"),
              {path + ":3:1: token 'a' appears twice (first on line 2)"});
}

TEST(BPEFilesTest, VocabWithEscapes) {
  // Hugging Face writes vocab.json with \u escapes for non-ASCII text.
  TempDir dir;
  ToyBPE toy = makeSmallToy();
  std::string escaped = toy.getVocabJson().dump(-1, ' ', /*ensure_ascii=*/true);
  ASSERT_NE(escaped.find("\\u0120"), std::string::npos);
  Expected<std::unique_ptr<Tokenizer>> tokenizer = openWithVocab(dir, escaped);
  ASSERT_TRUE(tokenizer) << tokenizer.message();
  EXPECT_EQ(encodeOrFail(**tokenizer, " abc"),
            (std::vector<int64_t>{' ', toy.id("abc")}));
}

TEST(BPEFilesTest, VocabIdsNotIntegers) {
  for (auto [bad, found] :
       {std::pair("\"7\"", "a string"), std::pair("1.5", "1.5"),
        std::pair("true", "a boolean"), std::pair("null", "null"),
        std::pair("[1]", "an array"), std::pair("{}", "an object"),
        std::pair("1e30", "1e30"), std::pair("2E-1", "2E-1")}) {
    TempDir dir;
    std::string vocab = makeSmallToy().getVocabJson().dump();
    vocab.replace(vocab.find("\"a\":97"), 6, "\"a\":" + std::string(bad));
    std::string message =
        "the id of token 'a' must be an integer, found " + std::string(found);
    Expected<std::unique_ptr<Tokenizer>> tokenizer = openWithVocab(dir, vocab);
    expectError(tokenizer, {"vocab.json:1:", message});
    EXPECT_EQ(tokenizer.getStatus().code(), ErrorCode::Artifact);
  }
}

TEST(BPEFilesTest, VocabIdsOutOfRangeOrDuplicated) {
  Json base = makeSmallToy().getVocabJson();
  size_t size = base.size();
  for (const char *bad :
       {"-1", "259", "18446744073709551615", "-99999999999999999999"}) {
    TempDir dir;
    std::string vocab = base.dump();
    vocab.replace(vocab.find("\"a\":97"), 6, "\"a\":" + std::string(bad));
    expectError(openWithVocab(dir, vocab),
                {"token 'a' has the id " + std::string(bad),
                 "outside [0, " + std::to_string(size) + ")"});
  }
  TempDir dir;
  Json vocab = base;
  vocab["a"] = vocab["b"];
  // One member per line, so that the message can name the first owner's.
  expectError(
      openWithVocab(dir, vocab.dump(1)),
      {"vocab.json:", "the id 98 is given to both 'a' (line ", ") and 'b'"});
}

TEST(BPEFilesTest, VocabTokensNotByteLevel) {
  TempDir dir;
  Json vocab = makeSmallToy().getVocabJson();
  vocab["a b"] = vocab.size();
  expectError(openWithVocab(dir, vocab.dump()),
              {"token 'a b' holds U+0020", "256 byte-level characters"});

  vocab = makeSmallToy().getVocabJson();
  vocab[""] = vocab.size();
  expectError(openWithVocab(dir, vocab.dump()),
              {"the empty string is not a token"});

  // Without the token of byte 0x00 ("Ā").
  Json missing = Json::object();
  for (unsigned b = 1; b < 256; ++b)
    missing[spell(std::string(1, static_cast<char>(b)))] = b - 1;
  expectError(openWithVocab(dir, missing.dump()),
              {"the token '\xC4\x80' of byte 0x00 is missing"});
}

TEST(BPEFilesTest, VocabInvalidUtf8) {
  TempDir dir;
  std::string text = makeSmallToy().getVocabJson().dump(1);
  size_t line3 = text.find('\n', text.find('\n') + 1) + 1;
  text.insert(line3 + 2, "\xFF");
  Expected<std::unique_ptr<Tokenizer>> tokenizer = openWithVocab(dir, text);
  expectError(tokenizer,
              {dir / "vocab.json" + ":3:3: invalid UTF-8", "byte 0xff"});
  EXPECT_EQ(tokenizer.getStatus().code(), ErrorCode::Artifact);
}

TEST(BPEFilesTest, MergesMalformedLines) {
  std::string a = spell("a"), b = spell("b");
  for (const std::string &line : {a, a + " " + b + " " + a, a + "  " + b,
                                  " " + a, a + " ", a + "\t" + b}) {
    TempDir dir;
    Expected<std::unique_ptr<Tokenizer>> tokenizer = openWithMerges(
        dir, "#version: 0.2\n" + a + " " + b + "\n" + line + "\n");
    expectError(tokenizer, {dir / "merges.txt" + ":3:",
                            "expected two tokens separated by one space"});
    EXPECT_EQ(tokenizer.getStatus().code(), ErrorCode::Artifact);
  }
}

TEST(BPEFilesTest, MergesNamingUnknownTokens) {
  TempDir dir;
  std::string a = spell("a"), b = spell("b");
  expectError(openWithMerges(dir, "#version: 0.2\n" + a + " zz\n"),
              {"merges.txt:2:", "the token 'zz' is not in vocab.json"});
  expectError(openWithMerges(dir, "#version: 0.2\n" + b + " " + a + "\n"),
              {"merges.txt:2:", "the merge of 'b' and 'a', 'ba', is not in "
                                "vocab.json"});
  expectError(
      openWithMerges(dir, "#version: 0.2\n" + a + " " + b + "\n" + a + " " + b),
      {"merges.txt:3:", "the merge 'a b' repeats line 2"});
  expectError(openWithMerges(dir, "#version: 0.2\n" + a + " " + b + "\n\n" +
                                      spell("ab") + " " + spell("c") + "\n"),
              {"merges.txt:3:", "empty line before the merge on line 4"});
  expectError(openWithMerges(dir, "#version: 0.2\n\xFF\xFE\n"),
              {"merges.txt:2:1: invalid UTF-8"});
}

//===----------------------------------------------------------------------===//
// WordPiece
//===----------------------------------------------------------------------===//

const char *const BertVocab[] = {
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "hello",
    "world",
    ",",
    "!",
    "un",
    "##aff",
    "##able",
    "cafe",
    "naive",
    "\xE4\xBD\xA0" /*你*/,
    "\xE5\xA5\xBD" /*好*/,
    "a",
    "##a",
    "$",
    "\xC2\xAB" /*«*/,
    "\xC2\xBB" /*»*/,
    "'",
    "don",
    "t",
    "##s",
    "istanbul",
    "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x83" /*οδοσ*/,
    "the",
    "[",
    "]",
    "mask",
    "?",
    ".",
    "n",
};

enum BertId : int64_t {
  Pad,
  Unk,
  Cls,
  Sep,
  Mask,
  Hello,
  World,
  Comma,
  Bang,
  Un,
  Aff,
  Able,
  Cafe,
  Naive,
  Ni,
  Hao,
  A,
  ContA,
  Dollar,
  LeftQuote,
  RightQuote,
  Apostrophe,
  Don,
  T,
  ContS,
  Istanbul,
  Odos,
  The,
  LeftBracket,
  RightBracket,
  MaskWord,
  Question,
  Period,
  N,
};

std::string getBertVocabText() {
  std::string text;
  for (const char *token : BertVocab)
    text += std::string(token) + "\n";
  return text;
}

std::unique_ptr<Tokenizer>
openBert(const TempDir &dir,
         const WordPieceOptions &options = WordPieceOptions()) {
  writeTextFile(dir / "vocab.txt", getBertVocabText());
  Expected<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::openWordPiece(dir / "vocab.txt", options);
  EXPECT_TRUE(tokenizer) << tokenizer.message();
  return tokenizer ? tokenizer.take() : nullptr;
}

using Ids = std::vector<int64_t>;

TEST(WordPieceTest, WordsAndPieces) {
  TempDir dir;
  std::unique_ptr<Tokenizer> bert = openBert(dir);
  ASSERT_TRUE(bert);
  EXPECT_EQ(bert->getKind(), "wordpiece");
  EXPECT_EQ(bert->getVocabSize(), 34);
  EXPECT_EQ(bert->getEOS(), Sep);
  EXPECT_EQ(encodeOrFail(*bert, "Hello, World!"),
            (Ids{Hello, Comma, World, Bang}));
  EXPECT_EQ(encodeOrFail(*bert, "unaffable"), (Ids{Un, Aff, Able}));
  EXPECT_EQ(encodeOrFail(*bert, "don't"), (Ids{Don, Apostrophe, T}));
  EXPECT_EQ(encodeOrFail(*bert, ""), Ids{});
  EXPECT_EQ(encodeOrFail(*bert, " \t\n "), Ids{});
  Expected<std::vector<int64_t>> framed =
      bert->encodeWithSpecialTokens("hello");
  ASSERT_TRUE(framed) << framed.message();
  EXPECT_EQ(*framed, (Ids{Cls, Hello, Sep}));
}

TEST(WordPieceTest, UnknownAndLongWords) {
  TempDir dir;
  std::unique_ptr<Tokenizer> bert = openBert(dir);
  ASSERT_TRUE(bert);
  // No piece for the rest of the word: the whole word is [UNK].
  EXPECT_EQ(encodeOrFail(*bert, "helloq world"), (Ids{Unk, World}));
  EXPECT_EQ(encodeOrFail(*bert, "xyz"), Ids{Unk});
  // 100 characters split; 101 are [UNK] without a try.
  Ids hundred(100, ContA);
  hundred[0] = A;
  EXPECT_EQ(encodeOrFail(*bert, std::string(100, 'a')), hundred);
  EXPECT_EQ(encodeOrFail(*bert, std::string(101, 'a')), Ids{Unk});
  // Characters, not bytes: 100 two-byte letters are not too long.
  std::string accented;
  for (int i = 0; i < 100; ++i)
    accented += "\xC3\xA1"; // á, stripped to a
  EXPECT_EQ(encodeOrFail(*bert, accented), hundred);
}

TEST(WordPieceTest, CaseAndAccents) {
  TempDir dir;
  std::unique_ptr<Tokenizer> bert = openBert(dir);
  ASSERT_TRUE(bert);
  EXPECT_EQ(encodeOrFail(*bert, "Caf\xC3\xA9 NA\xC3\x8FVE"),
            (Ids{Cafe, Naive}));
  // Decomposed input: the combining acute is dropped too.
  EXPECT_EQ(encodeOrFail(*bert, "Cafe\xCC\x81"), Ids{Cafe});
  // "İ" lowercases to "i" + U+0307, whose mark is stripped.
  EXPECT_EQ(encodeOrFail(*bert, "\xC4\xB0stanbul"), Ids{Istanbul});
  // Lowercased one character at a time: no final sigma.
  EXPECT_EQ(encodeOrFail(*bert, "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3"), Ids{Odos});

  WordPieceOptions cased;
  cased.lowerCase = false;
  std::unique_ptr<Tokenizer> casedBert = openBert(dir, cased);
  ASSERT_TRUE(casedBert);
  EXPECT_EQ(encodeOrFail(*casedBert, "Hello hello"), (Ids{Unk, Hello}));
  EXPECT_EQ(encodeOrFail(*casedBert, "caf\xC3\xA9"), Ids{Unk});
  cased.stripAccents = true;
  casedBert = openBert(dir, cased);
  ASSERT_TRUE(casedBert);
  EXPECT_EQ(encodeOrFail(*casedBert, "caf\xC3\xA9"), Ids{Cafe});

  WordPieceOptions keepAccents;
  keepAccents.stripAccents = false;
  std::unique_ptr<Tokenizer> accentBert = openBert(dir, keepAccents);
  ASSERT_TRUE(accentBert);
  EXPECT_EQ(encodeOrFail(*accentBert, "CAFE caf\xC3\xA9"), (Ids{Cafe, Unk}));
}

TEST(WordPieceTest, PunctuationAndChinese) {
  TempDir dir;
  std::unique_ptr<Tokenizer> bert = openBert(dir);
  ASSERT_TRUE(bert);
  // ASCII symbols count as punctuation; so does Unicode's P*.
  EXPECT_EQ(encodeOrFail(*bert, "a$a"), (Ids{A, Dollar, A}));
  EXPECT_EQ(encodeOrFail(*bert, "\xC2\xABhello\xC2\xBB"),
            (Ids{LeftQuote, Hello, RightQuote}));
  EXPECT_EQ(encodeOrFail(*bert, "hello?!."),
            (Ids{Hello, Question, Bang, Period}));
  // Every CJK ideograph is a word.
  EXPECT_EQ(encodeOrFail(*bert, "hello\xE4\xBD\xA0\xE5\xA5\xBDworld"),
            (Ids{Hello, Ni, Hao, World}));
  WordPieceOptions noCJK;
  noCJK.splitChineseChars = false;
  std::unique_ptr<Tokenizer> plain = openBert(dir, noCJK);
  ASSERT_TRUE(plain);
  EXPECT_EQ(encodeOrFail(*plain, "\xE4\xBD\xA0\xE5\xA5\xBD"), Ids{Unk});
}

TEST(WordPieceTest, CleansTextAndSplitsAtWhitespace) {
  TempDir dir;
  std::unique_ptr<Tokenizer> bert = openBert(dir);
  ASSERT_TRUE(bert);
  // Control and format characters, NUL, U+FFFD and invalid UTF-8 vanish.
  EXPECT_EQ(encodeOrFail(*bert, "hel\x01lo"), Ids{Hello});
  EXPECT_EQ(encodeOrFail(*bert, std::string("hel\0lo", 6)), Ids{Hello});
  EXPECT_EQ(encodeOrFail(*bert, "hel\xE2\x80\x8Blo"), Ids{Hello}); // ZWSP
  EXPECT_EQ(encodeOrFail(*bert, "hel\xEF\xBF\xBDlo"), Ids{Hello});
  EXPECT_EQ(encodeOrFail(*bert, "hel\xFFlo"), Ids{Hello});
  // Whitespace of every kind separates words.
  EXPECT_EQ(encodeOrFail(*bert, "hello\xE3\x80\x80world"), (Ids{Hello, World}));
  EXPECT_EQ(encodeOrFail(*bert, "hello\xE2\x80\xA8world"), (Ids{Hello, World}));
  EXPECT_EQ(encodeOrFail(*bert, "hello\xC2\xA0world\r\n"), (Ids{Hello, World}));
  // VT is a control character to BERT, dropped rather than a space.
  EXPECT_EQ(encodeOrFail(*bert, "\thello\vworld"), Ids{Unk});
}

TEST(WordPieceTest, SpecialTokensInText) {
  TempDir dir;
  std::unique_ptr<Tokenizer> bert = openBert(dir);
  ASSERT_TRUE(bert);
  EXPECT_EQ(encodeOrFail(*bert, "Hello [MASK] world"),
            (Ids{Hello, Mask, World}));
  EXPECT_EQ(encodeOrFail(*bert, "hello[SEP]world[CLS]"),
            (Ids{Hello, Sep, World, Cls}));
  // Only the exact spelling is special.
  EXPECT_EQ(encodeOrFail(*bert, "[mask]"),
            (Ids{LeftBracket, MaskWord, RightBracket}));
}

TEST(WordPieceTest, Decode) {
  TempDir dir;
  std::unique_ptr<Tokenizer> bert = openBert(dir);
  ASSERT_TRUE(bert);
  EXPECT_EQ(decodeOrFail(*bert, {Cls, Hello, Comma, World, Bang, Sep}),
            "[CLS] hello, world! [SEP]");
  EXPECT_EQ(decodeOrFail(*bert, {Un, Aff, Able, The}), "unaffable the");
  EXPECT_EQ(decodeOrFail(*bert, {Don, Apostrophe, T}), "don't");
  EXPECT_EQ(decodeOrFail(*bert, {Hello, Period}), "hello.");
  EXPECT_EQ(decodeOrFail(*bert, {}), "");
  expectError(bert->decode({Hello, 34}),
              {"token id 34 at position 1", "[0, 34)"});

  WordPieceOptions raw;
  raw.cleanUpTokenizationSpaces = false;
  std::unique_ptr<Tokenizer> rawBert = openBert(dir, raw);
  ASSERT_TRUE(rawBert);
  EXPECT_EQ(decodeOrFail(*rawBert, {Hello, Period}), "hello .");

  Expected<std::string> word = bert->getTokenBytes(Hello);
  Expected<std::string> piece = bert->getTokenBytes(ContS);
  ASSERT_TRUE(word && piece);
  EXPECT_EQ(*word, " hello");
  EXPECT_EQ(*piece, "s");
  TokenStreamDecoder stream(*bert);
  Expected<std::string> first = stream.push(Hello);
  Expected<std::string> second = stream.push(ContS);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(*first + *second, " hellos");
}

TEST(WordPieceTest, VocabFileLines) {
  TempDir dir;
  // CR LF and CR end lines too; a repeated token keeps its last id.
  writeTextFile(dir / "vocab.txt", "[UNK]\r\nhello\rworld\nhello\n");
  Expected<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::openWordPiece(dir / "vocab.txt");
  ASSERT_TRUE(tokenizer) << tokenizer.message();
  EXPECT_EQ((*tokenizer)->getVocabSize(), 4);
  EXPECT_EQ(encodeOrFail(**tokenizer, "hello world"), (Ids{3, 2}));
  EXPECT_EQ(decodeOrFail(**tokenizer, {1, 3}), "hello hello");
  EXPECT_FALSE((*tokenizer)->getEOS());
  expectError((*tokenizer)->encodeWithSpecialTokens("hello"),
              {"no classification token"});
}

TEST(WordPieceTest, BadVocabFiles) {
  TempDir dir;
  expectError(Tokenizer::openWordPiece(dir / "vocab.txt"),
              {dir / "vocab.txt", "cannot open"});
  writeTextFile(dir / "vocab.txt", "");
  expectError(Tokenizer::openWordPiece(dir / "vocab.txt"),
              {"vocab.txt: the vocabulary is empty"});
  writeTextFile(dir / "vocab.txt", "[UNK]\nhel\xC3lo\n");
  expectError(Tokenizer::openWordPiece(dir / "vocab.txt"),
              {dir / "vocab.txt" + ":2:4: invalid UTF-8", "byte 0xc3"});
  writeTextFile(dir / "vocab.txt", "hello\nworld\n");
  expectError(Tokenizer::openWordPiece(dir / "vocab.txt"),
              {"vocab.txt: the unknown token '[UNK]' is not in the "
               "vocabulary"});
}

TEST(WordPieceTest, Config) {
  TempDir dir;
  writeTextFile(dir / "vocab.txt", getBertVocabText());
  auto openWithConfig = [&](const std::string &config) {
    writeTextFile(dir / "tokenizer_config.json", config);
    return Tokenizer::open(dir.str());
  };

  Expected<std::unique_ptr<Tokenizer>> defaults = Tokenizer::open(dir.str());
  ASSERT_TRUE(defaults) << defaults.message();
  EXPECT_EQ(encodeOrFail(**defaults, "Hello"), Ids{Hello});

  Expected<std::unique_ptr<Tokenizer>> cased =
      openWithConfig(R"({"do_lower_case": false, "model_max_length": 512,
                         "unk_token": {"content": "[UNK]", "lstrip": false},
                         "strip_accents": null})");
  ASSERT_TRUE(cased) << cased.message();
  EXPECT_EQ(encodeOrFail(**cased, "Hello hello"), (Ids{Unk, Hello}));

  Expected<std::unique_ptr<Tokenizer>> noCJK = openWithConfig(
      R"({"tokenize_chinese_chars": false,
          "clean_up_tokenization_spaces": false})");
  ASSERT_TRUE(noCJK) << noCJK.message();
  EXPECT_EQ(encodeOrFail(**noCJK, "\xE4\xBD\xA0\xE5\xA5\xBD"), Ids{Unk});
  EXPECT_EQ(decodeOrFail(**noCJK, {Hello, Period}), "hello .");

  Expected<std::unique_ptr<Tokenizer>> whitespaceOnly =
      openWithConfig(R"({"do_basic_tokenize": false})");
  ASSERT_TRUE(whitespaceOnly) << whitespaceOnly.message();
  EXPECT_EQ(encodeOrFail(**whitespaceOnly, "hello, world"), (Ids{Unk, World}));
}

TEST(WordPieceTest, BadConfigs) {
  TempDir dir;
  writeTextFile(dir / "vocab.txt", getBertVocabText());
  auto openWithConfig = [&](const std::string &config) {
    writeTextFile(dir / "tokenizer_config.json", config);
    return Tokenizer::open(dir.str());
  };
  expectError(openWithConfig("{"), {"tokenizer_config.json", "not valid JSON"});
  expectError(openWithConfig("[]"),
              {"tokenizer_config.json: expected a JSON object"});
  expectError(openWithConfig(R"({"do_lower_case": "yes"})"),
              {"field 'do_lower_case' must be true or false, not \"yes\""});
  expectError(openWithConfig(R"({"strip_accents": 1})"),
              {"field 'strip_accents' must be true, false or null"});
  expectError(openWithConfig(R"({"unk_token": 5})"),
              {"field 'unk_token' must be a non-empty string"});
  expectError(openWithConfig(R"({"sep_token": {"lstrip": true}})"),
              {"field 'sep_token' must be a non-empty string"});
  expectError(openWithConfig(R"({"unk_token": "<unk>"})"),
              {"vocab.txt: the unknown token '<unk>' is not in the "
               "vocabulary"});
  expectError(openWithConfig(R"({"mask_token": "<mask>"})"),
              {"vocab.txt: the mask_token '<mask>' is not in the vocabulary"});
  expectError(openWithConfig("{\"unk_token\": \"\xFF\"}"),
              {"tokenizer_config.json:1:16: invalid UTF-8"});
}

} // namespace
