//===- MemRefTest.cpp - Tests of memref descriptors -----------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// MemRefDescriptor must match, byte for byte, the struct MLIR's C interface
// uses for each rank; these tests compare it with hand-written structs.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/MemRef.h"

#include "gtest/gtest.h"

#include <cstring>
#include <limits>

using namespace llm::rt;

namespace {

template <int Rank> struct StridedMemRef {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];
};

struct StridedMemRef0 {
  void *allocated;
  void *aligned;
  int64_t offset;
};

TEST(MemRefTest, ByteSizesMatchTheCInterface) {
  EXPECT_EQ(MemRefDescriptor::getByteSize(0), sizeof(StridedMemRef0));
  EXPECT_EQ(MemRefDescriptor::getByteSize(1), sizeof(StridedMemRef<1>));
  EXPECT_EQ(MemRefDescriptor::getByteSize(2), sizeof(StridedMemRef<2>));
  EXPECT_EQ(MemRefDescriptor::getByteSize(3), sizeof(StridedMemRef<3>));
  EXPECT_EQ(MemRefDescriptor::getByteSize(7), sizeof(StridedMemRef<7>));
}

TEST(MemRefTest, ContiguousRank3LayoutMatches) {
  float data[24];
  MemRefDescriptor desc = MemRefDescriptor::getContiguous(data, {2, 3, 4});
  StridedMemRef<3> expected = {data, data, 0, {2, 3, 4}, {12, 4, 1}};
  EXPECT_EQ(std::memcmp(desc.getRaw(), &expected, sizeof(expected)), 0);
  EXPECT_EQ(desc.getRank(), 3u);
  EXPECT_EQ(desc.getSizes(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(desc.getStrides(), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_TRUE(desc.isContiguous());
  Expected<int64_t> count = desc.getNumElements();
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 24);
  EXPECT_TRUE(desc.checkAddressable().isOk());
}

TEST(MemRefTest, FieldsReadBackWhatTheCalleeWrites) {
  MemRefDescriptor desc(2);
  // Zero-initialized, as the runtime hands result descriptors to callees.
  StridedMemRef<2> zero = {};
  EXPECT_EQ(std::memcmp(desc.getRaw(), &zero, sizeof(zero)), 0);

  // The callee writes through its own struct type.
  int64_t buffer[16];
  auto *callee = static_cast<StridedMemRef<2> *>(desc.getRaw());
  callee->allocated = buffer;
  callee->aligned = buffer + 2;
  callee->offset = 3;
  callee->sizes[0] = 2;
  callee->sizes[1] = 5;
  callee->strides[0] = 1;
  callee->strides[1] = 2;
  EXPECT_EQ(desc.getAllocated(), buffer);
  EXPECT_EQ(desc.getAligned(), buffer + 2);
  EXPECT_EQ(desc.getOffset(), 3);
  EXPECT_EQ(desc.getSize(1), 5);
  EXPECT_EQ(desc.getStride(1), 2);
  EXPECT_FALSE(desc.isContiguous());
}

TEST(MemRefTest, RankZeroAndHighRank) {
  float scalar = 0;
  MemRefDescriptor zero = MemRefDescriptor::getContiguous(&scalar, {});
  StridedMemRef0 expected0 = {&scalar, &scalar, 0};
  EXPECT_EQ(std::memcmp(zero.getRaw(), &expected0, sizeof(expected0)), 0);
  EXPECT_EQ(*zero.getNumElements(), 1);

  float data[2 * 1 * 3 * 1 * 2 * 2 * 1];
  MemRefDescriptor desc =
      MemRefDescriptor::getContiguous(data, {2, 1, 3, 1, 2, 2, 1});
  StridedMemRef<7> expected = {
      data, data, 0, {2, 1, 3, 1, 2, 2, 1}, {12, 12, 4, 4, 2, 1, 1}};
  EXPECT_EQ(std::memcmp(desc.getRaw(), &expected, sizeof(expected)), 0);
}

TEST(MemRefTest, UnitDimensionsMayHaveAnyStride) {
  MemRefDescriptor desc(3);
  desc.setSize(0, 1);
  desc.setSize(1, 4);
  desc.setSize(2, 1);
  desc.setStride(0, 99);
  desc.setStride(1, 1);
  desc.setStride(2, 7);
  EXPECT_TRUE(desc.isContiguous());
  desc.setStride(1, 2);
  EXPECT_FALSE(desc.isContiguous());
}

TEST(MemRefTest, ElementCountsAreChecked) {
  MemRefDescriptor desc(2);
  desc.setSize(0, 3);
  desc.setSize(1, -1);
  Expected<int64_t> negative = desc.getNumElements();
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.message(), "dimension 1 has negative size -1");
  EXPECT_FALSE(desc.isContiguous());

  desc.setSize(1, std::numeric_limits<int64_t>::max());
  Expected<int64_t> overflow = desc.getNumElements();
  ASSERT_FALSE(overflow);
  EXPECT_EQ(overflow.message(), "the element count overflows int64");

  desc.setSize(1, 0);
  EXPECT_EQ(*desc.getNumElements(), 0);
  // Nothing to address: a null pointer is fine.
  EXPECT_TRUE(desc.checkAddressable().isOk());
}

TEST(MemRefTest, CheckAddressableRefusesNullAndWildStrides) {
  float data[4];
  MemRefDescriptor desc = MemRefDescriptor::getContiguous(nullptr, {2, 2});
  Status null = desc.checkAddressable();
  ASSERT_TRUE(null.isError());
  EXPECT_NE(null.message().find("the aligned pointer is null"),
            std::string::npos);

  desc = MemRefDescriptor::getContiguous(data, {2, 2});
  desc.setStride(0, std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(desc.checkAddressable().isError());
  desc.setStride(0, std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(desc.checkAddressable().isError());
  desc.setStride(0, 2);
  desc.setOffset(std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(desc.checkAddressable().isError());
  desc.setOffset(0);
  EXPECT_TRUE(desc.checkAddressable().isOk());
}

} // namespace
