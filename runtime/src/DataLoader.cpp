//===- DataLoader.cpp - Training data: batches, masking, labels -----------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file implements the causal-LM data loader, the masked-LM batch
// builder, the labelled-file reader, the classification data loader and the
// sentence-pair (next-sentence prediction) loader declared in DataLoader.h.
// Every random
// choice comes from SplitMix64 below, never from <random>, whose
// distributions differ between standard libraries: a seed must give the same
// data order wherever a run is resumed.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/DataLoader.h"

#include "RuntimeSupport.h"
#include "llm/runtime/Tokenizer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <new>
#include <utility>

using namespace llm::rt;
using namespace llm::rt::detail;

/// The largest corpus fromCorpus() reads (the text and its tokens are held in
/// memory).
static constexpr uint64_t MaxCorpusBytes = uint64_t(4) << 30;
/// The largest labelled file readLabelledFile() reads.
static constexpr uint64_t MaxLabelledFileBytes = uint64_t(4) << 30;

namespace {

/// Vigna's SplitMix64: a tiny generator with a fully specified output, plus
/// unbiased bounded integers (rejection of the incomplete last range) and
/// 53-bit uniform doubles.
class SplitMix64 {
public:
  explicit SplitMix64(uint64_t seed) : state(seed) {}

  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  /// Returns a uniform integer in [0, n); n > 0.
  uint64_t below(uint64_t n) {
    // 2^64 mod n values at the bottom would make the small results likelier.
    uint64_t threshold = (0 - n) % n;
    uint64_t x;
    do
      x = next();
    while (x < threshold);
    return x % n;
  }

  /// Returns a uniform double in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
  uint64_t state;
};

} // namespace

/// Combines two seeds into one, so that (seed, epoch) pairs give unrelated
/// streams.
static uint64_t mixSeeds(uint64_t a, uint64_t b) {
  return SplitMix64(a ^ SplitMix64(b).next()).next();
}

/// The FNV-1a offset basis: the hash of nothing.
static constexpr uint64_t FnvOffsetBasis = 0xcbf29ce484222325ULL;

/// FNV-1a over each token as 8 little-endian bytes, continuing from \p hash
/// (the hash of what came before).
static uint64_t hashTokens(const int64_t *begin, const int64_t *end,
                           uint64_t hash = FnvOffsetBasis) {
  for (const int64_t *p = begin; p != end; ++p) {
    uint64_t value = static_cast<uint64_t>(*p);
    for (int i = 0; i < 8; ++i) {
      hash ^= (value >> (8 * i)) & 0xff;
      hash *= 0x100000001b3ULL;
    }
  }
  return hash;
}

/// Returns "8 x 128".
static std::string batchShapeText(int64_t batchSize, int64_t seqLength) {
  return std::to_string(batchSize) + " x " + std::to_string(seqLength);
}

/// Returns a fraction as a percentage, e.g. "5%".
static std::string percentText(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g%%", fraction * 100);
  return buf;
}

static Status invalidArgument(const std::string &message) {
  return Status::error(ErrorCode::InvalidArgument, message);
}

/// Returns 0, 1, ..., n - 1 in the order of a Fisher-Yates shuffle (from the
/// back) drawn from \p rng.
static std::vector<int64_t> shuffledIndices(int64_t n, SplitMix64 &rng) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    order[static_cast<size_t>(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i) + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

namespace {

/// How a loader names the fields of its DataCursor in the messages of
/// checkSavedCursor.
struct CursorTerms {
  /// The name of DataCursor::seqLength, e.g. "sequence length".
  const char *length;
  /// The name of what DataCursor::numTrainTokens counts, e.g. "training
  /// tokens".
  const char *units;
  /// What changes that count, e.g. "a different corpus or tokenizer".
  const char *countChangedBy;
  /// What changes the hash.
  const char *hashChangedBy;
};

} // namespace

/// Returns why \p saved cannot continue in a loader whose own cursor is \p
/// current and whose epochs have \p batchesPerEpoch batches, or success.
static Status checkSavedCursor(const DataCursor &saved,
                               const DataCursor &current,
                               int64_t batchesPerEpoch,
                               const CursorTerms &terms) {
  auto mismatch = [](const std::string &what, const std::string &was,
                     const std::string &is) {
    return invalidArgument("cannot continue the saved data order: it was "
                           "made with " +
                           what + " " + was + ", but this run has " + is);
  };
  if (saved.batchSize != current.batchSize)
    return mismatch("batch size", std::to_string(saved.batchSize),
                    std::to_string(current.batchSize));
  if (saved.seqLength != current.seqLength)
    return mismatch(terms.length, std::to_string(saved.seqLength),
                    std::to_string(current.seqLength));
  if (saved.numTrainTokens != current.numTrainTokens)
    return mismatch(terms.units, std::to_string(saved.numTrainTokens),
                    std::to_string(current.numTrainTokens) + " (" +
                        terms.countChangedBy + ")");
  if (saved.trainTokenHash != current.trainTokenHash)
    return invalidArgument("cannot continue the saved data order: the " +
                           std::string(terms.units) +
                           " differ from those it was made with (" +
                           terms.hashChangedBy + ")");
  if (saved.epoch < 0 || saved.nextBatch < 0 ||
      saved.nextBatch >= batchesPerEpoch)
    return invalidArgument(
        "cannot continue the saved data order: epoch " +
        std::to_string(saved.epoch) + ", batch " +
        std::to_string(saved.nextBatch) + " is out of range (" +
        std::to_string(batchesPerEpoch) + " batches per epoch)");
  return Status::success();
}

/// Refuses validation batch \p index of a loader that has \p count.
static Status checkValidationBatch(int64_t index, int64_t count) {
  if (index < 0 || index >= count)
    return invalidArgument("validation batch " + std::to_string(index) +
                           " does not exist; there are " +
                           std::to_string(count));
  return Status::success();
}

/// Continues from \p saved when checkSavedCursor allows it: \p cursor and
/// \p seed become the saved ones and \p shuffle recomputes the order of the
/// saved epoch.
template <typename Shuffle>
static Status restoreSavedCursor(const DataCursor &saved, DataCursor &cursor,
                                 uint64_t &seed, int64_t batchesPerEpoch,
                                 const CursorTerms &terms, Shuffle shuffle) {
  if (Status s = checkSavedCursor(saved, cursor, batchesPerEpoch, terms);
      s.isError())
    return s;
  cursor = saved;
  seed = saved.seed;
  shuffle();
  return Status::success();
}

//===----------------------------------------------------------------------===//
// TrainingBatch
//===----------------------------------------------------------------------===//

/// Returns each row of \p batch without its first (\p skipFirst) or last
/// token.
static std::vector<int64_t> dropColumn(const TrainingBatch &batch,
                                       bool skipFirst) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(batch.batchSize * batch.seqLength));
  for (int64_t row = 0; row < batch.batchSize; ++row)
    for (int64_t col = 0; col < batch.seqLength; ++col)
      out.push_back(batch.at(row, col + (skipFirst ? 1 : 0)));
  return out;
}

