//===- Tokenize.cpp - llm-run tokenize ------------------------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The tokenize subcommand of llm-run:
//
//   llm-run tokenize --tokenizer DIR|bytes (--text STRING | --input FILE)
//                    [--special-tokens] [-o FILE]
//   llm-run tokenize --tokenizer DIR|bytes (--decode IDS | --decode-input FILE)
//                    [-o FILE]
//
// encodes text with the tokenizer of a model folder (llm::rt::Tokenizer:
// GPT-2 BPE or WordPiece) and prints the ids comma-separated on one line,
// or decodes comma-separated ids and prints the text exactly (no newline is
// added). "-" as a file name is standard input. The output file is written
// atomically and may not be one of the inputs.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "llm/runtime/Tokenizer.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
namespace rt = llm::rt;

//===----------------------------------------------------------------------===//
// Command line
//===----------------------------------------------------------------------===//

cl::OptionCategory llm::run::TokenizeCategory("tokenize options");

cl::SubCommand llm::run::TokenizeCommand(
    "tokenize",
    "Encode text to token ids, or decode ids to text, with a model's "
    "tokenizer");

using llm::run::TokenizeCategory;
using llm::run::TokenizeCommand;

static cl::opt<std::string> tokenizerPath(
    "tokenizer",
    cl::desc("Tokenizer: a folder holding vocab.json + merges.txt, "
             "encoder.json + vocab.bpe (GPT-2) or vocab.txt (WordPiece); "
             "'bytes' for ids that are the bytes of the text"),
    cl::value_desc("dir|bytes"), cl::sub(TokenizeCommand),
    cl::cat(TokenizeCategory));

static cl::opt<std::string> textToEncode("text", cl::desc("Text to encode"),
                                         cl::value_desc("string"),
                                         cl::sub(TokenizeCommand),
                                         cl::cat(TokenizeCategory));

static cl::opt<std::string>
    inputPath("input",
              cl::desc("File whose bytes are the text to encode ('-': "
                       "standard input)"),
              cl::value_desc("file"), cl::sub(TokenizeCommand),
              cl::cat(TokenizeCategory));

static cl::opt<std::string>
    idsToDecode("decode",
                cl::desc("Token ids to decode, comma-separated (e.g. "
                         "15496,995)"),
                cl::value_desc("ids"), cl::sub(TokenizeCommand),
                cl::cat(TokenizeCategory));

static cl::opt<std::string> decodeInputPath(
    "decode-input",
    cl::desc("File of comma-separated token ids to decode ('-': standard "
             "input)"),
    cl::value_desc("file"), cl::sub(TokenizeCommand),
    cl::cat(TokenizeCategory));

static cl::opt<bool> withSpecialTokens(
    "special-tokens",
    cl::desc("Frame the ids the way the model was trained (WordPiece: "
             "[CLS] ... [SEP]); encoding only"),
    cl::sub(TokenizeCommand), cl::cat(TokenizeCategory));

static cl::opt<std::string>
    outputPath("o",
               cl::desc("Write the ids or the text to this file (default: "
                        "standard output)"),
               cl::value_desc("file"), cl::sub(TokenizeCommand),
               cl::cat(TokenizeCategory));

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

using llm::run::fail;

/// Reads all of \p path ("-": standard input) for option \p flag.
static Expected<std::unique_ptr<MemoryBuffer>> readInput(StringRef flag,
                                                         StringRef path) {
  if (path != "-" && sys::fs::is_directory(path))
    return createStringError(inconvertibleErrorCode(),
                             "--" + flag + " '" + path +
                                 "' is a folder; expected a file");
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFileOrSTDIN(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer)
    return createStringError(buffer.getError(),
                             "cannot read --" + flag + " '" + path +
                                 "': " + buffer.getError().message());
  return std::move(*buffer);
}

/// Parses comma-separated ids; blanks (newlines included) around each id
/// are ignored, and blank text is the empty list.
static Expected<std::vector<int64_t>> parseIds(StringRef flag, StringRef text) {
  std::vector<int64_t> ids;
  if (text.trim().empty())
    return ids;
  SmallVector<StringRef, 0> items;
  text.split(items, ',');
  for (size_t i = 0; i < items.size(); ++i) {
    StringRef item = items[i].trim();
    int64_t id;
    // getAsInteger fails on anything but an optional '-' and decimal digits
    // that fit int64_t.
    if (item.empty() || item.getAsInteger(10, id)) {
      std::string shown = item.take_front(40).str();
      return createStringError(
          inconvertibleErrorCode(),
          "--" + flag + ": " +
              (item.empty() ? std::string("empty id")
                            : "'" + shown + (item.size() > 40 ? "...'" : "'") +
                                  " is not an integer in int64 range") +
              " at position " + Twine(i).str());
    }
    ids.push_back(id);
  }
  return ids;
}

