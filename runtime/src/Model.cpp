//===- Model.cpp - A compiled model with its weights, callable ------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Implements Model and Tensor: the checks between the caller and the
// compiled code, the `void **args` calling convention of docs/ABI.md, and
// the ownership rules of result descriptors.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Model.h"

#include "RuntimeSupport.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <set>

using namespace llm::rt;
using namespace llm::rt::detail;

//===----------------------------------------------------------------------===//
// Tensor
//===----------------------------------------------------------------------===//

Tensor::~Tensor() { std::free(allocation); }

Tensor::Tensor(Tensor &&other) noexcept
    : shape(std::move(other.shape)), data(other.data),
      allocation(other.allocation) {
  other.shape.clear();
  other.data = nullptr;
  other.allocation = nullptr;
}

Tensor &Tensor::operator=(Tensor &&other) noexcept {
  if (this != &other) {
    std::free(allocation);
    shape = std::move(other.shape);
    data = other.data;
    allocation = other.allocation;
    other.shape.clear();
    other.data = nullptr;
    other.allocation = nullptr;
  }
  return *this;
}

uint64_t Tensor::getNumElements() const {
  if (!data)
    return 0;
  uint64_t count = 1;
  for (int64_t dim : shape)
    count *= static_cast<uint64_t>(dim);
  return count;
}