std::vector<int64_t> TrainingBatch::getInputs() const {
  return dropColumn(*this, /*skipFirst=*/false);
}

std::vector<int64_t> TrainingBatch::getTargets() const {
  return dropColumn(*this, /*skipFirst=*/true);
}

//===----------------------------------------------------------------------===//
// CausalLMDataLoader
//===----------------------------------------------------------------------===//

Expected<CausalLMDataLoader>
CausalLMDataLoader::fromCorpus(const std::string &path,
                               const Tokenizer &tokenizer,
                               const DataLoaderOptions &options) {
  try {
    Expected<std::string> text = readSmallFile(path, MaxCorpusBytes);
    if (!text)
      return Status::error(ErrorCode::IO, "corpus " + text.message());
    if (text->empty())
      return invalidArgument("corpus " + path + " is empty");
    Expected<std::vector<int64_t>> ids = tokenizer.encode(*text);
    if (!ids)
      return Status::error(ids.getStatus().code(),
                           "corpus " + path + ": " + ids.message());
    if (ids->empty())
      return invalidArgument("corpus " + path + " has no tokens: its " +
                             std::to_string(text->size()) +
                             " bytes encode to nothing");
    return fromTokens(ids.take(), options, "corpus " + path);
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "corpus " + path + ": out of memory");
  }
}

