//===- DataLoaderTest.cpp - Tests of the training data pipeline -----------===//
//
// Part of the llm-opt project.
//
// The causal-LM loader over streams whose token ids are their positions, so
// that every row tells where it was cut from: the split, the windows, one
// visit per window and epoch, seeded shuffles (uniform: checked over many
// seeds), resuming from a cursor, and the refusals. Then the masked-LM
// builder (counts, the 80/10/10 rule within 5 standard deviations, special
// ids), the labelled-file reader, and the classification loader over files
// whose texts name themselves (padding, labels, the held-out split, seeded
// epochs, resuming, the refusals). Last, the sentence-pair loader over
// documents whose token ids name their document, sentence and position, so
// that every row can be checked against a plain reimplementation of BERT's
// pair building: the row layout, the label rates, truncation, resuming,
// the validation part and the refusals.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/DataLoader.h"
#include "llm/runtime/Tokenizer.h"

#include "RuntimeTestUtils.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <set>

using namespace llm::rt;
using namespace llm::rt::test;

namespace {

/// Returns the ids 0, 1, ..., n - 1.
std::vector<int64_t> positions(int64_t n) {
  std::vector<int64_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), 0);
  return ids;
}

DataLoaderOptions options(int64_t batch, int64_t seq, double validation,
                          uint64_t seed = 0) {
  DataLoaderOptions o;
  o.batchSize = batch;
  o.seqLength = seq;
  o.validationFraction = validation;
  o.seed = seed;
  return o;
}

CausalLMDataLoader makeLoader(std::vector<int64_t> tokens,
                              const DataLoaderOptions &o) {
  Expected<CausalLMDataLoader> loader =
      CausalLMDataLoader::fromTokens(std::move(tokens), o);
  EXPECT_TRUE(loader.hasValue()) << loader.message();
  return loader.take();
}

/// Returns the window index of each row of \p batch (its first token divided
/// by the window stride, for a stream of positions).
std::vector<int64_t> windowsOf(const TrainingBatch &batch) {
  std::vector<int64_t> windows;
  for (int64_t row = 0; row < batch.batchSize; ++row)
    windows.push_back(batch.at(row, 0) / batch.seqLength);
  return windows;
}

//===----------------------------------------------------------------------===//
// CausalLMDataLoader
//===----------------------------------------------------------------------===//

TEST(DataLoaderTest, SplitsValidationFromTheEnd) {
  // 1000 tokens, 5%: tokens [950, 1000) validate.
  CausalLMDataLoader loader = makeLoader(positions(1000), options(4, 8, 0.05));
  EXPECT_EQ(loader.getNumTrainTokens(), 950);
  EXPECT_EQ(loader.getNumValidationTokens(), 50);
  // (950 - 1) / 8 = 118 windows, 29 full batches of 4.
  EXPECT_EQ(loader.getBatchesPerEpoch(), 29);
  // (50 - 1) / 8 = 6 windows, one batch of 4.
  ASSERT_EQ(loader.getNumValidationBatches(), 1);
  Expected<TrainingBatch> val = loader.getValidationBatch(0);
  ASSERT_TRUE(val.hasValue()) << val.message();
  for (int64_t row = 0; row < 4; ++row)
    for (int64_t col = 0; col <= 8; ++col)
      EXPECT_EQ(val->at(row, col), 950 + row * 8 + col);
  Expected<TrainingBatch> missing = loader.getValidationBatch(1);
  ASSERT_FALSE(missing.hasValue());
  expectContains(missing.message(), {"validation batch 1 does not exist"});

  // No training batch reaches into the validation tokens.
  for (int64_t i = 0; i < 3 * loader.getBatchesPerEpoch(); ++i) {
    TrainingBatch batch = loader.nextBatch();
    for (int64_t token : batch.tokens)
      ASSERT_LT(token, 950);
  }
}

TEST(DataLoaderTest, RowsAreWindowsOfInputsAndShiftedTargets) {
  CausalLMDataLoader loader = makeLoader(positions(500), options(3, 16, 0));
  TrainingBatch batch = loader.nextBatch();
  ASSERT_EQ(batch.batchSize, 3);
  ASSERT_EQ(batch.seqLength, 16);
  ASSERT_EQ(batch.tokens.size(), 3u * 17u);
  std::vector<int64_t> inputs = batch.getInputs();
  std::vector<int64_t> targets = batch.getTargets();
  ASSERT_EQ(inputs.size(), 3u * 16u);
  ASSERT_EQ(targets.size(), 3u * 16u);
  for (int64_t row = 0; row < 3; ++row) {
    int64_t start = batch.at(row, 0);
    EXPECT_EQ(start % 16, 0) << "windows start every seqLength tokens";
    for (int64_t col = 0; col < 16; ++col) {
      EXPECT_EQ(inputs[row * 16 + col], start + col);
      EXPECT_EQ(targets[row * 16 + col], start + col + 1);
    }
  }
}

TEST(DataLoaderTest, AnEpochVisitsEveryWindowOnce) {
  // 4 x 8 batches, 321 training tokens: 40 windows, 10 batches, and every
  // token but the first is a target exactly once per epoch.
  CausalLMDataLoader loader = makeLoader(positions(321), options(4, 8, 0, 7));
  ASSERT_EQ(loader.getBatchesPerEpoch(), 10);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    EXPECT_EQ(loader.getCursor().epoch, epoch);
    EXPECT_EQ(loader.getCursor().nextBatch, 0);
    std::map<int64_t, int> targetCounts;
    for (int64_t i = 0; i < 10; ++i)
      for (int64_t target : loader.nextBatch().getTargets())
        ++targetCounts[target];
    ASSERT_EQ(targetCounts.size(), 320u);
    EXPECT_EQ(targetCounts.begin()->first, 1);
    EXPECT_EQ(targetCounts.rbegin()->first, 320);
    for (const auto &[target, count] : targetCounts)
      ASSERT_EQ(count, 1) << "target " << target << " in epoch " << epoch;
  }
  EXPECT_EQ(loader.getCursor().epoch, 3);
}

/// Returns the window order of the first \p epochs epochs.
std::vector<int64_t> windowOrder(CausalLMDataLoader &loader, int epochs) {
  std::vector<int64_t> order;
  for (int64_t i = 0; i < epochs * loader.getBatchesPerEpoch(); ++i)
    for (int64_t w : windowsOf(loader.nextBatch()))
      order.push_back(w);
  return order;
}

TEST(DataLoaderTest, TheOrderIsShuffledFromTheSeed) {
  CausalLMDataLoader a = makeLoader(positions(321), options(4, 8, 0, 42));
  CausalLMDataLoader b = makeLoader(positions(321), options(4, 8, 0, 42));
  CausalLMDataLoader c = makeLoader(positions(321), options(4, 8, 0, 43));
  std::vector<int64_t> orderA = windowOrder(a, 2);
  EXPECT_EQ(orderA, windowOrder(b, 2));
  EXPECT_NE(orderA, windowOrder(c, 2));

  std::vector<int64_t> epoch0(orderA.begin(), orderA.begin() + 40);
  std::vector<int64_t> epoch1(orderA.begin() + 40, orderA.end());
  EXPECT_NE(epoch0, positions(40)) << "epoch 0 is not shuffled";
  EXPECT_NE(epoch0, epoch1) << "each epoch needs its own order";
}

TEST(DataLoaderTest, TheShuffleIsUniform) {
  // Over many seeds, the first window of epoch 0 is each of the 40 windows
  // equally often (a biased shuffle, e.g. Sattolo's, which never leaves a
  // window in place, fails this), within 5 standard deviations.
  const int seeds = 4000, windows = 40;
  std::vector<int> firstCounts(windows), lastCounts(windows);
  std::vector<int64_t> tokens = positions(321);
  for (int seed = 0; seed < seeds; ++seed) {
    CausalLMDataLoader loader = makeLoader(tokens, options(4, 8, 0, seed));
    std::vector<int64_t> order = windowOrder(loader, 1);
    ++firstCounts[order.front()];
    ++lastCounts[order.back()];
  }
  double p = 1.0 / windows;
  double sigma = std::sqrt(seeds * p * (1 - p));
  for (int w = 0; w < windows; ++w) {
    EXPECT_NEAR(firstCounts[w], seeds * p, 5 * sigma) << "first, window " << w;
    EXPECT_NEAR(lastCounts[w], seeds * p, 5 * sigma) << "last, window " << w;
  }
}

TEST(DataLoaderTest, LeftoverWindowsChangeBetweenEpochs) {
  // 42 windows in batches of 4: 2 are skipped per epoch, not always the
  // same two.
  CausalLMDataLoader loader = makeLoader(positions(337), options(4, 8, 0, 1));
  ASSERT_EQ(loader.getBatchesPerEpoch(), 10);
  std::set<int64_t> seen;
  for (int64_t w : windowOrder(loader, 6))
    seen.insert(w);
  EXPECT_EQ(seen.size(), 42u);
}

TEST(DataLoaderTest, ResumingFromACursorContinuesTheSameOrder) {
  CausalLMDataLoader original =
      makeLoader(positions(321), options(4, 8, 0, 2024));
  // 25 batches: into the third epoch (10 per epoch).
  for (int i = 0; i < 25; ++i)
    original.nextBatch();
  DataCursor saved = original.getCursor();
  EXPECT_EQ(saved.epoch, 2);
  EXPECT_EQ(saved.nextBatch, 5);
  EXPECT_EQ(saved.seed, 2024u);

  // A new run, even with another seed on its command line, continues the
  // saved order once the cursor is restored.
  CausalLMDataLoader resumed =
      makeLoader(positions(321), options(4, 8, 0, 999));
  Status s = resumed.restoreCursor(saved);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(resumed.getCursor(), saved);
  for (int i = 0; i < 17; ++i) {
    TrainingBatch want = original.nextBatch();
    TrainingBatch got = resumed.nextBatch();
    ASSERT_EQ(got.tokens, want.tokens) << "batch " << i << " after resume";
  }
  EXPECT_EQ(resumed.getCursor(), original.getCursor());
}

TEST(DataLoaderTest, RestoreRefusesACursorOfAnotherSetup) {
  CausalLMDataLoader source = makeLoader(positions(321), options(4, 8, 0, 5));
  source.nextBatch();
  DataCursor saved = source.getCursor();

  auto expectRefused = [&](CausalLMDataLoader loader, const DataCursor &c,
                           const std::vector<std::string> &parts) {
    DataCursor before = loader.getCursor();
    Status s = loader.restoreCursor(c);
    ASSERT_TRUE(s.isError());
    EXPECT_EQ(s.code(), ErrorCode::InvalidArgument);
    expectContains(s.message(), parts);
    EXPECT_EQ(loader.getCursor(), before) << "a refused cursor changed it";
  };
  expectRefused(makeLoader(positions(321), options(2, 8, 0, 5)), saved,
                {"batch size 4", "this run has 2"});
  expectRefused(makeLoader(positions(321), options(4, 4, 0, 5)), saved,
                {"sequence length 8", "this run has 4"});
  expectRefused(makeLoader(positions(400), options(4, 8, 0, 5)), saved,
                {"training tokens 321", "this run has 400"});
  std::vector<int64_t> edited = positions(321);
  edited[100] = 7;
  expectRefused(makeLoader(edited, options(4, 8, 0, 5)), saved,
                {"training tokens differ"});
  DataCursor outOfRange = saved;
  outOfRange.nextBatch = 10;
  expectRefused(makeLoader(positions(321), options(4, 8, 0, 5)), outOfRange,
                {"batch 10 is out of range", "10 batches per epoch"});
  DataCursor negative = saved;
  negative.epoch = -1;
  expectRefused(makeLoader(positions(321), options(4, 8, 0, 5)), negative,
                {"out of range"});
}

