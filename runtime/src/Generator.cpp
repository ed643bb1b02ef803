//===- Generator.cpp - Text generation with a KV cache --------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Implements Generator: binding the prefill and decode entry points (one
// set of weights when both take the same params), the runtime-owned KV
// caches, the position bookkeeping that keeps every write inside a cache,
// and the sampling loop.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Generator.h"

#include "RuntimeSupport.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

using namespace llm::rt;
using namespace llm::rt::detail;

namespace {
struct FreeDeleter {
  void operator()(void *p) const { std::free(p); }
};
} // namespace

/// One bound entry point and where its runtime inputs go.
struct Generator::Entry {
  const EntryPoint *spec = nullptr;
  EntryFunction function = nullptr;
  /// The data of each param input (null for the others).
  std::vector<const void *> params;
  size_t tokens = 0, positions = 0;
  std::optional<size_t> lengths;
  /// The arena input, when the entry point plans its buffers in one.
  std::optional<size_t> arena;
  /// The inputs of kind kv_cache, in the order of Generator::caches.
  std::vector<size_t> caches;
};

/// One KV cache buffer, [batch] + perSequence.
struct Generator::Cache {
  std::string name;
  ElementType dtype = ElementType::F32;
  std::vector<int64_t> perSequence;
  uint64_t bytesPerSequence = 0;
  std::unique_ptr<void, FreeDeleter> data;
};

const char *llm::rt::getStopReasonName(StopReason reason) {
  switch (reason) {
  case StopReason::None:
    return "none";
  case StopReason::EOS:
    return "eos";
  case StopReason::Callback:
    return "stop";
  case StopReason::MaxTokens:
    return "max-tokens";
  case StopReason::Context:
    return "context";
  }
  return "?";
}

static Status invalid(std::string message) {
  return Status::error(ErrorCode::InvalidArgument, std::move(message));
}

Generator::~Generator() = default;

/// Finds the runtime inputs of \p entry; fails unless it has the form
/// llm-derive-generation gives it.
static Status describeEntry(const EntryPoint &entry, bool isPrefill,
                            const std::string &where, size_t &tokens,
                            size_t &positions, std::optional<size_t> &lengths,
                            std::optional<size_t> &arena,
                            std::vector<size_t> &caches) {
  std::optional<size_t> tokensIndex, positionsIndex;
  for (size_t i = 0; i < entry.inputs.size(); ++i) {
    const InputSpec &input = entry.inputs[i];
    std::optional<size_t> *slot = nullptr;
    switch (input.kind) {
    case InputKind::Param:
      continue;
    case InputKind::KVCache:
      caches.push_back(i);
      continue;
    case InputKind::Tokens:
      slot = &tokensIndex;
      break;
    case InputKind::Positions:
      slot = &positionsIndex;
      break;
    case InputKind::Lengths:
      slot = &lengths;
      break;
    case InputKind::Arena:
      slot = &arena;
      break;
    case InputKind::Mask:
    case InputKind::Segments:
    case InputKind::Labels:
    case InputKind::Optimizer:
    case InputKind::OptimizerState:
    case InputKind::TeacherLogits:
    case InputKind::Distill:
    case InputKind::NextSentenceLabels:
      break;
    }
    if (!slot || *slot)
      return Status::error(ErrorCode::Artifact,
                           where + ": entry point " + quote(entry.name) +
                               " has an unexpected " +
                               getInputKindName(input.kind) + " input " +
                               quote(input.name));
    *slot = i;
  }
  if (!tokensIndex || !positionsIndex || lengths.has_value() != isPrefill ||
      caches.empty())
    return Status::error(ErrorCode::Artifact,
                         where + ": entry point " + quote(entry.name) +
                             " does not take token ids, cache positions" +
                             (isPrefill ? ", lengths" : "") +
                             " and KV caches");
  const InputSpec &ids = entry.inputs[*tokensIndex];
  if (ids.dtype != ElementType::I64 ||
      (!isPrefill && ids.shape[1] != 1 && ids.shape[1] != DynamicDim))
    return Status::error(ErrorCode::Artifact,
                         where + ": entry point " + quote(entry.name) +
                             " takes token ids " + getElementTypeName(ids.dtype) +
                             " " + shapeText(ids.shape) +
                             "; expected i64 [batch, " +
                             (isPrefill ? "seq]" : "1]"));
  if (entry.results.size() != 1 ||
      entry.results[0].dtype != ElementType::F32 ||
      entry.results[0].shape.size() != 2)
    return Status::error(ErrorCode::Artifact,
                         where + ": entry point " + quote(entry.name) +
                             " must return one f32 logits [batch, vocab]");
  tokens = *tokensIndex;
  positions = *positionsIndex;
  return Status::success();
}