void *Tensor::release() {
  void *result = allocation;
  shape.clear();
  data = nullptr;
  allocation = nullptr;
  return result;
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static Status invalid(std::string message) {
  return Status::error(ErrorCode::InvalidArgument, std::move(message));
}

static Status executionError(std::string message) {
  return Status::error(ErrorCode::Execution, std::move(message));
}

/// Frees each distinct non-null `allocated` pointer of \p results once,
/// except \p keep and results that live in \p arena.
static void freeResults(const std::vector<MemRefDescriptor> &results,
                        const ArenaBuffer &arena, const void *keep = nullptr) {
  std::set<void *> freed;
  for (const MemRefDescriptor &result : results) {
    void *allocated = result.getAllocated();
    if (allocated && allocated != keep && !arena.holds(allocated) &&
        freed.insert(allocated).second)
      std::free(allocated);
  }
}

/// Copies the f32 elements \p desc describes, in row-major order, to \p dst.
/// The descriptor must have passed checkAddressable().
static void copyStrided(const MemRefDescriptor &desc, float *dst) {
  unsigned rank = desc.getRank();
  const float *base = static_cast<const float *>(desc.getAligned());
  std::vector<int64_t> index(rank, 0);
  std::vector<int64_t> sizes = desc.getSizes(), strides = desc.getStrides();
  int64_t count = *desc.getNumElements();
  for (int64_t n = 0; n < count; ++n) {
    int64_t offset = desc.getOffset();
    for (unsigned d = 0; d < rank; ++d)
      offset += index[d] * strides[d];
    dst[n] = base[offset];
    for (unsigned d = rank; d-- > 0;) {
      if (++index[d] < sizes[d])
        break;
      index[d] = 0;
    }
  }
}

/// Returns the text "B x S" of a batch.
static std::string batchText(const TokenView &tokens) {
  return std::to_string(tokens.batch) + " x " + std::to_string(tokens.seq);
}

//===----------------------------------------------------------------------===//
// Model
//===----------------------------------------------------------------------===//

Model::~Model() = default;

Expected<std::unique_ptr<Model>> Model::open(const std::string &artifactDir,
                                             const std::string &weightsPath,
                                             const ModelOptions &options) {
  try {
    std::unique_ptr<Model> model(new Model());
    Expected<std::unique_ptr<Artifact>> artifact = Artifact::open(artifactDir);
    if (!artifact)
      return artifact.getStatus();
    model->artifact = artifact.take();
    const Manifest &manifest = model->artifact->getManifest();
    std::string where = artifactDir + "/manifest.json";

    // The entry point must have the shape of a forward pass: token ids in,
    // logits [batch, seq, vocab] first out.
    model->entry = manifest.findEntryPoint(options.entryPoint);
    if (!model->entry)
      return Status::error(ErrorCode::Artifact, where +
                                                    ": no entry point named " +
                                                    quote(options.entryPoint));
    const EntryPoint &entry = *model->entry;
    model->function = model->artifact->getEntryFunction(entry.name);
    size_t numTokens = std::count_if(
        entry.inputs.begin(), entry.inputs.end(),
        [](const InputSpec &in) { return in.kind == InputKind::Tokens; });
    if (numTokens != 1)
      return Status::error(ErrorCode::Artifact,
                           where + ": entry point " + quote(entry.name) +
                               " has " + std::to_string(numTokens) +
                               " tokens inputs; a forward pass takes one");
    for (const InputSpec &input : entry.inputs)
      if (input.kind != InputKind::Tokens && input.kind != InputKind::Mask &&
          input.kind != InputKind::Segments && input.kind != InputKind::Param &&
          input.kind != InputKind::Arena)
        return Status::error(ErrorCode::Artifact,
                             where + ": entry point " + quote(entry.name) +
                                 " takes a " + getInputKindName(input.kind) +
                                 " input; it is not a forward pass "
                                 "(generation runs through "
                                 "llm::rt::Generator)");
    const ResultSpec &logits = entry.results.front();
    if (logits.dtype != ElementType::F32 || logits.shape.size() != 3 ||
        (logits.shape[2] != DynamicDim &&
         logits.shape[2] != manifest.model.vocabSize))
      return Status::error(
          ErrorCode::Artifact,
          where + ": the first result of entry point " + quote(entry.name) +
              " must be f32 logits of shape [batch, seq, " +
              std::to_string(manifest.model.vocabSize) + "], got " +
              getElementTypeName(logits.dtype) + " " + shapeText(logits.shape));
    for (const InputSpec &input : entry.inputs)
      if (input.kind == InputKind::Tokens && input.dtype == ElementType::I32 &&
          manifest.model.vocabSize > std::numeric_limits<int32_t>::max())
        return Status::error(ErrorCode::Artifact,
                             where +
                                 ": i32 token ids cannot hold a "
                                 "vocabulary of " +
                                 std::to_string(manifest.model.vocabSize));

    Expected<std::unique_ptr<SafeTensorsModel>> checkpoint =
        SafeTensorsModel::open(weightsPath);
    if (!checkpoint)
      return checkpoint.getStatus().withDefaultCode(ErrorCode::Weights);
    model->checkpoint = checkpoint.take();

    BindOptions bindOptions;
    bindOptions.strict = options.strict;
    Expected<BoundWeights> weights =
        bindWeights(entry, *model->checkpoint, bindOptions);
    if (!weights)
      return Status::error(weights.getStatus().code(),
                           weightsPath + ": " + weights.message());
    model->weights = weights.take();

    if (options.numThreads != 0) {
      Status s = model->setNumThreads(options.numThreads);
      if (s.isError())
        return s;
    }
    return {std::move(model)};
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         artifactDir + ": out of memory loading the model");
  } catch (const std::exception &e) {
    return Status::error(artifactDir + ": unexpected error: " + e.what());
  }
}

Status Model::setNumThreads(int32_t n) {
  return artifact->setNumThreads(n);
}

Expected<uint64_t> Model::getLogitsCount(const TokenView &tokens) const {
  uint64_t count = 0;
  if (tokens.batch < 0 || tokens.seq < 0 ||
      !checkedMul(static_cast<uint64_t>(tokens.batch),
                  static_cast<uint64_t>(tokens.seq), count) ||
      !checkedMul(count, static_cast<uint64_t>(getVocabSize()), count) ||
      count > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 4)
    return invalid("the logits of " + batchText(tokens) +
                   " tokens are too many to count");
  return count;
}

