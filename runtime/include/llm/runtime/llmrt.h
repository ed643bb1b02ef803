/*===- llmrt.h - The llm runtime's C API --------------------------*- C -*-===*\
|*                                                                            *|
|* Part of the llm-opt project.                                               *|
|*                                                                            *|
|*===----------------------------------------------------------------------===*|
|*                                                                            *|
|* A C interface to the runtime: load an artifact written by llm-compile      *|
|* (docs/ABI.md), bind a safetensors checkpoint to it, and compute logits.    *|
|*                                                                            *|
|*   llmrt_model *model;                                                      *|
|*   char *error;                                                             *|
|*   if (llmrt_model_open("out/gpt2", "gpt2/model.safetensors", &model,       *|
|*                        &error) != LLMRT_OK) {                              *|
|*     fprintf(stderr, "%s\n", error);                                        *|
|*     llmrt_string_free(error);                                              *|
|*     return 1;                                                              *|
|*   }                                                                        *|
|*   int64_t ids[] = {464, 2068, 7586};                                       *|
|*   llmrt_tensor *logits;                                                    *|
|*   if (llmrt_model_forward_alloc(model, ids, 1, 3, &logits) != LLMRT_OK)    *|
|*     fprintf(stderr, "%s\n", llmrt_model_last_error(model));                *|
|*   ...                                                                      *|
|*   llmrt_tensor_free(logits);                                               *|
|*   llmrt_model_free(model);                                                 *|
|*                                                                            *|
|* Every call except the *_free functions returns an llmrt_status. A failed   *|
|* call on a model records its message, readable with                         *|
|* llmrt_model_last_error until the next call on that model; calls that make  *|
|* no model yet hand the message out through a char ** parameter (free it     *|
|* with llmrt_string_free). No call aborts on bad input. A model must not be  *|
|* used from two threads at once.                                            *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef LLM_RUNTIME_LLMRT_H
#define LLM_RUNTIME_LLMRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The outcome of a call.
typedef enum llmrt_status {
  LLMRT_OK = 0,
  /// A null pointer, bad tokens, a bad thread count, a small buffer.
  LLMRT_ERROR_INVALID_ARGUMENT = 1,
  /// The artifact folder, its manifest or its library is unusable.
  LLMRT_ERROR_ARTIFACT = 2,
  /// The checkpoint is unreadable or does not fit the model.
  LLMRT_ERROR_WEIGHTS = 3,
  /// The compiled code failed or returned a malformed result.
  LLMRT_ERROR_EXECUTION = 4,
  /// Memory ran out, or the request would need more than the machine has.
  LLMRT_ERROR_OUT_OF_MEMORY = 5,
  /// Anything else.
  LLMRT_ERROR_INTERNAL = 6,
} llmrt_status;

/// A loaded model: an artifact with a checkpoint bound to it.
typedef struct llmrt_model llmrt_model;

/// A runtime-owned f32 tensor (logits), row-major.
typedef struct llmrt_tensor llmrt_tensor;

/// Options of llmrt_model_open_with_options; initialize them with
/// llmrt_open_options_init.
typedef struct llmrt_open_options {
  /// Non-zero: checkpoint tensors the model does not use are an error
  /// instead of a warning.
  int32_t strict;
  /// Threads for the compiled code's parallel loops; 0 keeps the default.
  int32_t num_threads;
} llmrt_open_options;

/// Returns a fixed English name of \p status, e.g. "invalid argument".
const char *llmrt_status_string(llmrt_status status);

/// Sets \p options to the defaults (not strict, default threads).
void llmrt_open_options_init(llmrt_open_options *options);

/// Loads the artifact in folder \p artifact_dir and binds the checkpoint at
/// \p weights_path (a safetensors file, a folder holding model.safetensors
/// or model.safetensors.index.json, or such an index). On success sets
/// \p *out to the model; on failure sets \p *out to NULL and, if
/// \p error_message is not NULL, \p *error_message to a message to release
/// with llmrt_string_free.
llmrt_status llmrt_model_open(const char *artifact_dir,
                              const char *weights_path, llmrt_model **out,
                              char **error_message);

/// llmrt_model_open with options; \p options may be NULL for the defaults.
llmrt_status llmrt_model_open_with_options(const char *artifact_dir,
                                           const char *weights_path,
                                           const llmrt_open_options *options,
                                           llmrt_model **out,
                                           char **error_message);

/// Releases \p model (NULL is ignored). Tensors it returned stay valid.
void llmrt_model_free(llmrt_model *model);

/// Releases a message returned through an error_message parameter.
void llmrt_string_free(char *message);

/// Returns the message of the last failed call on \p model, or "" if the
/// last call succeeded. Valid until the next call on \p model.
const char *llmrt_model_last_error(const llmrt_model *model);

/// Returns the number of warnings of loading (checkpoint tensors the model
/// does not use) in \p *count.
llmrt_status llmrt_model_num_warnings(llmrt_model *model, size_t *count);

/// Returns warning \p index in \p *message, valid while \p model lives.
llmrt_status llmrt_model_warning(llmrt_model *model, size_t index,
                                 const char **message);

/// Returns the vocabulary size in \p *vocab_size.
llmrt_status llmrt_model_vocab_size(llmrt_model *model, int64_t *vocab_size);

/// Returns the longest accepted sequence in \p *max_positions.
llmrt_status llmrt_model_max_positions(llmrt_model *model,
                                       int64_t *max_positions);

/// Sets the threads of the compiled code's parallel loops (1 to 4096). A
/// library that does not export llm_set_num_threads ignores it.
llmrt_status llmrt_model_set_num_threads(llmrt_model *model,
                                         int32_t num_threads);

/// Computes the logits of \p tokens, \p batch rows of \p seq ids each
/// (row-major), into \p logits, which holds \p capacity floats: at least
/// batch * seq * vocab_size, laid out [batch][seq][vocab].
llmrt_status llmrt_model_forward(llmrt_model *model, const int64_t *tokens,
                                 int64_t batch, int64_t seq, float *logits,
                                 size_t capacity);

/// Like llmrt_model_forward, into a tensor the runtime allocates; release it
/// with llmrt_tensor_free.
llmrt_status llmrt_model_forward_alloc(llmrt_model *model,
                                       const int64_t *tokens, int64_t batch,
                                       int64_t seq, llmrt_tensor **logits);

/// Returns the data of \p tensor (row-major), or NULL for NULL.
const float *llmrt_tensor_data(const llmrt_tensor *tensor);

/// Returns the rank of \p tensor (3 for logits), or 0 for NULL.
int32_t llmrt_tensor_rank(const llmrt_tensor *tensor);

/// Returns dimension \p dim of \p tensor, or -1 if out of range.
int64_t llmrt_tensor_dim(const llmrt_tensor *tensor, int32_t dim);

/// Returns the number of elements of \p tensor, or 0 for NULL.
size_t llmrt_tensor_num_elements(const llmrt_tensor *tensor);

/// Releases \p tensor (NULL is ignored).
void llmrt_tensor_free(llmrt_tensor *tensor);

/*===----------------------------------------------------------------------===*
 * Text generation
 *
 *   llmrt_generator *gen;
 *   if (llmrt_generator_open("out/gpt2", "gpt2", NULL, NULL, &gen, &error))
 *     ...
 *   llmrt_generate_options options;
 *   llmrt_generate_options_init(&options);
 *   options.max_new_tokens = 32;
 *   llmrt_generate(gen, "Hello", &options, print_token, NULL, NULL, NULL);
 *   llmrt_generator_free(gen);
 *===----------------------------------------------------------------------===*/