TEST(DataLoaderTest, ReadsACorpusWithATokenizer) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += "line " + std::to_string(i) + " of the corpus\n";
  writeTextFile(dir / "corpus.txt", text);
  std::unique_ptr<Tokenizer> bytes = Tokenizer::createByteLevel();
  Expected<CausalLMDataLoader> loader = CausalLMDataLoader::fromCorpus(
      dir / "corpus.txt", *bytes, options(2, 16, 0.1));
  ASSERT_TRUE(loader.hasValue()) << loader.message();
  ASSERT_EQ(loader->getNumTokens(), static_cast<int64_t>(text.size()));
  for (size_t i = 0; i < text.size(); ++i)
    ASSERT_EQ(loader->getTokens()[i], static_cast<unsigned char>(text[i]));
  EXPECT_EQ(loader->getNumValidationTokens(),
            static_cast<int64_t>(text.size() / 10));
}

TEST(DataLoaderTest, RefusesBadCorpora) {
  TempDir dir;
  std::unique_ptr<Tokenizer> bytes = Tokenizer::createByteLevel();
  auto expectError = [&](const std::string &path, const DataLoaderOptions &o,
                         ErrorCode code,
                         const std::vector<std::string> &parts) {
    Expected<CausalLMDataLoader> loader =
        CausalLMDataLoader::fromCorpus(path, *bytes, o);
    ASSERT_FALSE(loader.hasValue());
    EXPECT_EQ(loader.getStatus().code(), code) << loader.message();
    expectContains(loader.message(), parts);
  };
  expectError(dir / "missing.txt", options(2, 8, 0), ErrorCode::IO,
              {"corpus", dir / "missing.txt", "No such file"});
  expectError(dir.str(), options(2, 8, 0), ErrorCode::IO,
              {dir.str(), "not a regular file"});
  writeTextFile(dir / "empty.txt", "");
  expectError(dir / "empty.txt", options(2, 8, 0), ErrorCode::InvalidArgument,
              {dir / "empty.txt", "is empty"});

  // 12 tokens; a batch of 2 x 8 needs 17.
  writeTextFile(dir / "small.txt", "hello world!");
  expectError(dir / "small.txt", options(2, 8, 0), ErrorCode::InvalidArgument,
              {dir / "small.txt", "smaller than one batch",
               "12 tokens were found", "one batch of 2 x 8 needs 17"});
  // 20 tokens, 2 of them (10%) for validation: 18 for training.
  writeTextFile(dir / "small2.txt", "twenty bytes of text");
  expectError(dir / "small2.txt", options(2, 10, 0.1),
              ErrorCode::InvalidArgument,
              {"20 tokens were found, 18 of them for training",
               "the last 2, 10%, are kept for validation", "needs 21"});
  // Enough for training, not for validation.
  writeTextFile(dir / "novalidation.txt", std::string(100, 'x'));
  expectError(dir / "novalidation.txt", options(2, 8, 0.05),
              ErrorCode::InvalidArgument,
              {"validation part", "the last 5%: 5 of 100 tokens", "needs 17",
               "0 for no validation"});
  EXPECT_TRUE(CausalLMDataLoader::fromCorpus(dir / "novalidation.txt", *bytes,
                                             options(2, 8, 0))
                  .hasValue());
}

TEST(DataLoaderTest, RefusesBadOptions) {
  auto expectError = [](const DataLoaderOptions &o, const std::string &part) {
    Expected<CausalLMDataLoader> loader =
        CausalLMDataLoader::fromTokens(positions(1000), o);
    ASSERT_FALSE(loader.hasValue());
    EXPECT_EQ(loader.getStatus().code(), ErrorCode::InvalidArgument);
    expectContains(loader.message(), {part});
  };
  expectError(options(0, 8, 0), "batch size must be > 0, not 0");
  expectError(options(2, -3, 0), "sequence length must be > 0, not -3");
  expectError(options(2, 8, 1.0), "validation fraction must be in [0, 1)");
  expectError(options(2, 8, -0.1), "validation fraction");
  expectError(options(2, 8, std::nan("")), "validation fraction");
  expectError(options(int64_t(1) << 40, int64_t(1) << 40, 0), "too large");
  Expected<CausalLMDataLoader> none =
      CausalLMDataLoader::fromTokens({}, options(1, 1, 0), "the stream");
  ASSERT_FALSE(none.hasValue());
  expectContains(none.message(), {"the stream has no tokens"});
}

//===----------------------------------------------------------------------===//
// Masked LM
//===----------------------------------------------------------------------===//

constexpr int64_t kPad = 0, kCls = 1, kSep = 2, kMask = 3, kUnk = 4;

MaskedLMOptions maskOptions() {
  MaskedLMOptions o;
  o.vocabSize = 100;
  o.maskTokenId = kMask;
  o.specialTokenIds = {kPad, kCls, kSep, kMask, kUnk};
  return o;
}

bool isSpecial(int64_t id) { return id <= kUnk; }

/// Returns [batch, seq] rows of "[CLS] words [SEP] [PAD]..." with \p words
/// non-special ids in row r drawn from a simple formula.
std::vector<int64_t> makeRows(int64_t batch, int64_t seq,
                              const std::vector<int64_t> &words) {
  std::vector<int64_t> ids;
  for (int64_t row = 0; row < batch; ++row) {
    ids.push_back(kCls);
    for (int64_t i = 0; i < words[row]; ++i)
      ids.push_back(5 + (row * 31 + i * 7) % 95);
    ids.push_back(kSep);
    while (static_cast<int64_t>(ids.size()) < (row + 1) * seq)
      ids.push_back(kPad);
  }
  return ids;
}

TEST(MaskedLMTest, ChoosesFifteenPercentOfTheNonSpecialPositions) {
  const int64_t seq = 64;
  std::vector<int64_t> words = {62, 40, 3, 0, 20};
  std::vector<int64_t> ids = makeRows(5, seq, words);
  Expected<MaskedLMBatch> batch =
      buildMaskedLMBatch(ids, 5, seq, maskOptions(), 11);
  ASSERT_TRUE(batch.hasValue()) << batch.message();
  ASSERT_EQ(batch->inputIds.size(), ids.size());
  ASSERT_EQ(batch->labels.size(), ids.size());
  for (int64_t row = 0; row < 5; ++row) {
    int64_t chosen = 0;
    for (int64_t col = 0; col < seq; ++col) {
      size_t i = static_cast<size_t>(row * seq + col);
      if (batch->labels[i] == IgnoreLabel) {
        EXPECT_EQ(batch->inputIds[i], ids[i]) << "unchosen position changed";
        continue;
      }
      ++chosen;
      EXPECT_FALSE(isSpecial(ids[i])) << "a special position was chosen";
      EXPECT_EQ(batch->labels[i], ids[i]) << "the label is the original id";
    }
    // round(0.15 * n), at least 1 when there is anything to choose.
    int64_t want = words[row] == 0
                       ? 0
                       : std::max<int64_t>(1, std::llround(0.15 * words[row]));
    EXPECT_EQ(chosen, want) << "row " << row;
  }
}

TEST(MaskedLMTest, MasksEightyPercentAndRandomizesTen) {
  const int64_t batchSize = 64, seq = 512;
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < batchSize * seq; ++i)
    ids.push_back(5 + (i * 7919) % 95);
  Expected<MaskedLMBatch> batch =
      buildMaskedLMBatch(ids, batchSize, seq, maskOptions(), 3);
  ASSERT_TRUE(batch.hasValue()) << batch.message();
  int64_t chosen = 0, masked = 0, random = 0, kept = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (batch->labels[i] == IgnoreLabel)
      continue;
    ++chosen;
    int64_t got = batch->inputIds[i];
    if (got == kMask) {
      ++masked;
    } else if (got == ids[i]) {
      ++kept;
    } else {
      ++random;
      EXPECT_FALSE(isSpecial(got)) << "a random id was special";
      EXPECT_LT(got, 100);
    }
  }
  // round(0.15 * 512) = 77 per row.
  ASSERT_EQ(chosen, batchSize * 77);
  // A random draw equals the original with probability 1/95.
  auto expectFraction = [&](int64_t count, double p, const char *what) {
    double sigma = std::sqrt(p * (1 - p) / chosen);
    EXPECT_NEAR(double(count) / chosen, p, 5 * sigma) << what;
  };
  expectFraction(masked, 0.8, "[MASK]");
  expectFraction(random, 0.1 * 94 / 95, "random");
  expectFraction(kept, 0.1 + 0.1 / 95, "unchanged");
}

TEST(MaskedLMTest, TheSeedDecides) {
  std::vector<int64_t> ids = makeRows(8, 32, {30, 30, 30, 30, 30, 30, 30, 30});
  auto build = [&](uint64_t seed) {
    Expected<MaskedLMBatch> batch =
        buildMaskedLMBatch(ids, 8, 32, maskOptions(), seed);
    EXPECT_TRUE(batch.hasValue()) << batch.message();
    return batch ? batch->labels : std::vector<int64_t>();
  };
  EXPECT_EQ(build(1), build(1));
  EXPECT_NE(build(1), build(2));
}

TEST(MaskedLMTest, RefusesBadInput) {
  auto expectError = [](const std::vector<int64_t> &ids, int64_t batch,
                        int64_t seq, const MaskedLMOptions &o,
                        const std::vector<std::string> &parts) {
    Expected<MaskedLMBatch> result = buildMaskedLMBatch(ids, batch, seq, o, 0);
    ASSERT_FALSE(result.hasValue());
    EXPECT_EQ(result.getStatus().code(), ErrorCode::InvalidArgument);
    expectContains(result.message(), parts);
  };
  std::vector<int64_t> ids = makeRows(2, 8, {4, 4});
  expectError(ids, 3, 8, maskOptions(),
              {"16 ids do not make a batch of 3 x 8"});
  std::vector<int64_t> bad = ids;
  bad[11] = 100;
  expectError(bad, 2, 8, maskOptions(),
              {"id 100 at row 1, column 3", "outside the vocabulary of 100"});
  bad[11] = -1;
  expectError(bad, 2, 8, maskOptions(), {"id -1 at row 1, column 3"});
  MaskedLMOptions noMask = maskOptions();
  noMask.maskTokenId = -1;
  expectError(ids, 2, 8, noMask, {"mask id -1"});
  MaskedLMOptions fraction = maskOptions();
  fraction.maskFraction = 0;
  expectError(ids, 2, 8, fraction, {"mask fraction must be in (0, 1]"});
  MaskedLMOptions allSpecial = maskOptions();
  allSpecial.vocabSize = 5;
  expectError({1, 2, 3, 4}, 1, 4, allSpecial, {"every id", "is special"});
  expectError(ids, 0, 8, maskOptions(), {"must be > 0"});
}

