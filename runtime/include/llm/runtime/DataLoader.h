//===- DataLoader.h - Training data: batches, masking, labels ---*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares the data side of training:
//
//   - CausalLMDataLoader tokenizes a text corpus once, keeps the last
//     fraction of the token stream for validation, cuts the rest into
//     windows of seqLength + 1 tokens (inputs and targets shifted by one) and
//     hands them out as [batchSize, seqLength + 1] batches in an order
//     shuffled per epoch from a seed. Its DataCursor is what a checkpoint
//     stores so that a resumed run sees exactly the batches the interrupted
//     run would have seen.
//   - buildMaskedLMBatch masks a batch BERT-style for masked-LM training.
//   - readLabelledFile reads `label<TAB>text` lines for classification, and
//     ClassificationDataLoader batches them, padded, for fine-tuning, with
//     the same seeded per-epoch order and resumable cursor.
//   - SentencePairDataLoader builds BERT's next-sentence-prediction pairs
//     ([CLS] A [SEP] B [SEP], B following A or drawn at random) from a
//     corpus of documents, with the same seeded order and cursor.
//
// The shuffles and draws use the loader's own generator (splitmix64 with
// Fisher-Yates and unbiased bounded draws), so a seed gives the same data
// order on every machine and standard library. docs/Training.md has the
// details.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_DATALOADER_H
#define LLM_RUNTIME_DATALOADER_H

#include "llm/runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llm {
namespace rt {

class Tokenizer;

//===----------------------------------------------------------------------===//
// Causal language modelling
//===----------------------------------------------------------------------===//

/// The settings of a CausalLMDataLoader.
struct DataLoaderOptions {
  /// Windows per batch; > 0.
  int64_t batchSize = 8;
  /// Input tokens per window (each window holds seqLength + 1 tokens); > 0.
  int64_t seqLength = 128;
  /// The fraction of the token stream, taken from its end, kept for
  /// validation; in [0, 1). 0 disables validation.
  double validationFraction = 0.05;
  /// The seed of the shuffled order.
  uint64_t seed = 0;
};

/// Where a CausalLMDataLoader (or a ClassificationDataLoader, which reads
/// its fields as its own class documents) is in its data order, together
/// with what that order depends on, so that restoring it into a loader built
/// differently is refused instead of silently changing the data order.
struct DataCursor {
  /// The seed of the shuffled order.
  uint64_t seed = 0;
  int64_t batchSize = 0;
  int64_t seqLength = 0;
  /// The number of training tokens and their FNV-1a hash (over each token as
  /// 8 little-endian bytes): a changed corpus or tokenizer changes them.
  int64_t numTrainTokens = 0;
  uint64_t trainTokenHash = 0;
  /// The epoch of the next batch (0-based).
  int64_t epoch = 0;
  /// The index of the next batch within its epoch; always less than the
  /// number of batches per epoch.
  int64_t nextBatch = 0;

  bool operator==(const DataCursor &other) const {
    return seed == other.seed && batchSize == other.batchSize &&
           seqLength == other.seqLength &&
           numTrainTokens == other.numTrainTokens &&
           trainTokenHash == other.trainTokenHash && epoch == other.epoch &&
           nextBatch == other.nextBatch;
  }
  bool operator!=(const DataCursor &other) const { return !(*this == other); }
};

/// A [batchSize, seqLength + 1] batch of token ids, row-major. Row r holds
/// consecutive tokens of the stream: its first seqLength tokens are the
/// inputs, its last seqLength tokens the targets.
struct TrainingBatch {
  int64_t batchSize = 0;
  int64_t seqLength = 0;
  std::vector<int64_t> tokens;