Expected<CausalLMDataLoader>
CausalLMDataLoader::fromTokens(std::vector<int64_t> tokens,
                               const DataLoaderOptions &options,
                               const std::string &sourceName) {
  if (options.batchSize <= 0)
    return invalidArgument("the batch size must be > 0, not " +
                           std::to_string(options.batchSize));
  if (options.seqLength <= 0)
    return invalidArgument("the sequence length must be > 0, not " +
                           std::to_string(options.seqLength));
  if (!(options.validationFraction >= 0 && options.validationFraction < 1))
    return invalidArgument("the validation fraction must be in [0, 1), not " +
                           std::to_string(options.validationFraction));
  uint64_t windowTokens = 0, batchTokens = 0;
  if (!checkedMul(static_cast<uint64_t>(options.batchSize),
                  static_cast<uint64_t>(options.seqLength), windowTokens) ||
      !checkedAdd(windowTokens, 1, batchTokens) ||
      batchTokens > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return invalidArgument(
        "a batch of " + batchShapeText(options.batchSize, options.seqLength) +
        " tokens is too large");
  // One batch needs batchSize windows of seqLength + 1 tokens, each sharing
  // one token with the next: batchSize * seqLength + 1 tokens.
  int64_t needed = static_cast<int64_t>(batchTokens);

  int64_t numTokens = static_cast<int64_t>(tokens.size());
  if (numTokens == 0)
    return invalidArgument(sourceName + " has no tokens");
  int64_t numValidation = static_cast<int64_t>(
      std::floor(static_cast<double>(numTokens) * options.validationFraction));
  int64_t numTrain = numTokens - numValidation;
  std::string shape = batchShapeText(options.batchSize, options.seqLength);
  if (numTrain < needed) {
    std::string split = numValidation > 0
                            ? ", " + std::to_string(numTrain) +
                                  " of them for training (the last " +
                                  std::to_string(numValidation) + ", " +
                                  percentText(options.validationFraction) +
                                  ", are kept for validation)"
                            : "";
    return invalidArgument(
        sourceName + " is smaller than one batch: " +
        std::to_string(numTokens) + " tokens were found" + split +
        ", but one batch of " + shape + " needs " + std::to_string(needed) +
        " training tokens (batch size x sequence length + 1)");
  }
  if (options.validationFraction > 0 && numValidation < needed)
    return invalidArgument(
        "the validation part of " + sourceName + " (the last " +
        percentText(options.validationFraction) + ": " +
        std::to_string(numValidation) + " of " + std::to_string(numTokens) +
        " tokens) is smaller than one batch of " + shape + ", which needs " +
        std::to_string(needed) +
        " tokens; use a larger corpus, a larger validation fraction, or 0 "
        "for no validation");

  CausalLMDataLoader loader;
  loader.options = options;
  loader.tokens = std::move(tokens);
  loader.numTrainTokens = numTrain;
  DataCursor &cursor = loader.cursor;
  cursor.seed = options.seed;
  cursor.batchSize = options.batchSize;
  cursor.seqLength = options.seqLength;
  cursor.numTrainTokens = numTrain;
  cursor.trainTokenHash =
      hashTokens(loader.tokens.data(), loader.tokens.data() + numTrain);
  loader.shuffleForEpoch();
  return loader;
}

int64_t CausalLMDataLoader::getBatchesPerEpoch() const {
  int64_t windows = (numTrainTokens - 1) / options.seqLength;
  return windows / options.batchSize;
}

int64_t CausalLMDataLoader::getNumValidationBatches() const {
  int64_t numValidation = getNumValidationTokens();
  if (numValidation == 0)
    return 0;
  return (numValidation - 1) / options.seqLength / options.batchSize;
}

int64_t CausalLMDataLoader::getWindowStart(int64_t window) const {
  return window * options.seqLength;
}

void CausalLMDataLoader::shuffleForEpoch() {
  int64_t windows = (numTrainTokens - 1) / options.seqLength;
  order.resize(static_cast<size_t>(windows));
  for (int64_t i = 0; i < windows; ++i)
    order[static_cast<size_t>(i)] = i;
  SplitMix64 rng(mixSeeds(cursor.seed, static_cast<uint64_t>(cursor.epoch)));
  // Fisher-Yates, from the back.
  for (int64_t i = windows - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i) + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
}

/// Appends the window of seqLength + 1 tokens at \p start to \p batch.
static void appendWindow(TrainingBatch &batch, const std::vector<int64_t> &tokens,
                         int64_t start) {
  auto first = tokens.begin() + start;
  batch.tokens.insert(batch.tokens.end(), first, first + batch.seqLength + 1);
}

TrainingBatch CausalLMDataLoader::nextBatch() {
  TrainingBatch batch;
  batch.batchSize = options.batchSize;
  batch.seqLength = options.seqLength;
  batch.tokens.reserve(
      static_cast<size_t>(options.batchSize * (options.seqLength + 1)));
  int64_t first = cursor.nextBatch * options.batchSize;
  for (int64_t row = 0; row < options.batchSize; ++row)
    appendWindow(batch, tokens,
                 getWindowStart(order[static_cast<size_t>(first + row)]));
  if (++cursor.nextBatch == getBatchesPerEpoch()) {
    ++cursor.epoch;
    cursor.nextBatch = 0;
    shuffleForEpoch();
  }
  return batch;
}

Expected<TrainingBatch>
CausalLMDataLoader::getValidationBatch(int64_t index) const {
  if (Status s = checkValidationBatch(index, getNumValidationBatches());
      s.isError())
    return s;
  TrainingBatch batch;
  batch.batchSize = options.batchSize;
  batch.seqLength = options.seqLength;
  batch.tokens.reserve(
      static_cast<size_t>(options.batchSize * (options.seqLength + 1)));
  for (int64_t row = 0; row < options.batchSize; ++row)
    appendWindow(batch, tokens,
                 numTrainTokens +
                     (index * options.batchSize + row) * options.seqLength);
  return batch;
}

Status CausalLMDataLoader::restoreCursor(const DataCursor &saved) {
  static const CursorTerms terms = {
      "sequence length", "training tokens",
      "a different corpus, tokenizer or validation fraction",
      "a different corpus or tokenizer"};
  return restoreSavedCursor(saved, cursor, options.seed, getBatchesPerEpoch(),
                            terms, [this] { shuffleForEpoch(); });
}

//===----------------------------------------------------------------------===//
// Masked language modelling
//===----------------------------------------------------------------------===//

Expected<MaskedLMOptions>
MaskedLMOptions::fromTokenizer(const Tokenizer &tokenizer) {
  MaskedLMOptions options;
  options.vocabSize = tokenizer.getVocabSize();
  std::optional<int64_t> mask = tokenizer.lookupToken("[MASK]");
  if (!mask)
    return invalidArgument(
        "masked-LM training needs a [MASK] token, which the " +
        std::string(tokenizer.getKind()) +
        " tokenizer's vocabulary lacks (use a BERT WordPiece vocabulary)");
  options.maskTokenId = *mask;
  for (const char *name : {"[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]"})
    if (std::optional<int64_t> id = tokenizer.lookupToken(name))
      options.specialTokenIds.push_back(*id);
  return options;
}

Expected<MaskedLMBatch>
llm::rt::buildMaskedLMBatch(const std::vector<int64_t> &ids, int64_t batchSize,
                            int64_t seqLength, const MaskedLMOptions &options,
                            uint64_t seed) {
  if (batchSize <= 0 || seqLength <= 0)
    return invalidArgument("masked-LM batch: the batch size and sequence "
                           "length must be > 0, not " +
                           batchShapeText(batchSize, seqLength));
  uint64_t count = 0;
  if (!checkedMul(static_cast<uint64_t>(batchSize),
                  static_cast<uint64_t>(seqLength), count) ||
      count != ids.size())
    return invalidArgument("masked-LM batch: " + std::to_string(ids.size()) +
                           " ids do not make a batch of " +
                           batchShapeText(batchSize, seqLength));
  if (options.vocabSize <= 0)
    return invalidArgument("masked-LM batch: the vocabulary size must be > "
                           "0, not " +
                           std::to_string(options.vocabSize));
  auto inVocab = [&](int64_t id) { return id >= 0 && id < options.vocabSize; };
  if (!inVocab(options.maskTokenId))
    return invalidArgument(
        "masked-LM batch: the mask id " + std::to_string(options.maskTokenId) +
        " is outside the vocabulary of " + std::to_string(options.vocabSize));
  if (!(options.maskFraction > 0 && options.maskFraction <= 1))
    return invalidArgument("masked-LM batch: the mask fraction must be in "
                           "(0, 1], not " +
                           std::to_string(options.maskFraction));
  std::vector<int64_t> specials = options.specialTokenIds;
  std::sort(specials.begin(), specials.end());
  specials.erase(std::unique(specials.begin(), specials.end()), specials.end());
  for (int64_t id : specials)
    if (!inVocab(id))
      return invalidArgument(
          "masked-LM batch: the special id " + std::to_string(id) +
          " is outside the vocabulary of " + std::to_string(options.vocabSize));
  if (static_cast<int64_t>(specials.size()) >= options.vocabSize)
    return invalidArgument("masked-LM batch: every id of the vocabulary is "
                           "special, so there is nothing to draw");
  auto isSpecial = [&](int64_t id) {
    return std::binary_search(specials.begin(), specials.end(), id);
  };
  for (size_t i = 0; i < ids.size(); ++i)
    if (!inVocab(ids[i]))
      return invalidArgument(
          "masked-LM batch: id " + std::to_string(ids[i]) + " at row " +
          std::to_string(static_cast<int64_t>(i) / seqLength) + ", column " +
          std::to_string(static_cast<int64_t>(i) % seqLength) +
          " is outside the vocabulary of " + std::to_string(options.vocabSize));

  MaskedLMBatch batch;
  batch.batchSize = batchSize;
  batch.seqLength = seqLength;
  batch.inputIds = ids;
  batch.labels.assign(ids.size(), IgnoreLabel);
  SplitMix64 rng(seed);
  std::vector<size_t> candidates;
  for (int64_t row = 0; row < batchSize; ++row) {
    size_t begin = static_cast<size_t>(row * seqLength);
    candidates.clear();
    for (size_t i = begin; i < begin + static_cast<size_t>(seqLength); ++i)
      if (!isSpecial(ids[i]))
        candidates.push_back(i);
    if (candidates.empty())
      continue;
    size_t n = candidates.size();
    size_t chosen = static_cast<size_t>(
        std::llround(options.maskFraction * static_cast<double>(n)));
    chosen = std::min(n, std::max<size_t>(1, chosen));
    // A partial Fisher-Yates shuffle: the first `chosen` candidates are a
    // uniform sample without replacement.
    for (size_t i = 0; i < chosen; ++i) {
      size_t j = i + static_cast<size_t>(rng.below(n - i));
      std::swap(candidates[i], candidates[j]);
      size_t pos = candidates[i];
      batch.labels[pos] = ids[pos];
      double u = rng.unit();
      if (u < 0.8) {
        batch.inputIds[pos] = options.maskTokenId;
      } else if (u < 0.9) {
        int64_t id;
        do
          id = static_cast<int64_t>(
              rng.below(static_cast<uint64_t>(options.vocabSize)));
        while (isSpecial(id));
        batch.inputIds[pos] = id;
      }
    }
  }
  return batch;
}

//===----------------------------------------------------------------------===//
// Classification
//===----------------------------------------------------------------------===//

/// Returns true if \p s is empty or only spaces, tabs and line breaks.
static bool isBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n\v\f") == std::string_view::npos;
}