/// Checks -o before any work: not a folder, in an existing folder, and not
/// one of the files the run reads.
static bool checkOutputPath(StringRef path) {
  if (path == "-")
    return true;
  if (sys::fs::is_directory(path)) {
    fail("-o '" + path + "' is a folder; expected a file name");
    return false;
  }
  StringRef parent = sys::path::parent_path(path);
  if (parent.empty())
    parent = ".";
  if (!sys::fs::is_directory(parent)) {
    fail("cannot write -o '" + path + "': the folder '" + parent +
         "' does not exist");
    return false;
  }
  SmallVector<std::string, 8> inputs;
  for (const cl::opt<std::string> *input : {&inputPath, &decodeInputPath})
    if (!input->empty() && *input != "-")
      inputs.push_back(*input);
  if (tokenizerPath != "bytes")
    for (StringRef name : {"vocab.json", "merges.txt", "encoder.json",
                           "vocab.bpe", "vocab.txt", "tokenizer_config.json"})
      inputs.push_back((Twine(tokenizerPath) + "/" + name).str());
  for (const std::string &input : inputs) {
    bool same = false;
    if (!sys::fs::equivalent(input, path, same) && same) {
      fail("-o '" + path + "' is the input '" + input +
           "'; choose another path");
      return false;
    }
  }
  return true;
}

static Expected<std::unique_ptr<rt::Tokenizer>> loadTokenizer() {
  if (tokenizerPath == "bytes")
    return rt::Tokenizer::createByteLevel();
  rt::Expected<std::unique_ptr<rt::Tokenizer>> tokenizer =
      rt::Tokenizer::open(tokenizerPath);
  if (!tokenizer)
    return createStringError(inconvertibleErrorCode(), tokenizer.message());
  return tokenizer.take();
}

//===----------------------------------------------------------------------===//
// tokenize
//===----------------------------------------------------------------------===//

int llm::run::runTokenize() {
  if (tokenizerPath.getNumOccurrences() == 0)
    return fail("tokenize: --tokenizer is required");
  SmallVector<StringRef, 4> given;
  for (cl::opt<std::string> *option :
       {&textToEncode, &inputPath, &idsToDecode, &decodeInputPath})
    if (option->getNumOccurrences())
      given.push_back(option->ArgStr);
  if (given.empty())
    return fail("tokenize: give what to encode (--text or --input) or to "
                "decode (--decode or --decode-input)");
  if (given.size() > 1)
    return fail("tokenize: --" + given[0] + " and --" + given[1] +
                " conflict; give one input");
  bool decoding =
      idsToDecode.getNumOccurrences() || decodeInputPath.getNumOccurrences();
  if (decoding && withSpecialTokens)
    return fail("tokenize: --special-tokens applies to encoding only");
  if (outputPath.getNumOccurrences() && !checkOutputPath(outputPath))
    return 1;

  // The input first: a typo there should not cost a tokenizer load.
  std::unique_ptr<MemoryBuffer> buffer;
  for (auto [flag, path] :
       {std::pair(StringRef("input"), &inputPath),
        std::pair(StringRef("decode-input"), &decodeInputPath)}) {
    if (!path->getNumOccurrences())
      continue;
    Expected<std::unique_ptr<MemoryBuffer>> read = readInput(flag, *path);
    if (!read)
      return fail(toString(read.takeError()));
    buffer = std::move(*read);
  }
  std::vector<int64_t> ids;
  if (decoding) {
    StringRef flag =
        idsToDecode.getNumOccurrences() ? "decode" : "decode-input";
    StringRef text = buffer ? buffer->getBuffer() : StringRef(idsToDecode);
    Expected<std::vector<int64_t>> parsed = parseIds(flag, text);
    if (!parsed)
      return fail(toString(parsed.takeError()));
    ids = std::move(*parsed);
  }

  Expected<std::unique_ptr<rt::Tokenizer>> tokenizer = loadTokenizer();
  if (!tokenizer)
    return fail(toString(tokenizer.takeError()));

  std::string result;
  if (decoding) {
    rt::Expected<std::string> text = (*tokenizer)->decode(ids);
    if (!text)
      return fail(
          "--" +
          Twine(idsToDecode.getNumOccurrences() ? "decode" : "decode-input") +
          ": " + text.message());
    result = text.take();
  } else {
    std::string_view text = buffer ? std::string_view(buffer->getBuffer())
                                   : std::string_view(textToEncode);
    rt::Expected<std::vector<int64_t>> encoded =
        withSpecialTokens ? (*tokenizer)->encodeWithSpecialTokens(text)
                          : (*tokenizer)->encode(text);
    if (!encoded)
      return fail(encoded.message());
    raw_string_ostream os(result);
    interleave(*encoded, os, ",");
    os << "\n";
  }

  if (outputPath.empty()) {
    outs() << result;
    outs().flush();
    return 0;
  }
  if (Error error = writeToOutput(outputPath, [&](raw_ostream &os) {
        os << result;
        return Error::success();
      }))
    return fail("cannot write -o '" + outputPath +
                "': " + toString(std::move(error)));
  return 0;
}
