//===- TokensTest.cpp - Tests of token parsing and validation -------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Tokens.h"

#include "RuntimeTestUtils.h"

#include <limits>

using namespace llm::rt;
using namespace llm::rt::test;

namespace {

using Rows = std::vector<std::vector<int64_t>>;

TEST(TokensTest, ParsesRowsAndIds) {
  Expected<Rows> rows = parseTokenRows("1,2,3;4,5,6");
  ASSERT_TRUE(rows) << rows.message();
  EXPECT_EQ(*rows, (Rows{{1, 2, 3}, {4, 5, 6}}));

  rows = parseTokenRows(" 7 ,\t8 ; 9, 10 \n");
  ASSERT_TRUE(rows) << rows.message();
  EXPECT_EQ(*rows, (Rows{{7, 8}, {9, 10}}));

  // Negative ids parse, so that validation can name them.
  rows = parseTokenRows("-1,9223372036854775807,-9223372036854775808");
  ASSERT_TRUE(rows) << rows.message();
  EXPECT_EQ(*rows, (Rows{{-1, std::numeric_limits<int64_t>::max(),
                          std::numeric_limits<int64_t>::min()}}));

  // Ragged rows parse; TokenBatch refuses them.
  rows = parseTokenRows("1;2,3");
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 2u);
}

TEST(TokensTest, ParseErrorsNameThePlace) {
  struct Case {
    const char *text;
    const char *message;
  } cases[] = {
      {"", "no tokens: the token list is empty"},
      {"  ", "no tokens: the token list is empty"},
      {"1,2;", "row 1 of the token list is empty"},
      {";1", "row 0 of the token list is empty"},
      {"1;;2", "row 1 of the token list is empty"},
      {"1,,2", "token 1 of row 0: '' is not an integer token id"},
      {"1,2,", "token 2 of row 0: '' is not an integer token id"},
      {"1;2,x", "token 1 of row 1: 'x' is not an integer token id"},
      {"1 2", "token 0 of row 0: '1 2' is not an integer token id"},
      {"0x10", "token 0 of row 0: '0x10' is not an integer token id"},
      {"+3", "token 0 of row 0: '+3' is not an integer token id"},
      {"1.5", "token 0 of row 0: '1.5' is not an integer token id"},
      {"-", "token 0 of row 0: '-' is not an integer token id"},
      {"9223372036854775808",
       "token 0 of row 0: '9223372036854775808' does not fit in 64 bits"},
      {"-9223372036854775809",
       "token 0 of row 0: '-9223372036854775809' does not fit in 64 bits"},
      {"99999999999999999999999",
       "token 0 of row 0: '99999999999999999999999' does not fit in 64 bits"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.text);
    Expected<Rows> rows = parseTokenRows(c.text);
    ASSERT_FALSE(rows);
    EXPECT_EQ(rows.message(), c.message);
    EXPECT_EQ(rows.getStatus().code(), ErrorCode::InvalidArgument);
  }
}

TEST(TokensTest, BatchFromRows) {
  Expected<TokenBatch> batch = TokenBatch::fromRows({{1, 2, 3}, {4, 5, 6}});
  ASSERT_TRUE(batch) << batch.message();
  EXPECT_EQ(batch->getBatchSize(), 2);
  EXPECT_EQ(batch->getSequenceLength(), 3);
  EXPECT_EQ(batch->getIds(), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  TokenView view = batch->getView();
  EXPECT_EQ(view.ids, batch->getIds().data());
  EXPECT_EQ(view.batch, 2);
  EXPECT_EQ(view.seq, 3);

  Expected<TokenBatch> empty = TokenBatch::fromRows({});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.message(), "no tokens: the batch has no rows");
  Expected<TokenBatch> emptyRow = TokenBatch::fromRows({{1}, {}});
  ASSERT_FALSE(emptyRow);
  EXPECT_EQ(emptyRow.message(), "row 1 of the batch is empty");
  Expected<TokenBatch> ragged = TokenBatch::fromRows({{1, 2}, {3, 4}, {5}});
  ASSERT_FALSE(ragged);
  EXPECT_EQ(ragged.message(), "row 2 has 1 tokens but row 0 has 2; every "
                              "row of a batch needs the same length");
  EXPECT_EQ(ragged.getStatus().code(), ErrorCode::InvalidArgument);
}

TEST(TokensTest, Validation) {
  int64_t ids[] = {0, 10, 5, 3};
  EXPECT_TRUE(validateTokens({ids, 2, 2}, 11, 8).isOk());
  EXPECT_TRUE(validateTokens({ids, 1, 4}, 11, 4).isOk());

  struct Case {
    TokenView tokens;
    int64_t vocab;
    int64_t positions;
    const char *message;
  };
  int64_t bad[] = {1, 2, -1, 11};
  Case cases[] = {
      {{ids, 0, 2}, 11, 8, "no tokens: the batch is 0 x 2"},
      {{ids, 2, 0}, 11, 8, "no tokens: the batch is 2 x 0"},
      {{ids, -1, 2}, 11, 8, "no tokens: the batch is -1 x 2"},
      {{nullptr, 1, 1}, 11, 8, "the token ids are a null pointer"},
      {{ids, std::numeric_limits<int64_t>::max(), 2},
       11,
       8,
       "the batch of 9223372036854775807 x 2 tokens is too large"},
      {{ids, 1, 4},
       11,
       3,
       "the sequence has 4 tokens, more than the model's 3 positions "
       "(max_positions)"},
      {{bad, 2, 2},
       11,
       8,
       "token 0 of row 1 is -1, outside the vocabulary [0, 11)"},
      {{bad + 3, 1, 1},
       11,
       8,
       "token 0 of row 0 is 11, outside the vocabulary [0, 11)"},
      {{ids, 1, 2},
       10,
       8,
       "token 1 of row 0 is 10, outside the vocabulary [0, 10)"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.message);
    Status s = validateTokens(c.tokens, c.vocab, c.positions);
    ASSERT_TRUE(s.isError());
    EXPECT_EQ(s.message(), c.message);
    EXPECT_EQ(s.code(), ErrorCode::InvalidArgument);
  }
}

} // namespace