/// Removes the first line of \p rest, with its "\n", and returns it without
/// the "\n" and a trailing "\r".
static std::string_view takeLine(std::string_view &rest) {
  size_t newline = rest.find('\n');
  std::string_view line = rest.substr(0, newline);
  rest = newline == std::string_view::npos ? std::string_view()
                                           : rest.substr(newline + 1);
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  return line;
}

Expected<LabelledDataset>
llm::rt::readLabelledFile(const std::string &path,
                          const std::vector<std::string> &knownLabels) {
  try {
    Expected<std::string> text = readSmallFile(path, MaxLabelledFileBytes);
    if (!text)
      return Status::error(ErrorCode::IO, "labelled file " + text.message());
    std::map<std::string, int64_t> labelIds;
    for (size_t i = 0; i < knownLabels.size(); ++i)
      if (!labelIds.emplace(knownLabels[i], static_cast<int64_t>(i)).second)
        return invalidArgument("labelled file " + path +
                               ": the known labels list " +
                               quote(knownLabels[i]) + " twice");

    struct RawExample {
      std::string label;
      LabelledExample example;
    };
    std::vector<RawExample> raw;
    std::string_view rest(*text);
    int64_t lineNo = 0;
    while (!rest.empty()) {
      ++lineNo;
      std::string_view line = takeLine(rest);
      if (line.empty())
        continue;
      std::string where = path + ":" + std::to_string(lineNo) + ": ";
      size_t tab = line.find('\t');
      if (tab == std::string_view::npos)
        return invalidArgument(where + "no tab between the label and the text "
                                       "(expected `label<TAB>text`)");
      std::string_view label = line.substr(0, tab);
      std::string_view exampleText = line.substr(tab + 1);
      if (isBlank(label))
        return invalidArgument(where + "empty label");
      if (isBlank(exampleText))
        return invalidArgument(where + "empty text");
      if (!knownLabels.empty() && !labelIds.count(std::string(label))) {
        std::string known;
        for (const std::string &name : knownLabels)
          known += (known.empty() ? "" : ", ") + quote(name);
        return invalidArgument(where + "unknown label " + quote(label) +
                               " (the labels are " + known + ")");
      }
      RawExample example;
      example.label = std::string(label);
      example.example.text = std::string(exampleText);
      example.example.line = lineNo;
      raw.push_back(std::move(example));
    }
    if (raw.empty())
      return invalidArgument("labelled file " + path + " has no examples");

    LabelledDataset dataset;
    if (knownLabels.empty()) {
      for (const RawExample &example : raw)
        labelIds.emplace(example.label, 0);
      // std::map iterates in byte order: the sorted ids.
      for (auto &entry : labelIds) {
        entry.second = static_cast<int64_t>(dataset.labelNames.size());
        dataset.labelNames.push_back(entry.first);
      }
    } else {
      dataset.labelNames = knownLabels;
    }
    dataset.examples.reserve(raw.size());
    for (RawExample &example : raw) {
      example.example.label = labelIds.at(example.label);
      dataset.examples.push_back(std::move(example.example));
    }
    return dataset;
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "labelled file " + path + ": out of memory");
  }
}

//===----------------------------------------------------------------------===//
// ClassificationDataLoader
//===----------------------------------------------------------------------===//