  /// Returns the token at (\p row, \p column), column < seqLength + 1.
  int64_t at(int64_t row, int64_t column) const {
    return tokens[static_cast<size_t>(row * (seqLength + 1) + column)];
  }
  /// Returns the inputs, [batchSize, seqLength]: each row without its last
  /// token.
  std::vector<int64_t> getInputs() const;
  /// Returns the targets, [batchSize, seqLength]: each row without its first
  /// token.
  std::vector<int64_t> getTargets() const;
};

/// Batches of a token stream for causal LM training.
///
/// The stream of N tokens is split into training tokens [0, N - V) and
/// validation tokens [N - V, N), V = floor(N * validationFraction). The
/// training tokens are cut into windows of seqLength + 1 tokens starting
/// every seqLength tokens (consecutive windows share one token, so every
/// training token but the first is a target exactly once per epoch). Each
/// epoch visits the windows in a new order, shuffled from (seed, epoch); the
/// windows left over after the last full batch are skipped for that epoch.
/// Validation windows are cut the same way and come in stream order.
class CausalLMDataLoader {
public:
  /// Reads the text file \p path, tokenizes it with \p tokenizer (encode(),
  /// the whole file as one text) and builds the loader. Errors name the file:
  /// missing or unreadable (code IO), empty, or too small for one training
  /// or validation batch (code InvalidArgument, with the token counts).
  static Expected<CausalLMDataLoader>
  fromCorpus(const std::string &path, const Tokenizer &tokenizer,
             const DataLoaderOptions &options);

  /// Builds the loader over \p tokens; \p sourceName names them in errors.
  static Expected<CausalLMDataLoader>
  fromTokens(std::vector<int64_t> tokens, const DataLoaderOptions &options,
             const std::string &sourceName = "the token stream");

  int64_t getNumTokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t getNumTrainTokens() const { return numTrainTokens; }
  int64_t getNumValidationTokens() const {
    return getNumTokens() - numTrainTokens;
  }
  /// Returns the number of training batches in an epoch (>= 1).
  int64_t getBatchesPerEpoch() const;
  /// Returns the number of validation batches (0 without validation).
  int64_t getNumValidationBatches() const;
  const DataLoaderOptions &getOptions() const { return options; }
  const std::vector<int64_t> &getTokens() const { return tokens; }

  /// Returns the next training batch and advances the cursor, into the next
  /// epoch after the last batch of one.
  TrainingBatch nextBatch();

  /// Returns validation batch \p index, in [0, getNumValidationBatches()).
  Expected<TrainingBatch> getValidationBatch(int64_t index) const;

  /// Returns the position of the next training batch.
  const DataCursor &getCursor() const { return cursor; }

  /// Continues from \p saved, a cursor of an earlier run: its seed replaces
  /// the loader's. Refused (code InvalidArgument, the loader unchanged) when
  /// the batch size, window length or training tokens differ from the
  /// loader's, or the position is out of range.
  Status restoreCursor(const DataCursor &saved);

private:
  CausalLMDataLoader() = default;
  /// Returns the first token of training window \p window.
  int64_t getWindowStart(int64_t window) const;
  /// Recomputes the window order of the cursor's epoch.
  void shuffleForEpoch();

  DataLoaderOptions options;
  std::vector<int64_t> tokens;
  int64_t numTrainTokens = 0;
  DataCursor cursor;
  /// The window order of cursor.epoch.
  std::vector<int64_t> order;
};

//===----------------------------------------------------------------------===//
// Masked language modelling
//===----------------------------------------------------------------------===//

/// The label of a position that does not count in the loss (PyTorch's
/// CrossEntropyLoss ignore_index).
constexpr int64_t IgnoreLabel = -100;

/// The settings of buildMaskedLMBatch.
struct MaskedLMOptions {
  /// The vocabulary size; every id must be in [0, vocabSize).
  int64_t vocabSize = 0;
  /// The id that replaces most chosen positions.
  int64_t maskTokenId = -1;
  /// Ids never chosen and never drawn as random replacements ([CLS], [SEP],
  /// [PAD], [MASK], [UNK]).
  std::vector<int64_t> specialTokenIds;
  /// The fraction of the non-special positions of each row chosen for
  /// prediction; in (0, 1].
  double maskFraction = 0.15;

