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
// epochs, resuming, the refusals).
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

} // namespace