Expected<ClassificationDataLoader> ClassificationDataLoader::fromFiles(
    const std::string &trainPath, const std::string &validationPath,
    const Tokenizer &tokenizer, const ClassificationOptions &options) {
  if (options.batchSize <= 0)
    return invalidArgument("the batch size must be > 0, not " +
                           std::to_string(options.batchSize));
  if (options.maxLength <= 0)
    return invalidArgument("the maximum length must be > 0, not " +
                           std::to_string(options.maxLength));
  if (!(options.validationFraction >= 0 && options.validationFraction < 1))
    return invalidArgument("the validation fraction must be in [0, 1), not " +
                           std::to_string(options.validationFraction));
  if (options.padId < 0 || options.padId >= tokenizer.getVocabSize())
    return invalidArgument(
        "the padding id " + std::to_string(options.padId) + " is outside the " +
        std::string(tokenizer.getKind()) + " tokenizer's vocabulary of " +
        std::to_string(tokenizer.getVocabSize()));

  // Tokenizes the examples of `dataset`, read from `path`, into `out`.
  auto tokenize = [&](const LabelledDataset &dataset, const std::string &path,
                      std::vector<Example> &out) -> Status {
    out.reserve(dataset.examples.size());
    for (const LabelledExample &example : dataset.examples) {
      std::string where = path + ":" + std::to_string(example.line) + ": ";
      Expected<std::vector<int64_t>> ids =
          tokenizer.encodeWithSpecialTokens(example.text);
      if (!ids)
        return Status::error(ids.getStatus().code(), where + ids.message());
      if (ids->empty())
        return invalidArgument(where + "the text has no tokens (the " +
                               std::string(tokenizer.getKind()) +
                               " tokenizer encodes it to nothing)");
      Example tokenized;
      tokenized.label = example.label;
      tokenized.tokens = ids.take();
      if (static_cast<int64_t>(tokenized.tokens.size()) > options.maxLength)
        tokenized.tokens.resize(static_cast<size_t>(options.maxLength));
      out.push_back(std::move(tokenized));
    }
    return Status::success();
  };

  try {
    Expected<LabelledDataset> train = readLabelledFile(trainPath);
    if (!train)
      return train.getStatus();
    std::vector<Example> examples;
    if (Status s = tokenize(*train, trainPath, examples); s.isError())
      return s;

    ClassificationDataLoader loader;
    loader.options = options;
    loader.labelNames = train->labelNames;
    int64_t numExamples = static_cast<int64_t>(examples.size());
    int64_t numHeldOut = 0;
    if (!validationPath.empty()) {
      Expected<LabelledDataset> validation =
          readLabelledFile(validationPath, train->labelNames);
      if (!validation)
        return validation.getStatus();
      if (Status s =
              tokenize(*validation, validationPath, loader.validationExamples);
          s.isError())
        return s;
      loader.trainExamples = std::move(examples);
    } else {
      numHeldOut = static_cast<int64_t>(std::floor(
          static_cast<double>(numExamples) * options.validationFraction));
      // The last numHeldOut of a shuffled order validate; both parts keep
      // the file's order.
      SplitMix64 rng(options.seed);
      std::vector<int64_t> shuffled = shuffledIndices(numExamples, rng);
      std::vector<bool> heldOut(static_cast<size_t>(numExamples), false);
      for (int64_t i = numExamples - numHeldOut; i < numExamples; ++i)
        heldOut[static_cast<size_t>(shuffled[static_cast<size_t>(i)])] = true;
      loader.trainExamples.reserve(
          static_cast<size_t>(numExamples - numHeldOut));
      loader.validationExamples.reserve(static_cast<size_t>(numHeldOut));
      for (int64_t i = 0; i < numExamples; ++i)
        (heldOut[static_cast<size_t>(i)] ? loader.validationExamples
                                         : loader.trainExamples)
            .push_back(std::move(examples[static_cast<size_t>(i)]));
    }

    int64_t numTrain = loader.getNumTrainExamples();
    std::string split =
        numHeldOut > 0 ? " (of its " + std::to_string(numExamples) +
                             "; the other " + std::to_string(numHeldOut) +
                             ", " + percentText(options.validationFraction) +
                             ", are held out for validation)"
                       : "";
    if (numTrain == 0)
      return invalidArgument("labelled file " + trainPath +
                             " has no training examples left" + split);
    if (numTrain < options.batchSize)
      return invalidArgument("labelled file " + trainPath +
                             " has fewer training examples than one batch: " +
                             std::to_string(numTrain) + split +
                             ", but a batch needs " +
                             std::to_string(options.batchSize));

    DataCursor &cursor = loader.cursor;
    cursor.seed = options.seed;
    cursor.batchSize = options.batchSize;
    cursor.seqLength = options.maxLength;
    cursor.numTrainTokens = numTrain;
    uint64_t hash = FnvOffsetBasis;
    for (const Example &example : loader.trainExamples) {
      int64_t head[2] = {example.label,
                         static_cast<int64_t>(example.tokens.size())};
      hash = hashTokens(head, head + 2, hash);
      hash = hashTokens(example.tokens.data(),
                        example.tokens.data() + example.tokens.size(), hash);
    }
    cursor.trainTokenHash = hash;
    loader.shuffleForEpoch();
    return loader;
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "labelled file " + trainPath + ": out of memory");
  }
}

int64_t ClassificationDataLoader::getBatchesPerEpoch() const {
  return getNumTrainExamples() / options.batchSize;
}

int64_t ClassificationDataLoader::getNumValidationBatches() const {
  return (getNumValidationExamples() + options.batchSize - 1) /
         options.batchSize;
}

void ClassificationDataLoader::shuffleForEpoch() {
  SplitMix64 rng(mixSeeds(cursor.seed, static_cast<uint64_t>(cursor.epoch)));
  order = shuffledIndices(getNumTrainExamples(), rng);
}

ClassificationBatch ClassificationDataLoader::makeBatch(
    const std::vector<const Example *> &rows) const {
  ClassificationBatch batch;
  batch.batchSize = static_cast<int64_t>(rows.size());
  for (const Example *example : rows)
    batch.seqLength =
        std::max(batch.seqLength, static_cast<int64_t>(example->tokens.size()));
  size_t cells = static_cast<size_t>(batch.batchSize * batch.seqLength);
  batch.inputs.assign(cells, options.padId);
  batch.labels.assign(cells, IgnoreLabel);
  batch.attentionMask.assign(cells, 0);
  batch.lengths.reserve(rows.size());
  batch.classes.reserve(rows.size());
  for (size_t row = 0; row < rows.size(); ++row) {
    const Example &example = *rows[row];
    size_t begin = row * static_cast<size_t>(batch.seqLength);
    std::copy(example.tokens.begin(), example.tokens.end(),
              batch.inputs.begin() + static_cast<std::ptrdiff_t>(begin));
    batch.labels[begin + (options.labelFirstToken
                              ? 0
                              : example.tokens.size() - 1)] = example.label;
    std::fill_n(batch.attentionMask.begin() +
                    static_cast<std::ptrdiff_t>(begin),
                example.tokens.size(), 1);
    batch.lengths.push_back(static_cast<int64_t>(example.tokens.size()));
    batch.classes.push_back(example.label);
  }
  return batch;
}

ClassificationBatch ClassificationDataLoader::nextBatch() {
  std::vector<const Example *> rows;
  rows.reserve(static_cast<size_t>(options.batchSize));
  int64_t first = cursor.nextBatch * options.batchSize;
  for (int64_t row = 0; row < options.batchSize; ++row)
    rows.push_back(&trainExamples[static_cast<size_t>(
        order[static_cast<size_t>(first + row)])]);
  if (++cursor.nextBatch == getBatchesPerEpoch()) {
    ++cursor.epoch;
    cursor.nextBatch = 0;
    shuffleForEpoch();
  }
  return makeBatch(rows);
}