  /// Returns the options of a WordPiece tokenizer: its vocabulary size,
  /// "[MASK]", and the special ids among "[CLS]", "[SEP]", "[PAD]",
  /// "[MASK]" and "[UNK]". Fails when the vocabulary has no "[MASK]".
  static Expected<MaskedLMOptions> fromTokenizer(const Tokenizer &tokenizer);
};

/// A masked batch: the ids to feed and the labels, both [batchSize,
/// seqLength] row-major.
struct MaskedLMBatch {
  int64_t batchSize = 0;
  int64_t seqLength = 0;
  std::vector<int64_t> inputIds;
  /// The original id at chosen positions, IgnoreLabel elsewhere.
  std::vector<int64_t> labels;
};

/// Masks \p ids ([batchSize, seqLength] row-major) as BERT's pretraining
/// does: in each row, max(1, round(maskFraction * n)) of its n non-special
/// positions are chosen uniformly (none when n is 0); each chosen position
/// becomes maskTokenId with probability 0.8, a uniformly drawn non-special
/// id with probability 0.1, and stays with probability 0.1. The result
/// depends only on the arguments (\p seed included). Errors (code
/// InvalidArgument) name the first bad id and its position.
Expected<MaskedLMBatch> buildMaskedLMBatch(const std::vector<int64_t> &ids,
                                           int64_t batchSize, int64_t seqLength,
                                           const MaskedLMOptions &options,
                                           uint64_t seed);

//===----------------------------------------------------------------------===//
// Classification
//===----------------------------------------------------------------------===//

/// One line of a labelled file.
struct LabelledExample {
  /// The label's id: its index in LabelledDataset::labelNames.
  int64_t label = 0;
  std::string text;
  /// The 1-based line number in the file.
  int64_t line = 0;
};

/// The examples of a labelled file.
struct LabelledDataset {
  /// The label names, indexed by label id.
  std::vector<std::string> labelNames;
  std::vector<LabelledExample> examples;
};

/// Reads \p path, one `label<TAB>text` example per line. The label is
/// everything before the first tab, the text everything after it (further
/// tabs included); a trailing "\r" is dropped and empty lines are skipped.
///
/// Label ids: without \p knownLabels, the distinct labels sorted by their
/// bytes, so that files with the same label set get the same ids whatever
/// their order; with \p knownLabels (e.g. the training set's names when
/// reading the validation set), the index in that list, and a label not in
/// it is an error.
///
/// Errors name the file and the line: no tab, an empty (or all-whitespace)
/// label or text, an unknown label; also a missing or unreadable file (code
/// IO) and a file without examples.
Expected<LabelledDataset>
readLabelledFile(const std::string &path,
                 const std::vector<std::string> &knownLabels = {});

/// The settings of a ClassificationDataLoader.
struct ClassificationOptions {
  /// Examples per training batch (and per validation batch but the last);
  /// > 0.
  int64_t batchSize = 8;
  /// The most tokens of an example; > 0. Longer texts keep their first
  /// maxLength tokens.
  int64_t maxLength = 128;
  /// The fraction of the training file held out for validation when no
  /// validation file is given; in [0, 1). 0 disables validation.
  double validationFraction = 0.1;
  /// The seed of the held-out split and of the shuffled order.
  uint64_t seed = 0;
  /// The id written after a row's last token.
  int64_t padId = 0;
  /// Put each row's label at its first token (BERT's [CLS], whose pooled
  /// output the classifier reads) instead of its last real token (GPT-2,
  /// LLaMA).
  bool labelFirstToken = false;
};

/// A batch of labelled texts, right-padded to the longest in the batch. The
/// class is predicted from the last real token of each row (as GPT-2's
/// sequence classification does), or with labelFirstToken from the first,
/// so that is where its label sits.
struct ClassificationBatch {
  int64_t batchSize = 0;
  /// The longest row's token count.
  int64_t seqLength = 0;
  /// [batchSize, seqLength] row-major: each row's tokens, then padId.
  std::vector<int64_t> inputs;
  /// [batchSize, seqLength] row-major: IgnoreLabel everywhere except at each
  /// row's last real token (first with labelFirstToken), which holds the
  /// row's class id.
  std::vector<int64_t> labels;
  /// [batchSize, seqLength] row-major: 1 at real tokens, 0 at padding (the
  /// attention mask of a bidirectional encoder).
  std::vector<int64_t> attentionMask;
  /// [batchSize]: the real tokens of each row (>= 1).
  std::vector<int64_t> lengths;
  /// [batchSize]: the class id of each row.
  std::vector<int64_t> classes;
};

/// Batches of labelled texts for sequence-classification fine-tuning.
///
/// The examples are tokenized once (encodeWithSpecialTokens, so WordPiece
/// texts get [CLS] and [SEP]) and truncated to maxLength tokens. Without a
/// validation file, the last floor(n * validationFraction) examples of an
/// order shuffled once from the seed are held out; both parts then keep the
/// file's order, so the training examples depend on the seed only through
/// which of them are held out. Each epoch visits the training examples in a
/// new order, shuffled from (seed, epoch); those left over after the last
/// full batch are skipped for that epoch. Validation batches come in file
/// order, the last one possibly smaller, so that every validation example
/// counts.
///
/// The DataCursor of this loader holds maxLength as its seqLength, the
/// number of training examples as its numTrainTokens, and as its
/// trainTokenHash the FNV-1a hash over each training example's class id,
/// token count and token ids.
class ClassificationDataLoader {
public:
  /// Reads \p trainPath with readLabelledFile and tokenizes each text with
  /// \p tokenizer. With a non-empty \p validationPath, the validation
  /// examples come from that file, whose labels must be among the training
  /// file's; otherwise they are held out of the training file. Errors: those
  /// of readLabelledFile; bad options; a tokenizer error or a text without
  /// tokens (naming the file and line); fewer training examples than one
  /// batch (with the counts). All but the I/O ones have code
  /// InvalidArgument, unless the tokenizer says otherwise.
  static Expected<ClassificationDataLoader>
  fromFiles(const std::string &trainPath, const std::string &validationPath,
            const Tokenizer &tokenizer, const ClassificationOptions &options);

