//===- MemRef.cpp - Memref descriptors of any rank ------------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Implements MemRefDescriptor. Pointers are stored in the int64 words with
// memcpy, which keeps the layout exact without type punning.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/MemRef.h"

#include <cstdlib>
#include <cstring>
#include <limits>

using namespace llm::rt;

MemRefDescriptor::MemRefDescriptor(unsigned rank)
    : rank(rank), words(3 + 2 * static_cast<size_t>(rank), 0) {}

MemRefDescriptor
MemRefDescriptor::getContiguous(void *data, const std::vector<int64_t> &shape) {
  MemRefDescriptor desc(static_cast<unsigned>(shape.size()));
  desc.setAllocated(data);
  desc.setAligned(data);
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    desc.setSize(static_cast<unsigned>(i), shape[i]);
    desc.setStride(static_cast<unsigned>(i), stride);
    // Callers pass shapes whose element count fits int64; saturate anyway so
    // that a bad shape cannot overflow here.
    if (shape[i] > 0 && stride > std::numeric_limits<int64_t>::max() / shape[i])
      stride = std::numeric_limits<int64_t>::max();
    else
      stride *= shape[i] > 0 ? shape[i] : 1;
  }
  return desc;
}

void *MemRefDescriptor::getPointer(unsigned word) const {
  void *pointer;
  std::memcpy(&pointer, &words[word], sizeof(pointer));
  return pointer;
}

void MemRefDescriptor::setPointer(unsigned word, void *pointer) {
  std::memcpy(&words[word], &pointer, sizeof(pointer));
}

std::vector<int64_t> MemRefDescriptor::getSizes() const {
  return std::vector<int64_t>(words.begin() + 3, words.begin() + 3 + rank);
}

std::vector<int64_t> MemRefDescriptor::getStrides() const {
  return std::vector<int64_t>(words.begin() + 3 + rank, words.end());
}

Expected<int64_t> MemRefDescriptor::getNumElements() const {
  int64_t count = 1;
  for (unsigned i = 0; i < rank; ++i) {
    int64_t size = getSize(i);
    if (size < 0)
      return Status::error(ErrorCode::Execution,
                           "dimension " + std::to_string(i) +
                               " has negative size " + std::to_string(size));
    if (size != 0 && count > std::numeric_limits<int64_t>::max() / size)
      return Status::error(ErrorCode::Execution,
                           "the element count overflows int64");
    count *= size;
  }
  return count;
}

bool MemRefDescriptor::isContiguous() const {
  if (!getNumElements())
    return false;
  int64_t expected = 1;
  for (unsigned i = rank; i-- > 0;) {
    int64_t size = getSize(i);
    if (size != 1 && getStride(i) != expected)
      return false;
    expected *= size;
  }
  return true;
}

Status MemRefDescriptor::checkAddressable() const {
  Expected<int64_t> count = getNumElements();
  if (!count)
    return count.getStatus();
  if (*count == 0)
    return Status::success();
  if (!getAligned())
    return Status::error(ErrorCode::Execution,
                         "the aligned pointer is null but the result has " +
                             std::to_string(*count) + " elements");
  // The lowest and highest element index reached, in __int128 so that the
  // sums cannot overflow while they are formed.
  __int128 lowest = getOffset(), highest = getOffset();
  for (unsigned i = 0; i < rank; ++i) {
    __int128 reach = static_cast<__int128>(getSize(i) - 1) * getStride(i);
    if (reach < 0)
      lowest += reach;
    else
      highest += reach;
  }
  constexpr __int128 limit = std::numeric_limits<int64_t>::max() / 8;
  if (lowest < -limit || highest > limit)
    return Status::error(ErrorCode::Execution,
                         "the offset and strides address elements outside any "
                         "possible allocation");
  return Status::success();
}

ArenaBuffer::~ArenaBuffer() { std::free(data); }

Expected<void *> ArenaBuffer::reserve(uint64_t bytes) {
  constexpr uint64_t Alignment = 64;
  if (data && bytes <= capacity)
    return data;
  uint64_t rounded =
      (std::max<uint64_t>(bytes, 1) + Alignment - 1) / Alignment * Alignment;
  if (rounded < bytes || rounded > std::numeric_limits<size_t>::max())
    return Status::error(ErrorCode::OutOfMemory,
                         "an arena of " + std::to_string(bytes) +
                             " bytes does not fit in memory");
  std::free(data);
  data = std::aligned_alloc(Alignment, static_cast<size_t>(rounded));
  capacity = data ? rounded : 0;
  if (!data)
    return Status::error(ErrorCode::OutOfMemory,
                         "out of memory allocating an arena of " +
                             std::to_string(rounded) + " bytes");
  ++numAllocations;
  return data;
}
