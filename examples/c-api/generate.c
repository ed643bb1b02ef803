/*===- generate.c - Text generation through llmrt.h ------------------------===*
 *
 * Part of the llm-opt project.
 *
 *===----------------------------------------------------------------------===*
 *
 * The C API's generation calls end to end:
 *
 *   llm-generate-example ARTIFACT WEIGHTS TOKENIZER PROMPT [MAX_NEW_TOKENS]
 *
 * opens the generator (TOKENIZER: a folder or "bytes"), streams the greedy
 * continuation of PROMPT to stdout as it is generated, then prints the ids
 * on a line "ids: ..." and the counts on stderr. Exits 1 with the runtime's
 * message on any error. The generation test checks its ids against
 * llm-run's and PyTorch's.
 *
 *===----------------------------------------------------------------------===*/

#include "llm/runtime/llmrt.h"

#include <stdio.h>
#include <stdlib.h>

struct Tokens {
  int64_t ids[4096];
  size_t count;
};

static int32_t onToken(void *user, int64_t token, const char *text,
                       size_t size) {
  struct Tokens *tokens = (struct Tokens *)user;
  fwrite(text, 1, size, stdout);
  fflush(stdout);
  if (token >= 0 && tokens->count < sizeof(tokens->ids) / sizeof(int64_t))
    tokens->ids[tokens->count++] = token;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5 || argc > 6) {
    fprintf(stderr, "usage: %s ARTIFACT WEIGHTS TOKENIZER PROMPT "
                    "[MAX_NEW_TOKENS]\n", argv[0]);
    return 2;
  }
  char *error = NULL;
  llmrt_generator *gen = NULL;
  if (llmrt_generator_open(argv[1], argv[2], argv[3], NULL, &gen, &error) !=
      LLMRT_OK) {
    fprintf(stderr, "error: %s\n", error ? error : "out of memory");
    llmrt_string_free(error);
    return 1;
  }
  llmrt_generate_options options;
  llmrt_generate_options_init(&options);
  if (argc == 6)
    options.max_new_tokens = strtoll(argv[5], NULL, 10);
  options.ignore_eos = 1;

  struct Tokens *tokens = calloc(1, sizeof(struct Tokens));
  llmrt_generate_stats stats;
  int status = tokens ? llmrt_generate(gen, argv[4], &options, onToken,
                                       tokens, NULL, &stats)
                      : LLMRT_ERROR_OUT_OF_MEMORY;
  if (status != LLMRT_OK) {
    fprintf(stderr, "error: %s\n", llmrt_generator_last_error(gen));
    free(tokens);
    llmrt_generator_free(gen);
    return 1;
  }
  printf("\nids:");
  for (size_t i = 0; i < tokens->count; ++i)
    printf(" %lld", (long long)tokens->ids[i]);
  printf("\n");
  fprintf(stderr, "%lld prompt tokens, %lld generated\n",
          (long long)stats.prompt_tokens, (long long)stats.generated_tokens);
  free(tokens);
  llmrt_generator_free(gen);
  return 0;
}
