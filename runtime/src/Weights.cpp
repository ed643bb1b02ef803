//===- Weights.cpp - Binding checkpoint tensors to entry points -----------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Every param is resolved and checked before any buffer is allocated, so a
// bad checkpoint fails fast and the memory estimate covers all conversions.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Weights.h"

#include "llm/runtime/DTypeConversion.h"

#include "RuntimeSupport.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_set>

using namespace llm::rt;
using namespace llm::rt::detail;

/// Alignment of the buffers the runtime allocates for parameters: a cache
/// line, enough for any vector load the compiled code may use.
static constexpr uint64_t BufferAlignment = 64;

/// The most unused tensors named one by one in a strict-mode error.
static constexpr size_t MaxNamedUnused = 10;

static Status weightsError(std::string message) {
  return Status::error(ErrorCode::Weights, std::move(message));
}

/// Returns the checkpoint dtype holding \p type as is.
static DType getCheckpointDType(ElementType type) {
  switch (type) {
  case ElementType::F32:
    return DType::F32;
  case ElementType::F16:
    return DType::F16;
  case ElementType::BF16:
    return DType::BF16;
  case ElementType::I64:
    return DType::I64;
  case ElementType::I32:
    return DType::I32;
  case ElementType::U8:
    return DType::U8;
  }
  return DType::F32;
}

bool llm::rt::isKnownUnusedBuffer(std::string_view tensorName) {
  static constexpr std::string_view buffers[] = {
      "attn.bias",               // GPT-2's causal mask.
      "attn.masked_bias",        // GPT-2's masking constant.
      "embeddings.position_ids", // BERT's 0..max_positions-1.
      "rotary_emb.inv_freq",     // LLaMA's RoPE frequencies.
  };
  for (std::string_view buffer : buffers) {
    if (tensorName == buffer)
      return true;
    if (tensorName.size() > buffer.size() && endsWith(tensorName, buffer) &&
        tensorName[tensorName.size() - buffer.size() - 1] == '.')
      return true;
  }
  return false;
}

/// Returns a checkpoint tensor whose name differs from \p name only by a
/// leading module prefix ("transformer.", "model.", ...), for a hint.
static const TensorView *findPrefixVariant(const SafeTensorsModel &checkpoint,
                                           const std::string &name) {
  for (const TensorView *view : checkpoint.getTensors()) {
    const std::string &other = view->name;
    if (other.size() > name.size() && endsWith(other, name) &&
        other[other.size() - name.size() - 1] == '.')
      return view;
    if (name.size() > other.size() && endsWith(name, other) &&
        name[name.size() - other.size() - 1] == '.')
      return view;
  }
  return nullptr;
}

namespace {
/// How one param gets its data.
enum class Binding { ZeroCopy, Copy, Convert, Pack, Concat };

struct PlannedParam {
  /// Null for Concat.
  const TensorView *view = nullptr;
  Binding binding = Binding::ZeroCopy;
  uint64_t ownedBytes = 0;
  const void *data = nullptr;
  /// For Pack, and Concat of a packed param.
  std::optional<PackingSpec> packing;
  /// For Concat: the input, and the checkpoint tensor of each of its parts.
  const InputSpec *input = nullptr;
  std::vector<const TensorView *> parts;
};

/// A param as bound: its checkpoint name and packing (panel, out_in), (0,
/// false) when it is not packed; a tied tensor may be bound several ways.
/// A concatenation's name is its parts' names joined, which the manifest
/// parser keeps to one concatenation per entry point.
using ParamKey = std::tuple<std::string, int64_t, bool>;

ParamKey getParamKey(const InputSpec &input) {
  return ParamKey(input.name, input.packing ? input.packing->panel : 0,
                  input.packing && input.packing->outIn);
}
} // namespace

/// Writes the 2-D f32 tensor \p src ([N, K] or [K, N] per \p spec) into
/// \p dst in panel-major order: dst[nb][k][c] = w[nb * panel + c][k], zero
/// past N.
static void packPanels(const float *src, const std::vector<int64_t> &shape,
                       const PackingSpec &spec, float *dst) {
  int64_t n = shape[spec.outIn ? 0 : 1], k = shape[spec.outIn ? 1 : 0];
  int64_t p = spec.panel, panels = (n + p - 1) / p;
  for (int64_t nb = 0; nb < panels; ++nb) {
    float *block = dst + nb * k * p;
    int64_t width = std::min(p, n - nb * p);
    if (spec.outIn) {
      // Row nb * p + c of the checkpoint is column c of the panel.
      for (int64_t c = 0; c < width; ++c) {
        const float *row = src + (nb * p + c) * k;
        for (int64_t kk = 0; kk < k; ++kk)
          block[kk * p + c] = row[kk];
      }
      for (int64_t kk = 0; kk < k; ++kk)
        std::fill(block + kk * p + width, block + (kk + 1) * p, 0.0f);
    } else {
      for (int64_t kk = 0; kk < k; ++kk) {
        std::memcpy(block + kk * p, src + kk * n + nb * p,
                    static_cast<size_t>(width) * sizeof(float));
        std::fill(block + kk * p + width, block + (kk + 1) * p, 0.0f);
      }
    }
  }
}