Expected<ClassificationBatch>
ClassificationDataLoader::getValidationBatch(int64_t index) const {
  if (Status s = checkValidationBatch(index, getNumValidationBatches());
      s.isError())
    return s;
  int64_t first = index * options.batchSize;
  int64_t last =
      std::min(first + options.batchSize, getNumValidationExamples());
  std::vector<const Example *> rows;
  rows.reserve(static_cast<size_t>(last - first));
  for (int64_t i = first; i < last; ++i)
    rows.push_back(&validationExamples[static_cast<size_t>(i)]);
  return makeBatch(rows);
}

Status ClassificationDataLoader::restoreCursor(const DataCursor &saved) {
  static const CursorTerms terms = {
      "maximum length", "training examples",
      "a different training file, validation split or tokenizer",
      "a different training file, validation split or tokenizer"};
  return restoreSavedCursor(saved, cursor, options.seed, getBatchesPerEpoch(),
                            terms, [this] { shuffleForEpoch(); });
}

//===----------------------------------------------------------------------===//
// SentencePairDataLoader
//===----------------------------------------------------------------------===//

/// Salts that keep the draws of the pairs' random segments apart from the
/// epoch shuffles drawn from the same seed.
static constexpr uint64_t TrainPairDrawSalt = 0x6e73702d74726e31ULL;
static constexpr uint64_t ValidationPairDrawSalt = 0x6e73702d76616c31ULL;

/// The marker hashed before each training document: no sentence has this
/// many tokens.
static constexpr int64_t DocumentHashMarker = -1;

Expected<SentencePairOptions>
SentencePairOptions::fromTokenizer(const Tokenizer &tokenizer) {
  SentencePairOptions options;
  std::pair<const char *, int64_t *> specials[] = {{"[CLS]", &options.clsId},
                                                   {"[SEP]", &options.sepId},
                                                   {"[PAD]", &options.padId}};
  for (auto &[name, id] : specials) {
    std::optional<int64_t> found = tokenizer.lookupToken(name);
    if (!found)
      return invalidArgument(
          "next-sentence prediction needs a " + std::string(name) +
          " token, which the " + std::string(tokenizer.getKind()) +
          " tokenizer's vocabulary lacks (use a BERT WordPiece vocabulary)");
    *id = *found;
  }
  return options;
}

/// Returns why \p options cannot build a SentencePairDataLoader, or success.
static Status checkSentencePairOptions(const SentencePairOptions &options) {
  if (options.batchSize <= 0)
    return invalidArgument("the batch size must be > 0, not " +
                           std::to_string(options.batchSize));
  if (options.seqLength < 5)
    return invalidArgument("the sequence length must be >= 5 ([CLS] A [SEP] "
                           "B [SEP] with a token in each segment), not " +
                           std::to_string(options.seqLength));
  uint64_t cells = 0;
  if (!checkedMul(static_cast<uint64_t>(options.batchSize),
                  static_cast<uint64_t>(options.seqLength), cells) ||
      cells > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return invalidArgument(
        "a batch of " + batchShapeText(options.batchSize, options.seqLength) +
        " tokens is too large");
  if (!(options.validationFraction >= 0 && options.validationFraction < 1))
    return invalidArgument("the validation fraction must be in [0, 1), not " +
                           std::to_string(options.validationFraction));
  if (!(options.randomNextProbability >= 0 &&
        options.randomNextProbability <= 1))
    return invalidArgument(
        "the random-next probability must be in [0, 1], not " +
        std::to_string(options.randomNextProbability));
  std::pair<const char *, int64_t> ids[] = {{"[CLS]", options.clsId},
                                            {"[SEP]", options.sepId},
                                            {"[PAD]", options.padId}};
  for (const auto &[name, id] : ids)
    if (id < 0)
      return invalidArgument("the " + std::string(name) +
                             " id must be >= 0, not " + std::to_string(id) +
                             " (SentencePairOptions::fromTokenizer sets it)");
  return Status::success();
}

/// Shortens \p first and \p second as BERT's truncate_seq_pair does, one
/// token at a time from the longer (\p first on ties), until they hold at
/// most \p budget tokens together; computed in closed form.
static void truncatePairLengths(int64_t &first, int64_t &second,
                                int64_t budget) {
  int64_t excess = first + second - budget;
  if (excess <= 0)
    return;
  // The longer loses tokens until the two are equal...
  int64_t &longer = first >= second ? first : second;
  int64_t gap = std::min(excess, std::abs(first - second));
  longer -= gap;
  excess -= gap;
  // ...then they take turns, the first segment first.
  first -= (excess + 1) / 2;
  second -= excess / 2;
}

Expected<SentencePairDataLoader>
SentencePairDataLoader::fromCorpus(const std::string &path,
                                   const Tokenizer &tokenizer,
                                   const SentencePairOptions &options) {
  // Before the corpus is tokenized, which may take a while.
  if (Status s = checkSentencePairOptions(options); s.isError())
    return s;
  try {
    Expected<std::string> text = readSmallFile(path, MaxCorpusBytes);
    if (!text)
      return Status::error(ErrorCode::IO, "corpus " + text.message());
    if (text->empty())
      return invalidArgument("corpus " + path + " is empty");
    std::vector<std::vector<std::vector<int64_t>>> documents(1);
    std::string_view rest(*text);
    int64_t lineNo = 0;
    while (!rest.empty()) {
      ++lineNo;
      std::string_view line = takeLine(rest);
      if (isBlank(line)) {
        if (!documents.back().empty())
          documents.emplace_back();
        continue;
      }
      Expected<std::vector<int64_t>> ids = tokenizer.encode(line);
      if (!ids)
        return Status::error(ids.getStatus().code(),
                             path + ":" + std::to_string(lineNo) + ": " +
                                 ids.message());
      if (!ids->empty())
        documents.back().push_back(ids.take());
    }
    return fromDocuments(std::move(documents), options, "corpus " + path);
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "corpus " + path + ": out of memory");
  }
}

