//===- PassStats.cpp - llm-compile --stats ----------------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//

#include "PassStats.h"

#include "llm/Dialect/LLM/IR/LLMDialect.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Pass/Pass.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace mlir::llm {

/// Whether \p op is a unit of work: an llm op, a linalg op or a loop.
static bool isKernel(Operation *op) {
  return isa<LLMDialect>(op->getDialect()) ||
         isa<linalg::LinalgOp, LoopLikeOpInterface>(op);
}

OpCounts countOps(Operation *root) {
  OpCounts counts;
  root->walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (op == root)
      return WalkResult::advance();
    ++counts.ops;
    if (!isKernel(op))
      return WalkResult::advance();
    ++counts.kernels;
    // What a kernel holds is part of it: count its ops, not its kernels.
    op->walk([&](Operation *nested) {
      if (nested != op)
        ++counts.ops;
    });
    return WalkResult::skip();
  });
  return counts;
}

void PassStats::runBeforePass(Pass *pass, Operation *op) {
  if (pass->getArgument().empty()) // pass-manager adaptors
    return;
  OpCounts counts = countOps(op);
  std::lock_guard<std::mutex> lock(mutex);
  pending[{pass, op}] = counts;
}

void PassStats::runAfterPass(Pass *pass, Operation *op) {
  if (pass->getArgument().empty())
    return;
  OpCounts after = countOps(op);
  std::lock_guard<std::mutex> lock(mutex);
  auto it = pending.find({pass, op});
  if (it == pending.end())
    return;
  OpCounts before = it->second;
  pending.erase(it);
  auto [slot, inserted] = rowOf.try_emplace(pass, rows.size());
  if (inserted)
    rows.push_back(Row{pass->getArgument().str(), {}, {}, 0});
  Row &row = rows[slot->second];
  row.before.ops += before.ops;
  row.before.kernels += before.kernels;
  row.after.ops += after.ops;
  row.after.kernels += after.kernels;
  ++row.runs;
}

namespace {
class Recorder : public PassInstrumentation {
public:
  explicit Recorder(PassStats &stats) : stats(stats) {}
  void runBeforePass(Pass *pass, Operation *op) override {
    stats.runBeforePass(pass, op);
  }
  void runAfterPass(Pass *pass, Operation *op) override {
    stats.runAfterPass(pass, op);
  }

private:
  PassStats &stats;
};
} // namespace

std::unique_ptr<PassInstrumentation> PassStats::instrument() {
  return std::make_unique<Recorder>(*this);
}

void PassStats::print(llvm::raw_ostream &os) const {
  os << "pass statistics (kernels: llm ops, linalg ops and loop nests not "
        "inside another; summed over the ops each pass ran on):\n";
  os << llvm::formatv("  {0,-40} {1,10} {2,10} {3,9} {4,9}\n", "pass",
                      "ops before", "ops after", "kernels", "kernels");
  os << llvm::formatv("  {0,-40} {1,10} {2,10} {3,9} {4,9}\n", "", "", "",
                      "before", "after");
  int64_t unchanged = 0;
  for (const Row &row : rows) {
    if (row.before.ops == row.after.ops &&
        row.before.kernels == row.after.kernels) {
      ++unchanged;
      continue;
    }
    os << llvm::formatv("  {0,-40} {1,10} {2,10} {3,9} {4,9}\n", row.pass,
                        row.before.ops, row.after.ops, row.before.kernels,
                        row.after.kernels);
  }
  os << llvm::formatv("  ({0} other passes changed neither count)\n",
                      unchanged);
}

} // namespace mlir::llm
