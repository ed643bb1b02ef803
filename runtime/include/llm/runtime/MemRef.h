//===- MemRef.h - Memref descriptors of any rank ----------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares MemRefDescriptor, a memref descriptor of a rank chosen
// at run time, laid out byte for byte as MLIR's C interface (and
// docs/ABI.md) lays out a ranked memref of rank r:
//
//   struct { void *allocated; void *aligned; int64_t offset;
//            int64_t sizes[r]; int64_t strides[r]; };
//
// The runtime builds one per input and result of an entry point and passes
// pointers to them in the `void **args` array.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_MEMREF_H
#define LLM_RUNTIME_MEMREF_H

#include "llm/runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace llm {
namespace rt {

/// A memref descriptor of rank getRank(), stored in one zero-initialized,
/// 8-byte aligned buffer whose address getRaw() returns.
class MemRefDescriptor {
public:
  /// Creates a rank-0 descriptor with null pointers and a zero offset.
  MemRefDescriptor() : MemRefDescriptor(0) {}

  /// Creates a descriptor of rank \p rank with every field zero.
  explicit MemRefDescriptor(unsigned rank);

  /// Returns a descriptor of \p data with the sizes \p shape and contiguous
  /// row-major strides; `allocated` and `aligned` are both \p data and the
  /// offset is 0.
  static MemRefDescriptor getContiguous(void *data,
                                        const std::vector<int64_t> &shape);

  /// Returns the size in bytes of a descriptor of rank \p rank.
  static size_t getByteSize(unsigned rank) {
    return 2 * sizeof(void *) +
           (1 + 2 * static_cast<size_t>(rank)) * sizeof(int64_t);
  }

  unsigned getRank() const { return rank; }

  void *getAllocated() const { return getPointer(0); }
  void setAllocated(void *pointer) { setPointer(0, pointer); }
  void *getAligned() const { return getPointer(1); }
  void setAligned(void *pointer) { setPointer(1, pointer); }

  int64_t getOffset() const { return words[2]; }
  void setOffset(int64_t offset) { words[2] = offset; }

  /// Returns and sets the size of dimension \p dim (< getRank()).
  int64_t getSize(unsigned dim) const { return words[3 + dim]; }
  void setSize(unsigned dim, int64_t size) { words[3 + dim] = size; }

  /// Returns and sets the stride, in elements, of dimension \p dim.
  int64_t getStride(unsigned dim) const { return words[3 + rank + dim]; }
  void setStride(unsigned dim, int64_t stride) {
    words[3 + rank + dim] = stride;
  }

  /// Returns all sizes, and all strides.
  std::vector<int64_t> getSizes() const;
  std::vector<int64_t> getStrides() const;

  /// Returns the address of the descriptor's bytes: what goes into `args`.
  void *getRaw() { return words.data(); }
  const void *getRaw() const { return words.data(); }

  /// Returns the number of elements (the product of the sizes), or an error
  /// if a size is negative or the product overflows int64.
  Expected<int64_t> getNumElements() const;

  /// Returns true if the strides are the contiguous row-major strides of the
  /// sizes (dimensions of size 1 may carry any stride, as in MLIR).
  bool isContiguous() const;

  /// Checks that every element, located at aligned + (offset + sum of
  /// index * stride) elements, is addressable without int64 overflow, and
  /// that `aligned` is non-null when there is an element. This is all that
  /// can be checked about memory the callee described.
  Status checkAddressable() const;

private:
  void *getPointer(unsigned word) const;
  void setPointer(unsigned word, void *pointer);

  unsigned rank;
  /// Two pointer words, the offset, the sizes, then the strides.
  std::vector<int64_t> words;
};

static_assert(sizeof(void *) == sizeof(int64_t),
              "memref descriptors are laid out for 64-bit pointers");

/// The scratch memory of compiled entry points (their `arena` input,
/// docs/ABI.md): one 64-byte aligned allocation, grown when a call needs
/// more than it holds and otherwise reused, so that steady-state calls
/// allocate nothing for their intermediates.
class ArenaBuffer {
public:
  ArenaBuffer() = default;
  ArenaBuffer(const ArenaBuffer &) = delete;
  ArenaBuffer &operator=(const ArenaBuffer &) = delete;
  ~ArenaBuffer();

  /// Returns at least \p bytes of 64-byte aligned memory (non-null also
  /// for 0 bytes), or an OutOfMemory error; the previous contents are not
  /// kept when it grows.
  Expected<void *> reserve(uint64_t bytes);
  /// The bytes held now.
  uint64_t getCapacity() const { return capacity; }
  /// How many times reserve() allocated.
  uint64_t getNumAllocations() const { return numAllocations; }
  /// Whether a result descriptor's `allocated` pointer is this arena's: the
  /// result lives in the arena (ABI version 2), valid until the next call
  /// that uses it, and is not the caller's to free.
  bool holds(const void *allocated) const {
    return allocated && allocated == data;
  }

private:
  void *data = nullptr;
  uint64_t capacity = 0;
  uint64_t numAllocations = 0;
};

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_MEMREF_H