Expected<std::unique_ptr<Generator>>
Generator::open(const std::string &artifactDir, const std::string &weightsPath,
                const ModelOptions &options) {
  try {
    std::unique_ptr<Generator> gen(new Generator());
    Expected<std::unique_ptr<Artifact>> artifact = Artifact::open(artifactDir);
    if (!artifact)
      return artifact.getStatus();
    gen->artifact = artifact.take();
    const Manifest &manifest = gen->artifact->getManifest();
    std::string where = artifactDir + "/manifest.json";
    gen->vocabSize = manifest.model.vocabSize;

    const EntryPoint *prefill = manifest.findEntryPoint("prefill");
    const EntryPoint *decode = manifest.findEntryPoint("decode");
    if (!prefill || !decode)
      return Status::error(
          ErrorCode::Artifact,
          where + ": the artifact has no prefill and decode entry points; "
                  "compile a decoder (GPT-2, LLaMA) with llm-compile, which "
                  "derives them unless --generation=false");

    Expected<std::unique_ptr<SafeTensorsModel>> checkpoint =
        SafeTensorsModel::open(weightsPath);
    if (!checkpoint)
      return checkpoint.getStatus().withDefaultCode(ErrorCode::Weights);
    gen->checkpoint = checkpoint.take();
    BindOptions bindOptions;
    bindOptions.strict = options.strict;

    for (const EntryPoint *spec : {prefill, decode}) {
      auto entry = std::make_unique<Entry>();
      entry->spec = spec;
      entry->function = gen->artifact->getEntryFunction(spec->name);
      Status s = describeEntry(*spec, spec == prefill, where, entry->tokens,
                               entry->positions, entry->lengths, entry->arena,
                               entry->caches);
      if (s.isError())
        return s;
      if (spec->results[0].shape[1] != DynamicDim &&
          spec->results[0].shape[1] != gen->vocabSize)
        return Status::error(ErrorCode::Artifact,
                             where + ": the logits of " + quote(spec->name) +
                                 " are not [batch, " +
                                 std::to_string(gen->vocabSize) + "]");
      entry->params.assign(spec->inputs.size(), nullptr);

      // Decode shares prefill's bound params where they agree (the same
      // tensor or concatenation, packing and shape), so packed and
      // concatenated weights exist once.
      bool shared = spec == decode;
      if (shared) {
        const Entry &first = *gen->prefillEntry;
        for (size_t i = 0; i < spec->inputs.size() && shared; ++i) {
          const InputSpec &input = spec->inputs[i];
          if (input.kind != InputKind::Param)
            continue;
          shared = false;
          for (size_t j = 0; j < prefill->inputs.size(); ++j) {
            const InputSpec &other = prefill->inputs[j];
            if (other.kind == InputKind::Param && other.name == input.name &&
                other.dtype == input.dtype &&
                other.getBufferShape() == input.getBufferShape() &&
                other.concat == input.concat &&
                other.packing.has_value() == input.packing.has_value() &&
                (!other.packing ||
                 (other.packing->panel == input.packing->panel &&
                  other.packing->outIn == input.packing->outIn))) {
              entry->params[i] = first.params[j];
              shared = true;
              break;
            }
          }
        }
      }
      if (!shared) {
        Expected<BoundWeights> bound =
            bindWeights(*spec, *gen->checkpoint, bindOptions);
        if (!bound)
          return Status::error(bound.getStatus().code(),
                               weightsPath + ": " + bound.message());
        gen->weights.push_back(bound.take());
        for (size_t i = 0; i < spec->inputs.size(); ++i)
          entry->params[i] = gen->weights.back().getData(i);
      }
      (spec == prefill ? gen->prefillEntry : gen->decodeEntry) =
          std::move(entry);
    }

    // The caches: the same names and shapes in both entry points.
    const Entry &p = *gen->prefillEntry, &d = *gen->decodeEntry;
    if (p.caches.size() != d.caches.size())
      return Status::error(ErrorCode::Artifact,
                           where + ": prefill and decode take different "
                                   "numbers of KV caches");
    for (size_t c = 0; c < p.caches.size(); ++c) {
      const InputSpec &a = prefill->inputs[p.caches[c]];
      const InputSpec &b = decode->inputs[d.caches[c]];
      if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape)
        return Status::error(ErrorCode::Artifact,
                             where + ": KV cache " + quote(a.name) +
                                 " of prefill differs from decode's " +
                                 quote(b.name));
      Cache cache;
      cache.name = a.name;
      cache.dtype = a.dtype;
      cache.perSequence.assign(a.shape.begin() + 1, a.shape.end());
      cache.bytesPerSequence = getElementTypeSize(a.dtype);
      for (int64_t dim : cache.perSequence)
        if (!checkedMul(cache.bytesPerSequence, static_cast<uint64_t>(dim),
                        cache.bytesPerSequence))
          return Status::error(ErrorCode::Artifact,
                               where + ": KV cache " + quote(a.name) +
                                   " is too large");
      int64_t rows = cache.perSequence[1];
      if (gen->capacity != 0 && rows != gen->capacity)
        return Status::error(ErrorCode::Artifact,
                             where + ": KV caches of different capacities");
      gen->capacity = rows;
      gen->cacheBytesPerSequence += cache.bytesPerSequence;
      gen->caches.push_back(std::move(cache));
    }
    if (gen->capacity <= 0)
      return Status::error(ErrorCode::Artifact,
                           where + ": the KV caches have no rows");
    if (manifest.model.maxPositions > 0)
      gen->capacity = std::min(gen->capacity, manifest.model.maxPositions);

    for (size_t i = 0; i < decode->inputs.size(); ++i) {
      const InputSpec &input = decode->inputs[i];
      if (input.kind != InputKind::Param)
        continue;
      uint64_t bytes = getElementTypeSize(input.dtype);
      for (int64_t dim : input.getBufferShape())
        bytes *= static_cast<uint64_t>(dim);
      gen->weightBytes += bytes;
    }
    if (options.numThreads != 0) {
      Status s = gen->setNumThreads(options.numThreads);
      if (s.isError())
        return s;
    }
    return {std::move(gen)};
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         artifactDir + ": out of memory loading the model");
  }
}