Expected<SentencePairDataLoader> SentencePairDataLoader::fromDocuments(
    std::vector<std::vector<std::vector<int64_t>>> documents,
    const SentencePairOptions &options, const std::string &sourceName) {
  if (Status s = checkSentencePairOptions(options); s.isError())
    return s;
  try {
    SentencePairDataLoader loader;
    loader.options = options;
    std::vector<int64_t> &sentenceStarts = loader.sentenceStarts;
    std::vector<int64_t> &documentStarts = loader.documentStarts;
    sentenceStarts.push_back(0);
    for (std::vector<std::vector<int64_t>> &document : documents) {
      int64_t firstSentence = static_cast<int64_t>(sentenceStarts.size()) - 1;
      for (std::vector<int64_t> &sentence : document) {
        if (sentence.empty())
          continue;
        loader.tokens.insert(loader.tokens.end(), sentence.begin(),
                             sentence.end());
        sentenceStarts.push_back(static_cast<int64_t>(loader.tokens.size()));
      }
      // A document without sentences is no document.
      if (static_cast<int64_t>(sentenceStarts.size()) - 1 > firstSentence)
        documentStarts.push_back(firstSentence);
      // Release the copy as soon as it is made.
      std::vector<std::vector<int64_t>>().swap(document);
    }
    int64_t numSentences = loader.getNumSentences();
    if (numSentences == 0)
      return invalidArgument(sourceName + " has no sentences");
    documentStarts.push_back(numSentences);

    // The validation cut: a document straddling it becomes two.
    int64_t numValidation = static_cast<int64_t>(std::floor(
        static_cast<double>(numSentences) * options.validationFraction));
    int64_t numTrain = numSentences - numValidation;
    loader.numTrainSentences = numTrain;
    auto cut = std::lower_bound(documentStarts.begin(), documentStarts.end(),
                                numTrain);
    if (*cut != numTrain)
      cut = documentStarts.insert(cut, numTrain);
    loader.numTrainDocuments = cut - documentStarts.begin();
    int64_t numDocuments = static_cast<int64_t>(documentStarts.size()) - 1;
    loader.documentOf.resize(static_cast<size_t>(numSentences));
    for (int64_t d = 0; d < numDocuments; ++d) {
      int64_t begin = documentStarts[static_cast<size_t>(d)];
      int64_t end = documentStarts[static_cast<size_t>(d) + 1];
      for (int64_t s = begin; s < end; ++s) {
        loader.documentOf[static_cast<size_t>(s)] = d;
        // An example needs a sentence that follows its first.
        if (s + 1 < end)
          (s < numTrain ? loader.trainStarts : loader.validationStarts)
              .push_back(s);
      }
    }

    int64_t numTrainExamples = loader.getNumTrainExamples();
    int64_t numValidationExamples = loader.getNumValidationExamples();
    std::string split =
        numValidation > 0
            ? "; the training part is its first " + std::to_string(numTrain) +
                  " of " + std::to_string(numSentences) +
                  " sentences, the last " + std::to_string(numValidation) +
                  ", " + percentText(options.validationFraction) +
                  ", are kept for validation"
            : "";
    if (numTrainExamples == 0)
      return invalidArgument(sourceName +
                             " has no training example: no document of its "
                             "training part has two sentences (a pair needs "
                             "a sentence followed by another of its "
                             "document" +
                             split + ")");
    if (numTrainExamples < options.batchSize)
      return invalidArgument(
          sourceName + " has fewer training examples than one batch: " +
          std::to_string(numTrainExamples) + ", but a batch needs " +
          std::to_string(options.batchSize) +
          " (one example per sentence followed by another of its document" +
          split + ")");
    if (options.validationFraction > 0 &&
        numValidationExamples < options.batchSize)
      return invalidArgument(
          "the validation part of " + sourceName + " (the last " +
          percentText(options.validationFraction) + ": " +
          std::to_string(numValidation) + " of " +
          std::to_string(numSentences) +
          " sentences) has fewer examples "
          "than one batch: " +
          std::to_string(numValidationExamples) + ", but a batch needs " +
          std::to_string(options.batchSize) +
          "; use a smaller batch size, a larger corpus or validation "
          "fraction, or 0 for no validation");

    DataCursor &cursor = loader.cursor;
    cursor.seed = options.seed;
    cursor.batchSize = options.batchSize;
    cursor.seqLength = options.seqLength;
    cursor.numTrainTokens = numTrainExamples;
    uint64_t hash = FnvOffsetBasis;
    for (int64_t s = 0; s < numTrain; ++s) {
      if (s == documentStarts[static_cast<size_t>(
                   loader.documentOf[static_cast<size_t>(s)])])
        hash = hashTokens(&DocumentHashMarker, &DocumentHashMarker + 1, hash);
      int64_t length = loader.getSentenceLength(s);
      const int64_t *begin =
          loader.tokens.data() + sentenceStarts[static_cast<size_t>(s)];
      hash = hashTokens(&length, &length + 1, hash);
      hash = hashTokens(begin, begin + length, hash);
    }
    cursor.trainTokenHash = hash;
    loader.shuffleForEpoch();
    return loader;
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         sourceName + ": out of memory");
  }
}

int64_t SentencePairDataLoader::getBatchesPerEpoch() const {
  return getNumTrainExamples() / options.batchSize;
}

int64_t SentencePairDataLoader::getNumValidationBatches() const {
  return getNumValidationExamples() / options.batchSize;
}

void SentencePairDataLoader::shuffleForEpoch() {
  SplitMix64 rng(mixSeeds(cursor.seed, static_cast<uint64_t>(cursor.epoch)));
  order = shuffledIndices(getNumTrainExamples(), rng);
}

