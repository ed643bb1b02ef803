//===- DataLoaderTest.cpp - Tests of the training data pipeline -----------===//
//
// Part of the llm-opt project.
//
// The causal-LM loader over streams whose token ids are their positions, so
// that every row tells where it was cut from: the split, the windows, one
// visit per window and epoch, seeded shuffles (uniform: checked over many
// seeds), resuming from a cursor, and the refusals. Then the masked-LM
// builder (counts, the 80/10/10 rule within 5 standard deviations, special
// ids) and the labelled-file reader.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/DataLoader.h"
#include "llm/runtime/Tokenizer.h"

#include "RuntimeTestUtils.h"

#include <gtest/gtest.h>

#include <cmath>
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

} // namespace