Status Generator::setNumThreads(int32_t n) {
  return artifact->setNumThreads(n);
}

Status Generator::startBatch(int64_t newBatch) {
  if (newBatch < 1)
    return invalid("a batch needs at least one sequence, got " +
                   std::to_string(newBatch));
  uint64_t total = 0;
  if (!checkedMul(cacheBytesPerSequence, static_cast<uint64_t>(newBatch),
                  total))
    return invalid("the KV caches of " + std::to_string(newBatch) +
                   " sequences are too large");
  uint64_t physical = getPhysicalMemoryBytes();
  if (physical != 0 && total > physical)
    return Status::error(ErrorCode::OutOfMemory,
                         "the KV caches of " + std::to_string(newBatch) +
                             " sequences need " + byteCountText(total) +
                             ", more than this machine's " +
                             byteCountText(physical));
  if (newBatch != batch) {
    for (Cache &cache : caches)
      cache.data.reset();
    batch = 0;
    for (Cache &cache : caches) {
      // Zeroed so that rows never written hold finite values.
      cache.data.reset(std::calloc(
          static_cast<size_t>(cache.bytesPerSequence * newBatch), 1));
      if (!cache.data)
        return Status::error(ErrorCode::OutOfMemory,
                             "cannot allocate " + byteCountText(total) +
                                 " of KV cache");
    }
  } else {
    for (Cache &cache : caches)
      std::memset(cache.data.get(), 0,
                  static_cast<size_t>(cache.bytesPerSequence * newBatch));
  }
  batch = newBatch;
  positions.assign(static_cast<size_t>(batch), 0);
  return Status::success();
}

