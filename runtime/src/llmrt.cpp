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

#include "llm/runtime/Generator.h"
#include "llm/runtime/Model.h"
#include "llm/runtime/Tokenizer.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>

using namespace llm::rt;

struct llmrt_model {
  std::unique_ptr<Model> model;
  std::string lastError;
};

struct llmrt_generator {
  std::unique_ptr<Generator> generator;
  std::unique_ptr<Tokenizer> tokenizer;
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
template <class Handle>
static llmrt_status record(Handle *handle, const Status &status) {
  try {
    handle->lastError = status.isOk() ? std::string() : status.message();
  } catch (...) {
    handle->lastError.clear();
  }
  return status.isOk() ? LLMRT_OK : toStatus(status.code());
}

/// Runs \p body on \p handle, turning exceptions into errors.
template <class Handle, class Fn>
static llmrt_status guarded(Handle *handle, Fn &&body) {
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

//===----------------------------------------------------------------------===//
// Generation
//===----------------------------------------------------------------------===//

void llmrt_generate_options_init(llmrt_generate_options *options) {
  if (!options)
    return;
  options->max_new_tokens = 64;
  options->temperature = 0.0f;
  options->top_k = 0;
  options->top_p = 1.0f;
  options->min_p = 0.0f;
  options->repetition_penalty = 1.0f;
  options->seed = 0;
  options->ignore_eos = 0;
  options->slide_context = 0;
}

llmrt_status llmrt_generator_open(const char *artifact_dir,
                                  const char *weights_path,
                                  const char *tokenizer,
                                  const llmrt_open_options *options,
                                  llmrt_generator **out,
                                  char **error_message) {
  if (error_message)
    *error_message = nullptr;
  if (out)
    *out = nullptr;
  Status status;
  try {
    if (!artifact_dir || !weights_path || !out) {
      status = invalid("llmrt_generator_open: artifact_dir, weights_path and "
                       "out must not be NULL");
    } else {
      ModelOptions modelOptions;
      if (options) {
        modelOptions.strict = options->strict != 0;
        modelOptions.numThreads = options->num_threads;
      }
      auto handle = std::make_unique<llmrt_generator>();
      std::string folder = tokenizer ? tokenizer : weights_path;
      if (folder == "bytes") {
        handle->tokenizer = Tokenizer::createByteLevel();
      } else {
        Expected<std::unique_ptr<Tokenizer>> opened = Tokenizer::open(folder);
        if (!opened)
          status = opened.getStatus();
        else
          handle->tokenizer = opened.take();
      }
      if (status.isOk()) {
        Expected<std::unique_ptr<Generator>> generator =
            Generator::open(artifact_dir, weights_path, modelOptions);
        if (!generator)
          status = generator.getStatus();
        else
          handle->generator = generator.take();
      }
      if (status.isOk() && handle->tokenizer->getVocabSize() >
                               handle->generator->getVocabSize())
        status = Status::error(
            ErrorCode::InvalidArgument,
            "the tokenizer has " +
                std::to_string(handle->tokenizer->getVocabSize()) +
                " tokens but the model's vocabulary holds " +
                std::to_string(handle->generator->getVocabSize()));
      if (status.isOk()) {
        *out = handle.release();
        return LLMRT_OK;
      }
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

void llmrt_generator_free(llmrt_generator *generator) { delete generator; }

const char *llmrt_generator_last_error(const llmrt_generator *generator) {
  return generator ? generator->lastError.c_str() : "generator is NULL";
}

llmrt_status llmrt_tokenize(llmrt_generator *generator, const char *text,
                            size_t size, int64_t *ids, size_t capacity,
                            size_t *count) {
  return guarded(generator, [&]() -> Status {
    if ((!text && size) || !count || (!ids && capacity))
      return invalid("llmrt_tokenize: text, ids and count must not be NULL");
    Expected<std::vector<int64_t>> encoded =
        generator->tokenizer->encode(std::string_view(text ? text : "", size));
    if (!encoded)
      return encoded.getStatus();
    *count = encoded->size();
    if (encoded->size() > capacity)
      return Status::error(ErrorCode::InvalidArgument,
                           "llmrt_tokenize: the text has " +
                               std::to_string(encoded->size()) +
                               " tokens; the buffer holds " +
                               std::to_string(capacity));
    std::copy(encoded->begin(), encoded->end(), ids);
    return Status::success();
  });
}

llmrt_status llmrt_generate(llmrt_generator *generator, const char *prompt,
                            const llmrt_generate_options *options,
                            llmrt_token_callback callback, void *user_data,
                            char **text, llmrt_generate_stats *stats) {
  if (text)
    *text = nullptr;
  return guarded(generator, [&]() -> Status {
    if (!prompt)
      return invalid("llmrt_generate: prompt must not be NULL");
    llmrt_generate_options defaults;
    llmrt_generate_options_init(&defaults);
    const llmrt_generate_options &o = options ? *options : defaults;

    SamplerChain chain(o.seed);
    Status s;
    if (o.repetition_penalty != 1.0f)
      s = chain.addRepetitionPenalty(o.repetition_penalty);
    if (s.isOk() && o.top_k != 0)
      s = chain.addTopK(o.top_k);
    if (s.isOk() && o.top_p != 1.0f)
      s = chain.addTopP(o.top_p);
    if (s.isOk() && o.min_p != 0.0f)
      s = chain.addMinP(o.min_p);
    if (s.isOk() && o.temperature != 0.0f)
      s = chain.addTemperature(o.temperature);
    if (s.isOk() && o.temperature == 0.0f)
      chain.addGreedy();
    if (s.isError())
      return s;

    const Tokenizer &tokenizer = *generator->tokenizer;
    Expected<std::vector<int64_t>> ids = tokenizer.encode(prompt);
    if (!ids)
      return ids.getStatus();
    if (ids->empty())
      return invalid("llmrt_generate: the prompt has no tokens");

    GenerationOptions generation;
    generation.maxNewTokens = o.max_new_tokens;
    generation.eos = tokenizer.getEOS();
    generation.ignoreEOS = o.ignore_eos != 0;
    generation.contextPolicy =
        o.slide_context ? ContextPolicy::Slide : ContextPolicy::Stop;
    generation.seed = o.seed;

    TokenStreamDecoder decoder(tokenizer);
    std::string generated;
    Status callbackStatus;
    TokenCallback onToken = [&](size_t, int64_t token) {
      Expected<std::string> piece = decoder.push(token);
      if (!piece) {
        callbackStatus = piece.getStatus();
        return false;
      }
      generated += *piece;
      return !callback ||
             callback(user_data, token, piece->c_str(), piece->size()) == 0;
    };
    Expected<GenerationResult> result =
        generator->generator->generate({*ids}, chain, generation, onToken);
    if (!result)
      return result.getStatus();
    if (callbackStatus.isError())
      return callbackStatus;
    std::string rest = decoder.flush();
    if (!rest.empty()) {
      generated += rest;
      if (callback)
        callback(user_data, -1, rest.c_str(), rest.size());
    }
    if (stats) {
      stats->prompt_tokens = result->stats.promptTokens;
      stats->generated_tokens = result->stats.generatedTokens;
      stats->prefill_seconds = result->stats.prefillSeconds;
      stats->decode_seconds = result->stats.decodeSeconds;
    }
    if (text) {
      *text = duplicate(generated);
      if (!*text)
        return Status::error(ErrorCode::OutOfMemory, "out of memory");
    }
    return Status::success();
  });
}

} // extern "C"
