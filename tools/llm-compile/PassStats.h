//===- PassStats.h - llm-compile --stats ------------------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// What each pass of a pipeline did to the module's size: ops, kernels and
// the bytes kernels write to intermediates, before and after, summed over
// the ops the pass ran on.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_TOOLS_LLM_COMPILE_PASSSTATS_H
#define LLM_TOOLS_LLM_COMPILE_PASSSTATS_H

#include "mlir/Pass/PassInstrumentation.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mlir::llm {

/// Op and kernel counts of an op and everything nested in it.
struct OpCounts {
  int64_t ops = 0;
  /// llm ops, linalg ops and loop nests not inside another of these: the
  /// units of work a pass can fuse or split.
  int64_t kernels = 0;
};

/// Counts \p root's nested ops (not \p root itself).
OpCounts countOps(Operation *root);

/// The bytes the top-level kernels of \p root's public functions (or of
/// \p root, a public function) write to tensors their function does not
/// return, with batch dimensions at 1 and sequence dimensions at
/// \p seqBound; nullopt once the functions hold buffers or a size is
/// unknown.
std::optional<uint64_t> countIntermediateBytes(Operation *root,
                                               int64_t seqBound);

/// Records, per pass instance (in order of first run), the counts before
/// and after it, summed over every op it ran on (the functions, for a
/// nested pass). Thread-safe: nested
/// passes run on functions in parallel.
class PassStats {
public:
  /// \p seqBound: the sequence length intermediates are sized at.
  explicit PassStats(int64_t seqBound) : seqBound(seqBound) {}

  struct Counts {
    OpCounts ops;
    /// Unknown (nullopt) once any count summed in is.
    std::optional<uint64_t> bytes = 0;
    /// Sums \p other in; the bytes stay known only while all are.
    void add(const Counts &other);
  };
  struct Row {
    std::string pass;
    Counts before, after;
    int64_t runs = 0;
  };

  void runBeforePass(Pass *pass, Operation *op);
  void runAfterPass(Pass *pass, Operation *op);

  /// An instrumentation for one pass manager that records here (this
  /// outlives it).
  std::unique_ptr<PassInstrumentation> instrument();

  /// Prints the passes that changed a count, then how many changed none.
  void print(llvm::raw_ostream &os) const;

private:
  Counts measure(Operation *op) const;

  int64_t seqBound;
  std::mutex mutex;
  std::vector<Row> rows;
  llvm::DenseMap<Pass *, size_t> rowOf;
  /// Counts before a running pass, by (pass, op).
  llvm::DenseMap<std::pair<Pass *, Operation *>, Counts> pending;
};

} // namespace mlir::llm

#endif // LLM_TOOLS_LLM_COMPILE_PASSSTATS_H