Expected<Tensor> Generator::run(Entry &entry, const std::vector<int64_t> &ids,
                                int64_t seq, const std::vector<int64_t> &start,
                                const std::vector<int64_t> &lengths) {
  const EntryPoint &spec = *entry.spec;
  std::vector<MemRefDescriptor> inputs(spec.inputs.size());
  for (size_t i = 0; i < spec.inputs.size(); ++i)
    if (spec.inputs[i].kind == InputKind::Param)
      inputs[i] = MemRefDescriptor::getContiguous(
          const_cast<void *>(entry.params[i]),
          spec.inputs[i].getBufferShape());
  // Inputs are read-only to the callee except the caches (docs/ABI.md).
  inputs[entry.tokens] = MemRefDescriptor::getContiguous(
      const_cast<int64_t *>(ids.data()), {batch, seq});
  inputs[entry.positions] = MemRefDescriptor::getContiguous(
      const_cast<int64_t *>(start.data()), {batch});
  if (entry.lengths)
    inputs[*entry.lengths] = MemRefDescriptor::getContiguous(
        const_cast<int64_t *>(lengths.data()), {batch});
  for (size_t c = 0; c < caches.size(); ++c) {
    std::vector<int64_t> shape = {batch};
    shape.insert(shape.end(), caches[c].perSequence.begin(),
                 caches[c].perSequence.end());
    inputs[entry.caches[c]] =
        MemRefDescriptor::getContiguous(caches[c].data.get(), shape);
  }
  if (entry.arena) {
    uint64_t bytes = spec.getArenaBytes(batch);
    Expected<void *> memory = arena.reserve(bytes);
    if (!memory)
      return memory.getStatus();
    inputs[*entry.arena] =
        MemRefDescriptor::getContiguous(*memory, {static_cast<int64_t>(bytes)});
  }
  MemRefDescriptor logits(2);
  std::vector<void *> args;
  for (MemRefDescriptor &desc : inputs)
    args.push_back(desc.getRaw());
  args.push_back(logits.getRaw());
  int32_t rc = entry.function(args.data());
  if (rc != 0)
    return Status::error(ErrorCode::Execution,
                         "entry point " + quote(spec.name) + " (" +
                             spec.symbol + ") failed with code " +
                             std::to_string(rc));
  // Logits in the arena are copied out below; a malloc'ed result is ours.
  std::unique_ptr<void, FreeDeleter> allocation(
      arena.holds(logits.getAllocated()) ? nullptr : logits.getAllocated());
  Status s = logits.checkAddressable();
  if (s.isError())
    return Status::error(ErrorCode::Execution, "the logits of " +
                                                   quote(spec.name) + ": " +
                                                   s.message());
  std::vector<int64_t> sizes = logits.getSizes();
  if (sizes != std::vector<int64_t>{batch, vocabSize})
    return Status::error(ErrorCode::Execution,
                         "the logits of " + quote(spec.name) + " have shape " +
                             shapeText(sizes) + ", expected " +
                             shapeText({batch, vocabSize}));
  Tensor tensor;
  tensor.shape = sizes;
  const float *base = static_cast<const float *>(logits.getAligned());
  if (logits.isContiguous() && allocation) {
    tensor.data = const_cast<float *>(base) + logits.getOffset();
    tensor.allocation = allocation.release();
    return tensor;
  }
  size_t count = static_cast<size_t>(batch * vocabSize);
  tensor.allocation = std::malloc(std::max<size_t>(1, count * sizeof(float)));
  if (!tensor.allocation)
    return Status::error(ErrorCode::OutOfMemory,
                         "cannot allocate the logits");
  tensor.data = static_cast<float *>(tensor.allocation);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t v = 0; v < vocabSize; ++v)
      tensor.data[b * vocabSize + v] =
          base[logits.getOffset() + b * logits.getStride(0) +
               v * logits.getStride(1)];
  return tensor;
}

/// Checks that every id of \p tokens is in [0, vocab).
static Status checkIds(const std::vector<int64_t> &tokens, size_t sequence,
                       int64_t vocab) {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return invalid("sequence " + std::to_string(sequence) + ": token " +
                     std::to_string(i) + " is " + std::to_string(tokens[i]) +
                     ", outside the vocabulary [0, " + std::to_string(vocab) +
                     ")");
  return Status::success();
}

