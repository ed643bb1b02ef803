//===- Tokens.h - Token id batches and their validation ---------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares the runtime's view of a batch of token ids
// ([batch x seq], row-major int64), the owning TokenBatch built from rows,
// the parser of the command-line spelling "1,2,3;4,5,6", and the checks
// every batch passes before compiled code sees it: not empty, rows of equal
// length, no longer than the model's positions, every id inside the
// vocabulary.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_TOKENS_H
#define LLM_RUNTIME_TOKENS_H

#include "llm/runtime/Status.h"

#include <cstdint>
#include <string_view>
#include <vector>

namespace llm {
namespace rt {

/// A non-owning [batch x seq] batch of token ids, row-major.
struct TokenView {
  const int64_t *ids = nullptr;
  int64_t batch = 0;
  int64_t seq = 0;
};

/// An owning [batch x seq] batch of token ids.
class TokenBatch {
public:
  /// Builds a batch from \p rows. Fails (naming the rows) when there are no
  /// rows, a row is empty, or two rows differ in length.
  static Expected<TokenBatch>
  fromRows(const std::vector<std::vector<int64_t>> &rows);

  /// Returns a view of the ids.
  TokenView getView() const { return {ids.data(), batch, seq}; }

  int64_t getBatchSize() const { return batch; }
  int64_t getSequenceLength() const { return seq; }
  const std::vector<int64_t> &getIds() const { return ids; }

private:
  TokenBatch() = default;

  std::vector<int64_t> ids;
  int64_t batch = 0;
  int64_t seq = 0;
};

/// Parses the text spelling of a batch: rows separated by ';', ids in a row
/// by ',', each id a decimal integer (a leading '-' is accepted so that the
/// range check can name negative ids); blanks around ids are ignored. Fails
/// with a message naming the row and position of the first bad id, or an
/// empty row.
Expected<std::vector<std::vector<int64_t>>>
parseTokenRows(std::string_view text);

/// Checks \p tokens before a call: at least one row and one token per row,
/// a batch whose element count fits int64, \p tokens.ids non-null, a
/// sequence no longer than \p maxPositions, and every id in
/// [0, \p vocabSize). Errors have code InvalidArgument and name the first
/// offending id by row and position.
Status validateTokens(const TokenView &tokens, int64_t vocabSize,
                      int64_t maxPositions);

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_TOKENS_H
