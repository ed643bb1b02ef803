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
// first born first) and keeping the smaller arena. planScaledArena() does
// the same for buffers of which some grow with a factor known only at run
// time (the batch). checkArenaPlan() and checkScaledArenaPlan() prove
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
  /// For planScaledArena: the buffer holds `size` bytes per unit of a
  /// scale factor n >= 1 known only at run time (the batch), n x size in
  /// all. The other functions read sizes at n = 1.
  bool scaled = false;
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

/// Where each request went in an arena that grows with the scale factor n:
/// request i starts at `offsets[i] + n * scaledOffsets[i]`, and the arena
/// holds `fixedBytes + n * scaledBytes`.
struct ScaledArenaPlan {
  llvm::SmallVector<uint64_t> offsets, scaledOffsets;
  uint64_t fixedBytes = 0, scaledBytes = 0;
  /// The arena at n = 1.
  uint64_t bytesAtOne() const { return fixedBytes + scaledBytes; }
};

/// Places \p requests, some scaled, for every n >= 1 at once. Two layouts
/// are tried; the second is kept when its arena is smaller at n = 1 and no
/// larger at n = \p balancedScale (so at no n in between), the first
/// otherwise:
/// - apart: the buffers that do not scale planned by planArena in a fixed
///   part, the scaled ones planned by planArena at n = 1 after it, their
///   offsets multiplied by n;
/// - together: all of them planned by planArena at n = 1, then each
///   buffer's scaled offset raised to the scaled bytes below it (the most
///   over chains of buffers under it whose lives intersect its own), so
///   that what is below at n = 1 stays below, and apart, for every n. A
///   buffer that does not scale, lifted above scaled ones, grows with them:
///   this layout can be smaller at n = 1 and larger later.
/// `alignment` is the arena's: every offset and both parts' sizes are its
/// multiples (it must be at least every request's alignment).
llvm::Expected<ScaledArenaPlan>
planScaledArena(llvm::ArrayRef<BufferRequest> requests, uint64_t alignment,
                uint64_t balancedScale = 8);

/// Proves \p plan sound for \p requests: one offset per request, each
/// aligned, every buffer inside arenaBytes, and no two buffers whose lives
/// intersect share a byte. The error names the first violation.
llvm::Error checkArenaPlan(llvm::ArrayRef<BufferRequest> requests,
                           const ArenaPlan &plan);

/// Proves \p plan sound for \p requests at every n >= 1: every offset
/// aligned, every buffer inside the arena, and for every two buffers whose
/// lives intersect, one below the other both at n = 1 and in the bytes that
/// grow with n (which, both ends being linear in n, keeps them apart for
/// every n >= 1).
llvm::Error checkScaledArenaPlan(llvm::ArrayRef<BufferRequest> requests,
                                 const ScaledArenaPlan &plan);

/// The most bytes live at one program point: a lower bound on any plan's
/// arena (alignment padding aside).
uint64_t getLiveLowerBound(llvm::ArrayRef<BufferRequest> requests);

/// The bytes of all requests, as if nothing were reused.
uint64_t getTotalBytes(llvm::ArrayRef<BufferRequest> requests);

} // namespace llm

#endif // LLM_SUPPORT_MEMORYPLANNER_H