TEST(MaskedLMTest, OptionsFromAWordPieceVocabulary) {
  TempDir dir;
  writeTextFile(dir / "vocab.txt",
                "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n");
  Expected<std::unique_ptr<Tokenizer>> wordPiece =
      Tokenizer::openWordPiece(dir / "vocab.txt");
  ASSERT_TRUE(wordPiece.hasValue()) << wordPiece.message();
  Expected<MaskedLMOptions> o = MaskedLMOptions::fromTokenizer(**wordPiece);
  ASSERT_TRUE(o.hasValue()) << o.message();
  EXPECT_EQ(o->vocabSize, 7);
  EXPECT_EQ(o->maskTokenId, 4);
  std::set<int64_t> specials(o->specialTokenIds.begin(),
                             o->specialTokenIds.end());
  EXPECT_EQ(specials, (std::set<int64_t>{0, 1, 2, 3, 4}));

  Expected<MaskedLMOptions> bytes =
      MaskedLMOptions::fromTokenizer(*Tokenizer::createByteLevel());
  ASSERT_FALSE(bytes.hasValue());
  expectContains(bytes.message(), {"[MASK]", "bytes"});
}

//===----------------------------------------------------------------------===//
// Labelled files
//===----------------------------------------------------------------------===//

TEST(LabelledFileTest, ReadsLabelsSortedByName) {
  TempDir dir;
  writeTextFile(dir / "train.tsv",
                "pos\tgreat movie\nneg\tbad\r\n\nneutral\tok\tfine\npos\tyes");
  Expected<LabelledDataset> data = readLabelledFile(dir / "train.tsv");
  ASSERT_TRUE(data.hasValue()) << data.message();
  EXPECT_EQ(data->labelNames,
            (std::vector<std::string>{"neg", "neutral", "pos"}));
  ASSERT_EQ(data->examples.size(), 4u);
  EXPECT_EQ(data->examples[0].label, 2);
  EXPECT_EQ(data->examples[0].text, "great movie");
  EXPECT_EQ(data->examples[0].line, 1);
  EXPECT_EQ(data->examples[1].label, 0);
  EXPECT_EQ(data->examples[1].text, "bad");
  EXPECT_EQ(data->examples[2].label, 1);
  EXPECT_EQ(data->examples[2].text, "ok\tfine");
  EXPECT_EQ(data->examples[2].line, 4);
  EXPECT_EQ(data->examples[3].label, 2);
  EXPECT_EQ(data->examples[3].line, 5);
}

TEST(LabelledFileTest, KnownLabelsFixTheIds) {
  TempDir dir;
  writeTextFile(dir / "val.tsv", "neg\tmeh\npos\tgood\n");
  Expected<LabelledDataset> data =
      readLabelledFile(dir / "val.tsv", {"pos", "neutral", "neg"});
  ASSERT_TRUE(data.hasValue()) << data.message();
  EXPECT_EQ(data->labelNames,
            (std::vector<std::string>{"pos", "neutral", "neg"}));
  EXPECT_EQ(data->examples[0].label, 2);
  EXPECT_EQ(data->examples[1].label, 0);

  writeTextFile(dir / "other.tsv", "pos\tgood\nspam\tbuy now\n");
  Expected<LabelledDataset> unknown =
      readLabelledFile(dir / "other.tsv", {"pos", "neg"});
  ASSERT_FALSE(unknown.hasValue());
  expectContains(unknown.message(), {dir / "other.tsv" + ":2:",
                                     "unknown label 'spam'", "'pos', 'neg'"});
  Expected<LabelledDataset> twice =
      readLabelledFile(dir / "val.tsv", {"pos", "pos"});
  ASSERT_FALSE(twice.hasValue());
  expectContains(twice.message(), {"'pos' twice"});
}

TEST(LabelledFileTest, RefusesMalformedLines) {
  TempDir dir;
  auto expectError = [&](const std::string &text,
                         const std::vector<std::string> &parts) {
    writeTextFile(dir / "bad.tsv", text);
    Expected<LabelledDataset> data = readLabelledFile(dir / "bad.tsv");
    ASSERT_FALSE(data.hasValue()) << "accepted: " << text;
    EXPECT_EQ(data.getStatus().code(), ErrorCode::InvalidArgument);
    expectContains(data.message(), parts);
  };
  expectError(
      "pos\tok\nno tab here\n",
      {dir / "bad.tsv" + ":2:", "no tab between the label and the text"});
  expectError("pos\tok\n\n\tlabel-less\n", {":3:", "empty label"});
  expectError("  \ttext\n", {":1:", "empty label"});
  expectError("pos\tok\nneg\t\n", {":2:", "empty text"});
  expectError("pos\t   \r\n", {":1:", "empty text"});
  expectError("", {"has no examples"});
  expectError("\n\r\n\n", {"has no examples"});

  Expected<LabelledDataset> missing = readLabelledFile(dir / "missing.tsv");
  ASSERT_FALSE(missing.hasValue());
  EXPECT_EQ(missing.getStatus().code(), ErrorCode::IO);
  expectContains(missing.message(), {dir / "missing.tsv", "No such file"});
}

//===----------------------------------------------------------------------===//
// ClassificationDataLoader
//===----------------------------------------------------------------------===//

ClassificationOptions classOptions(int64_t batch, int64_t maxLength,
                                   double validation, uint64_t seed = 0,
                                   int64_t padId = 0) {
  ClassificationOptions o;
  o.batchSize = batch;
  o.maxLength = maxLength;
  o.validationFraction = validation;
  o.seed = seed;
  o.padId = padId;
  return o;
}

ClassificationDataLoader makeClassLoader(const std::string &train,
                                         const std::string &validation,
                                         const ClassificationOptions &o) {
  Expected<ClassificationDataLoader> loader =
      ClassificationDataLoader::fromFiles(train, validation,
                                          *Tokenizer::createByteLevel(), o);
  EXPECT_TRUE(loader.hasValue()) << loader.message();
  return loader.take();
}

/// Returns the real tokens of each row of \p batch as text (byte tokenizer).
std::vector<std::string> rowTexts(const ClassificationBatch &batch) {
  std::vector<std::string> texts;
  for (int64_t row = 0; row < batch.batchSize; ++row) {
    std::string text;
    for (int64_t col = 0; col < batch.lengths[row]; ++col)
      text += static_cast<char>(batch.inputs[row * batch.seqLength + col]);
    texts.push_back(text);
  }
  return texts;
}

/// Checks that \p batch is consistent: the shapes, the padding after each
/// row's tokens, and the class at each row's last token only.
void expectWellFormed(const ClassificationBatch &batch, int64_t padId) {
  ASSERT_EQ(batch.inputs.size(),
            static_cast<size_t>(batch.batchSize * batch.seqLength));
  ASSERT_EQ(batch.labels.size(), batch.inputs.size());
  ASSERT_EQ(batch.lengths.size(), static_cast<size_t>(batch.batchSize));
  ASSERT_EQ(batch.classes.size(), static_cast<size_t>(batch.batchSize));
  int64_t longest = 0;
  for (int64_t row = 0; row < batch.batchSize; ++row) {
    int64_t length = batch.lengths[row];
    ASSERT_GE(length, 1);
    longest = std::max(longest, length);
    for (int64_t col = 0; col < batch.seqLength; ++col) {
      int64_t i = row * batch.seqLength + col;
      if (col >= length)
        EXPECT_EQ(batch.inputs[i], padId) << "row " << row << ", col " << col;
      EXPECT_EQ(batch.labels[i],
                col == length - 1 ? batch.classes[row] : IgnoreLabel)
          << "row " << row << ", col " << col;
    }
  }
  EXPECT_EQ(batch.seqLength, longest);
}

/// Writes \p n examples "example NN" (labels a, b, c in turn) to \p path;
/// returns the texts.
std::vector<std::string> writeNumberedExamples(const std::string &path, int n) {
  std::string file;
  std::vector<std::string> texts;
  for (int i = 0; i < n; ++i) {
    char text[32];
    std::snprintf(text, sizeof(text), "example %02d", i);
    texts.push_back(text);
    file += std::string(1, static_cast<char>('a' + i % 3)) + "\t" + text + "\n";
  }
  writeTextFile(path, file);
  return texts;
}

/// Returns the row texts of the next \p batches training batches.
std::vector<std::string> trainOrder(ClassificationDataLoader &loader,
                                    int64_t batches) {
  std::vector<std::string> order;
  for (int64_t i = 0; i < batches; ++i)
    for (const std::string &text : rowTexts(loader.nextBatch()))
      order.push_back(text);
  return order;
}

TEST(ClassificationDataLoaderTest, BatchesArePaddedWithTheClassAtTheEnd) {
  TempDir dir;
  writeTextFile(dir / "train.tsv", "pos\tab\nneg\tc\npos\tdefg\nneg\thi\n");
  // One batch of all four: only the row order is shuffled.
  ClassificationDataLoader loader =
      makeClassLoader(dir / "train.tsv", "", classOptions(4, 16, 0, 3, 7));
  EXPECT_EQ(loader.getLabelNames(), (std::vector<std::string>{"neg", "pos"}));
  EXPECT_EQ(loader.getNumTrainExamples(), 4);
  EXPECT_EQ(loader.getNumValidationExamples(), 0);
  EXPECT_EQ(loader.getNumValidationBatches(), 0);
  ASSERT_EQ(loader.getBatchesPerEpoch(), 1);
  std::map<std::string, int64_t> wantClass = {
      {"ab", 1}, {"c", 0}, {"defg", 1}, {"hi", 0}};
  for (int epoch = 0; epoch < 3; ++epoch) {
    ClassificationBatch batch = loader.nextBatch();
    ASSERT_EQ(batch.batchSize, 4);
    ASSERT_EQ(batch.seqLength, 4);
    expectWellFormed(batch, 7);
    std::vector<std::string> texts = rowTexts(batch);
    std::set<std::string> seen(texts.begin(), texts.end());
    EXPECT_EQ(seen.size(), 4u) << "epoch " << epoch;
    for (int64_t row = 0; row < 4; ++row) {
      const std::string &text = texts[row];
      ASSERT_TRUE(wantClass.count(text)) << text;
      EXPECT_EQ(batch.classes[row], wantClass[text]);
      EXPECT_EQ(batch.lengths[row], static_cast<int64_t>(text.size()));
      // The exact row: the bytes, then the padding id.
      std::vector<int64_t> wantInputs(4, 7), wantLabels(4, IgnoreLabel);
      for (size_t i = 0; i < text.size(); ++i)
        wantInputs[i] = static_cast<unsigned char>(text[i]);
      wantLabels[text.size() - 1] = wantClass[text];
      EXPECT_EQ(std::vector<int64_t>(batch.inputs.begin() + row * 4,
                                     batch.inputs.begin() + row * 4 + 4),
                wantInputs)
          << text;
      EXPECT_EQ(std::vector<int64_t>(batch.labels.begin() + row * 4,
                                     batch.labels.begin() + row * 4 + 4),
                wantLabels)
          << text;
    }
  }
  EXPECT_EQ(loader.getCursor().epoch, 3);
}

