//===- MemoryPlanner.h - offsets of buffers in one arena --------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The arithmetic core of memory planning (issue: llm-plan-memory): given
// buffers with a size, an alignment and a live interval (the first and last
// program points at which they hold data), choose an offset for each in one
// arena so that no two buffers that are live at the same time overlap, and
// the arena is small. planArena() places buffers greedily by size, each in
// the smallest gap that fits among the already placed buffers whose lives
// overlap its own (best fit), the strategy of TensorFlow Lite's arena
// planner, trying two orders for buffers of one size (longest-lived first,
// first born first) and keeping the smaller arena. checkArenaPlan() proves
// a plan sound independently of how it was made; getLiveLowerBound() is the
// most bytes live at any one point, which no plan can beat.
//
// The functions know nothing of MLIR: the pass maps bufferized allocations
// to BufferRequests and back.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_SUPPORT_MEMORYPLANNER_H
#define LLM_SUPPORT_MEMORYPLANNER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <cstdint>

namespace llm {

/// One buffer to place. The buffer holds data from program point `first`
/// to `last`, both included; two buffers conflict when these intervals
/// intersect.
struct BufferRequest {
  uint64_t size = 0;
  /// A power of two.
  uint64_t alignment = 1;
  int64_t first = 0, last = 0;
};

/// Where each request went.
struct ArenaPlan {
  /// offsets[i] is request i's byte offset, a multiple of its alignment.
  llvm::SmallVector<uint64_t> offsets;
  /// The arena's size: the end of the furthest buffer.
  uint64_t arenaBytes = 0;
};

/// Checks \p requests (alignments are powers of two, intervals are not
/// reversed, sizes and ends do not overflow) and places them.
llvm::Expected<ArenaPlan> planArena(llvm::ArrayRef<BufferRequest> requests);

/// Proves \p plan sound for \p requests: one offset per request, each
/// aligned, every buffer inside arenaBytes, and no two buffers whose lives
/// intersect share a byte. The error names the first violation.
llvm::Error checkArenaPlan(llvm::ArrayRef<BufferRequest> requests,
                           const ArenaPlan &plan);

/// The most bytes live at one program point: a lower bound on any plan's
/// arena (alignment padding aside).
uint64_t getLiveLowerBound(llvm::ArrayRef<BufferRequest> requests);

/// The bytes of all requests, as if nothing were reused.
uint64_t getTotalBytes(llvm::ArrayRef<BufferRequest> requests);

} // namespace llm

#endif // LLM_SUPPORT_MEMORYPLANNER_H