Status Model::call(const TokenView &tokens,
                   std::vector<MemRefDescriptor> &results) const {
  Status s = validateTokens(tokens, getVocabSize(), getMaxPositions());
  if (s.isError())
    return s;
  Expected<uint64_t> logitsCount = getLogitsCount(tokens);
  if (!logitsCount)
    return logitsCount.getStatus();
  uint64_t physical = getPhysicalMemoryBytes();
  if (physical != 0 && *logitsCount > physical / 4)
    return Status::error(ErrorCode::OutOfMemory,
                         "the logits of " + batchText(tokens) +
                             " tokens need " + byteCountText(*logitsCount * 4) +
                             ", more than this machine's " +
                             byteCountText(physical) + " of memory");

  const EntryPoint &entry = *this->entry;
  std::vector<int64_t> batchShape = {tokens.batch, tokens.seq};
  // Buffers for inputs the runtime makes (i32 ids, masks); they must live
  // until the call returns.
  std::vector<std::vector<uint8_t>> scratch;
  std::vector<MemRefDescriptor> inputs;
  inputs.reserve(entry.inputs.size());
  for (size_t i = 0; i < entry.inputs.size(); ++i) {
    const InputSpec &input = entry.inputs[i];
    if (input.kind == InputKind::Param) {
      inputs.push_back(MemRefDescriptor::getContiguous(
          const_cast<void *>(weights.getData(i)), input.getBufferShape()));
      continue;
    }
    if (input.kind == InputKind::Arena) {
      uint64_t bytes = entry.getArenaBytes(tokens.batch);
      Expected<void *> memory = arena.reserve(bytes);
      if (!memory)
        return memory.getStatus();
      inputs.push_back(MemRefDescriptor::getContiguous(
          *memory, {static_cast<int64_t>(bytes)}));
      continue;
    }
    for (unsigned d = 0; d < 2; ++d)
      if (input.shape[d] != DynamicDim && input.shape[d] != batchShape[d])
        return invalid("entry point " + quote(entry.name) +
                       " was compiled for " + getInputKindName(input.kind) +
                       " of shape " + shapeText(input.shape) +
                       ", got a batch of " + batchText(tokens));
    uint64_t count =
        static_cast<uint64_t>(tokens.batch) * static_cast<uint64_t>(tokens.seq);
    void *data = nullptr;
    if (input.kind == InputKind::Tokens && input.dtype == ElementType::I64) {
      // Inputs are read-only to the callee (docs/ABI.md).
      data = const_cast<int64_t *>(tokens.ids);
    } else {
      std::vector<uint8_t> &buffer = scratch.emplace_back(
          static_cast<size_t>(count * getElementTypeSize(input.dtype)));
      data = buffer.data();
      if (input.kind == InputKind::Tokens) {
        // I32 ids; validateTokens bounded them by the vocabulary, which
        // open() checked fits in int32.
        for (uint64_t k = 0; k < count; ++k) {
          int32_t id = static_cast<int32_t>(tokens.ids[k]);
          std::memcpy(buffer.data() + 4 * k, &id, 4);
        }
      } else if (input.kind == InputKind::Segments) {
        // One segment: every token type id 0.
        std::fill(buffer.begin(), buffer.end(), uint8_t(0));
      } else {
        // A mask of ones: every position of every row is a real token.
        for (uint64_t k = 0; k < count; ++k) {
          uint8_t *element =
              buffer.data() + k * getElementTypeSize(input.dtype);
          switch (input.dtype) {
          case ElementType::F32: {
            float one = 1.0f;
            std::memcpy(element, &one, 4);
            break;
          }
          case ElementType::F16: {
            uint16_t one = 0x3c00;
            std::memcpy(element, &one, 2);
            break;
          }
          case ElementType::BF16: {
            uint16_t one = 0x3f80;
            std::memcpy(element, &one, 2);
            break;
          }
          case ElementType::I64: {
            int64_t one = 1;
            std::memcpy(element, &one, 8);
            break;
          }
          case ElementType::I32: {
            int32_t one = 1;
            std::memcpy(element, &one, 4);
            break;
          }
          case ElementType::U8:
            *element = 1;
            break;
          }
        }
      }
    }
    inputs.push_back(MemRefDescriptor::getContiguous(data, batchShape));
  }

  results.clear();
  for (const ResultSpec &result : entry.results)
    results.emplace_back(static_cast<unsigned>(result.shape.size()));

  std::vector<void *> args;
  args.reserve(inputs.size() + results.size());
  for (MemRefDescriptor &desc : inputs)
    args.push_back(desc.getRaw());
  for (MemRefDescriptor &desc : results)
    args.push_back(desc.getRaw());

  int32_t rc = function(args.data());
  if (rc != 0) {
    // On failure the ABI promises nothing about the result descriptors; do
    // not free what may not be ours.
    results.clear();
    return executionError("entry point " + quote(entry.name) + " (" +
                          entry.symbol + ") failed with code " +
                          std::to_string(rc));
  }
  return Status::success();
}