  /// Returns the label names, indexed by class id (sorted by their bytes).
  const std::vector<std::string> &getLabelNames() const { return labelNames; }
  int64_t getNumTrainExamples() const {
    return static_cast<int64_t>(trainExamples.size());
  }
  int64_t getNumValidationExamples() const {
    return static_cast<int64_t>(validationExamples.size());
  }
  const ClassificationOptions &getOptions() const { return options; }
  /// Where the labels of the batches built from now on sit
  /// (ClassificationOptions::labelFirstToken).
  void setLabelFirstToken(bool first) { options.labelFirstToken = first; }

  /// Returns the number of training batches in an epoch (>= 1).
  int64_t getBatchesPerEpoch() const;
  /// Returns the next training batch and advances the cursor, into the next
  /// epoch after the last batch of one.
  ClassificationBatch nextBatch();

  /// Returns the number of validation batches: ceil(validation examples /
  /// batchSize), 0 without validation.
  int64_t getNumValidationBatches() const;
  /// Returns validation batch \p index, in [0, getNumValidationBatches()):
  /// the examples from index * batchSize on, in order.
  Expected<ClassificationBatch> getValidationBatch(int64_t index) const;

  /// Returns the position of the next training batch.
  const DataCursor &getCursor() const { return cursor; }

  /// Continues from \p saved, a cursor of an earlier run: its seed replaces
  /// the loader's for the epoch orders (the held-out split stays as built).
  /// Refused (code InvalidArgument, the loader unchanged) when the batch
  /// size, maximum length or training examples differ from the loader's, or
  /// the position is out of range.
  Status restoreCursor(const DataCursor &saved);

private:
  /// One tokenized example.
  struct Example {
    int64_t label = 0;
    std::vector<int64_t> tokens;
  };

  ClassificationDataLoader() = default;
  /// Recomputes the example order of the cursor's epoch.
  void shuffleForEpoch();
  /// Returns the batch of \p rows, padded to the longest.
  ClassificationBatch makeBatch(const std::vector<const Example *> &rows) const;

  ClassificationOptions options;
  std::vector<std::string> labelNames;
  std::vector<Example> trainExamples;
  std::vector<Example> validationExamples;
  DataCursor cursor;
  /// The example order of cursor.epoch.
  std::vector<int64_t> order;
};

//===----------------------------------------------------------------------===//
// Next-sentence prediction
//===----------------------------------------------------------------------===//

/// The settings of a SentencePairDataLoader.
struct SentencePairOptions {
  /// Sentence pairs per batch; > 0.
  int64_t batchSize = 8;
  /// Tokens per row, [CLS] and both [SEP] included; >= 5, so that both
  /// segments keep at least one token.
  int64_t seqLength = 128;
  /// The fraction of the sentences, taken from the end of the corpus, kept
  /// for validation; in [0, 1). 0 disables validation.
  double validationFraction = 0.05;
  /// The seed of the shuffled order and of the random segments.
  uint64_t seed = 0;
  /// The ids of [CLS], [SEP] and [PAD]; all required, >= 0.
  int64_t clsId = -1;
  int64_t sepId = -1;
  int64_t padId = -1;
  /// The probability that segment B is drawn at random instead of following
  /// A (BERT: 0.5); in [0, 1].
  double randomNextProbability = 0.5;