TEST(ClassificationDataLoaderTest, FirstTokenLabelsAndTheAttentionMask) {
  TempDir dir;
  writeTextFile(dir / "train.tsv", "pos\tab\nneg\tc\npos\tdefg\n");
  ClassificationDataLoader loader =
      makeClassLoader(dir / "train.tsv", "", classOptions(3, 16, 0, 3, 7));
  std::map<std::string, int64_t> wantClass = {
      {"ab", 1}, {"c", 0}, {"defg", 1}};
  for (bool first : {false, true}) {
    // Set after construction: batches built from then on follow it.
    loader.setLabelFirstToken(first);
    ClassificationBatch batch = loader.nextBatch();
    ASSERT_EQ(batch.batchSize, 3);
    ASSERT_EQ(batch.seqLength, 4);
    ASSERT_EQ(batch.attentionMask.size(), 12u);
    std::vector<std::string> texts = rowTexts(batch);
    for (int64_t row = 0; row < 3; ++row) {
      const std::string &text = texts[row];
      std::vector<int64_t> wantLabels(4, IgnoreLabel), wantMask(4, 0);
      wantLabels[first ? 0 : text.size() - 1] = wantClass[text];
      std::fill_n(wantMask.begin(), text.size(), 1);
      EXPECT_EQ(std::vector<int64_t>(batch.labels.begin() + row * 4,
                                     batch.labels.begin() + row * 4 + 4),
                wantLabels)
          << text << (first ? " (first token)" : " (last token)");
      EXPECT_EQ(std::vector<int64_t>(batch.attentionMask.begin() + row * 4,
                                     batch.attentionMask.begin() + row * 4 + 4),
                wantMask)
          << text;
    }
  }
}

