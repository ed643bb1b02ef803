//===- MemoryPlanner.cpp - offsets of buffers in one arena ------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//

#include "llm/Support/MemoryPlanner.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <numeric>

using namespace llvm;
using namespace llm;

static bool livesIntersect(const BufferRequest &a, const BufferRequest &b) {
  return a.first <= b.last && b.first <= a.last;
}

static Error planError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// Places \p requests one by one in the order \p before sorts them, each
/// in the smallest gap between the placed buffers its life intersects (or
/// above them all).
static ArenaPlan placeGreedily(ArrayRef<BufferRequest> requests,
                               function_ref<bool(unsigned, unsigned)> before) {
  SmallVector<unsigned> order(requests.size());
  std::iota(order.begin(), order.end(), 0u);
  llvm::sort(order, before);
  ArenaPlan plan;
  plan.offsets.assign(requests.size(), 0);
  SmallVector<unsigned> placed;
  SmallVector<unsigned> neighbours;
  for (unsigned index : order) {
    const BufferRequest &r = requests[index];
    if (r.size == 0)
      continue; // Occupies nothing; offset 0 is aligned.
    neighbours.clear();
    for (unsigned other : placed)
      if (livesIntersect(r, requests[other]))
        neighbours.push_back(other);
    llvm::sort(neighbours, [&](unsigned a, unsigned b) {
      return plan.offsets[a] < plan.offsets[b];
    });
    uint64_t cursor = 0, best = 0, bestGap = UINT64_MAX;
    bool found = false;
    for (unsigned other : neighbours) {
      uint64_t start = plan.offsets[other];
      uint64_t aligned = alignTo(cursor, r.alignment);
      if (aligned + r.size <= start && start - cursor < bestGap) {
        best = aligned;
        bestGap = start - cursor;
        found = true;
      }
      cursor = std::max(cursor, start + requests[other].size);
    }
    plan.offsets[index] = found ? best : alignTo(cursor, r.alignment);
    plan.arenaBytes = std::max(plan.arenaBytes, plan.offsets[index] + r.size);
    placed.push_back(index);
  }
  return plan;
}

Expected<ArenaPlan> llm::planArena(ArrayRef<BufferRequest> requests) {
  // Every offset is at most the sum of all sizes and alignments; checking
  // that the sum fits keeps the arithmetic below free of overflow.
  uint64_t bound = 0;
  for (auto [i, r] : llvm::enumerate(requests)) {
    if (r.alignment == 0 || !isPowerOf2_64(r.alignment))
      return planError(formatv("buffer {0}: alignment {1} is not a power of "
                               "two",
                               i, r.alignment));
    if (r.first > r.last)
      return planError(formatv("buffer {0}: its life [{1}, {2}] ends before "
                               "it starts",
                               i, r.first, r.last));
    bool overflow = false;
    bound = SaturatingAdd(bound, r.size, &overflow);
    if (!overflow)
      bound = SaturatingAdd(bound, r.alignment, &overflow);
    if (overflow)
      return planError(formatv("buffer {0}: the buffers' sizes overflow "
                               "64 bits",
                               i));
  }

  // Largest first, each into the smallest gap between the placed buffers
  // its life intersects. Buffers of one size go longest-lived first, or in
  // order of birth (which is optimal for equal sizes, the interval graph's
  // greedy colouring); the smaller arena of the two orders wins.
  auto longestFirst = [&](unsigned a, unsigned b) {
    const BufferRequest &x = requests[a], &y = requests[b];
    if (x.size != y.size)
      return x.size > y.size;
    if (x.last - x.first != y.last - y.first)
      return x.last - x.first > y.last - y.first;
    return a < b; // Deterministic.
  };
  auto firstBorn = [&](unsigned a, unsigned b) {
    const BufferRequest &x = requests[a], &y = requests[b];
    if (x.size != y.size)
      return x.size > y.size;
    if (x.first != y.first)
      return x.first < y.first;
    return a < b;
  };
  ArenaPlan plan = placeGreedily(requests, longestFirst);
  ArenaPlan other = placeGreedily(requests, firstBorn);
  return other.arenaBytes < plan.arenaBytes ? other : plan;
}

Error llm::checkArenaPlan(ArrayRef<BufferRequest> requests,
                          const ArenaPlan &plan) {
  if (plan.offsets.size() != requests.size())
    return planError(formatv("the plan has {0} offsets for {1} buffers",
                             plan.offsets.size(), requests.size()));
  for (auto [i, r] : llvm::enumerate(requests)) {
    uint64_t offset = plan.offsets[i];
    if (r.alignment == 0 || offset % r.alignment != 0)
      return planError(formatv("buffer {0}: offset {1} is not a multiple of "
                               "its alignment {2}",
                               i, offset, r.alignment));
    if (offset > plan.arenaBytes || r.size > plan.arenaBytes - offset)
      return planError(formatv("buffer {0}: [{1}, {1} + {2}) is outside the "
                               "{3}-byte arena",
                               i, offset, r.size, plan.arenaBytes));
  }
  // Sweep the buffers by offset: only those whose bytes reach past the
  // next one's start can collide with it.
  SmallVector<unsigned> byOffset;
  for (unsigned i = 0, e = requests.size(); i < e; ++i)
    if (requests[i].size)
      byOffset.push_back(i);
  llvm::sort(byOffset, [&](unsigned a, unsigned b) {
    return plan.offsets[a] < plan.offsets[b];
  });
  for (size_t k = 0; k < byOffset.size(); ++k) {
    unsigned a = byOffset[k];
    uint64_t end = plan.offsets[a] + requests[a].size;
    for (size_t m = k + 1;
         m < byOffset.size() && plan.offsets[byOffset[m]] < end; ++m) {
      unsigned b = byOffset[m];
      if (livesIntersect(requests[a], requests[b]))
        return planError(formatv(
            "buffers {0} and {1} are both live at point {2} and share bytes "
            "[{3}, {4})",
            std::min(a, b), std::max(a, b),
            std::max(requests[a].first, requests[b].first), plan.offsets[b],
            std::min(end, plan.offsets[b] + requests[b].size)));
    }
  }
  return Error::success();
}

uint64_t llm::getLiveLowerBound(ArrayRef<BufferRequest> requests) {
  // +size at `first`, -size after `last`; at one point, ends before starts.
  SmallVector<std::tuple<int64_t, bool, uint64_t>> sweep;
  for (const BufferRequest &r : requests) {
    sweep.emplace_back(r.first, true, r.size);
    sweep.emplace_back(r.last + 1, false, r.size);
  }
  llvm::sort(sweep, [](const auto &a, const auto &b) {
    if (std::get<0>(a) != std::get<0>(b))
      return std::get<0>(a) < std::get<0>(b);
    return !std::get<1>(a) && std::get<1>(b);
  });
  uint64_t live = 0, most = 0;
  for (const auto &[point, starts, size] : sweep) {
    live = starts ? live + size : live - size;
    most = std::max(most, live);
  }
  return most;
}

uint64_t llm::getTotalBytes(ArrayRef<BufferRequest> requests) {
  uint64_t total = 0;
  for (const BufferRequest &r : requests)
    total += r.size;
  return total;
}
