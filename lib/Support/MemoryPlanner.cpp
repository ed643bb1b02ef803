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
  // Two orders that are not by size, for lives that nest: by the bytes x
  // steps a buffer occupies, and by birth alone (largest first among
  // buffers born together).
  auto largestArea = [&](unsigned a, unsigned b) {
    const BufferRequest &x = requests[a], &y = requests[b];
    // Saturating rather than wrapping for huge buffers.
    auto area = [](const BufferRequest &r) {
      return SaturatingMultiply(r.size, uint64_t(r.last - r.first + 1));
    };
    uint64_t ax = area(x), ay = area(y);
    if (ax != ay)
      return ax > ay;
    return a < b;
  };
  auto bornFirst = [&](unsigned a, unsigned b) {
    const BufferRequest &x = requests[a], &y = requests[b];
    if (x.first != y.first)
      return x.first < y.first;
    if (x.size != y.size)
      return x.size > y.size;
    return a < b;
  };
  ArenaPlan plan = placeGreedily(requests, longestFirst);
  for (auto order : {function_ref<bool(unsigned, unsigned)>(firstBorn),
                     function_ref<bool(unsigned, unsigned)>(largestArea),
                     function_ref<bool(unsigned, unsigned)>(bornFirst)}) {
    ArenaPlan other = placeGreedily(requests, order);
    if (other.arenaBytes < plan.arenaBytes)
      plan = std::move(other);
  }
  return plan;
}

/// The bytes of \p r that grow with n.
static uint64_t scaledSize(const BufferRequest &r) {
  return r.scaled ? r.size : 0;
}

/// The two parts planned apart: the fixed buffers, then the scaled ones
/// at n times their offsets.
static Expected<ScaledArenaPlan> planApart(ArrayRef<BufferRequest> requests,
                                           uint64_t alignment) {
  SmallVector<BufferRequest> parts[2];
  SmallVector<unsigned> indices[2];
  for (auto [i, r] : llvm::enumerate(requests)) {
    parts[r.scaled].push_back(r);
    indices[r.scaled].push_back(i);
  }
  ArenaPlan plans[2];
  for (unsigned p = 0; p < 2; ++p) {
    Expected<ArenaPlan> plan = planArena(parts[p]);
    if (!plan)
      return plan.takeError();
    plans[p] = std::move(*plan);
  }
  ScaledArenaPlan plan;
  plan.offsets.assign(requests.size(), 0);
  plan.scaledOffsets.assign(requests.size(), 0);
  plan.fixedBytes = alignTo(plans[0].arenaBytes, alignment);
  plan.scaledBytes = alignTo(plans[1].arenaBytes, alignment);
  for (auto [k, i] : llvm::enumerate(indices[0]))
    plan.offsets[i] = plans[0].offsets[k];
  for (auto [k, i] : llvm::enumerate(indices[1])) {
    plan.offsets[i] = requests[i].size ? plan.fixedBytes : 0;
    plan.scaledOffsets[i] = plans[1].offsets[k];
  }
  return plan;
}

/// All buffers planned at n = 1, then lifted to every n: a buffer's scaled
/// offset is the most scaled bytes (each step aligned as the buffer above
/// asks) on a chain of buffers below it whose lives intersect pairwise
/// along the chain, and its fixed offset the rest of its offset at n = 1.
/// What is below stays below in both parts, and the fixed offset is never
/// negative: the chain's bytes lie below the buffer at n = 1, whose offset
/// is aligned as it asks.
static Expected<ScaledArenaPlan> planTogether(ArrayRef<BufferRequest> requests,
                                              uint64_t alignment) {
  Expected<ArenaPlan> atOne = planArena(requests);
  if (!atOne)
    return atOne.takeError();
  SmallVector<unsigned> byOffset;
  for (unsigned i = 0, e = requests.size(); i < e; ++i)
    if (requests[i].size)
      byOffset.push_back(i);
  llvm::sort(byOffset, [&](unsigned a, unsigned b) {
    return atOne->offsets[a] < atOne->offsets[b];
  });
  ScaledArenaPlan plan;
  plan.offsets.assign(requests.size(), 0);
  plan.scaledOffsets.assign(requests.size(), 0);
  uint64_t end = 0, scaledEnd = 0;
  for (auto [k, i] : llvm::enumerate(byOffset)) {
    const BufferRequest &r = requests[i];
    uint64_t offset = atOne->offsets[i], scaled = 0;
    for (unsigned j : ArrayRef(byOffset).take_front(k)) {
      const BufferRequest &below = requests[j];
      if (atOne->offsets[j] + below.size <= offset && livesIntersect(r, below))
        scaled =
            std::max(scaled, alignTo(plan.scaledOffsets[j] + scaledSize(below),
                                     r.alignment));
    }
    plan.scaledOffsets[i] = scaled;
    plan.offsets[i] = offset - scaled;
    end = std::max(end, offset + r.size);
    scaledEnd = std::max(scaledEnd, scaled + scaledSize(r));
  }
  // fixed + n * scaled covers every buffer's end at n = 1, and grows at
  // least as fast as any.
  plan.scaledBytes = alignTo(scaledEnd, alignment);
  uint64_t total = alignTo(end, alignment);
  plan.fixedBytes = total > plan.scaledBytes ? total - plan.scaledBytes : 0;
  return plan;
}