Expected<Tensor>
Generator::prefill(const std::vector<std::vector<int64_t>> &prompts) {
  try {
    if (batch == 0)
      return invalid("prefill before startBatch");
    if (static_cast<int64_t>(prompts.size()) != batch)
      return invalid("prefill got " + std::to_string(prompts.size()) +
                     " prompts for a batch of " + std::to_string(batch));
    int64_t seq = 0;
    for (size_t b = 0; b < prompts.size(); ++b) {
      if (prompts[b].empty())
        return invalid("sequence " + std::to_string(b) +
                       ": the prompt is empty");
      Status s = checkIds(prompts[b], b, vocabSize);
      if (s.isError())
        return s;
      seq = std::max<int64_t>(seq, static_cast<int64_t>(prompts[b].size()));
    }
    // A padded row writes all seq rows of its cache: every row must fit.
    for (size_t b = 0; b < prompts.size(); ++b)
      if (positions[b] + seq > capacity)
        return invalid(
            "sequence " + std::to_string(b) + ": " + std::to_string(seq) +
            " tokens at position " + std::to_string(positions[b]) +
            " do not fit the context of " + std::to_string(capacity) +
            " tokens");
    std::vector<int64_t> ids(static_cast<size_t>(batch * seq), 0);
    std::vector<int64_t> lengths(static_cast<size_t>(batch));
    for (size_t b = 0; b < prompts.size(); ++b) {
      std::copy(prompts[b].begin(), prompts[b].end(),
                ids.begin() + static_cast<ptrdiff_t>(b * seq));
      lengths[b] = static_cast<int64_t>(prompts[b].size());
    }
    Expected<Tensor> logits = run(*prefillEntry, ids, seq, positions, lengths);
    if (!logits)
      return logits;
    for (size_t b = 0; b < prompts.size(); ++b)
      positions[b] += lengths[b];
    return logits;
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory, "out of memory in prefill");
  }
}

Expected<Tensor> Generator::decode(const std::vector<int64_t> &tokens,
                                   const std::vector<bool> &frozen) {
  try {
    if (batch == 0)
      return invalid("decode before startBatch");
    if (static_cast<int64_t>(tokens.size()) != batch ||
        (!frozen.empty() && static_cast<int64_t>(frozen.size()) != batch))
      return invalid("decode got " + std::to_string(tokens.size()) +
                     " tokens for a batch of " + std::to_string(batch));
    std::vector<int64_t> ids = tokens, start = positions;
    for (size_t b = 0; b < tokens.size(); ++b) {
      if (!frozen.empty() && frozen[b]) {
        // Written past the sequence's end (or over its last row when it is
        // full) and never read.
        ids[b] = 0;
        start[b] = std::min(positions[b], capacity - 1);
        continue;
      }
      Status s = checkIds({tokens[b]}, b, vocabSize);
      if (s.isError())
        return s;
      if (positions[b] + 1 > capacity)
        return invalid("sequence " + std::to_string(b) +
                       ": the context of " + std::to_string(capacity) +
                       " tokens is full");
    }
    Expected<Tensor> logits = run(*decodeEntry, ids, 1, start, {});
    if (!logits)
      return logits;
    for (size_t b = 0; b < tokens.size(); ++b)
      if (frozen.empty() || !frozen[b])
        ++positions[b];
    return logits;
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory, "out of memory in decode");
  }
}

