/*===- FakeModel.c - A hand-written stand-in for a compiled model ---------===*\
|*                                                                            *|
|* Part of the llm-opt project.                                               *|
|*                                                                            *|
|*===----------------------------------------------------------------------===*|
|*                                                                            *|
|* Implements the artifact ABI of docs/ABI.md by hand, so that the runtime    *|
|* and llm-run can be tested without llm-compile. Every entry point checks    *|
|* the descriptors it receives (a wrong field returns a distinct non-zero     *|
|* code) and computes                                                         *|
|*                                                                            *|
|*   logits[b, s, v] = wte[ids[b, s], v % D] + bias[v % D] + v                *|
|*                                                                            *|
|* from inputs (input_ids [B, S], wte [V, D], bias [D]); the variants return  *|
|* the same values through unusual but valid descriptors, or fail in          *|
|* controlled ways. Built as libmodel.so (with the manifest in                *|
|* Inputs/fake-model-manifest.json) and as variants with another ABI          *|
|* version, no llm_abi_version or no llm_set_num_threads.                     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef FAKE_ABI_VERSION
#define FAKE_ABI_VERSION 2
#endif

#define EXPORT __attribute__((visibility("default")))

/* Descriptors of the ranks used here, as docs/ABI.md lays them out. */
typedef struct {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} Desc1;

typedef struct {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
} Desc2;

typedef struct {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[3];
  int64_t strides[3];
} Desc3;

/* Error codes: which check of the inputs failed. */
enum {
  BadIds = 10,
  BadWte = 11,
  BadBias = 12,
  BadTokenValue = 13,
  BadMask = 14,
  NoMemory = 15,
};

static int32_t numThreads = 1;
static int64_t numCalls = 0;

#ifndef FAKE_NO_ABI_SYMBOL
EXPORT int32_t llm_abi_version(void) { return FAKE_ABI_VERSION; }
#endif

#ifndef FAKE_NO_THREADS
EXPORT void llm_set_num_threads(int32_t n) { numThreads = n; }
#endif

/* For tests: the last thread count set and the number of entry calls. */
EXPORT int32_t fake_get_num_threads(void) { return numThreads; }
EXPORT int64_t fake_get_num_calls(void) { return numCalls; }

static int isContiguous2(const Desc2 *d) {
  return d->allocated && d->aligned == d->allocated && d->offset == 0 &&
         d->strides[1] == 1 && d->strides[0] == d->sizes[1];
}

/* Checks wte [V, D] and bias [D]; returns 0 or an error code. */
static int32_t checkParams(const Desc2 *wte, const Desc1 *bias) {
  if (!isContiguous2(wte) || wte->sizes[0] < 1 || wte->sizes[1] < 1)
    return BadWte;
  if (!bias->aligned || bias->aligned != bias->allocated ||
      bias->offset != 0 || bias->sizes[0] != wte->sizes[1] ||
      bias->strides[0] != 1)
    return BadBias;
  return 0;
}

/* The value every variant returns at (b, s, v) for token id `id`. */
static float logitOf(const Desc2 *wte, const Desc1 *bias, int64_t id,
                     int64_t v) {
  int64_t dim = wte->sizes[1];
  const float *w = (const float *)wte->aligned;
  const float *b = (const float *)bias->aligned;
  return w[id * dim + v % dim] + b[v % dim] + (float)v;
}

/* Reads token (b, s) of an i64 or i32 id tensor into *id, checking it. */
static int32_t readId(const Desc2 *ids, int isI32, int64_t vocab, int64_t b,
                      int64_t s, int64_t *id) {
  int64_t index = b * ids->strides[0] + s * ids->strides[1];
  *id = isI32 ? ((const int32_t *)ids->aligned)[index]
              : ((const int64_t *)ids->aligned)[index];
  return *id < 0 || *id >= vocab ? BadTokenValue : 0;
}

/* Fills `out` with the logits, laid out with the strides in out->strides
 * from element out->offset of a fresh allocation of `elements` floats. */
static int32_t fill(const Desc2 *ids, int isI32, const Desc2 *wte,
                    const Desc1 *bias, Desc3 *out, int64_t elements) {
  int64_t vocab = wte->sizes[0];
  float *data = (float *)malloc((size_t)(elements > 0 ? elements : 1) *
                                sizeof(float));
  if (!data)
    return NoMemory;
  for (int64_t b = 0; b < ids->sizes[0]; ++b) {
    for (int64_t s = 0; s < ids->sizes[1]; ++s) {
      int64_t id;
      if (readId(ids, isI32, vocab, b, s, &id)) {
        free(data);
        return BadTokenValue;
      }
      for (int64_t v = 0; v < vocab; ++v)
        data[out->offset + b * out->strides[0] + s * out->strides[1] +
             v * out->strides[2]] = logitOf(wte, bias, id, v);
    }
  }
  out->allocated = data;
  out->aligned = data;
  out->sizes[0] = ids->sizes[0];
  out->sizes[1] = ids->sizes[1];
  out->sizes[2] = vocab;
  return 0;
}

/* Sets contiguous row-major strides for [B, S, V] in `out`. */
static void setContiguous(Desc3 *out, int64_t batch, int64_t seq,
                          int64_t vocab) {
  out->offset = 0;
  out->strides[2] = 1;
  out->strides[1] = vocab;
  out->strides[0] = seq * vocab;
  (void)batch;
}

static int32_t checkIds(const Desc2 *ids) {
  return isContiguous2(ids) && ids->sizes[0] >= 1 && ids->sizes[1] >= 1
             ? 0
             : BadIds;
}