SentencePairDataLoader::SentencePair
SentencePairDataLoader::makePair(int64_t start, uint64_t drawSeed) const {
  int64_t budget = options.seqLength - 3;
  int64_t document = documentOf[static_cast<size_t>(start)];
  int64_t documentBegin = documentStarts[static_cast<size_t>(document)];
  int64_t documentEnd = documentStarts[static_cast<size_t>(document) + 1];

  // A: the start sentence and those that follow while they fill at most half
  // of the budget, leaving at least one sentence to continue A.
  int64_t firstEnd = start + 1;
  int64_t firstLength = getSentenceLength(start);
  while (firstEnd + 1 < documentEnd &&
         2 * (firstLength + getSentenceLength(firstEnd)) <= budget)
    firstLength += getSentenceLength(firstEnd++);

  // B: A's continuation, or sentences from a random start.
  SplitMix64 rng(drawSeed);
  int64_t label = rng.unit() < options.randomNextProbability ? 1 : 0;
  int64_t secondStart = firstEnd, secondEnd = documentEnd;
  if (label == 1) {
    bool validation = document >= numTrainDocuments;
    int64_t numDocuments = static_cast<int64_t>(documentStarts.size()) - 1;
    int64_t partBegin = validation ? numTrainSentences : 0;
    int64_t partEnd = validation ? getNumSentences() : numTrainSentences;
    int64_t partDocuments =
        validation ? numDocuments - numTrainDocuments : numTrainDocuments;
    // The sentences [excludedBegin, excludedEnd) may not start B.
    int64_t excludedBegin = partDocuments > 1 ? documentBegin : start;
    int64_t excludedEnd = partDocuments > 1 ? documentEnd : firstEnd + 1;
    int64_t candidates = (partEnd - partBegin) - (excludedEnd - excludedBegin);
    if (candidates > 0) {
      secondStart =
          partBegin +
          static_cast<int64_t>(rng.below(static_cast<uint64_t>(candidates)));
      if (secondStart >= excludedBegin)
        secondStart += excludedEnd - excludedBegin;
      secondEnd =
          documentStarts[static_cast<size_t>(
                             documentOf[static_cast<size_t>(secondStart)]) +
                         1];
      // In A's own document, B stops before it reaches A.
      if (secondStart < start)
        secondEnd = std::min(secondEnd, start);
    } else {
      // One document of A and its continuation only: nothing else to draw.
      label = 0;
    }
  }
  // B takes at least one sentence, even when A fills the budget alone.
  int64_t secondTarget = budget - firstLength;
  int64_t secondLength = 0;
  int64_t next = secondStart;
  do
    secondLength += getSentenceLength(next++);
  while (next < secondEnd && secondLength < secondTarget);

  truncatePairLengths(firstLength, secondLength, budget);
  SentencePair pair;
  pair.firstBegin = sentenceStarts[static_cast<size_t>(start)];
  pair.firstLength = firstLength;
  pair.secondBegin = sentenceStarts[static_cast<size_t>(secondStart)];
  pair.secondLength = secondLength;
  pair.label = label;
  return pair;
}

SentencePairBatch SentencePairDataLoader::makeBatch(
    const std::vector<int64_t> &starts,
    const std::vector<uint64_t> &drawSeeds) const {
  SentencePairBatch batch;
  batch.batchSize = static_cast<int64_t>(starts.size());
  batch.seqLength = options.seqLength;
  size_t cells = starts.size() * static_cast<size_t>(options.seqLength);
  batch.inputs.assign(cells, options.padId);
  batch.segments.assign(cells, 0);
  batch.attentionMask.assign(cells, 0);
  batch.nextSentenceLabels.reserve(starts.size());
  for (size_t row = 0; row < starts.size(); ++row) {
    SentencePair pair = makePair(starts[row], drawSeeds[row]);
    auto input = batch.inputs.begin() +
                 static_cast<std::ptrdiff_t>(row * options.seqLength);
    auto first = tokens.begin() + pair.firstBegin;
    auto second = tokens.begin() + pair.secondBegin;
    *input++ = options.clsId;
    input = std::copy(first, first + pair.firstLength, input);
    *input++ = options.sepId;
    input = std::copy(second, second + pair.secondLength, input);
    *input = options.sepId;
    size_t begin = row * static_cast<size_t>(options.seqLength);
    size_t firstCells = static_cast<size_t>(pair.firstLength) + 2;
    size_t secondCells = static_cast<size_t>(pair.secondLength) + 1;
    std::fill_n(batch.segments.begin() +
                    static_cast<std::ptrdiff_t>(begin + firstCells),
                secondCells, 1);
    std::fill_n(batch.attentionMask.begin() +
                    static_cast<std::ptrdiff_t>(begin),
                firstCells + secondCells, 1);
    batch.nextSentenceLabels.push_back(pair.label);
  }
  return batch;
}

SentencePairBatch SentencePairDataLoader::nextBatch() {
  std::vector<int64_t> starts;
  std::vector<uint64_t> drawSeeds;
  starts.reserve(static_cast<size_t>(options.batchSize));
  drawSeeds.reserve(static_cast<size_t>(options.batchSize));
  // The draws depend on the example's place in the epoch, not on the
  // batches built before, so that a restored cursor repeats them.
  uint64_t epochSeed = mixSeeds(mixSeeds(cursor.seed, TrainPairDrawSalt),
                                static_cast<uint64_t>(cursor.epoch));
  int64_t first = cursor.nextBatch * options.batchSize;
  for (int64_t row = 0; row < options.batchSize; ++row) {
    int64_t place = first + row;
    starts.push_back(
        trainStarts[static_cast<size_t>(order[static_cast<size_t>(place)])]);
    drawSeeds.push_back(mixSeeds(epochSeed, static_cast<uint64_t>(place)));
  }
  if (++cursor.nextBatch == getBatchesPerEpoch()) {
    ++cursor.epoch;
    cursor.nextBatch = 0;
    shuffleForEpoch();
  }
  return makeBatch(starts, drawSeeds);
}

Expected<SentencePairBatch>
SentencePairDataLoader::getValidationBatch(int64_t index) const {
  if (Status s = checkValidationBatch(index, getNumValidationBatches());
      s.isError())
    return s;
  std::vector<int64_t> starts;
  std::vector<uint64_t> drawSeeds;
  starts.reserve(static_cast<size_t>(options.batchSize));
  drawSeeds.reserve(static_cast<size_t>(options.batchSize));
  uint64_t validationSeed = mixSeeds(options.seed, ValidationPairDrawSalt);
  for (int64_t row = 0; row < options.batchSize; ++row) {
    int64_t example = index * options.batchSize + row;
    starts.push_back(validationStarts[static_cast<size_t>(example)]);
    drawSeeds.push_back(
        mixSeeds(validationSeed, static_cast<uint64_t>(example)));
  }
  return makeBatch(starts, drawSeeds);
}

Status SentencePairDataLoader::restoreCursor(const DataCursor &saved) {
  static const CursorTerms terms = {
      "sequence length", "training examples",
      "a different corpus, tokenizer or validation fraction",
      "a different corpus, tokenizer or validation fraction"};
  return restoreSavedCursor(saved, cursor, options.seed, getBatchesPerEpoch(),
                            terms, [this] { shuffleForEpoch(); });
}