Status Model::collectLogits(std::vector<MemRefDescriptor> &results,
                            const TokenView &tokens, float *dst,
                            Tensor *out) const {
  const EntryPoint &entry = *this->entry;
  // Check every result before touching any, so that an error frees all.
  for (size_t i = 0; i < results.size(); ++i) {
    const MemRefDescriptor &desc = results[i];
    const ResultSpec &spec = entry.results[i];
    std::string what =
        "result " + quote(spec.name) + " of entry point " + quote(entry.name);
    Status s = desc.checkAddressable();
    if (s.isError()) {
      freeResults(results, arena);
      return executionError(what + ": " + s.message());
    }
    std::vector<int64_t> sizes = desc.getSizes();
    for (size_t d = 0; d < sizes.size(); ++d) {
      int64_t expected = spec.shape[d];
      if (i == 0)
        expected = d == 0 ? tokens.batch : d == 1 ? tokens.seq : getVocabSize();
      if (expected != DynamicDim && sizes[d] != expected) {
        freeResults(results, arena);
        std::vector<int64_t> wanted = spec.shape;
        if (i == 0)
          wanted = {tokens.batch, tokens.seq, getVocabSize()};
        return executionError(what + " has shape " + shapeText(sizes) +
                              ", expected " + shapeText(wanted));
      }
    }
  }

  const MemRefDescriptor &logits = results.front();
  int64_t count = *logits.getNumElements();
  const float *first = static_cast<const float *>(logits.getAligned());
  if (dst) {
    if (logits.isContiguous()) {
      if (count)
        std::memcpy(dst, first + logits.getOffset(),
                    static_cast<size_t>(count) * sizeof(float));
    } else {
      copyStrided(logits, dst);
    }
    freeResults(results, arena);
    return Status::success();
  }

  Tensor tensor;
  tensor.shape = logits.getSizes();
  if (logits.isContiguous() && logits.getAllocated() &&
      !arena.holds(logits.getAllocated())) {
    // Hand the library's allocation over.
    tensor.allocation = logits.getAllocated();
    tensor.data = const_cast<float *>(first) + logits.getOffset();
    freeResults(results, arena, tensor.allocation);
  } else {
    size_t bytes = std::max<size_t>(1, static_cast<size_t>(count) * 4);
    tensor.allocation = std::malloc(bytes);
    if (!tensor.allocation) {
      freeResults(results, arena);
      return Status::error(ErrorCode::OutOfMemory, "cannot allocate " +
                                                       byteCountText(bytes) +
                                                       " for the logits");
    }
    tensor.data = static_cast<float *>(tensor.allocation);
    copyStrided(logits, tensor.data);
    freeResults(results, arena);
  }
  *out = std::move(tensor);
  return Status::success();
}

Expected<Tensor> Model::forward(const TokenView &tokens) const {
  try {
    std::vector<MemRefDescriptor> results;
    Status s = call(tokens, results);
    if (s.isError())
      return s;
    Tensor tensor;
    s = collectLogits(results, tokens, nullptr, &tensor);
    if (s.isError())
      return s;
    return tensor;
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "out of memory running the model");
  }
}

Status Model::forwardInto(const TokenView &tokens, float *logits,
                          uint64_t capacity) const {
  try {
    Status s = validateTokens(tokens, getVocabSize(), getMaxPositions());
    if (s.isError())
      return s;
    Expected<uint64_t> needed = getLogitsCount(tokens);
    if (!needed)
      return needed.getStatus();
    if (!logits)
      return invalid("the logits buffer is a null pointer");
    if (capacity < *needed)
      return invalid("the logits buffer holds " + std::to_string(capacity) +
                     " floats, but " + batchText(tokens) + " x " +
                     std::to_string(getVocabSize()) + " = " +
                     std::to_string(*needed) + " are needed");
    std::vector<MemRefDescriptor> results;
    s = call(tokens, results);
    if (s.isError())
      return s;
    return collectLogits(results, tokens, logits, nullptr);
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "out of memory running the model");
  }
}