/// Returns the shape part \p part of the concatenated param \p input must
/// have: the param's, with the part's size along the axis.
static std::vector<int64_t> getPartShape(const InputSpec &input, size_t part) {
  std::vector<int64_t> shape = input.shape;
  shape[input.concat->axis] = input.concat->parts[part].size;
  return shape;
}

/// Writes the concatenation of \p parts (checked against \p input) as f32
/// to \p dst. Viewing the result as [outer, shape[axis], inner], part i
/// fills [outer, size_i, inner] at offset sum(size_j, j < i) of the middle
/// dimension; along axis 0 that is one contiguous block per part.
static Status concatenateParts(const InputSpec &input,
                               const std::vector<const TensorView *> &parts,
                               float *dst) {
  const ConcatSpec &concat = *input.concat;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < concat.axis; ++d)
    outer *= input.shape[d];
  for (size_t d = concat.axis + 1; d < input.shape.size(); ++d)
    inner *= input.shape[d];
  int64_t total = input.shape[concat.axis], offset = 0;
  if (outer == 0 || inner == 0)
    return Status::success(); // Nothing to copy, and maybe no buffer.
  for (size_t i = 0; i < parts.size(); ++i) {
    const TensorView &view = *parts[i];
    int64_t run = concat.parts[i].size * inner;
    uint64_t elementSize = getDTypeSize(view.dtype);
    for (int64_t o = 0; o < outer; ++o) {
      const uint8_t *src =
          view.data + static_cast<uint64_t>(o * run) * elementSize;
      float *out = dst + (o * total + offset) * inner;
      Status s =
          view.dtype == DType::F32
              ? (std::memcpy(out, src, static_cast<size_t>(run) * 4),
                 Status::success())
              : convertToF32(view.dtype, src, static_cast<uint64_t>(run), out);
      if (s.isError())
        return weightsError("checkpoint tensor " + quote(view.name) + ": " +
                            s.message());
    }
    offset += concat.parts[i].size;
  }
  return Status::success();
}

/// Plans the concatenated param, input \p index of \p entry: finds and
/// checks its parts. Leaves \p plan empty when allowMissing lets a part be
/// missing, after listing the missing parts in \p missing; the parts that
/// do exist stay unused, and draw the unused-tensor warning, since nothing
/// reads them.
static Status planConcat(const EntryPoint &entry, size_t index,
                         const SafeTensorsModel &checkpoint,
                         const BindOptions &options,
                         std::vector<std::string> &missing,
                         std::optional<PlannedParam> &plan) {
  const InputSpec &input = entry.inputs[index];
  const ConcatSpec &concat = *input.concat;
  auto where = [&](size_t part) {
    return "part " + std::to_string(part) + " of input " +
           std::to_string(index) + " " + quote(input.name);
  };
  PlannedParam planned;
  planned.binding = Binding::Concat;
  planned.input = &input;
  planned.packing = input.packing;
  bool anyMissing = false;
  for (size_t p = 0; p < concat.parts.size(); ++p) {
    const std::string &name = concat.parts[p].name;
    const TensorView *view = checkpoint.lookup(name);
    if (!view && options.allowMissing) {
      missing.push_back(name);
      anyMissing = true;
      continue;
    }
    if (!view) {
      std::string message = "the checkpoint has no tensor " + quote(name) +
                            ", which entry point " + quote(entry.name) +
                            " needs (" + where(p) + ")";
      if (const TensorView *variant = findPrefixVariant(checkpoint, name))
        message += "; it has " + quote(variant->name) +
                   ": was the model compiled from another export of this "
                   "checkpoint?";
      return weightsError(message);
    }
    std::vector<int64_t> shape = getPartShape(input, p);
    if (view->shape != shape)
      return weightsError("checkpoint tensor " + quote(name) + " has shape " +
                          shapeText(view->shape) + ", but the model expects " +
                          shapeText(shape) + " (" + where(p) +
                          ", concatenated along axis " +
                          std::to_string(concat.axis) + ")");
    if (!isConvertibleToF32(view->dtype))
      return weightsError("checkpoint tensor " + quote(name) + " has dtype " +
                          getDTypeName(view->dtype) +
                          ", but the model expects F32, F16 or BF16 (" +
                          where(p) + ", concatenated as f32)");
    planned.parts.push_back(view);
  }
  if (anyMissing)
    return Status::success();
  // The manifest parser checked that both sizes fit int64.
  std::vector<int64_t> buffer = input.getBufferShape();
  planned.ownedBytes = 4;
  for (int64_t dim : buffer)
    planned.ownedBytes *= static_cast<uint64_t>(dim);
  plan = std::move(planned);
  return Status::success();
}

