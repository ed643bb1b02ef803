//===- llmrt.cpp - The llm runtime's C API --------------------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The C API of llmrt.h over llm::rt::Model. Every entry catches whatever the
// C++ layer could throw, so no exception crosses into C.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/llmrt.h"

#include "llm/runtime/Model.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>

using namespace llm::rt;

struct llmrt_model {
  std::unique_ptr<Model> model;
  std::string lastError;
};

struct llmrt_tensor {
  Tensor tensor;
};

static llmrt_status toStatus(ErrorCode code) {
  switch (code) {
  case ErrorCode::InvalidArgument:
    return LLMRT_ERROR_INVALID_ARGUMENT;
  case ErrorCode::Artifact:
    return LLMRT_ERROR_ARTIFACT;
  case ErrorCode::Weights:
    return LLMRT_ERROR_WEIGHTS;
  case ErrorCode::Execution:
    return LLMRT_ERROR_EXECUTION;
  case ErrorCode::OutOfMemory:
    return LLMRT_ERROR_OUT_OF_MEMORY;
  case ErrorCode::IO:
  case ErrorCode::Unknown:
    break;
  }
  return LLMRT_ERROR_INTERNAL;
}

/// Copies \p message into malloc'ed memory for an error_message out-param.
static char *duplicate(const std::string &message) {
  char *copy = static_cast<char *>(std::malloc(message.size() + 1));
  if (copy)
    std::memcpy(copy, message.c_str(), message.size() + 1);
  return copy;
}

/// Records \p status on \p handle and returns its C code.
static llmrt_status record(llmrt_model *handle, const Status &status) {
  try {
    handle->lastError = status.isOk() ? std::string() : status.message();
  } catch (...) {
    handle->lastError.clear();
  }
  return status.isOk() ? LLMRT_OK : toStatus(status.code());
}

/// Runs \p body on \p handle, turning exceptions into errors.
template <class Fn>
static llmrt_status guarded(llmrt_model *handle, Fn &&body) {
  if (!handle)
    return LLMRT_ERROR_INVALID_ARGUMENT;
  try {
    return record(handle, body());
  } catch (const std::bad_alloc &) {
    return record(handle,
                  Status::error(ErrorCode::OutOfMemory, "out of memory"));
  } catch (const std::exception &e) {
    return record(handle,
                  Status::error(std::string("unexpected error: ") + e.what()));
  } catch (...) {
    return record(handle, Status::error("unexpected error"));
  }
}

static Status invalid(const char *message) {
  return Status::error(ErrorCode::InvalidArgument, message);
}

