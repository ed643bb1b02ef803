//===- Tokens.cpp - Token id batches and their validation -----------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Tokens.h"

#include "RuntimeSupport.h"

#include <limits>
#include <new>

using namespace llm::rt;
using namespace llm::rt::detail;

static Status invalid(std::string message) {
  return Status::error(ErrorCode::InvalidArgument, std::move(message));
}

Expected<TokenBatch>
TokenBatch::fromRows(const std::vector<std::vector<int64_t>> &rows) {
  if (rows.empty())
    return invalid("no tokens: the batch has no rows");
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].empty())
      return invalid("row " + std::to_string(r) + " of the batch is empty");
    if (rows[r].size() != rows[0].size())
      return invalid("row " + std::to_string(r) + " has " +
                     std::to_string(rows[r].size()) + " tokens but row 0 has " +
                     std::to_string(rows[0].size()) +
                     "; every row of a batch needs the same length");
  }
  uint64_t total = 0;
  if (!checkedMul(rows.size(), rows[0].size(), total) ||
      total > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return invalid("the batch has too many tokens");
  TokenBatch batch;
  try {
    batch.ids.reserve(static_cast<size_t>(total));
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "out of memory copying the token batch");
  }
  for (const std::vector<int64_t> &row : rows)
    batch.ids.insert(batch.ids.end(), row.begin(), row.end());
  batch.batch = static_cast<int64_t>(rows.size());
  batch.seq = static_cast<int64_t>(rows[0].size());
  return batch;
}

static bool isBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static std::string_view trimBlanks(std::string_view s) {
  while (!s.empty() && isBlank(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back()))
    s.remove_suffix(1);
  return s;
}

namespace {
enum class IntParse { Ok, NotAnInteger, Overflow };
} // namespace

/// Parses a decimal int64 with an optional leading '-'.
static IntParse parseInt64(std::string_view text, int64_t &value) {
  bool negative = !text.empty() && text.front() == '-';
  if (negative)
    text.remove_prefix(1);
  if (text.empty())
    return IntParse::NotAnInteger;
  for (char c : text)
    if (c < '0' || c > '9')
      return IntParse::NotAnInteger;
  uint64_t magnitude = 0;
  const uint64_t limit = negative
                             ? uint64_t(std::numeric_limits<int64_t>::max()) + 1
                             : uint64_t(std::numeric_limits<int64_t>::max());
  for (char c : text) {
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (magnitude > (limit - digit) / 10)
      return IntParse::Overflow;
    magnitude = magnitude * 10 + digit;
  }
  if (negative)
    value = magnitude == limit ? std::numeric_limits<int64_t>::min()
                               : -static_cast<int64_t>(magnitude);
  else
    value = static_cast<int64_t>(magnitude);
  return IntParse::Ok;
}

Expected<std::vector<std::vector<int64_t>>>
llm::rt::parseTokenRows(std::string_view text) {
  try {
    std::vector<std::vector<int64_t>> rows;
    if (trimBlanks(text).empty())
      return invalid("no tokens: the token list is empty");
    size_t rowStart = 0;
    while (true) {
      size_t rowEnd = text.find(';', rowStart);
      std::string_view rowText = text.substr(
          rowStart, rowEnd == std::string_view::npos ? std::string_view::npos
                                                     : rowEnd - rowStart);
      size_t r = rows.size();
      if (trimBlanks(rowText).empty())
        return invalid("row " + std::to_string(r) +
                       " of the token list is empty");
      std::vector<int64_t> &row = rows.emplace_back();
      size_t idStart = 0;
      while (true) {
        size_t idEnd = rowText.find(',', idStart);
        std::string_view idText = trimBlanks(rowText.substr(
            idStart, idEnd == std::string_view::npos ? std::string_view::npos
                                                     : idEnd - idStart));
        int64_t id = 0;
        IntParse parsed = parseInt64(idText, id);
        if (parsed != IntParse::Ok)
          return invalid("token " + std::to_string(row.size()) + " of row " +
                         std::to_string(r) + ": " + quote(idText) +
                         (parsed == IntParse::Overflow
                              ? " does not fit in 64 bits"
                              : " is not an integer token id"));
        row.push_back(id);
        if (idEnd == std::string_view::npos)
          break;
        idStart = idEnd + 1;
      }
      if (rowEnd == std::string_view::npos)
        break;
      rowStart = rowEnd + 1;
    }
    return rows;
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "out of memory parsing the token list");
  }
}

Status llm::rt::validateTokens(const TokenView &tokens, int64_t vocabSize,
                               int64_t maxPositions) {
  if (tokens.batch <= 0 || tokens.seq <= 0)
    return invalid("no tokens: the batch is " + std::to_string(tokens.batch) +
                   " x " + std::to_string(tokens.seq));
  if (tokens.batch > std::numeric_limits<int64_t>::max() / tokens.seq)
    return invalid("the batch of " + std::to_string(tokens.batch) + " x " +
                   std::to_string(tokens.seq) + " tokens is too large");
  if (!tokens.ids)
    return invalid("the token ids are a null pointer");
  if (maxPositions > 0 && tokens.seq > maxPositions)
    return invalid("the sequence has " + std::to_string(tokens.seq) +
                   " tokens, more than the model's " +
                   std::to_string(maxPositions) + " positions (max_positions)");
  for (int64_t b = 0; b < tokens.batch; ++b) {
    for (int64_t s = 0; s < tokens.seq; ++s) {
      int64_t id = tokens.ids[b * tokens.seq + s];
      if (id < 0 || id >= vocabSize)
        return invalid("token " + std::to_string(s) + " of row " +
                       std::to_string(b) + " is " + std::to_string(id) +
                       ", outside the vocabulary [0, " +
                       std::to_string(vocabSize) + ")");
    }
  }
  return Status::success();
}