static int32_t forwardImpl(void **args, int isI32) {
  ++numCalls;
  const Desc2 *ids = (const Desc2 *)args[0];
  const Desc2 *wte = (const Desc2 *)args[1];
  const Desc1 *bias = (const Desc1 *)args[2];
  Desc3 *out = (Desc3 *)args[3];
  int32_t rc = checkIds(ids);
  if (!rc)
    rc = checkParams(wte, bias);
  if (rc)
    return rc;
  int64_t batch = ids->sizes[0], seq = ids->sizes[1], vocab = wte->sizes[0];
  setContiguous(out, batch, seq, vocab);
  return fill(ids, isI32, wte, bias, out, batch * seq * vocab);
}

/* (input_ids i64, wte, bias) -> logits, contiguous. */
EXPORT int32_t llm_forward(void **args) { return forwardImpl(args, 0); }

/* The same with i32 token ids. */
EXPORT int32_t llm_forward_i32(void **args) { return forwardImpl(args, 1); }

/* (input_ids, attention_mask i64, wte, bias) -> logits; the mask must be
 * all ones. */
EXPORT int32_t llm_forward_masked(void **args) {
  const Desc2 *ids = (const Desc2 *)args[0];
  const Desc2 *mask = (const Desc2 *)args[1];
  if (!isContiguous2(mask) || mask->sizes[0] != ids->sizes[0] ||
      mask->sizes[1] != ids->sizes[1])
    return BadMask;
  for (int64_t i = 0; i < mask->sizes[0] * mask->sizes[1]; ++i)
    if (((const int64_t *)mask->aligned)[i] != 1)
      return BadMask;
  void *shifted[4] = {args[0], args[2], args[3], args[4]};
  return forwardImpl(shifted, 0);
}

/* Logits in a transposed layout [V][S][B] starting 5 elements into the
 * allocation: strides (1, B, S * B), offset 5. */
EXPORT int32_t llm_forward_strided(void **args) {
  ++numCalls;
  const Desc2 *ids = (const Desc2 *)args[0];
  const Desc2 *wte = (const Desc2 *)args[1];
  const Desc1 *bias = (const Desc1 *)args[2];
  Desc3 *out = (Desc3 *)args[3];
  int32_t rc = checkIds(ids);
  if (!rc)
    rc = checkParams(wte, bias);
  if (rc)
    return rc;
  int64_t batch = ids->sizes[0], seq = ids->sizes[1], vocab = wte->sizes[0];
  out->offset = 5;
  out->strides[0] = 1;
  out->strides[1] = batch;
  out->strides[2] = seq * batch;
  return fill(ids, 0, wte, bias, out, 5 + batch * seq * vocab);
}

/* Contiguous logits starting 3 elements into the allocation. */
EXPORT int32_t llm_forward_offset(void **args) {
  ++numCalls;
  const Desc2 *ids = (const Desc2 *)args[0];
  const Desc2 *wte = (const Desc2 *)args[1];
  const Desc1 *bias = (const Desc1 *)args[2];
  Desc3 *out = (Desc3 *)args[3];
  int32_t rc = checkIds(ids);
  if (!rc)
    rc = checkParams(wte, bias);
  if (rc)
    return rc;
  int64_t batch = ids->sizes[0], seq = ids->sizes[1], vocab = wte->sizes[0];
  setContiguous(out, batch, seq, vocab);
  out->offset = 3;
  return fill(ids, 0, wte, bias, out, 3 + batch * seq * vocab);
}

/* Logits plus a second result, hidden [B, S, D] (all zeros), which the
 * runtime must free. */
EXPORT int32_t llm_forward_two_results(void **args) {
  int32_t rc = forwardImpl(args, 0);
  if (rc)
    return rc;
  const Desc2 *ids = (const Desc2 *)args[0];
  const Desc2 *wte = (const Desc2 *)args[1];
  Desc3 *hidden = (Desc3 *)args[4];
  int64_t count = ids->sizes[0] * ids->sizes[1] * wte->sizes[1];
  float *data = (float *)calloc((size_t)count, sizeof(float));
  if (!data)
    return NoMemory;
  hidden->allocated = data;
  hidden->aligned = data;
  hidden->offset = 0;
  hidden->sizes[0] = ids->sizes[0];
  hidden->sizes[1] = ids->sizes[1];
  hidden->sizes[2] = wte->sizes[1];
  hidden->strides[0] = ids->sizes[1] * wte->sizes[1];
  hidden->strides[1] = wte->sizes[1];
  hidden->strides[2] = 1;
  return 0;
}

/* Fails with code 3 and leaves the result untouched. */
EXPORT int32_t llm_forward_fails(void **args) {
  (void)args;
  ++numCalls;
  return 3;
}

/* Succeeds but returns logits with one column too many; the runtime must
 * refuse them and free the allocation. */
EXPORT int32_t llm_forward_bad_shape(void **args) {
  int32_t rc = forwardImpl(args, 0);
  if (rc)
    return rc;
  Desc3 *out = (Desc3 *)args[3];
  out->sizes[2] -= 1;
  return 0;
}

/* Succeeds but returns a null aligned pointer with a non-empty shape. */
EXPORT int32_t llm_forward_null(void **args) {
  int32_t rc = forwardImpl(args, 0);
  if (rc)
    return rc;
  Desc3 *out = (Desc3 *)args[3];
  free(out->allocated);
  out->allocated = NULL;
  out->aligned = NULL;
  return 0;
}
