//===- CountAllocations.cpp - Allocations made by compiled code -----------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
//   llm-count-allocations [--train] ARTIFACT WEIGHTS BATCH SEQ [CALLS]
//
// Runs the artifact's forward entry point (with --train, its training step,
// through llm::rt::Trainer) on BATCH x SEQ tokens once (which sizes the
// runtime's arena), then CALLS more times, and prints how many heap
// allocations the compiled code itself (callers inside libmodel.so) made
// per call, and, for the forward, how many times the runtime allocated the
// arena.
//
// The program defines malloc, aligned_alloc and posix_memalign, which the
// dynamic linker resolves the model library's calls to (the executable
// exports them), counts the calls whose return address lies in
// libmodel.so, and forwards to glibc. Not for sanitizer builds, which
// intercept the allocator themselves.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Model.h"
#include "llm/runtime/Trainer.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" void *__libc_malloc(size_t size);
extern "C" void *__libc_memalign(size_t alignment, size_t size);

static std::atomic<bool> counting{false};
static std::atomic<long> compiledAllocations{0};
static thread_local bool inside = false;

/// Counts an allocation when \p caller is code of libmodel.so.
static void count(void *caller) {
  if (!counting.load(std::memory_order_relaxed) || inside)
    return;
  inside = true;
  Dl_info info;
  if (dladdr(caller, &info) && info.dli_fname &&
      std::strstr(info.dli_fname, "libmodel.so"))
    compiledAllocations.fetch_add(1, std::memory_order_relaxed);
  inside = false;
}

extern "C" void *malloc(size_t size) {
  count(__builtin_return_address(0));
  return __libc_malloc(size);
}

extern "C" void *aligned_alloc(size_t alignment, size_t size) {
  count(__builtin_return_address(0));
  return __libc_memalign(alignment, size);
}

extern "C" int posix_memalign(void **out, size_t alignment, size_t size) {
  count(__builtin_return_address(0));
  void *p = __libc_memalign(alignment, size);
  if (!p)
    return ENOMEM;
  *out = p;
  return 0;
}

/// The training step's count: CALLS steps after a first one.
static int countTrainSteps(const char *artifact, const char *weights,
                           int64_t batch, int64_t seq, int calls) {
  auto trainer = llm::rt::Trainer::open(artifact, weights);
  if (!trainer) {
    std::fprintf(stderr, "error: %s\n", trainer.message().c_str());
    return 1;
  }
  std::vector<int64_t> ids(static_cast<size_t>(batch * seq), 1);
  llm::rt::StepSettings settings;
  auto step = [&](int64_t n) -> bool {
    settings.step = n;
    auto result = (*trainer)->step(ids, ids, batch, seq, settings);
    if (!result)
      std::fprintf(stderr, "error: %s\n", result.message().c_str());
    return static_cast<bool>(result);
  };
  if (!step(1))
    return 1;
  counting = true;
  for (int i = 0; i < calls; ++i)
    if (!step(i + 2))
      return 1;
  counting = false;
  std::printf("compiled-code allocations per training step: %g\n",
              static_cast<double>(compiledAllocations.load()) / calls);
  return 0;
}

int main(int argc, char **argv) {
  bool train = argc > 1 && std::strcmp(argv[1], "--train") == 0;
  if (train) {
    --argc;
    ++argv;
  }
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: %s [--train] ARTIFACT WEIGHTS BATCH SEQ [CALLS]\n",
                 argv[0]);
    return 2;
  }
  int64_t batch = std::atoll(argv[3]), seq = std::atoll(argv[4]);
  int calls = argc > 5 ? std::atoi(argv[5]) : 3;
  if (train)
    return countTrainSteps(argv[1], argv[2], batch, seq, calls);
  auto model = llm::rt::Model::open(argv[1], argv[2]);
  if (!model) {
    std::fprintf(stderr, "error: %s\n", model.message().c_str());
    return 1;
  }
  std::vector<int64_t> ids(static_cast<size_t>(batch * seq), 1);
  llm::rt::TokenView tokens{ids.data(), batch, seq};
  std::vector<float> logits;
  auto run = [&]() -> bool {
    auto count = (*model)->getLogitsCount(tokens);
    if (!count)
      return false;
    logits.resize(*count);
    llm::rt::Status s =
        (*model)->forwardInto(tokens, logits.data(), logits.size());
    if (s.isError())
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return s.isOk();
  };
  if (!run())
    return 1;
  counting = true;
  for (int i = 0; i < calls; ++i)
    if (!run())
      return 1;
  counting = false;
  const llm::rt::ArenaBuffer &arena = (*model)->getArena();
  std::printf("compiled-code allocations per call: %g\n",
              static_cast<double>(compiledAllocations.load()) / calls);
  std::printf("arena: %llu bytes, allocated %llu time(s) in %d calls\n",
              static_cast<unsigned long long>(arena.getCapacity()),
              static_cast<unsigned long long>(arena.getNumAllocations()),
              calls + 1);
  return 0;
}