Expected<GenerationResult>
Generator::generate(const std::vector<std::vector<int64_t>> &prompts,
                    const SamplerChain &sampler,
                    const GenerationOptions &options,
                    const TokenCallback &callback) {
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
  };
  try {
    if (prompts.empty())
      return invalid("no prompts to generate from");
    if (options.maxNewTokens < 0)
      return invalid("the number of new tokens must not be negative, got " +
                     std::to_string(options.maxNewTokens));
    if (options.eos && !options.ignoreEOS &&
        (*options.eos < 0 || *options.eos >= vocabSize))
      return invalid("the end-of-sequence token " +
                     std::to_string(*options.eos) +
                     " is outside the vocabulary [0, " +
                     std::to_string(vocabSize) + ")");
    for (size_t b = 0; b < prompts.size(); ++b)
      if (static_cast<int64_t>(prompts[b].size()) > capacity)
        return invalid("sequence " + std::to_string(b) + ": the prompt has " +
                       std::to_string(prompts[b].size()) +
                       " tokens; the context holds " +
                       std::to_string(capacity));
    size_t n = prompts.size();
    Status s = startBatch(static_cast<int64_t>(n));
    if (s.isError())
      return s;

    GenerationResult result;
    result.tokens.resize(n);
    result.stopReasons.assign(n, StopReason::None);
    std::vector<SamplerChain> samplers(n, sampler);
    for (size_t b = 0; b < n; ++b) {
      samplers[b].reseed(options.seed + b);
      result.stats.promptTokens += static_cast<int64_t>(prompts[b].size());
    }
    std::vector<std::vector<int64_t>> history = prompts;

    Clock::time_point start = Clock::now();
    Expected<Tensor> logits = prefill(prompts);
    if (!logits)
      return logits.getStatus();
    result.stats.prefillSeconds += seconds(start);

    auto stopped = [&](size_t b) {
      return result.stopReasons[b] != StopReason::None;
    };
    if (options.maxNewTokens == 0)
      result.stopReasons.assign(n, StopReason::MaxTokens);
    start = Clock::now();
    while (true) {
      // Sample the next token of every running sequence.
      std::vector<int64_t> next(n, 0);
      for (size_t b = 0; b < n; ++b) {
        if (stopped(b))
          continue;
        int64_t token = 0;
        s = samplers[b].sample(logits->getData() + b * vocabSize,
                               static_cast<size_t>(vocabSize), history[b],
                               token);
        if (s.isError())
          return Status::error(s.code(),
                               "sequence " + std::to_string(b) + ", token " +
                                   std::to_string(result.tokens[b].size()) +
                                   ": " + s.message());
        ++result.stats.generatedTokens;
        if (options.eos && !options.ignoreEOS && token == *options.eos) {
          result.stopReasons[b] = StopReason::EOS;
          continue;
        }
        next[b] = token;
        result.tokens[b].push_back(token);
        history[b].push_back(token);
        if (callback && !callback(b, token))
          result.stopReasons[b] = StopReason::Callback;
        else if (static_cast<int64_t>(result.tokens[b].size()) >=
                 options.maxNewTokens)
          result.stopReasons[b] = StopReason::MaxTokens;
      }
      // A full context stops the sequence, or slides every sequence's
      // window: the newest half of its tokens is prefilled again.
      bool slide = false;
      for (size_t b = 0; b < n; ++b) {
        if (stopped(b) || positions[b] + 1 <= capacity)
          continue;
        if (options.contextPolicy == ContextPolicy::Stop)
          result.stopReasons[b] = StopReason::Context;
        else
          slide = true;
      }
      if (std::all_of(result.stopReasons.begin(), result.stopReasons.end(),
                      [](StopReason r) { return r != StopReason::None; }))
        break;
      if (slide) {
        result.stats.decodeSeconds += seconds(start);
        Clock::time_point slideStart = Clock::now();
        size_t keep = static_cast<size_t>(std::max<int64_t>(1, capacity / 2));
        std::vector<std::vector<int64_t>> windows(n);
        for (size_t b = 0; b < n; ++b)
          windows[b].assign(history[b].end() -
                                static_cast<ptrdiff_t>(
                                    std::min(keep, history[b].size())),
                            history[b].end());
        s = startBatch(static_cast<int64_t>(n));
        if (s.isError())
          return s;
        logits = prefill(windows);
        if (!logits)
          return logits.getStatus();
        ++result.stats.slides;
        result.stats.prefillSeconds += seconds(slideStart);
        start = Clock::now();
        continue;
      }
      std::vector<bool> frozen(n);
      for (size_t b = 0; b < n; ++b)
        frozen[b] = stopped(b);
      logits = decode(next, frozen);
      if (!logits)
        return logits.getStatus();
      ++result.stats.decodeSteps;
    }
    result.stats.decodeSeconds += seconds(start);
    return result;
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "out of memory generating text");
  }
}