Expected<BoundWeights> llm::rt::bindWeights(const EntryPoint &entry,
                                            const SafeTensorsModel &checkpoint,
                                            const BindOptions &options) {
  try {
    BoundWeights bound;
    bound.data.assign(entry.inputs.size(), nullptr);

    // Resolve and check every param; tied params share one plan.
    std::map<ParamKey, PlannedParam> plans;
    std::set<std::string> usedNames;
    std::vector<ParamKey> planOrder;
    uint64_t ownedTotal = 0;
    for (size_t i = 0; i < entry.inputs.size(); ++i) {
      const InputSpec &input = entry.inputs[i];
      ParamKey key = getParamKey(input);
      if (input.kind != InputKind::Param || plans.count(key))
        continue;
      if (input.concat) {
        // The joined name is only a key; the parts are the tensors.
        std::optional<PlannedParam> plan;
        Status s =
            planConcat(entry, i, checkpoint, options, bound.missing, plan);
        if (s.isError())
          return s;
        if (!plan)
          continue;
        if (!checkedAdd(ownedTotal, plan->ownedBytes, ownedTotal))
          return weightsError("the converted checkpoint is too large");
        for (const TensorView *part : plan->parts)
          usedNames.insert(part->name);
        plans.emplace(key, std::move(*plan));
        planOrder.push_back(key);
        continue;
      }
      const TensorView *view = checkpoint.lookup(input.name);
      if (!view && options.allowMissing) {
        bound.missing.push_back(input.name);
        continue;
      }
      if (!view) {
        std::string message = "the checkpoint has no tensor " +
                              quote(input.name) + ", which entry point " +
                              quote(entry.name) + " needs (input " +
                              std::to_string(i) + ")";
        if (const TensorView *variant =
                findPrefixVariant(checkpoint, input.name))
          message += "; it has " + quote(variant->name) +
                     ": was the model compiled from another export of this "
                     "checkpoint?";
        return weightsError(message);
      }
      if (view->shape != input.shape)
        return weightsError("checkpoint tensor " + quote(input.name) +
                            " has shape " + shapeText(view->shape) +
                            ", but the model expects " +
                            shapeText(input.shape));

      PlannedParam plan;
      plan.view = view;
      plan.packing = input.packing;
      DType wanted = getCheckpointDType(input.dtype);
      uint64_t elementSize = getElementTypeSize(input.dtype);
      if (input.packing && (view->dtype == DType::F32 ||
                            view->dtype == DType::F16 ||
                            view->dtype == DType::BF16)) {
        // The manifest parser checked that the packed size fits.
        std::vector<int64_t> packed = input.getBufferShape();
        plan.binding = Binding::Pack;
        plan.ownedBytes = static_cast<uint64_t>(packed[0]) *
                          static_cast<uint64_t>(packed[1]) *
                          static_cast<uint64_t>(packed[2]) * 4;
      } else if (view->dtype == wanted) {
        bool aligned =
            reinterpret_cast<uintptr_t>(view->data) % elementSize == 0;
        plan.binding = aligned ? Binding::ZeroCopy : Binding::Copy;
        if (!aligned)
          plan.ownedBytes = view->byteSize;
      } else if (input.dtype == ElementType::F32 &&
                 (view->dtype == DType::F16 || view->dtype == DType::BF16)) {
        plan.binding = Binding::Convert;
        if (!checkedMul(view->getNumElements(), 4, plan.ownedBytes))
          return weightsError("checkpoint tensor " + quote(input.name) +
                              " is too large to convert to f32");
      } else {
        return weightsError(
            "checkpoint tensor " + quote(input.name) + " has dtype " +
            getDTypeName(view->dtype) + ", but the model expects " +
            getElementTypeName(input.dtype) +
            (input.dtype == ElementType::F32
                 ? " (F32 binds as is; F16 and BF16 are converted)"
                 : ""));
      }
      if (!checkedAdd(ownedTotal, plan.ownedBytes, ownedTotal))
        return weightsError("the converted checkpoint is too large");
      plans.emplace(key, plan);
      usedNames.insert(input.name);
      planOrder.push_back(key);
    }

    // Tensors nobody asked for.
    std::vector<std::string> unused;
    for (const TensorView *view : checkpoint.getTensors())
      if (!usedNames.count(view->name) && !isKnownUnusedBuffer(view->name))
        unused.push_back(view->name);
    if (options.strict && !unused.empty()) {
      std::string names;
      for (size_t i = 0; i < unused.size() && i < MaxNamedUnused; ++i)
        names += (i ? ", " : "") + quote(unused[i]);
      if (unused.size() > MaxNamedUnused)
        names +=
            ", and " + std::to_string(unused.size() - MaxNamedUnused) + " more";
      return weightsError(
          "the checkpoint holds " + std::to_string(unused.size()) +
          (unused.size() == 1 ? " tensor" : " tensors") +
          " that the model does not use (refused in strict mode): " + names);
    }
    for (const std::string &name : unused)
      bound.warnings.push_back("checkpoint tensor " + quote(name) +
                               " is not used by the model; ignoring it");

    // Refuse before allocating when the copies cannot fit.
    uint64_t physical = getPhysicalMemoryBytes();
    if (physical != 0 && ownedTotal > physical)
      return Status::error(
          ErrorCode::OutOfMemory,
          "converting the checkpoint's parameters to the model's dtype needs " +
              byteCountText(ownedTotal) + ", more than this machine's " +
              byteCountText(physical) + " of memory");

    for (const ParamKey &key : planOrder) {
      const std::string &name = std::get<0>(key);
      PlannedParam &plan = plans[key];
      if (plan.binding == Binding::ZeroCopy) {
        plan.data = plan.view->data;
        ++bound.numZeroCopy;
        continue;
      }
      uint64_t rounded = (plan.ownedBytes + BufferAlignment - 1) /
                         BufferAlignment * BufferAlignment;
      void *buffer = rounded ? std::aligned_alloc(BufferAlignment,
                                                  static_cast<size_t>(rounded))
                             : nullptr;
      if (rounded && !buffer)
        return Status::error(ErrorCode::OutOfMemory,
                             "cannot allocate " +
                                 byteCountText(plan.ownedBytes) +
                                 " for checkpoint tensor " + quote(name));
      bound.owned.emplace_back(buffer);
      bound.ownedBytes += plan.ownedBytes;
      if (plan.binding == Binding::Concat) {
        // A packed concatenation is joined into a temporary first, as a
        // converted tensor is before packing.
        const InputSpec &input = *plan.input;
        std::vector<float> joined;
        float *target = static_cast<float *>(buffer);
        if (plan.packing) {
          uint64_t count = 1;
          for (int64_t dim : input.shape)
            count *= static_cast<uint64_t>(dim);
          joined.resize(static_cast<size_t>(count));
          target = joined.data();
        }
        Status s = concatenateParts(input, plan.parts, target);
        if (s.isError())
          return s;
        if (plan.packing)
          packPanels(joined.data(), input.shape, *plan.packing,
                     static_cast<float *>(buffer));
        // An empty result still gets a non-null address.
        plan.data = buffer ? buffer : plan.parts[0]->data;
        continue;
      }
      const TensorView &view = *plan.view;
      if (plan.binding == Binding::Pack) {
        // Packing reads f32: convert (or realign) first when needed.
        std::vector<float> converted;
        const float *source = reinterpret_cast<const float *>(view.data);
        if (view.dtype != DType::F32 ||
            reinterpret_cast<uintptr_t>(view.data) % alignof(float)) {
          converted.resize(static_cast<size_t>(view.getNumElements()));
          Status s =
              view.dtype == DType::F32
                  ? (std::memcpy(converted.data(), view.data,
                                 static_cast<size_t>(view.byteSize)),
                     Status::success())
                  : convertToF32(view.dtype, view.data, view.getNumElements(),
                                 converted.data());
          if (s.isError())
            return weightsError("checkpoint tensor " + quote(name) + ": " +
                                s.message());
          source = converted.data();
        }
        packPanels(source, view.shape, *plan.packing,
                   static_cast<float *>(buffer));
      } else if (plan.binding == Binding::Copy) {
        if (view.byteSize)
          std::memcpy(buffer, view.data, static_cast<size_t>(view.byteSize));
      } else {
        Status s = convertToF32(view.dtype, view.data, view.getNumElements(),
                                static_cast<float *>(buffer));
        if (s.isError())
          return weightsError("checkpoint tensor " + quote(name) + ": " +
                              s.message());
      }
      // A tensor without elements still gets a non-null address.
      plan.data = buffer ? buffer : view.data;
    }

    for (size_t i = 0; i < entry.inputs.size(); ++i)
      if (entry.inputs[i].kind == InputKind::Param)
        if (auto it = plans.find(getParamKey(entry.inputs[i]));
            it != plans.end())
          bound.data[i] = it->second.data;
    return bound;
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory,
                         "out of memory binding the checkpoint");
  }
}