TEST(ClassificationDataLoaderTest, ValidationFileBatchesComeInOrder) {
  TempDir dir;
  writeTextFile(dir / "train.tsv", "pos\tgood\nneg\tbad\nneu\tok\n");
  // The validation file's labels in another order keep the training ids.
  writeTextFile(dir / "val.tsv", "neu\tfine\npos\tgreat\nneg\tawful!\n");
  ClassificationDataLoader loader = makeClassLoader(
      dir / "train.tsv", dir / "val.tsv", classOptions(2, 16, 0.5));
  EXPECT_EQ(loader.getLabelNames(),
            (std::vector<std::string>{"neg", "neu", "pos"}));
  EXPECT_EQ(loader.getNumTrainExamples(), 3) << "the fraction is unused";
  EXPECT_EQ(loader.getNumValidationExamples(), 3);
  EXPECT_EQ(loader.getBatchesPerEpoch(), 1);
  ASSERT_EQ(loader.getNumValidationBatches(), 2);

  Expected<ClassificationBatch> first = loader.getValidationBatch(0);
  ASSERT_TRUE(first.hasValue()) << first.message();
  expectWellFormed(*first, 0);
  EXPECT_EQ(first->batchSize, 2);
  EXPECT_EQ(first->seqLength, 5);
  EXPECT_EQ(rowTexts(*first), (std::vector<std::string>{"fine", "great"}));
  EXPECT_EQ(first->classes, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(first->lengths, (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(first->inputs, (std::vector<int64_t>{'f', 'i', 'n', 'e', 0, 'g',
                                                 'r', 'e', 'a', 't'}));
  EXPECT_EQ(first->labels,
            (std::vector<int64_t>{IgnoreLabel, IgnoreLabel, IgnoreLabel, 1,
                                  IgnoreLabel, IgnoreLabel, IgnoreLabel,
                                  IgnoreLabel, IgnoreLabel, 2}));

  // The last batch holds the one example left.
  Expected<ClassificationBatch> last = loader.getValidationBatch(1);
  ASSERT_TRUE(last.hasValue()) << last.message();
  EXPECT_EQ(last->batchSize, 1);
  EXPECT_EQ(last->seqLength, 6);
  EXPECT_EQ(rowTexts(*last), (std::vector<std::string>{"awful!"}));
  EXPECT_EQ(last->classes, (std::vector<int64_t>{0}));
  EXPECT_EQ(last->labels,
            (std::vector<int64_t>{IgnoreLabel, IgnoreLabel, IgnoreLabel,
                                  IgnoreLabel, IgnoreLabel, 0}));

  for (int64_t index : {int64_t(2), int64_t(-1)}) {
    Expected<ClassificationBatch> missing = loader.getValidationBatch(index);
    ASSERT_FALSE(missing.hasValue());
    expectContains(missing.message(),
                   {"validation batch " + std::to_string(index) +
                    " does not exist; there are 2"});
  }
}

TEST(ClassificationDataLoaderTest, TruncatesToTheMaximumLength) {
  TempDir dir;
  writeTextFile(dir / "train.tsv", "x\tabcdefgh\ny\tab\n");
  ClassificationDataLoader loader =
      makeClassLoader(dir / "train.tsv", "", classOptions(2, 3, 0));
  ClassificationBatch batch = loader.nextBatch();
  expectWellFormed(batch, 0);
  EXPECT_EQ(batch.seqLength, 3);
  std::vector<std::string> texts = rowTexts(batch);
  std::map<std::string, int64_t> classOf;
  for (int64_t row = 0; row < 2; ++row)
    classOf[texts[row]] = batch.classes[row];
  EXPECT_EQ(classOf, (std::map<std::string, int64_t>{{"abc", 0}, {"ab", 1}}));
}

TEST(ClassificationDataLoaderTest, WordPieceTextsGetClsAndSep) {
  TempDir dir;
  writeTextFile(dir / "vocab.txt",
                "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n");
  writeTextFile(dir / "train.tsv", "a\thello world\nb\tworld\n");
  Expected<std::unique_ptr<Tokenizer>> wordPiece =
      Tokenizer::openWordPiece(dir / "vocab.txt");
  ASSERT_TRUE(wordPiece.hasValue()) << wordPiece.message();
  Expected<ClassificationDataLoader> loader =
      ClassificationDataLoader::fromFiles(dir / "train.tsv", "", **wordPiece,
                                          classOptions(2, 8, 0));
  ASSERT_TRUE(loader.hasValue()) << loader.message();
  ClassificationBatch batch = loader->nextBatch();
  expectWellFormed(batch, 0);
  ASSERT_EQ(batch.seqLength, 4);
  int64_t longRow = batch.lengths[0] == 4 ? 0 : 1;
  EXPECT_EQ(std::vector<int64_t>(batch.inputs.begin() + longRow * 4,
                                 batch.inputs.begin() + longRow * 4 + 4),
            (std::vector<int64_t>{2, 5, 6, 3}));
  EXPECT_EQ(std::vector<int64_t>(batch.inputs.begin() + (1 - longRow) * 4,
                                 batch.inputs.begin() + (1 - longRow) * 4 + 4),
            (std::vector<int64_t>{2, 6, 3, 0}));
  EXPECT_EQ(batch.classes[longRow], 0);
  EXPECT_EQ(batch.classes[1 - longRow], 1);
}

TEST(ClassificationDataLoaderTest, HeldOutSplitIsSeededAndDisjoint) {
  TempDir dir;
  std::vector<std::string> texts = writeNumberedExamples(dir / "train.tsv", 20);
  auto validationTexts = [](const ClassificationDataLoader &loader) {
    std::vector<std::string> out;
    for (int64_t i = 0; i < loader.getNumValidationBatches(); ++i) {
      Expected<ClassificationBatch> batch = loader.getValidationBatch(i);
      EXPECT_TRUE(batch.hasValue()) << batch.message();
      if (!batch)
        continue;
      for (const std::string &text : rowTexts(*batch))
        out.push_back(text);
    }
    return out;
  };

  // 25% of 20: 5 validate, 15 train in 3 batches of 5.
  ClassificationDataLoader a =
      makeClassLoader(dir / "train.tsv", "", classOptions(5, 32, 0.25, 11));
  ASSERT_EQ(a.getNumTrainExamples(), 15);
  ASSERT_EQ(a.getNumValidationExamples(), 5);
  ASSERT_EQ(a.getNumValidationBatches(), 1);
  ASSERT_EQ(a.getBatchesPerEpoch(), 3);
  std::vector<std::string> validation = validationTexts(a);
  ASSERT_EQ(validation.size(), 5u);
  EXPECT_TRUE(std::is_sorted(validation.begin(), validation.end()))
      << "validation examples keep the file's order";
  std::vector<std::string> train = trainOrder(a, 3);
  std::set<std::string> trainSet(train.begin(), train.end());
  ASSERT_EQ(trainSet.size(), 15u) << "an epoch visits each example once";
  for (const std::string &text : validation)
    EXPECT_FALSE(trainSet.count(text)) << text << " is in both parts";
  std::set<std::string> all = trainSet;
  all.insert(validation.begin(), validation.end());
  EXPECT_EQ(all, std::set<std::string>(texts.begin(), texts.end()));

  // The same seed holds out the same examples; other seeds others.
  ClassificationDataLoader b =
      makeClassLoader(dir / "train.tsv", "", classOptions(5, 32, 0.25, 11));
  EXPECT_EQ(validationTexts(b), validation);
  std::set<std::vector<std::string>> splits;
  for (uint64_t seed = 0; seed < 8; ++seed)
    splits.insert(validationTexts(makeClassLoader(
        dir / "train.tsv", "", classOptions(5, 32, 0.25, seed))));
  EXPECT_GT(splits.size(), 1u) << "the seed does not change the split";

  // floor(20 * 0.04) = 0: nothing held out.
  ClassificationDataLoader none =
      makeClassLoader(dir / "train.tsv", "", classOptions(5, 32, 0.04));
  EXPECT_EQ(none.getNumTrainExamples(), 20);
  EXPECT_EQ(none.getNumValidationBatches(), 0);
}

TEST(ClassificationDataLoaderTest, EachEpochHasItsOwnSeededOrder) {
  TempDir dir;
  writeNumberedExamples(dir / "train.tsv", 12);
  auto order = [&](uint64_t seed) {
    ClassificationDataLoader loader =
        makeClassLoader(dir / "train.tsv", "", classOptions(3, 32, 0, seed));
    EXPECT_EQ(loader.getBatchesPerEpoch(), 4);
    return trainOrder(loader, 8);
  };
  std::vector<std::string> a = order(42);
  ASSERT_EQ(a.size(), 24u);
  EXPECT_EQ(a, order(42));
  EXPECT_NE(a, order(43));
  std::vector<std::string> epoch0(a.begin(), a.begin() + 12);
  std::vector<std::string> epoch1(a.begin() + 12, a.end());
  EXPECT_NE(epoch0, epoch1) << "each epoch needs its own order";
  EXPECT_FALSE(std::is_sorted(epoch0.begin(), epoch0.end()))
      << "epoch 0 is not shuffled";
  for (const std::vector<std::string> &epoch : {epoch0, epoch1})
    EXPECT_EQ(std::set<std::string>(epoch.begin(), epoch.end()).size(), 12u);
}

TEST(ClassificationDataLoaderTest, LeftoverExamplesChangeBetweenEpochs) {
  TempDir dir;
  writeNumberedExamples(dir / "train.tsv", 11);
  ClassificationDataLoader loader =
      makeClassLoader(dir / "train.tsv", "", classOptions(4, 32, 0, 1));
  ASSERT_EQ(loader.getBatchesPerEpoch(), 2);
  std::vector<std::string> order = trainOrder(loader, 12);
  EXPECT_EQ(std::set<std::string>(order.begin(), order.end()).size(), 11u);
}

TEST(ClassificationDataLoaderTest, ResumingFromACursorContinuesTheSameOrder) {
  TempDir dir;
  writeNumberedExamples(dir / "train.tsv", 20);
  ClassificationDataLoader original =
      makeClassLoader(dir / "train.tsv", "", classOptions(4, 32, 0.1, 2024));
  // 18 training examples: 4 batches per epoch; 10 batches reach epoch 2.
  ASSERT_EQ(original.getBatchesPerEpoch(), 4);
  for (int i = 0; i < 10; ++i)
    original.nextBatch();
  DataCursor saved = original.getCursor();
  EXPECT_EQ(saved.epoch, 2);
  EXPECT_EQ(saved.nextBatch, 2);
  EXPECT_EQ(saved.seed, 2024u);
  EXPECT_EQ(saved.batchSize, 4);
  EXPECT_EQ(saved.seqLength, 32);
  EXPECT_EQ(saved.numTrainTokens, 18);

  // The held-out split needs the same seed; the cursor then carries it.
  ClassificationDataLoader resumed =
      makeClassLoader(dir / "train.tsv", "", classOptions(4, 32, 0.1, 2024));
  Status s = resumed.restoreCursor(saved);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(resumed.getCursor(), saved);
  for (int i = 0; i < 9; ++i) {
    ClassificationBatch want = original.nextBatch();
    ClassificationBatch got = resumed.nextBatch();
    ASSERT_EQ(got.inputs, want.inputs) << "batch " << i << " after resume";
    ASSERT_EQ(got.labels, want.labels) << "batch " << i << " after resume";
  }
  EXPECT_EQ(resumed.getCursor(), original.getCursor());

  // Without held-out examples, another seed on the command line does not
  // matter: the saved one continues.
  ClassificationDataLoader noSplit =
      makeClassLoader(dir / "train.tsv", "", classOptions(4, 32, 0, 5));
  for (int i = 0; i < 7; ++i)
    noSplit.nextBatch();
  ClassificationDataLoader otherSeed =
      makeClassLoader(dir / "train.tsv", "", classOptions(4, 32, 0, 6));
  ASSERT_TRUE(otherSeed.restoreCursor(noSplit.getCursor()).isOk());
  EXPECT_EQ(trainOrder(otherSeed, 6), trainOrder(noSplit, 6));
}

TEST(ClassificationDataLoaderTest, RestoreRefusesACursorOfAnotherSetup) {
  TempDir dir;
  writeNumberedExamples(dir / "train.tsv", 12);
  ClassificationDataLoader source =
      makeClassLoader(dir / "train.tsv", "", classOptions(4, 32, 0, 5));
  source.nextBatch();
  DataCursor saved = source.getCursor();

  auto expectRefused = [&](ClassificationDataLoader loader, const DataCursor &c,
                           const std::vector<std::string> &parts) {
    DataCursor before = loader.getCursor();
    Status s = loader.restoreCursor(c);
    ASSERT_TRUE(s.isError());
    EXPECT_EQ(s.code(), ErrorCode::InvalidArgument);
    expectContains(s.message(), parts);
    EXPECT_EQ(loader.getCursor(), before) << "a refused cursor changed it";
  };
  expectRefused(
      makeClassLoader(dir / "train.tsv", "", classOptions(3, 32, 0, 5)), saved,
      {"batch size 4", "this run has 3"});
  expectRefused(
      makeClassLoader(dir / "train.tsv", "", classOptions(4, 16, 0, 5)), saved,
      {"maximum length 32", "this run has 16"});
  writeNumberedExamples(dir / "more.tsv", 13);
  expectRefused(
      makeClassLoader(dir / "more.tsv", "", classOptions(4, 32, 0, 5)), saved,
      {"training examples 12", "this run has 13"});
  // The same count, with one text or one label changed.
  std::vector<std::string> texts = writeNumberedExamples(dir / "x.tsv", 12);
  std::string edited, relabelled;
  for (int i = 0; i < 12; ++i) {
    std::string label(1, static_cast<char>('a' + i % 3));
    edited += label + "\t" + (i == 7 ? "edited" : texts[i]) + "\n";
    relabelled += (i == 4 ? std::string("a") : label) + "\t" + texts[i] + "\n";
  }
  writeTextFile(dir / "edited.tsv", edited);
  writeTextFile(dir / "relabelled.tsv", relabelled);
  expectRefused(
      makeClassLoader(dir / "edited.tsv", "", classOptions(4, 32, 0, 5)), saved,
      {"training examples differ"});
  expectRefused(
      makeClassLoader(dir / "relabelled.tsv", "", classOptions(4, 32, 0, 5)),
      saved, {"training examples differ"});
  DataCursor outOfRange = saved;
  outOfRange.nextBatch = 3;
  expectRefused(
      makeClassLoader(dir / "train.tsv", "", classOptions(4, 32, 0, 5)),
      outOfRange, {"batch 3 is out of range", "3 batches per epoch"});
  DataCursor negative = saved;
  negative.epoch = -1;
  expectRefused(
      makeClassLoader(dir / "train.tsv", "", classOptions(4, 32, 0, 5)),
      negative, {"out of range"});
}

/// A tokenizer of bytes whose encode() returns no tokens for "nothing" and
/// fails for "fail".
class PickyTokenizer : public Tokenizer {
public:
  std::string_view getKind() const override { return "picky"; }
  Expected<std::vector<int64_t>> encode(std::string_view text) const override {
    if (text == "nothing")
      return std::vector<int64_t>();
    if (text == "fail")
      return Status::error(ErrorCode::InvalidArgument, "cannot encode 'fail'");
    return std::vector<int64_t>(text.begin(), text.end());
  }
  Expected<std::string> getTokenBytes(int64_t id) const override {
    return std::string(1, static_cast<char>(id));
  }
  int64_t getVocabSize() const override { return 256; }
  std::optional<int64_t> lookupToken(std::string_view) const override {
    return std::nullopt;
  }
};

TEST(ClassificationDataLoaderTest, RefusesBadInput) {
  TempDir dir;
  PickyTokenizer picky;
  auto expectError = [&](const std::string &train,
                         const std::string &validation,
                         const ClassificationOptions &o, ErrorCode code,
                         const std::vector<std::string> &parts) {
    Expected<ClassificationDataLoader> loader =
        ClassificationDataLoader::fromFiles(train, validation, picky, o);
    ASSERT_FALSE(loader.hasValue());
    EXPECT_EQ(loader.getStatus().code(), code) << loader.message();
    expectContains(loader.message(), parts);
  };
  std::vector<std::string> texts = writeNumberedExamples(dir / "train.tsv", 10);

  // Fewer training examples than one batch.
  expectError(dir / "train.tsv", "", classOptions(11, 8, 0),
              ErrorCode::InvalidArgument,
              {dir / "train.tsv", "fewer training examples than one batch",
               ": 10, but a batch needs 11"});
  expectError(dir / "train.tsv", "", classOptions(9, 8, 0.2),
              ErrorCode::InvalidArgument,
              {"fewer training examples than one batch: 8 (of its 10; the "
               "other 2, 20%, are held out for validation), but a batch "
               "needs 9"});
  EXPECT_TRUE(ClassificationDataLoader::fromFiles(dir / "train.tsv", "", picky,
                                                  classOptions(8, 8, 0.2))
                  .hasValue());

  // Texts the tokenizer turns into nothing, or fails on.
  writeTextFile(dir / "nothing.tsv", "a\tfine\n\nb\tnothing\n");
  expectError(dir / "nothing.tsv", "", classOptions(1, 8, 0),
              ErrorCode::InvalidArgument,
              {dir / "nothing.tsv" + ":3:", "has no tokens", "picky"});
  writeTextFile(dir / "fail.tsv", "a\tfine\nb\tfail\n");
  expectError(dir / "fail.tsv", "", classOptions(1, 8, 0),
              ErrorCode::InvalidArgument,
              {dir / "fail.tsv" + ":2:", "cannot encode 'fail'"});
  expectError(dir / "train.tsv", dir / "nothing.tsv", classOptions(1, 8, 0),
              ErrorCode::InvalidArgument,
              {dir / "nothing.tsv" + ":3:", "has no tokens"});

  // A validation label the training file lacks.
  writeTextFile(dir / "val.tsv", "a\tok\nzzz\tnew label\n");
  expectError(
      dir / "train.tsv", dir / "val.tsv", classOptions(2, 8, 0),
      ErrorCode::InvalidArgument,
      {dir / "val.tsv" + ":2:", "unknown label 'zzz'", "'a', 'b', 'c'"});

  // Files and options.
  expectError(dir / "missing.tsv", "", classOptions(1, 8, 0), ErrorCode::IO,
              {dir / "missing.tsv", "No such file"});
  expectError(dir / "train.tsv", dir / "missing.tsv", classOptions(1, 8, 0),
              ErrorCode::IO, {dir / "missing.tsv", "No such file"});
  expectError(dir / "train.tsv", "", classOptions(0, 8, 0),
              ErrorCode::InvalidArgument, {"batch size must be > 0, not 0"});
  expectError(dir / "train.tsv", "", classOptions(1, 0, 0),
              ErrorCode::InvalidArgument,
              {"maximum length must be > 0, not 0"});
  expectError(dir / "train.tsv", "", classOptions(1, 8, 1.0),
              ErrorCode::InvalidArgument,
              {"validation fraction must be in [0, 1)"});
  expectError(dir / "train.tsv", "", classOptions(1, 8, std::nan("")),
              ErrorCode::InvalidArgument, {"validation fraction"});
  expectError(dir / "train.tsv", "", classOptions(1, 8, 0, 0, 256),
              ErrorCode::InvalidArgument,
              {"padding id 256", "vocabulary of 256"});
}

//===----------------------------------------------------------------------===//
// SentencePairDataLoader
//===----------------------------------------------------------------------===//

constexpr int64_t kPairCls = 1, kPairSep = 2, kPairPad = 3;

/// The id of token \p position of sentence \p sentence of document \p
/// document: all distinct, none special (sentence and position < 100).
int64_t pairToken(int64_t document, int64_t sentence, int64_t position) {
  return 10000 * (document + 1) + 100 * sentence + position;
}

/// Where a token of pairToken() comes from.
struct TokenPlace {
  int64_t document, sentence, position;
};

TokenPlace placeOf(int64_t token) {
  return {token / 10000 - 1, token % 10000 / 100, token % 100};
}

/// The sentence lengths of a corpus: lengths[d][s] tokens in sentence s of
/// document d.
using SentenceLengths = std::vector<std::vector<int64_t>>;

/// Returns the documents of \p lengths, in pairToken() ids.
std::vector<std::vector<std::vector<int64_t>>>
makeDocuments(const SentenceLengths &lengths) {
  std::vector<std::vector<std::vector<int64_t>>> documents;
  for (size_t d = 0; d < lengths.size(); ++d) {
    documents.emplace_back();
    for (size_t s = 0; s < lengths[d].size(); ++s) {
      documents.back().emplace_back();
      for (int64_t p = 0; p < lengths[d][s]; ++p)
        documents.back().back().push_back(pairToken(d, s, p));
    }
  }
  return documents;
}

SentencePairOptions pairOptions(int64_t batch, int64_t seq, double validation,
                                uint64_t seed = 0, double randomNext = 0.5) {
  SentencePairOptions o;
  o.batchSize = batch;
  o.seqLength = seq;
  o.validationFraction = validation;
  o.seed = seed;
  o.clsId = kPairCls;
  o.sepId = kPairSep;
  o.padId = kPairPad;
  o.randomNextProbability = randomNext;
  return o;
}

SentencePairDataLoader makePairLoader(const SentenceLengths &lengths,
                                      const SentencePairOptions &o) {
  Expected<SentencePairDataLoader> loader =
      SentencePairDataLoader::fromDocuments(makeDocuments(lengths), o);
  EXPECT_TRUE(loader.hasValue()) << loader.message();
  return loader.take();
}

/// One row of a SentencePairBatch, split at its separators.
struct PairRow {
  std::vector<int64_t> first, second;
  int64_t label = 0;
};

/// Returns the rows of \p batch, checking the layout of each: [CLS] A [SEP]
/// B [SEP] then padding, segment ids 0 then 1 then 0, the mask 1 exactly on
/// the real tokens.
std::vector<PairRow> splitRows(const SentencePairBatch &batch) {
  std::vector<PairRow> rows;
  size_t seq = static_cast<size_t>(batch.seqLength);
  size_t cells = static_cast<size_t>(batch.batchSize) * seq;
  EXPECT_EQ(batch.inputs.size(), cells);
  EXPECT_EQ(batch.segments.size(), cells);
  EXPECT_EQ(batch.attentionMask.size(), cells);
  EXPECT_EQ(batch.nextSentenceLabels.size(),
            static_cast<size_t>(batch.batchSize));
  if (batch.inputs.size() != cells || batch.segments.size() != cells ||
      batch.attentionMask.size() != cells ||
      batch.nextSentenceLabels.size() != static_cast<size_t>(batch.batchSize))
    return rows;
  for (size_t r = 0; r < static_cast<size_t>(batch.batchSize); ++r) {
    auto at = [&](std::vector<int64_t> const &v, size_t col) {
      return v[r * seq + col];
    };
    PairRow row;
    row.label = batch.nextSentenceLabels[r];
    EXPECT_TRUE(row.label == 0 || row.label == 1) << "row " << r;
    EXPECT_EQ(at(batch.inputs, 0), kPairCls) << "row " << r;
    size_t col = 1;
    while (col < seq && at(batch.inputs, col) != kPairSep)
      row.first.push_back(at(batch.inputs, col++));
    size_t firstSep = col++;
    while (col < seq && at(batch.inputs, col) != kPairSep)
      row.second.push_back(at(batch.inputs, col++));
    size_t secondSep = col;
    EXPECT_LT(secondSep, seq) << "row " << r << " has no second [SEP]";
    for (size_t c = 0; c < seq; ++c) {
      bool real = c <= secondSep;
      int64_t segment = c > firstSep && c <= secondSep ? 1 : 0;
      EXPECT_EQ(at(batch.segments, c), segment) << "row " << r << " col " << c;
      EXPECT_EQ(at(batch.attentionMask, c), real ? 1 : 0)
          << "row " << r << " col " << c;
      if (!real)
        EXPECT_EQ(at(batch.inputs, c), kPairPad) << "row " << r << " col " << c;
    }
    for (int64_t id : row.first)
      EXPECT_GE(id, 10000) << "a special id inside segment A, row " << r;
    for (int64_t id : row.second)
      EXPECT_GE(id, 10000) << "a special id inside segment B, row " << r;
    EXPECT_FALSE(row.first.empty()) << "row " << r;
    EXPECT_FALSE(row.second.empty()) << "row " << r;
    rows.push_back(std::move(row));
  }
  return rows;
}

/// Returns the tokens of sentences [\p begin, \p end) of document \p d.
std::vector<int64_t> sentenceTokens(const SentenceLengths &lengths, int64_t d,
                                    int64_t begin, int64_t end) {
  std::vector<int64_t> out;
  for (int64_t s = begin; s < end; ++s)
    for (int64_t p = 0; p < lengths[d][s]; ++p)
      out.push_back(pairToken(d, s, p));
  return out;
}

/// BERT's pair building, written out plainly: the segments of the example
/// at sentence \p start of document \p d whose B starts at sentence \p
/// secondStart of document \p secondDocument (ignored for label 0, whose B
/// continues A) and may run up to sentence \p secondLimit (-1: the end of
/// its document).
PairRow referencePair(const SentenceLengths &lengths, int64_t seqLength,
                      int64_t d, int64_t start, int64_t label,
                      int64_t secondDocument = 0, int64_t secondStart = 0,
                      int64_t secondLimit = -1) {
  int64_t budget = seqLength - 3;
  int64_t sentences = static_cast<int64_t>(lengths[d].size());
  int64_t firstEnd = start + 1, firstLength = lengths[d][start];
  while (firstEnd + 1 < sentences &&
         2 * (firstLength + lengths[d][firstEnd]) <= budget)
    firstLength += lengths[d][firstEnd++];
  if (label == 0) {
    secondDocument = d;
    secondStart = firstEnd;
  }
  int64_t limit = secondLimit >= 0
                      ? secondLimit
                      : static_cast<int64_t>(lengths[secondDocument].size());
  int64_t secondEnd = secondStart, secondLength = 0;
  do
    secondLength += lengths[secondDocument][secondEnd++];
  while (secondEnd < limit && firstLength + secondLength < budget);
  PairRow row;
  row.label = label;
  row.first = sentenceTokens(lengths, d, start, firstEnd);
  row.second = sentenceTokens(lengths, secondDocument, secondStart, secondEnd);
  while (static_cast<int64_t>(row.first.size() + row.second.size()) > budget)
    (row.first.size() >= row.second.size() ? row.first : row.second).pop_back();
  return row;
}

/// Checks \p row against referencePair(), reading the start of A and, for
/// label 1, of B from the row; B must then start a sentence of another
/// document. Returns A's start as (document, sentence).
std::pair<int64_t, int64_t> expectBertPair(const SentenceLengths &lengths,
                                           int64_t seqLength,
                                           const PairRow &row) {
  TokenPlace a = placeOf(row.first.front());
  TokenPlace b = placeOf(row.second.front());
  EXPECT_EQ(a.position, 0) << "A does not start a sentence";
  EXPECT_EQ(b.position, 0) << "B does not start a sentence";
  if (row.label == 1)
    EXPECT_NE(b.document, a.document) << "a random B from A's document";
  PairRow want = referencePair(lengths, seqLength, a.document, a.sentence,
                               row.label, b.document, b.sentence);
  EXPECT_EQ(row.first, want.first) << "segment A, label " << row.label;
  EXPECT_EQ(row.second, want.second) << "segment B, label " << row.label;
  return {a.document, a.sentence};
}

/// Returns documents of 2 to 7 sentences of 1 to 9 tokens, some documents
/// with a sentence of 40.
SentenceLengths variedLengths(int64_t documents) {
  SentenceLengths lengths(static_cast<size_t>(documents));
  for (int64_t d = 0; d < documents; ++d)
    for (int64_t s = 0; s < 2 + (d * 5) % 6; ++s)
      lengths[d].push_back(d % 4 == 3 && s == 1 ? 40 : (d * 7 + s * 3) % 9 + 1);
  return lengths;
}

TEST(SentencePairDataLoaderTest, RowsAreBertSentencePairs) {
  SentenceLengths lengths = variedLengths(12);
  int64_t numStarts = 0;
  for (const auto &document : lengths)
    numStarts += static_cast<int64_t>(document.size()) - 1;
  SentencePairDataLoader loader =
      makePairLoader(lengths, pairOptions(4, 32, 0, 7));
  ASSERT_EQ(loader.getNumTrainExamples(), numStarts);
  ASSERT_EQ(loader.getBatchesPerEpoch(), numStarts / 4);
  int64_t labels[2] = {0, 0};
  for (int epoch = 0; epoch < 4; ++epoch) {
    std::set<std::pair<int64_t, int64_t>> starts;
    for (int64_t i = 0; i < loader.getBatchesPerEpoch(); ++i) {
      SentencePairBatch batch = loader.nextBatch();
      ASSERT_EQ(batch.batchSize, 4);
      ASSERT_EQ(batch.seqLength, 32);
      for (const PairRow &row : splitRows(batch)) {
        starts.insert(expectBertPair(lengths, 32, row));
        ++labels[row.label];
      }
    }
    EXPECT_EQ(starts.size(),
              static_cast<size_t>(loader.getBatchesPerEpoch() * 4))
        << "an example twice in epoch " << epoch;
  }
  EXPECT_GT(labels[0], 0);
  EXPECT_GT(labels[1], 0);
}

TEST(SentencePairDataLoaderTest, ARandomSegmentOfOneDocumentAvoidsA) {
  // One document: a random B starts neither inside A nor at its
  // continuation, and stops before A when it starts before it.
  SentenceLengths lengths = {{3, 2, 4, 1, 3, 2, 5, 2, 3, 1}};
  SentencePairDataLoader loader =
      makePairLoader(lengths, pairOptions(3, 20, 0, 3, 1.0));
  int64_t before = 0, after = 0;
  for (int64_t i = 0; i < 30; ++i)
    for (const PairRow &row : splitRows(loader.nextBatch())) {
      ASSERT_EQ(row.label, 1);
      TokenPlace a = placeOf(row.first.front());
      TokenPlace aLast = placeOf(row.first.back());
      TokenPlace b = placeOf(row.second.front());
      ASSERT_EQ(b.position, 0);
      EXPECT_TRUE(b.sentence < a.sentence || b.sentence > aLast.sentence + 1)
          << "B at sentence " << b.sentence << " for A at " << a.sentence
          << ".." << aLast.sentence;
      (b.sentence < a.sentence ? before : after)++;
      PairRow want = referencePair(lengths, 20, 0, a.sentence, 1, 0, b.sentence,
                                   b.sentence < a.sentence ? a.sentence : -1);
      EXPECT_EQ(row.first, want.first);
      EXPECT_EQ(row.second, want.second);
    }
  EXPECT_GT(before, 0);
  EXPECT_GT(after, 0);

  // A document of two sentences alone has nothing else to draw: B follows.
  SentencePairDataLoader two =
      makePairLoader({{2, 3}}, pairOptions(1, 16, 0, 0, 1.0));
  std::vector<PairRow> rows = splitRows(two.nextBatch());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].label, 0);
  EXPECT_EQ(rows[0].second, sentenceTokens({{2, 3}}, 0, 1, 2));
}

TEST(SentencePairDataLoaderTest, LabelsFollowTheRandomNextProbability) {
  SentenceLengths lengths = variedLengths(20);
  auto labelRate = [&](double p, uint64_t seed) {
    SentencePairDataLoader loader =
        makePairLoader(lengths, pairOptions(8, 32, 0, seed, p));
    int64_t ones = 0, total = 0;
    for (int64_t i = 0; i < 200; ++i)
      for (int64_t label : loader.nextBatch().nextSentenceLabels) {
        ones += label;
        ++total;
      }
    return static_cast<double>(ones) / static_cast<double>(total);
  };
  for (uint64_t seed : {0, 1, 2}) {
    double rate = labelRate(0.5, seed);
    EXPECT_GT(rate, 0.4) << "seed " << seed;
    EXPECT_LT(rate, 0.6) << "seed " << seed;
    EXPECT_EQ(labelRate(0, seed), 0.0);
    EXPECT_EQ(labelRate(1, seed), 1.0);
  }
  // The draws depend on each example's place in the epoch, not only on its
  // place in a batch.
  SentencePairDataLoader loader =
      makePairLoader(lengths, pairOptions(8, 32, 0, 1));
  std::set<std::vector<int64_t>> labelRows;
  for (int64_t i = 0; i < loader.getBatchesPerEpoch(); ++i)
    labelRows.insert(loader.nextBatch().nextSentenceLabels);
  EXPECT_GT(labelRows.size(), 1u);
  double rate = labelRate(0.2, 5);
  EXPECT_GT(rate, 0.15);
  EXPECT_LT(rate, 0.25);
}

TEST(SentencePairDataLoaderTest, TruncatesTheLongerSegmentFirst) {
  // seqLength 16: a budget of 13 tokens for A and B.
  SentenceLengths lengths = {{100, 3}, {2, 100}, {50, 40}, {9, 9}, {4, 6}};
  SentencePairDataLoader loader =
      makePairLoader(lengths, pairOptions(5, 16, 0, 0, 0.0));
  std::map<int64_t, std::pair<size_t, size_t>> sizes;
  for (const PairRow &row : splitRows(loader.nextBatch())) {
    expectBertPair(lengths, 16, row);
    sizes[placeOf(row.first.front()).document] = {row.first.size(),
                                                  row.second.size()};
  }
  using Sizes = std::pair<size_t, size_t>;
  // A alone is longer than the budget: it gives way, B keeps its 3.
  EXPECT_EQ(sizes[0], Sizes(10, 3));
  // B is the longer: A keeps its 2.
  EXPECT_EQ(sizes[1], Sizes(2, 11));
  // 50 + 40: A shrinks to 40, then they take turns, A first.
  EXPECT_EQ(sizes[2], Sizes(6, 7));
  EXPECT_EQ(sizes[3], Sizes(6, 7));
  // Short enough: untouched.
  EXPECT_EQ(sizes[4], Sizes(4, 6));

  // seqLength 23, a budget of 20: A takes a second sentence that brings it
  // to exactly half, and B stops as soon as the pair fills the budget.
  SentenceLengths exact = {{4, 6, 3, 5}, {12, 8, 1}};
  SentencePairDataLoader halves =
      makePairLoader(exact, pairOptions(5, 23, 0, 0, 0.0));
  std::map<std::pair<int64_t, int64_t>, Sizes> sizesAt;
  for (const PairRow &row : splitRows(halves.nextBatch())) {
    std::pair<int64_t, int64_t> start = expectBertPair(exact, 23, row);
    sizesAt[start] = {row.first.size(), row.second.size()};
  }
  EXPECT_EQ(sizesAt[std::make_pair(int64_t(0), int64_t(0))], Sizes(10, 8));
  EXPECT_EQ(sizesAt[std::make_pair(int64_t(1), int64_t(0))], Sizes(12, 8));

  // The smallest rows: one token each.
  SentencePairDataLoader tiny =
      makePairLoader({{7, 7}, {1, 9}}, pairOptions(2, 5, 0, 0, 0.0));
  for (const PairRow &row : splitRows(tiny.nextBatch())) {
    EXPECT_EQ(row.first.size(), 1u);
    EXPECT_EQ(row.second.size(), 1u);
  }

  // Random segments are truncated the same way.
  SentenceLengths longOnes = {{30, 20, 25}, {40, 35}, {12, 60, 5}};
  SentencePairDataLoader random =
      makePairLoader(longOnes, pairOptions(2, 24, 0, 9, 1.0));
  for (int64_t i = 0; i < 10; ++i)
    for (const PairRow &row : splitRows(random.nextBatch())) {
      EXPECT_EQ(row.label, 1);
      EXPECT_EQ(row.first.size() + row.second.size(), 21u);
      expectBertPair(longOnes, 24, row);
    }
}

/// Returns all of \p batch, for comparisons.
std::vector<std::vector<int64_t>> contentOf(const SentencePairBatch &batch) {
  return {batch.inputs, batch.segments, batch.attentionMask,
          batch.nextSentenceLabels};
}

/// Returns the content of the next \p count batches of \p loader.
std::vector<std::vector<std::vector<int64_t>>>
nextBatches(SentencePairDataLoader &loader, int64_t count) {
  std::vector<std::vector<std::vector<int64_t>>> out;
  for (int64_t i = 0; i < count; ++i)
    out.push_back(contentOf(loader.nextBatch()));
  return out;
}

TEST(SentencePairDataLoaderTest, TheSeedDecidesAndACursorResumes) {
  SentenceLengths lengths = variedLengths(10);
  SentencePairDataLoader a = makePairLoader(lengths, pairOptions(4, 24, 0, 42));
  SentencePairDataLoader b = makePairLoader(lengths, pairOptions(4, 24, 0, 42));
  SentencePairDataLoader c = makePairLoader(lengths, pairOptions(4, 24, 0, 43));
  int64_t perEpoch = a.getBatchesPerEpoch();
  ASSERT_GE(perEpoch, 3);
  auto batchesA = nextBatches(a, 2 * perEpoch);
  EXPECT_EQ(batchesA, nextBatches(b, 2 * perEpoch));
  EXPECT_NE(batchesA, nextBatches(c, 2 * perEpoch));
  EXPECT_NE(std::vector<std::vector<std::vector<int64_t>>>(
                batchesA.begin(), batchesA.begin() + perEpoch),
            std::vector<std::vector<std::vector<int64_t>>>(
                batchesA.begin() + perEpoch, batchesA.end()))
      << "each epoch needs its own order and draws";

  // A cursor taken inside the third epoch, restored into a loader with
  // another seed, continues with the same batches.
  SentencePairDataLoader original =
      makePairLoader(lengths, pairOptions(4, 24, 0, 2024));
  int64_t taken = 2 * perEpoch + 1;
  nextBatches(original, taken);
  DataCursor saved = original.getCursor();
  EXPECT_EQ(saved.epoch, 2);
  EXPECT_EQ(saved.nextBatch, 1);
  EXPECT_EQ(saved.seed, 2024u);
  EXPECT_EQ(saved.batchSize, 4);
  EXPECT_EQ(saved.seqLength, 24);
  EXPECT_EQ(saved.numTrainTokens, original.getNumTrainExamples());
  SentencePairDataLoader resumed =
      makePairLoader(lengths, pairOptions(4, 24, 0, 999));
  Status s = resumed.restoreCursor(saved);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(resumed.getCursor(), saved);
  EXPECT_EQ(nextBatches(resumed, 2 * perEpoch),
            nextBatches(original, 2 * perEpoch));
  EXPECT_EQ(resumed.getCursor(), original.getCursor());
}

TEST(SentencePairDataLoaderTest, RestoreRefusesACursorOfAnotherSetup) {
  SentenceLengths lengths = variedLengths(10);
  SentencePairDataLoader source =
      makePairLoader(lengths, pairOptions(4, 24, 0, 5));
  source.nextBatch();
  DataCursor saved = source.getCursor();
  auto expectRefused = [&](SentencePairDataLoader loader, const DataCursor &c,
                           const std::vector<std::string> &parts) {
    DataCursor before = loader.getCursor();
    Status s = loader.restoreCursor(c);
    ASSERT_TRUE(s.isError());
    EXPECT_EQ(s.code(), ErrorCode::InvalidArgument);
    expectContains(s.message(), parts);
    EXPECT_EQ(loader.getCursor(), before) << "a refused cursor changed it";
  };
  expectRefused(makePairLoader(lengths, pairOptions(2, 24, 0, 5)), saved,
                {"batch size 4", "this run has 2"});
  expectRefused(makePairLoader(lengths, pairOptions(4, 32, 0, 5)), saved,
                {"sequence length 24", "this run has 32"});
  SentenceLengths more = lengths;
  more.push_back({1, 2});
  expectRefused(makePairLoader(more, pairOptions(4, 24, 0, 5)), saved,
                {"training examples " + std::to_string(saved.numTrainTokens),
                 "this run has " + std::to_string(saved.numTrainTokens + 1)});
  // The same count of examples over other tokens.
  std::vector<std::vector<std::vector<int64_t>>> edited =
      makeDocuments(lengths);
  edited[3][1][0] = 7;
  Expected<SentencePairDataLoader> editedLoader =
      SentencePairDataLoader::fromDocuments(edited, pairOptions(4, 24, 0, 5));
  ASSERT_TRUE(editedLoader.hasValue()) << editedLoader.message();
  expectRefused(editedLoader.take(), saved, {"training examples differ"});
  DataCursor outOfRange = saved;
  outOfRange.nextBatch = source.getBatchesPerEpoch();
  expectRefused(makePairLoader(lengths, pairOptions(4, 24, 0, 5)), outOfRange,
                {"is out of range", "batches per epoch"});
  DataCursor negative = saved;
  negative.epoch = -1;
  expectRefused(makePairLoader(lengths, pairOptions(4, 24, 0, 5)), negative,
                {"out of range"});

  // The same sentences and example count, other document boundaries.
  std::vector<std::vector<std::vector<int64_t>>> docsA = {{{10}, {11}},
                                                          {{12}, {13}, {14}}};
  std::vector<std::vector<std::vector<int64_t>>> docsB = {{{10}, {11}, {12}},
                                                          {{13}, {14}}};
  Expected<SentencePairDataLoader> loaderA =
      SentencePairDataLoader::fromDocuments(docsA, pairOptions(1, 8, 0));
  Expected<SentencePairDataLoader> loaderB =
      SentencePairDataLoader::fromDocuments(docsB, pairOptions(1, 8, 0));
  ASSERT_TRUE(loaderA.hasValue() && loaderB.hasValue());
  ASSERT_EQ(loaderA->getNumTrainExamples(), loaderB->getNumTrainExamples());
  expectRefused(loaderB.take(), loaderA->getCursor(),
                {"training examples differ"});
}

TEST(SentencePairDataLoaderTest, ValidationUsesTheLastSentences) {
  // 10 documents of 6 sentences; 25%: the last 15 sentences validate, and
  // document 7 (sentences 42..47) is cut after its third.
  SentenceLengths lengths(10, std::vector<int64_t>{3, 1, 4, 1, 5, 2});
  SentencePairDataLoader loader =
      makePairLoader(lengths, pairOptions(4, 16, 0.25, 11));
  EXPECT_EQ(loader.getNumSentences(), 60);
  EXPECT_EQ(loader.getNumTrainSentences(), 45);
  EXPECT_EQ(loader.getNumValidationSentences(), 15);
  // Training: 7 x 5 starts, and 2 in document 7's first part; validation:
  // 2 in its second part, 2 x 5 in documents 8 and 9.
  EXPECT_EQ(loader.getNumTrainExamples(), 37);
  EXPECT_EQ(loader.getNumValidationExamples(), 12);
  EXPECT_EQ(loader.getBatchesPerEpoch(), 9);
  ASSERT_EQ(loader.getNumValidationBatches(), 3);
  auto isValidation = [](int64_t token) {
    TokenPlace place = placeOf(token);
    return place.document > 7 || (place.document == 7 && place.sentence >= 3);
  };

  std::vector<std::pair<int64_t, int64_t>> starts;
  int64_t randomSegments = 0;
  for (int64_t i = 0; i < 3; ++i) {
    Expected<SentencePairBatch> batch = loader.getValidationBatch(i);
    ASSERT_TRUE(batch.hasValue()) << batch.message();
    Expected<SentencePairBatch> again = loader.getValidationBatch(i);
    ASSERT_TRUE(again.hasValue()) << again.message();
    EXPECT_EQ(contentOf(*batch), contentOf(*again)) << "batch " << i;
    for (const PairRow &row : splitRows(*batch)) {
      for (int64_t token : row.first)
        ASSERT_TRUE(isValidation(token)) << "batch " << i;
      for (int64_t token : row.second)
        ASSERT_TRUE(isValidation(token)) << "batch " << i;
      TokenPlace a = placeOf(row.first.front());
      starts.emplace_back(a.document, a.sentence);
      randomSegments += row.label;
      // No validation example starts in document 7's training part, whose
      // end referencePair() would not know.
      expectBertPair(lengths, 16, row);
    }
  }
  // In corpus order, starting with the second part of document 7.
  ASSERT_EQ(starts.size(), 12u);
  EXPECT_TRUE(std::is_sorted(starts.begin(), starts.end()));
  EXPECT_EQ(starts.front(), std::make_pair(int64_t(7), int64_t(3)));
  EXPECT_GT(randomSegments, 0);
  EXPECT_LT(randomSegments, 12);
  // Not the training epochs' draws: the same after training batches.
  Expected<SentencePairBatch> first = loader.getValidationBatch(0);
  for (int64_t i = 0; i < 3 * loader.getBatchesPerEpoch(); ++i)
    for (const PairRow &row : splitRows(loader.nextBatch())) {
      for (int64_t token : row.first)
        ASSERT_FALSE(isValidation(token)) << "training batch " << i;
      for (int64_t token : row.second)
        ASSERT_FALSE(isValidation(token)) << "training batch " << i;
    }
  Expected<SentencePairBatch> later = loader.getValidationBatch(0);
  ASSERT_TRUE(first.hasValue() && later.hasValue());
  EXPECT_EQ(contentOf(*first), contentOf(*later));

  for (int64_t index : {int64_t(3), int64_t(-1)}) {
    Expected<SentencePairBatch> missing = loader.getValidationBatch(index);
    ASSERT_FALSE(missing.hasValue());
    expectContains(missing.message(),
                   {"validation batch " + std::to_string(index) +
                    " does not exist; there are 3"});
  }

  SentencePairDataLoader none =
      makePairLoader(lengths, pairOptions(4, 16, 0, 11));
  EXPECT_EQ(none.getNumTrainSentences(), 60);
  EXPECT_EQ(none.getNumValidationSentences(), 0);
  EXPECT_EQ(none.getNumValidationBatches(), 0);
}

TEST(SentencePairDataLoaderTest, ReadsACorpusOfDocuments) {
  TempDir dir;
  writeTextFile(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\n"
                                   "c\nd\ne\nf\ng\nh\n");
  // Three documents of two sentences; blank lines (however many, with
  // spaces or "\r") separate them, a line without tokens is skipped.
  writeTextFile(dir / "corpus.txt", "a b\r\n\x01\x02\nc\r\n  \t\r\n"
                                    "d e\nf\n\n\n g\nh a\n\n");
  Expected<std::unique_ptr<Tokenizer>> wordPiece =
      Tokenizer::openWordPiece(dir / "vocab.txt");
  ASSERT_TRUE(wordPiece.hasValue()) << wordPiece.message();
  Expected<SentencePairOptions> o =
      SentencePairOptions::fromTokenizer(**wordPiece);
  ASSERT_TRUE(o.hasValue()) << o.message();
  EXPECT_EQ(o->clsId, 2);
  EXPECT_EQ(o->sepId, 3);
  EXPECT_EQ(o->padId, 0);
  EXPECT_EQ(o->batchSize, SentencePairOptions().batchSize);
  EXPECT_EQ(o->seqLength, SentencePairOptions().seqLength);
  o->batchSize = 3;
  o->seqLength = 8;
  o->validationFraction = 0;
  o->randomNextProbability = 0;
  Expected<SentencePairDataLoader> loader =
      SentencePairDataLoader::fromCorpus(dir / "corpus.txt", **wordPiece, *o);
  ASSERT_TRUE(loader.hasValue()) << loader.message();
  EXPECT_EQ(loader->getNumSentences(), 6);
  EXPECT_EQ(loader->getNumTrainExamples(), 3);
  SentencePairBatch batch = loader->nextBatch();
  std::set<std::vector<int64_t>> rows;
  for (int64_t r = 0; r < 3; ++r)
    rows.insert(std::vector<int64_t>(batch.inputs.begin() + r * 8,
                                     batch.inputs.begin() + r * 8 + 8));
  EXPECT_EQ(rows, (std::set<std::vector<int64_t>>{{2, 5, 6, 3, 7, 3, 0, 0},
                                                  {2, 8, 9, 3, 10, 3, 0, 0},
                                                  {2, 11, 3, 12, 5, 3, 0, 0}}));
  EXPECT_EQ(batch.nextSentenceLabels, (std::vector<int64_t>{0, 0, 0}));

  // Tokenizers without the special tokens.
  Expected<SentencePairOptions> bytes =
      SentencePairOptions::fromTokenizer(*Tokenizer::createByteLevel());
  ASSERT_FALSE(bytes.hasValue());
  EXPECT_EQ(bytes.getStatus().code(), ErrorCode::InvalidArgument);
  expectContains(bytes.message(), {"[CLS]", "bytes"});
  writeTextFile(dir / "nopad.txt", "[UNK]\n[CLS]\n[SEP]\na\n");
  Expected<std::unique_ptr<Tokenizer>> noPad =
      Tokenizer::openWordPiece(dir / "nopad.txt");
  ASSERT_TRUE(noPad.hasValue()) << noPad.message();
  Expected<SentencePairOptions> missingPad =
      SentencePairOptions::fromTokenizer(**noPad);
  ASSERT_FALSE(missingPad.hasValue());
  expectContains(missingPad.message(), {"[PAD]", "wordpiece"});
}

TEST(SentencePairDataLoaderTest, RefusesBadInput) {
  SentenceLengths lengths = variedLengths(6);
  auto expectError =
      [&](const std::vector<std::vector<std::vector<int64_t>>> &documents,
          const SentencePairOptions &o, const std::vector<std::string> &parts) {
        Expected<SentencePairDataLoader> loader =
            SentencePairDataLoader::fromDocuments(documents, o, "the test set");
        ASSERT_FALSE(loader.hasValue());
        EXPECT_EQ(loader.getStatus().code(), ErrorCode::InvalidArgument);
        expectContains(loader.message(), parts);
      };
  auto docs = makeDocuments(lengths);

  // Options.
  expectError(docs, pairOptions(0, 16, 0), {"batch size must be > 0, not 0"});
  expectError(docs, pairOptions(1, 4, 0),
              {"sequence length must be >= 5", "not 4"});
  expectError(docs, pairOptions(int64_t(1) << 40, int64_t(1) << 40, 0),
              {"too large"});
  expectError(docs, pairOptions(1, 16, 1.0),
              {"validation fraction must be in [0, 1)"});
  expectError(docs, pairOptions(1, 16, -0.1), {"validation fraction"});
  expectError(docs, pairOptions(1, 16, std::nan("")), {"validation fraction"});
  expectError(docs, pairOptions(1, 16, 0, 0, -0.1),
              {"random-next probability must be in [0, 1]"});
  expectError(docs, pairOptions(1, 16, 0, 0, 1.5), {"random-next probability"});
  expectError(docs, pairOptions(1, 16, 0, 0, std::nan("")),
              {"random-next probability"});
  for (const char *name : {"[CLS]", "[SEP]", "[PAD]"}) {
    SentencePairOptions o = pairOptions(1, 16, 0);
    (name[1] == 'C' ? o.clsId : name[1] == 'S' ? o.sepId : o.padId) = -1;
    expectError(docs, o, {std::string("the ") + name + " id must be >= 0"});
  }
  EXPECT_TRUE(SentencePairDataLoader::fromDocuments(docs, pairOptions(1, 5, 0))
                  .hasValue());

  // Data.
  expectError({}, pairOptions(1, 16, 0), {"the test set has no sentences"});
  expectError({{}, {{}, {}}}, pairOptions(1, 16, 0), {"has no sentences"});
  expectError({{{5}}, {{6, 7}}, {{8}, {}}}, pairOptions(1, 16, 0),
              {"the test set has no training example", "two sentences"});
  // Two sentences, but the second is held out for validation.
  expectError({{{5}, {6}}}, pairOptions(1, 16, 0.5),
              {"no training example", "the last 1, 50%, are kept"});
  // variedLengths(6) has 2 + 7 + 6 + 5 + 4 + 3 sentences: 21 examples.
  expectError(docs, pairOptions(22, 16, 0),
              {"the test set has fewer training examples than one batch: 21",
               "a batch needs 22"});
  EXPECT_TRUE(
      SentencePairDataLoader::fromDocuments(docs, pairOptions(21, 16, 0))
          .hasValue());
  // 10% of 27 sentences: the last 2 (of document 5) validate, 1 example.
  expectError(docs, pairOptions(2, 16, 0.1),
              {"the validation part of the test set", "2 of 27 sentences",
               "fewer examples than one batch: 1, but a batch needs 2",
               "smaller batch size", "0 for no validation"});
  EXPECT_TRUE(
      SentencePairDataLoader::fromDocuments(docs, pairOptions(1, 16, 0.1))
          .hasValue());

  // Files.
  TempDir dir;
  PickyTokenizer picky;
  SentencePairOptions o = pairOptions(1, 16, 0);
  Expected<SentencePairDataLoader> missing =
      SentencePairDataLoader::fromCorpus(dir / "missing.txt", picky, o);
  ASSERT_FALSE(missing.hasValue());
  EXPECT_EQ(missing.getStatus().code(), ErrorCode::IO);
  expectContains(missing.message(), {dir / "missing.txt", "No such file"});
  auto expectFileError = [&](const std::string &text,
                             const std::vector<std::string> &parts,
                             int64_t batchSize = 1) {
    writeTextFile(dir / "corpus.txt", text);
    SentencePairOptions fileOptions = o;
    fileOptions.batchSize = batchSize;
    Expected<SentencePairDataLoader> loader =
        SentencePairDataLoader::fromCorpus(dir / "corpus.txt", picky,
                                           fileOptions);
    ASSERT_FALSE(loader.hasValue()) << "accepted: " << text;
    EXPECT_EQ(loader.getStatus().code(), ErrorCode::InvalidArgument);
    expectContains(loader.message(), parts);
  };
  expectFileError("", {"corpus " + dir / "corpus.txt", "is empty"});
  expectFileError("\n \n\r\n",
                  {"corpus " + dir / "corpus.txt", "has no sentences"});
  expectFileError("one\n\ntwo\n",
                  {"corpus " + dir / "corpus.txt", "no training example"});
  expectFileError("one\nnothing\n\ntwo\n", {"no training example"});
  expectFileError("one\ntwo\nfail\n",
                  {dir / "corpus.txt" + ":3:", "cannot encode 'fail'"});
  expectFileError("one\ntwo\n",
                  {"corpus " + dir / "corpus.txt",
                   "fewer training examples than one batch: 1"},
                  /*batchSize=*/2);
  SentencePairOptions bad = o;
  bad.batchSize = 0;
  Expected<SentencePairDataLoader> badOptions =
      SentencePairDataLoader::fromCorpus(dir / "missing.txt", picky, bad);
  ASSERT_FALSE(badOptions.hasValue());
  EXPECT_EQ(badOptions.getStatus().code(), ErrorCode::InvalidArgument)
      << "the options are checked before the file is read";
}

} // namespace