extern "C" {

const char *llmrt_status_string(llmrt_status status) {
  // A C caller may pass any int; reading it as the C++ enum would be
  // undefined for values outside the enumerators, so read the bits.
  int code;
  static_assert(sizeof(code) == sizeof(status), "llmrt_status is an int");
  std::memcpy(&code, &status, sizeof(code));
  switch (code) {
  case LLMRT_OK:
    return "ok";
  case LLMRT_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case LLMRT_ERROR_ARTIFACT:
    return "unusable artifact";
  case LLMRT_ERROR_WEIGHTS:
    return "unusable weights";
  case LLMRT_ERROR_EXECUTION:
    return "execution failed";
  case LLMRT_ERROR_OUT_OF_MEMORY:
    return "out of memory";
  case LLMRT_ERROR_INTERNAL:
    return "internal error";
  }
  return "unknown status";
}

void llmrt_open_options_init(llmrt_open_options *options) {
  if (!options)
    return;
  options->strict = 0;
  options->num_threads = 0;
}

llmrt_status llmrt_model_open(const char *artifact_dir,
                              const char *weights_path, llmrt_model **out,
                              char **error_message) {
  return llmrt_model_open_with_options(artifact_dir, weights_path, nullptr, out,
                                       error_message);
}

llmrt_status llmrt_model_open_with_options(const char *artifact_dir,
                                           const char *weights_path,
                                           const llmrt_open_options *options,
                                           llmrt_model **out,
                                           char **error_message) {
  if (error_message)
    *error_message = nullptr;
  if (out)
    *out = nullptr;
  Status status;
  try {
    if (!artifact_dir || !weights_path || !out) {
      status = invalid("llmrt_model_open: artifact_dir, weights_path and out "
                       "must not be NULL");
    } else {
      ModelOptions modelOptions;
      if (options) {
        modelOptions.strict = options->strict != 0;
        modelOptions.numThreads = options->num_threads;
      }
      Expected<std::unique_ptr<Model>> model =
          Model::open(artifact_dir, weights_path, modelOptions);
      if (model) {
        auto *handle = new llmrt_model();
        handle->model = model.take();
        *out = handle;
        return LLMRT_OK;
      }
      status = model.getStatus();
    }
  } catch (const std::bad_alloc &) {
    status = Status::error(ErrorCode::OutOfMemory, "out of memory");
  } catch (const std::exception &e) {
    status = Status::error(std::string("unexpected error: ") + e.what());
  } catch (...) {
    status = Status::error("unexpected error");
  }
  if (error_message)
    *error_message = duplicate(status.message());
  return toStatus(status.code());
}

void llmrt_model_free(llmrt_model *model) { delete model; }

void llmrt_string_free(char *message) { std::free(message); }

const char *llmrt_model_last_error(const llmrt_model *model) {
  return model ? model->lastError.c_str() : "model is NULL";
}

llmrt_status llmrt_model_num_warnings(llmrt_model *model, size_t *count) {
  return guarded(model, [&] {
    if (!count)
      return invalid("count must not be NULL");
    *count = model->model->getWarnings().size();
    return Status::success();
  });
}

llmrt_status llmrt_model_warning(llmrt_model *model, size_t index,
                                 const char **message) {
  return guarded(model, [&] {
    if (!message)
      return invalid("message must not be NULL");
    const std::vector<std::string> &warnings = model->model->getWarnings();
    if (index >= warnings.size())
      return Status::error(ErrorCode::InvalidArgument,
                           "warning " + std::to_string(index) +
                               " does not exist; there are " +
                               std::to_string(warnings.size()));
    *message = warnings[index].c_str();
    return Status::success();
  });
}

llmrt_status llmrt_model_vocab_size(llmrt_model *model, int64_t *vocab_size) {
  return guarded(model, [&] {
    if (!vocab_size)
      return invalid("vocab_size must not be NULL");
    *vocab_size = model->model->getVocabSize();
    return Status::success();
  });
}

llmrt_status llmrt_model_max_positions(llmrt_model *model,
                                       int64_t *max_positions) {
  return guarded(model, [&] {
    if (!max_positions)
      return invalid("max_positions must not be NULL");
    *max_positions = model->model->getMaxPositions();
    return Status::success();
  });
}

llmrt_status llmrt_model_set_num_threads(llmrt_model *model,
                                         int32_t num_threads) {
  return guarded(model,
                 [&] { return model->model->setNumThreads(num_threads); });
}

llmrt_status llmrt_model_forward(llmrt_model *model, const int64_t *tokens,
                                 int64_t batch, int64_t seq, float *logits,
                                 size_t capacity) {
  return guarded(model, [&] {
    return model->model->forwardInto({tokens, batch, seq}, logits, capacity);
  });
}

llmrt_status llmrt_model_forward_alloc(llmrt_model *model,
                                       const int64_t *tokens, int64_t batch,
                                       int64_t seq, llmrt_tensor **logits) {
  if (logits)
    *logits = nullptr;
  return guarded(model, [&] {
    if (!logits)
      return invalid("logits must not be NULL");
    Expected<Tensor> result = model->model->forward({tokens, batch, seq});
    if (!result)
      return result.getStatus();
    auto *tensor = new llmrt_tensor();
    tensor->tensor = result.take();
    *logits = tensor;
    return Status::success();
  });
}

const float *llmrt_tensor_data(const llmrt_tensor *tensor) {
  return tensor ? tensor->tensor.getData() : nullptr;
}

int32_t llmrt_tensor_rank(const llmrt_tensor *tensor) {
  return tensor ? static_cast<int32_t>(tensor->tensor.getShape().size()) : 0;
}

int64_t llmrt_tensor_dim(const llmrt_tensor *tensor, int32_t dim) {
  if (!tensor || dim < 0 ||
      static_cast<size_t>(dim) >= tensor->tensor.getShape().size())
    return -1;
  return tensor->tensor.getShape()[static_cast<size_t>(dim)];
}

size_t llmrt_tensor_num_elements(const llmrt_tensor *tensor) {
  return tensor ? static_cast<size_t>(tensor->tensor.getNumElements()) : 0;
}

void llmrt_tensor_free(llmrt_tensor *tensor) { delete tensor; }

} // extern "C"
