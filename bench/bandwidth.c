/*===- bandwidth.c - DRAM read bandwidth, for the decode bound -------------===*
 *
 * Part of the llm-opt project.
 *
 *===----------------------------------------------------------------------===*
 *
 *   bandwidth THREADS [MIB]
 *
 * Reads a buffer of MIB MiB (default 1024, far beyond the last-level cache)
 * with THREADS OpenMP threads, each summing its share with 8 independent
 * 64-byte vector accumulators, and prints the best of 7 passes in GB/s. A decode
 * step streams every weight once, so bandwidth / weight bytes bounds
 * decode tokens/s (bench/generate_gpt2_small.py builds and runs this).
 *
 *===----------------------------------------------------------------------===*/

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
  size_t n = mib << 18; /* floats */
  float *data = aligned_alloc(64, n * sizeof(float));
  if (!data || threads < 1)
    return 1;
  omp_set_num_threads(threads);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i)
    data[i] = (float)(i & 7);
  typedef float v16 __attribute__((vector_size(64), aligned(64)));
  double best = 0, sink = 0;
  for (int pass = 0; pass < 7; ++pass) {
    double start = omp_get_wtime(), total = 0;
#pragma omp parallel reduction(+ : total)
    {
      size_t chunks = n / 128, per = (chunks + threads - 1) / threads;
      size_t first = per * (size_t)omp_get_thread_num();
      size_t last = first + per < chunks ? first + per : chunks;
      v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0},
          a6 = {0}, a7 = {0};
      for (size_t c = first; c < last; ++c) {
        const v16 *p = (const v16 *)(data + c * 128);
        a0 += p[0];
        a1 += p[1];
        a2 += p[2];
        a3 += p[3];
        a4 += p[4];
        a5 += p[5];
        a6 += p[6];
        a7 += p[7];
      }
      v16 s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
      for (int k = 0; k < 16; ++k)
        total += s[k];
    }
    double seconds = omp_get_wtime() - start;
    double gbs = (double)n * sizeof(float) / seconds / 1e9;
    if (gbs > best)
      best = gbs;
    sink += total;
  }
  printf("%.2f\n", best);
  return sink == 42.0; /* keep the sums alive */
}