/// A decoder's prefill and decode entry points with a checkpoint and a
/// tokenizer bound, and its KV caches.
typedef struct llmrt_generator llmrt_generator;

/// Sampling and stopping; initialize with llmrt_generate_options_init. The
/// steps run in this order: repetition penalty, top-k, top-p, min-p,
/// temperature, then a draw; with temperature 0 the most likely token.
typedef struct llmrt_generate_options {
  int64_t max_new_tokens;   ///< New tokens at most (default 64).
  float temperature;        ///< 0: greedy (default 0); else > 0.
  int64_t top_k;            ///< 0: off (default).
  float top_p;              ///< 1: off (default); in (0, 1].
  float min_p;              ///< 0: off (default); in [0, 1].
  float repetition_penalty; ///< 1: off (default); > 0.
  uint64_t seed;            ///< The sampler's seed (default 0).
  int32_t ignore_eos;       ///< Non-zero: do not stop at the EOS token.
  int32_t slide_context;    ///< Non-zero: slide the window when the context
                            ///< is full instead of stopping.
} llmrt_generate_options;

/// What one llmrt_generate call did.
typedef struct llmrt_generate_stats {
  int64_t prompt_tokens;
  int64_t generated_tokens;
  double prefill_seconds;
  double decode_seconds;
} llmrt_generate_stats;

/// Called once per generated token with its id and the text it completes
/// (UTF-8; empty while a multi-byte character is incomplete), and once more
/// with token -1 for bytes still held at the end (an incomplete character,
/// as U+FFFD). Returning non-zero stops the generation after this token.
typedef int32_t (*llmrt_token_callback)(void *user_data, int64_t token,
                                        const char *text, size_t text_size);

/// Sets \p options to the defaults above.
void llmrt_generate_options_init(llmrt_generate_options *options);

/// Loads the artifact in \p artifact_dir (with prefill and decode entry
/// points), binds the checkpoint at \p weights_path and opens the tokenizer
/// in folder \p tokenizer ("bytes" for the byte-level one; NULL: the
/// weights folder). \p options may be NULL. Errors as llmrt_model_open.
llmrt_status llmrt_generator_open(const char *artifact_dir,
                                  const char *weights_path,
                                  const char *tokenizer,
                                  const llmrt_open_options *options,
                                  llmrt_generator **out, char **error_message);

/// Releases \p generator (NULL is ignored).
void llmrt_generator_free(llmrt_generator *generator);

/// Returns the message of the last failed call on \p generator, or "".
const char *llmrt_generator_last_error(const llmrt_generator *generator);

/// Tokenizes \p size bytes of \p text into \p ids (room for \p capacity);
/// sets \p *count to the number of ids, which may exceed \p capacity (then
/// nothing is written and the call fails with an invalid argument).
llmrt_status llmrt_tokenize(llmrt_generator *generator, const char *text,
                            size_t size, int64_t *ids, size_t capacity,
                            size_t *count);

/// Generates from the NUL-terminated \p prompt. \p callback (may be NULL)
/// sees every token; \p text (may be NULL) receives the generated text, to
/// release with llmrt_string_free; \p stats (may be NULL) the counts.
llmrt_status llmrt_generate(llmrt_generator *generator, const char *prompt,
                            const llmrt_generate_options *options,
                            llmrt_token_callback callback, void *user_data,
                            char **text, llmrt_generate_stats *stats);

#ifdef __cplusplus
} // extern "C"
#endif

#endif // LLM_RUNTIME_LLMRT_H