  /// Returns the default options with the ids of a WordPiece tokenizer's
  /// "[CLS]", "[SEP]" and "[PAD]". Fails (code InvalidArgument), naming the
  /// first of them the vocabulary lacks.
  static Expected<SentencePairOptions>
  fromTokenizer(const Tokenizer &tokenizer);
};

/// A batch of sentence pairs for next-sentence prediction (with masked-LM
/// on top, BERT's pretraining). The [batchSize, seqLength] arrays are
/// row-major and have the same shape in every batch.
struct SentencePairBatch {
  int64_t batchSize = 0;
  int64_t seqLength = 0;
  /// [batchSize, seqLength]: each row is [CLS] A [SEP] B [SEP], then padId.
  std::vector<int64_t> inputs;
  /// [batchSize, seqLength]: 0 over [CLS] A [SEP], 1 over B [SEP], 0 over the
  /// padding (Hugging Face's token_type_ids).
  std::vector<int64_t> segments;
  /// [batchSize, seqLength]: 1 at real tokens, 0 at padding.
  std::vector<int64_t> attentionMask;
  /// [batchSize]: 0 when B is A's continuation, 1 when B is random (Hugging
  /// Face's next_sentence_label).
  std::vector<int64_t> nextSentenceLabels;
};

/// Batches of sentence pairs for BERT's next-sentence prediction.
///
/// The corpus is a list of documents, each a list of tokenized sentences.
/// Of its n sentences (documents concatenated), the last
/// floor(n * validationFraction) are the validation part, the rest the
/// training part; a document that straddles the cut counts as two, one in
/// each part. Pairs are drawn within one part only.
///
/// An example starts at a sentence s that has a following sentence in its
/// document. With a token budget of seqLength - 3, segment A is s, extended
/// with the following sentences of the document while A plus the next one
/// hold at most half of the budget and at least one sentence is left after
/// A. With probability randomNextProbability (a draw that depends only on
/// the seed, the epoch and the example's place in the epoch) B is random,
/// label 1: it starts at a sentence drawn uniformly from the other
/// documents of the part, or, when the part has one document, from its
/// sentences other than A and A's continuation (stopping before A when it
/// starts before it; when there is no such sentence, B follows A). Otherwise
/// B follows A, label 0. B takes sentences until A and B reach the budget
/// or its document ends. Then, as BERT's truncate_seq_pair, the last token
/// of the longer segment (A on ties) is dropped until both fit the budget;
/// both keep at least one token.
///
/// Every training start sentence is one example. Each epoch visits them in
/// a new order, shuffled from (seed, epoch); those left over after the last
/// full batch are skipped for that epoch. Validation batches hold the
/// validation examples in corpus order, their random segments drawn from
/// the seed and the example's index, so that a batch is the same on every
/// call; only full batches count.
///
/// The DataCursor of this loader holds the number of training examples as
/// its numTrainTokens, and as its trainTokenHash the FNV-1a hash over the
/// training documents (a marker before each document, then each sentence's
/// token count and token ids).
class SentencePairDataLoader {
public:
  /// Reads the text file \p path: one sentence per line, documents
  /// separated by blank (or all-whitespace) lines, a trailing "\r" dropped.
  /// Each line is tokenized with \p tokenizer (encode(), no special tokens);
  /// a line without tokens is skipped. Errors name the file: missing or
  /// unreadable (code IO), a tokenizer error (with the line), and those of
  /// fromDocuments.
  static Expected<SentencePairDataLoader>
  fromCorpus(const std::string &path, const Tokenizer &tokenizer,
             const SentencePairOptions &options);