Expected<ScaledArenaPlan> llm::planScaledArena(ArrayRef<BufferRequest> requests,
                                               uint64_t alignment,
                                               uint64_t balancedScale) {
  if (alignment == 0 || !isPowerOf2_64(alignment))
    return planError(formatv("the arena's alignment {0} is not a power of "
                             "two",
                             alignment));
  if (balancedScale == 0)
    return planError("the scale to balance at must be at least 1");
  for (auto [i, r] : llvm::enumerate(requests))
    if (r.alignment > alignment)
      return planError(formatv("buffer {0}: alignment {1} exceeds the "
                               "arena's {2}",
                               i, r.alignment, alignment));
  Expected<ScaledArenaPlan> apart = planApart(requests, alignment);
  if (!apart)
    return apart.takeError();
  Expected<ScaledArenaPlan> together = planTogether(requests, alignment);
  if (!together)
    return together.takeError();
  // Together only where it is no larger for any n up to balancedScale (the
  // arenas are linear in n): lifted, a fixed buffer above scaled ones grows
  // with them.
  auto bytesAt = [](const ScaledArenaPlan &plan, uint64_t n) {
    return plan.fixedBytes + n * plan.scaledBytes;
  };
  bool smaller =
      bytesAt(*together, 1) < bytesAt(*apart, 1) &&
      bytesAt(*together, balancedScale) <= bytesAt(*apart, balancedScale);
  return smaller ? std::move(*together) : std::move(*apart);
}

Error llm::checkScaledArenaPlan(ArrayRef<BufferRequest> requests,
                                const ScaledArenaPlan &plan) {
  if (plan.offsets.size() != requests.size() ||
      plan.scaledOffsets.size() != requests.size())
    return planError(formatv("the plan has {0} and {1} offsets for {2} "
                             "buffers",
                             plan.offsets.size(), plan.scaledOffsets.size(),
                             requests.size()));
  // The end of request i at n = 1 and its growth, checked not to overflow.
  SmallVector<uint64_t> ends(requests.size()), growths(requests.size());
  for (auto [i, r] : llvm::enumerate(requests)) {
    uint64_t offset = plan.offsets[i], scaled = plan.scaledOffsets[i];
    if (r.alignment == 0 || offset % r.alignment || scaled % r.alignment)
      return planError(formatv("buffer {0}: offsets {1} + n x {2} are not "
                               "multiples of its alignment {3}",
                               i, offset, scaled, r.alignment));
    bool overflow = false;
    uint64_t end = SaturatingAdd(offset, scaled, &overflow);
    end = overflow ? end : SaturatingAdd(end, r.size, &overflow);
    uint64_t growth = SaturatingAdd(scaled, scaledSize(r), &overflow);
    if (overflow)
      return planError(formatv("buffer {0}: its end overflows 64 bits", i));
    if (end > plan.bytesAtOne() || growth > plan.scaledBytes)
      return planError(formatv("buffer {0}: [{1} + n x {2}, + {3}{4}) is "
                               "outside the arena of {5} + n x {6} bytes",
                               i, offset, scaled, r.size,
                               r.scaled ? " x n" : "", plan.fixedBytes,
                               plan.scaledBytes));
    ends[i] = end;
    growths[i] = growth;
  }
  // Every pair whose lives intersect: by birth, each buffer against those
  // born before its death.
  SmallVector<unsigned> byBirth;
  for (unsigned i = 0, e = requests.size(); i < e; ++i)
    if (requests[i].size)
      byBirth.push_back(i);
  llvm::sort(byBirth, [&](unsigned a, unsigned b) {
    return requests[a].first < requests[b].first;
  });
  auto isBelow = [&](unsigned a, unsigned b) {
    return ends[a] <= plan.offsets[b] + plan.scaledOffsets[b] &&
           growths[a] <= plan.scaledOffsets[b];
  };
  for (size_t k = 0; k < byBirth.size(); ++k) {
    unsigned a = byBirth[k];
    for (size_t m = k + 1;
         m < byBirth.size() && requests[byBirth[m]].first <= requests[a].last;
         ++m) {
      unsigned b = byBirth[m];
      if (!isBelow(a, b) && !isBelow(b, a))
        return planError(formatv(
            "buffers {0} and {1} are both live at point {2} and are not "
            "apart for every n: [{3} + n x {4}, + {5}) and [{6} + n x {7}, "
            "+ {8})",
            std::min(a, b), std::max(a, b), requests[b].first, plan.offsets[a],
            plan.scaledOffsets[a], requests[a].size, plan.offsets[b],
            plan.scaledOffsets[b], requests[b].size));
    }
  }
  return Error::success();
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