  /// Builds the loader over \p documents of tokenized sentences; empty
  /// sentences are skipped, and so are documents left without any. \p
  /// sourceName names them in errors. Errors (code InvalidArgument): bad
  /// options; no sentences; no training example (no training document with
  /// two sentences); fewer training examples than one batch, or, with
  /// validation, fewer validation examples (with the counts).
  static Expected<SentencePairDataLoader>
  fromDocuments(std::vector<std::vector<std::vector<int64_t>>> documents,
                const SentencePairOptions &options,
                const std::string &sourceName = "the documents");

  int64_t getNumSentences() const {
    return static_cast<int64_t>(sentenceStarts.size()) - 1;
  }
  int64_t getNumTrainSentences() const { return numTrainSentences; }
  int64_t getNumValidationSentences() const {
    return getNumSentences() - numTrainSentences;
  }
  int64_t getNumTrainExamples() const {
    return static_cast<int64_t>(trainStarts.size());
  }
  int64_t getNumValidationExamples() const {
    return static_cast<int64_t>(validationStarts.size());
  }
  /// Returns the number of training batches in an epoch (>= 1).
  int64_t getBatchesPerEpoch() const;
  /// Returns the number of validation batches (0 without validation).
  int64_t getNumValidationBatches() const;
  const SentencePairOptions &getOptions() const { return options; }

  /// Returns the next training batch and advances the cursor, into the next
  /// epoch after the last batch of one.
  SentencePairBatch nextBatch();

  /// Returns validation batch \p index, in [0, getNumValidationBatches()):
  /// the validation examples from index * batchSize on.
  Expected<SentencePairBatch> getValidationBatch(int64_t index) const;

  /// Returns the position of the next training batch.
  const DataCursor &getCursor() const { return cursor; }

  /// Continues from \p saved, a cursor of an earlier run: its seed replaces
  /// the loader's (for the validation segments too). Refused (code
  /// InvalidArgument, the loader unchanged) when the batch size, sequence
  /// length or training documents differ from the loader's, or the position
  /// is out of range.
  Status restoreCursor(const DataCursor &saved);

private:
  /// The segments of one example, each a run of the token stream (the
  /// sentences of a document are consecutive there).
  struct SentencePair {
    int64_t firstBegin = 0;
    int64_t firstLength = 0;
    int64_t secondBegin = 0;
    int64_t secondLength = 0;
    /// 1 when the second segment is random.
    int64_t label = 0;
  };

  SentencePairDataLoader() = default;
  /// Returns the example starting at sentence \p start, its random choices
  /// drawn from \p drawSeed.
  SentencePair makePair(int64_t start, uint64_t drawSeed) const;
  /// Returns the batch of the examples starting at \p starts, example i
  /// drawing from drawSeeds[i].
  SentencePairBatch makeBatch(const std::vector<int64_t> &starts,
                              const std::vector<uint64_t> &drawSeeds) const;
  /// Returns the number of tokens of sentence \p sentence.
  int64_t getSentenceLength(int64_t sentence) const {
    return sentenceStarts[static_cast<size_t>(sentence) + 1] -
           sentenceStarts[static_cast<size_t>(sentence)];
  }
  /// Recomputes the example order of the cursor's epoch.
  void shuffleForEpoch();

  SentencePairOptions options;
  /// The tokens of all sentences, in corpus order.
  std::vector<int64_t> tokens;
  /// Sentence i is tokens [sentenceStarts[i], sentenceStarts[i + 1]).
  std::vector<int64_t> sentenceStarts;
  /// Document d is sentences [documentStarts[d], documentStarts[d + 1]); a
  /// document straddling the validation cut is split there.
  std::vector<int64_t> documentStarts;
  /// The document of each sentence.
  std::vector<int64_t> documentOf;
  int64_t numTrainSentences = 0;
  /// The documents [0, numTrainDocuments) are the training part.
  int64_t numTrainDocuments = 0;
  /// The start sentences of the training and validation examples.
  std::vector<int64_t> trainStarts;
  std::vector<int64_t> validationStarts;
  DataCursor cursor;
  /// The example order of cursor.epoch.
  std::vector<int64_t> order;
};

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_DATALOADER_H
